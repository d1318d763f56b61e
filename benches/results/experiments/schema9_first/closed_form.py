"""Closed-form cnn-kws SRAM peak over the featurizer's columns, no network.

Per model, the peak over operators of (a) live activations + the replayed weight buffers + the
next operator's first buffer and (b) the two phases ``--replayed-peak`` bounds the readout by
(running: live + whole buffers; hand-over: live + kept buffers + next first), against Vela's
``sram_kib`` on the store's cnn-kws train and test splits. Uses the code checked out (features
cached by code fingerprint): run it on main and with ``schema9.patch`` applied to compare.
Run from the repository root: ``python benches/results/experiments/schema9_first/closed_form.py``.
"""

import os
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benches", "results", "experiments", "schema8_blocks"))

from schedule_vs_vela import raw  # noqa: E402
from trainer import dataset as D  # noqa: E402


def main():
    table = D.load_table(spaces=["cnn-kws"])
    parts = D.split(D.select(table, "ethos-u55-128", ["sram_kib"], spaces=["cnn-kws"]))
    for part in ("train", "test"):
        ds, errs = parts[part], {}
        t = ds.table
        for j, g in enumerate(ds.index):
            x = t.x[t.node_ptr[g]:t.node_ptr[g + 1]]
            live, whole = raw(x, "live_bytes_brick"), raw(x, "est_weight_buffer_bytes")
            kept, nxt = raw(x, "est_kept_buffer_bytes"), raw(x, "next_est_first_buffer_bytes")
            peaks = {"live + buffers + next first": live + whole + nxt,
                     "two phases over the replayed buffers": np.maximum(live + whole,
                                                                        live + kept + nxt)}
            for k, v in peaks.items():
                errs.setdefault(k, []).append(v.max() / 1024 / ds.y[j, 0] - 1)
        for k, e in errs.items():
            print("{:5s} {:38s} MAPE {:5.2f}%  bias {:+5.2f}%  (n={})".format(
                part, k, 100 * np.mean(np.abs(e)), 100 * np.mean(e), len(e)))


if __name__ == "__main__":
    main()
