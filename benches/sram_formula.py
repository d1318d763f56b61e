"""Bench: how far an analytic two-phase SRAM formula over our node features gets, per space.

Vela's SRAM peak on cnn-kws is the larger of two phases per operator (``sram_phases.md``): while
it runs (its live activations and its weight buffers) and at the hand-over to the next operator
(its activations, what it keeps of its weights, the first buffer of the next operator's). This
bench fits that formula with a handful of shares (of ``npu_weight_bytes`` and
``next_npu_weight_bytes``, feature schema 4) on each space's training split and scores the test
split, three times: with one share per phase, with separate shares for operators the
featurizer's ``double_buffer_hint`` (schema 5) marks as double-buffered, and that again with the
encoded weight-stream sizes ``sram_weight_bytes`` / ``next_sram_weight_bytes`` (schema 6) in place
of the uncompressed ones. It tells whether the features can
express the label at all, apart from the GNN: a formula that cannot beat X% says the features,
not the training, limit PerfSAGE near X%.

Per graph ``g``: ``sram = max_i max(L_i + a[h_i] W_i, L_i + k[h_i] W_i + b[h'_i] W'_i) + c``,
KiB, with ``L`` live_bytes_brick, ``W``/``W'`` this and the next operator's NPU weight bytes,
``h``/``h'`` their hints; 7 parameters fitted by Nelder-Mead on the MAPE.

Run: ``python -m benches.sram_formula [--spaces S ...]``; writes
``benches/results/sram_formula.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np

from benches.results_io import write_results
from edge_predictor.featurize import FEATURE_NAMES
from trainer import dataset as D

__all__ = ["VARIANTS", "graph_arrays", "two_phase", "fit", "render_markdown", "main"]

RESULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "benches", "results")
TARGET, METRIC = "ethos-u55-128", "sram_kib"
#: (key, uses the hint, weight-size column)
VARIANTS = (("plain", False, "npu_weight_bytes"), ("hint", True, "npu_weight_bytes"),
            ("encoded", True, "sram_weight_bytes"))
_X0 = ([1, 0.5, 1, 0.5, 1, 0.5, 5], [1, 1, 0.5, 0.5, 1, 1, 0], [0.5, 0.3, 0.5, 0.3, 0.5, 0.3, 10])


def graph_arrays(ds: D.Dataset, weights: str = "npu_weight_bytes") -> Dict[str, np.ndarray]:
    """The formula's per-node inputs of the graphs of ``ds``, concatenated.

    Args:
        ds: the graphs.
        weights: the weight-size column (``npu_weight_bytes`` or ``sram_weight_bytes``); its
            ``next_`` twin gives the next operator's.

    Returns:
        ``live``, ``w``, ``next_w`` (KiB), ``hint``, ``next_hint`` (0/1): float64 [T] over the
        T nodes of all graphs; ``starts``: int64 [G] offset of each graph's first node.
    """
    t = ds.table
    rows = np.concatenate([np.arange(t.node_ptr[g], t.node_ptr[g + 1]) for g in ds.index])
    x = t.x[rows].astype(np.float64)

    def kib(name: str) -> np.ndarray:
        return np.expm1(x[:, FEATURE_NAMES.index(name)]) / 1024.0

    sizes = np.array([t.node_ptr[g + 1] - t.node_ptr[g] for g in ds.index])
    return {"live": kib("live_bytes_brick"), "w": kib(weights), "next_w": kib("next_" + weights),
            "hint": x[:, FEATURE_NAMES.index("double_buffer_hint")] > 0,
            "next_hint": x[:, FEATURE_NAMES.index("next_double_buffer_hint")] > 0,
            "starts": np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)}


def two_phase(p: np.ndarray, a: Dict[str, np.ndarray], hint: bool) -> np.ndarray:
    """float64 [G] predicted SRAM (KiB) for parameters ``p`` = (run share single, double,
    next-weights share single, double, kept share single, double, constant KiB)."""
    run_s, run_d, nxt_s, nxt_d, keep_s, keep_d, const = p
    if not hint:
        run_d, nxt_d, keep_d = run_s, nxt_s, keep_s
    h, nh = a["hint"], a["next_hint"]
    run = a["live"] + np.where(h, run_d, run_s) * a["w"]
    hand = (a["live"] + np.where(h, keep_d, keep_s) * a["w"] +
            np.where(nh, nxt_d, nxt_s) * a["next_w"])
    return np.maximum.reduceat(np.maximum(run, hand), a["starts"]) + const


def fit(train: Dict[str, np.ndarray], y: np.ndarray, hint: bool) -> np.ndarray:
    """Parameters minimising the train MAPE (best of a few Nelder-Mead starts)."""
    from scipy.optimize import minimize

    best = None
    for x0 in _X0:
        r = minimize(lambda p: float(np.mean(np.abs(two_phase(p, train, hint) / y - 1))), x0,
                     method="Nelder-Mead", options=dict(maxiter=3000, xatol=1e-4, fatol=1e-7))
        if best is None or r.fun < best.fun:
            best = r
    return best.x


def render_markdown(doc: Dict[str, Any]) -> str:
    """The readable table of the JSON document."""
    lines = ["# Two-phase SRAM formula over the node features (ethos-u55-128)", "",
             "Command: `{}` ({:.0f} s). MAPE in % of Vela's `sram_memory_used`; the formula "
             "and its 7 parameters: `benches/sram_formula.py`.".format(doc["command"],
                                                                      doc["wall_s"]), "",
             "| space | train | test | without hint: train MAPE | test MAPE | with "
             "double_buffer_hint: train MAPE | test MAPE | hint + encoded sizes: train MAPE | "
             "test MAPE |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for sp, r in doc["spaces"].items():
        lines.append("| {} | {} | {} | {} |".format(sp, r["n_train"], r["n_test"], " | ".join(
            "{:.2f} | {:.2f}".format(r[k]["train"], r[k]["test"]) for k, _, _ in VARIANTS)))
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benches.sram_formula",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--spaces", nargs="+", help="default: every space with SRAM labels")
    ap.add_argument("--data", help="store root (default data/edgedlperf)")
    ap.add_argument("--out", default=RESULTS)
    args = ap.parse_args(argv)
    t0 = time.time()
    table = D.load_table(args.data, spaces=args.spaces)
    parts = D.split(D.select(table, TARGET, [METRIC]))
    doc: Dict[str, Any] = {"command": "python -m benches.sram_formula" + (
        " --spaces " + " ".join(args.spaces) if args.spaces else ""), "spaces": {}}
    for sp in sorted(set(parts["train"].spaces.tolist())):
        tr = parts["train"].subset(parts["train"].spaces == sp)
        te = parts["test"].subset(parts["test"].spaces == sp)
        row: Dict[str, Any] = {"n_train": len(tr), "n_test": len(te)}
        for key, hint, weights in VARIANTS:
            a_tr, a_te = graph_arrays(tr, weights), graph_arrays(te, weights)
            p = fit(a_tr, tr.y[:, 0], hint)
            row[key] = {"params": [float(v) for v in p], **{
                name: float(100 * np.mean(np.abs(two_phase(p, a, hint) / d.y[:, 0] - 1)))
                for name, a, d in (("train", a_tr, tr), ("test", a_te, te))}}
        doc["spaces"][sp] = row
        print("{}: {}".format(sp, {k: row[k] for k, _, _ in VARIANTS}), file=sys.stderr)
    doc["wall_s"] = time.time() - t0
    write_results(args.out, "sram_formula", doc, render_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
