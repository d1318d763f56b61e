"""Bench: does SRAM want a max readout? PerfSAGE's additive readout for a peak metric, 3 ways.

The bundled PerfSAGE reads every metric out as ``tau * log sum_i exp(u_i / tau)`` over the
per-node log-costs ``u_i``, with a learned temperature ``tau`` per metric that starts at 1 (a
sum). SRAM use is a peak over the schedule, not a sum, and the learned ``tau`` barely moves from
its start (the bundled ethos run ended at 0.89). This bench trains the same model per space on
``sram_kib`` alone -- specialized, same seed, same split -- as bundled (``peak_tau`` 1.0),
starting near the max of the per-node costs (0.05), and with the per-node costs also bounded
by each operator's live and weight bytes (``bounded_peak``), and reports test MAPE side by side
and the temperature each run ended with. Small spaces only: each run is a few core-minutes.

Writes ``benches/results/sram_readout.{json,md}``. Finished runs in ``.cache/sram_readout`` are
reused (the trainer resumes a finished run by re-scoring it).

Run: ``python -m benches.sram_readout [--data DIR] [--spaces cnn-kws cnn-cifar10]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from typing import Any, Dict, List, Optional

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__all__ = ["SETTINGS", "VARIANTS", "run", "render_markdown", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")
MODELS = os.path.join(ROOT, ".cache", "sram_readout")
#: The bundles' training settings (benches/build_bundles.sh), fewer epochs.
SETTINGS = dict(hidden=64, lr=0.0005, dropout=0.1, epochs=60, patience=15)
#: (name, TrainConfig overrides): as bundled, max-like start, max-like + bounded node costs.
VARIANTS = (("tau1", {"peak_tau": 1.0}), ("tau0.05", {"peak_tau": 0.05}),
            ("tau0.05-bounded", {"peak_tau": 0.05, "bounded_peak": True}))


def _learned_tau(out: str) -> Optional[float]:
    """The readout temperature a run ended with (``exp(log_tau)``), read from its weights."""
    import h5py
    import numpy as np

    found: List[float] = []
    with h5py.File(os.path.join(out, "weights.weights.h5"), "r") as f:
        f.visititems(lambda n, o: found.extend(np.exp(np.asarray(o)).ravel().tolist())
                     if "soft_sum_readout" in n and hasattr(o, "shape") else None)
    return found[0] if found else None


def run(spaces: List[str], data: Optional[str]) -> Dict[str, Any]:
    """Train (or reuse) every (space, tau) run; their test MAPE and final temperature."""
    from trainer.train import TrainConfig, train

    rows = []
    for space in spaces:
        for name, over in VARIANTS:
            out = os.path.join(MODELS, "{}-{}".format(space, name))
            cfg = TrainConfig(target="ethos-u55-128", metrics=["sram_kib"], mode="specialized",
                              space=space, out=out, data=data, **dict(SETTINGS, **over))
            r = train(cfg, progress=lambda info: None)
            s = r["per_space"][space]["sram_kib"]
            rows.append({"space": space, "variant": name, "peak_tau": over["peak_tau"],
                         "bounded": bool(over.get("bounded_peak")),
                         "test_mape_percent": 100 * s["mape"],
                         "within_5": s["within_5"], "within_10": s["within_10"],
                         "n_test": s["n"], "learned_tau": _learned_tau(out),
                         "epochs_run": r["epochs_run"], "train_time_s": r["train_time_s"]})
            print("{} {}: {:.2f}%".format(space, name, rows[-1]["test_mape_percent"]),
                  file=sys.stderr)
    return {"bench": "sram_readout", "settings": SETTINGS, "rows": rows}


def render_markdown(doc: Dict[str, Any]) -> str:
    """The readable table of the JSON document."""
    lines = ["# SRAM readout: sum-like (tau 1) vs. max-like (tau 0.05) start", "",
             "Command: `{}`. ethos-u55-128 `sram_kib` only, specialized PerfSAGE, same seed and "
             "split; test MAPE in %. Settings: {}.".format(
                 doc["command"], ", ".join("{}={}".format(k, v)
                                           for k, v in doc["settings"].items())), "",
             "| space | peak_tau | bounded | test MAPE % | within 5% | within 10% | n test | "
             "learned tau | epochs | train s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        lines.append("| {} | {} | {} | {:.2f} | {:.0%} | {:.0%} | {} | {} | {} | {:.0f} |".format(
            r["space"], r["peak_tau"], "yes" if r["bounded"] else "no", r["test_mape_percent"],
            r["within_5"], r["within_10"],
            r["n_test"], "-" if r["learned_tau"] is None else "{:.3f}".format(r["learned_tau"]),
            r["epochs_run"], r["train_time_s"]))
    if doc.get("note"):
        lines += ["", doc["note"]]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m benches.sram_readout", description=__doc__)
    ap.add_argument("--data", default=None, help="data folder (default: data/edgedlperf)")
    ap.add_argument("--spaces", nargs="+", default=["cnn-kws", "cnn-cifar10"])
    ap.add_argument("--out", default=RESULTS, help="results folder")
    ap.add_argument("--note", default="", help="a remark for the report (e.g. what ran beside)")
    args = ap.parse_args(argv)
    doc = run(args.spaces, args.data)
    doc["command"] = "python -m benches.sram_readout " + " ".join(shlex.quote(a) for a in argv)
    doc["note"] = args.note
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sram_readout.json"), "w") as f:
        json.dump(doc, f, indent=2)
    with open(os.path.join(args.out, "sram_readout.md"), "w") as f:
        f.write(render_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
