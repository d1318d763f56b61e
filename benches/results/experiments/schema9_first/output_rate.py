"""Vela's output cycles per element of output-bound convolutions, by fused activation.

Runs Vela (``--verbose-schedule``) on the zoo (``.cache/zoo``), 12 cnn store models and the
vit-cifar100 store models built into ``.cache/vela_schedule/models`` (by ``schedule_vs_vela.py``
and session 12), and for every (depthwise) convolution whose MAC-array cycles
(:func:`edge_predictor.npu_blocks.dpu_cycles`) are under 0.4 per output element -- clearly
output-bound -- prints Vela's "Estimated Perf" cycles per output element (the tail block
counted), grouped by the operator's fused sub-operation. Session 12: 0.50 with none, ReLU or
ReLU6 (98 operators), 0.99 with a LUT activation (one). ``npu_blocks.OUTPUT_CYCLES_PER_ELEMENT``
is 0.625, picked on cnn-kws convolutions where the MAC-array and output terms are close: what
Vela does in between is not modelled. ~2 minutes. Run from the repository root:
``python benches/results/experiments/schema9_first/output_rate.py``.
"""

import collections
import glob
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benches", "results", "experiments", "schema8_blocks"))

from benches.labelers.vela import run_vela  # noqa: E402
from edge_predictor.npu_blocks import Block, dpu_cycles  # noqa: E402
from schedule_vs_vela import parse_schedule  # noqa: E402

KINDS = {"Conv2D": "conv", "DepthwiseConv2D": "depthwise"}


def main():
    models = os.path.join(ROOT, ".cache", "vela_schedule", "models")
    paths = (sorted(glob.glob(os.path.join(ROOT, ".cache", "zoo", "*.tflite"))) +
             sorted(glob.glob(os.path.join(models, "cnn-*-[0-9].tflite")))[:12] +
             sorted(glob.glob(os.path.join(models, "vit*.tflite"))))
    rates = collections.defaultdict(list)
    for path in paths:
        with tempfile.TemporaryDirectory() as out:
            _, log = run_vela(path, out, extra_args=["--verbose-schedule"])
        for o in parse_schedule(log):
            kind = KINDS.get(o["op"])
            if not kind or "ofm_block" not in o or "cycles" not in o or o["ofm"][1] <= 1:
                continue
            kw, kh = o["kernel"][:2]
            ofm, b = o["ofm"][1:], o["ofm_block"][1:]
            elements = ofm[0] * ofm[1] * ofm[2]
            tail = min(ofm[0], b[0]) * min(ofm[1], b[1]) * min(ofm[2], b[2])
            if dpu_cycles(kind, ofm, o["ifm"][3], (kh, kw), Block(*b)) < 0.4 * elements:
                rates[o.get("sub", "?")].append(o["cycles"] / (elements + tail))
    print("{} models".format(len(paths)))
    for sub, v in sorted(rates.items(), key=lambda t: -len(t[1])):
        v = np.array(v)
        print("{:30s} n={:4d} median {:.3f} p10 {:.3f} p90 {:.3f}".format(
            sub[:30], len(v), np.median(v), np.percentile(v, 10), np.percentile(v, 90)))


if __name__ == "__main__":
    main()
