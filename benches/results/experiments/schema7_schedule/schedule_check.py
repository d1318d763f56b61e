"""How well the featurizer's replay of Vela's weight buffering (schema 7) matches Vela.

On the 25 cnn-kws validation models (``.cache/validation/models``, seeds 800000..800024; build
them with ``python -m benches.validation --per-space 25 --build-only``), with Vela 5.2's
``--verbose-allocation`` and ``--verbose-performance`` answers cached by
``../schema6_encoded/buffering_analysis.py`` (run it first), prints

1. the share of operators whose "weights buffered in SRAM or not" the featurizer gets right
   (``sram_weight_bytes > 0``);
2. the share of Vela's single/double buffering decisions ``est_double_buffer`` gets right;
3. the error of ``est_cycles`` against Vela's per-operator cycles, per operator type.

Run from the repository root: ``python benches/results/experiments/schema7_schedule/
schedule_check.py``.
"""

import os
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benches", "results", "experiments", "schema6_encoded"))

import buffering_analysis as ba  # noqa: E402
from edge_predictor.featurize import FEATURE_NAMES, featurize  # noqa: E402
from edge_predictor.tflite_reader import read_model  # noqa: E402


def main():
    col = FEATURE_NAMES.index
    buffered, decisions, errs = [], [], {}
    for path in [p for p in ba.MODELS if os.path.exists(p)]:
        rec = ba.vela(path)
        graph = read_model(path)
        x = featurize(graph).x.astype(np.float64)
        ours = [i for i, node in enumerate(graph.ops) if node.op != "RESHAPE"]  # Vela drops them
        for j, i in enumerate(ours):
            o = rec["ops"][j]
            buffered.append(bool(o["wb"]) == (x[i, col("sram_weight_bytes")] > 0))
            if o["wb"]:
                decisions.append(x[i, col("est_double_buffer")] ==
                                 any(w[0] == "double" for w in o["wb"]))
            if rec["cycles"]:
                errs.setdefault(o["op"], []).append(
                    np.expm1(x[i, col("est_cycles")]) / rec["cycles"][j] - 1)
    print("weights buffered or not: {:.1%} of {} operators right".format(
        np.mean(buffered), len(buffered)))
    print("single/double buffering: {:.1%} of {} decisions right".format(
        np.mean(decisions), len(decisions)))
    for op, e in sorted(errs.items()):
        e = np.array(e)
        print("est_cycles {:18s} n={:3d} median |error| {:5.1f}% p10..p90 {:+.1f}..{:+.1f}%".format(
            op, len(e), 100 * np.median(np.abs(e)), 100 * np.percentile(e, 10),
            100 * np.percentile(e, 90)))

if __name__ == "__main__":
    main()
