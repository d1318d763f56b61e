"""Feature schema 8 against Vela's own schedule: OFM blocks, compute cycles, weight buffering.

Vela 5.2 compiles with its C++ core (``ethosu.regor``); ``--verbose-schedule`` prints per
operator the OFM block, the "Estimated Perf" cycles its scheduler weighs weight transfers
against, the weight buffer (Single / Double / None) and the depth slices. This script builds
cnn-kws models (the 25 validation-bench models, seeds 800000..800024, if
``python -m benches.validation --per-space 25 --build-only`` built them, and store seeds
``0..N-1``, rebuilt from (space, seed)), runs Vela on each once (answers cached in
``.cache/vela_schedule``; ~1.5 s per model) and prints

1. how many OFM blocks :func:`edge_predictor.npu_blocks.ofm_block` gets exactly right;
2. the error of :func:`edge_predictor.npu_blocks.compute_cycles` against Vela's estimate, per
   operator kind and traversal (the featurizer's ``est_cycles`` of buffered operators);
3. the share of Vela's single / double buffering decisions the featurizer's replay
   (``est_double_buffer``) gets right, and the error of ``est_weight_buffer_bytes`` against
   Vela's buffer bytes.

Run from the repository root: ``python benches/results/experiments/schema8_blocks/
schedule_vs_vela.py [N]`` (N store seeds, default 121).

``schedule_vs_vela.py --zoo [DIR]`` checks 1. and 2. per model on the out-of-space zoo instead
(``python -m benches.zoo --out .cache/zoo`` builds it; default DIR ``.cache/zoo``). Vela's
operators there are its own: grouped convolutions, fully connected layers, transposed and
concatenated convolutions appear as Conv2D with shapes the featurizer never sees, so their rows
say where Vela's lowering differs, not where the block model does.
"""

import collections
import json
import os
import re
import sys
import tempfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benches.labelers.vela import run_vela  # noqa: E402
from edge_predictor.featurize import _LOG_COLS, FEATURE_NAMES, featurize  # noqa: E402
from edge_predictor.npu_blocks import compute_cycles, ofm_block  # noqa: E402
from edge_predictor.tflite_reader import read_model  # noqa: E402

CACHE = os.path.join(ROOT, ".cache", "vela_schedule")
VALIDATION = [os.path.join(ROOT, ".cache", "validation", "models", "cnn-kws-{}.tflite".format(s))
              for s in range(800000, 800025)]
KINDS = {"Conv2D": "conv", "DepthwiseConv2D": "depthwise", "AvgPool": "pool"}


def parse_schedule(log):
    """Vela's ``--verbose-schedule`` text -> one dict per operator of the final schedule."""
    ops, cur = [], None
    for line in log.split("Schedule: '")[-1].splitlines():
        s = line.strip()
        m = re.match(r"(\d+): Operation (\w+)\s+- OFM ([\d, ]+)", s)
        if m:
            cur = {"op": m[2], "ofm": [int(v) for v in m[3].split(",")]}
            ops.append(cur)
        elif cur is None:
            continue
        elif s.startswith("Kernel:"):
            cur["kernel"] = [int(v) for v in re.match(
                r"Kernel: size=(\d+),(\d+) stride=(\d+),(\d+)", s).groups()]
        elif s.startswith("Operator Config"):
            m = re.search(r"OFM Block=\[([\d, ]+)\].*Traversal=(\w+)", s)
            cur["ofm_block"], cur["traversal"] = [int(v) for v in m[1].split(",")], m[2]
        elif s.startswith("IFM Stripe"):
            cur["ifm"] = [int(v) for v in re.findall(r"\d+", s)]
        elif s.startswith("Encoded Weights"):
            cur["enc"] = int(re.findall(r"\d+", s)[0])
        elif s.startswith("Weight buffer"):
            cur["buf"] = int(re.findall(r"\d+", s)[0])
            cur["buf_kind"] = re.findall(r"\((\w+)\)", s)[0]
        elif s.startswith("Depth slices"):
            cur["slices"] = [int(v) for v in re.findall(r"\d+", s)]
        elif s.startswith("sub-operations"):
            cur["sub"] = s.split(":", 1)[1].strip()  # fused activations: "-", "[ Relu ]", ...
        elif s.startswith("Estimated Perf"):
            cur["cycles"] = int(re.search(r"Cycles=(\d+)", s)[1])
    return ops


def vela_schedule(path):
    """Vela's schedule of one model, cached."""
    cache = os.path.join(CACHE, os.path.basename(path) + ".json")
    if os.path.exists(cache):
        with open(cache) as f:
            return json.load(f)
    with tempfile.TemporaryDirectory() as out:
        _, log = run_vela(path, out, extra_args=["--verbose-schedule"])
    ops = parse_schedule(log)
    os.makedirs(CACHE, exist_ok=True)
    with open(cache, "w") as f:
        json.dump(ops, f)
    return ops


def store_models(n):
    """Paths of cnn-kws store seeds 0..n-1, rebuilt (bit-identical) from (space, seed)."""
    from converters.quantize import build_tflite

    paths = []
    for seed in range(n):
        path = os.path.join(CACHE, "models", "cnn-kws-{}.tflite".format(seed))
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(build_tflite("cnn-kws", seed))
        paths.append(path)
    return paths


def raw(x, name):
    c = FEATURE_NAMES.index(name)
    v = x[:, c].astype(np.float64)
    return np.expm1(v) if _LOG_COLS[c] else v


def check_blocks(ops, cyc_err):
    """Our OFM block and compute cycles against Vela's, for one model's operators.

    Appends each operator's relative cycle error to ``cyc_err[(kind, traversal)]``; returns
    (blocks exactly Vela's, blocks compared)."""
    ok = n = 0
    for o in ops:
        kind = KINDS.get(o["op"])
        if kind is None or "ofm_block" not in o:
            continue
        kw, kh, sx, sy = o["kernel"]
        b = ofm_block(kind, tuple(o["ofm"][1:]), tuple(o["ifm"][1:]), (kh, kw), (sy, sx))
        n += 1
        ok += b is not None and list(b) == o["ofm_block"][1:]
        if o["ofm"][1] > 1 and b is not None and "cycles" in o:  # not the classifier as FC
            cyc_err[(kind, o["traversal"])].append(
                compute_cycles(kind, o["ofm"][1:], o["ifm"][3], (kh, kw), b) / o["cycles"] - 1)
    return ok, n


def zoo(folder):
    """Blocks and compute cycles per zoo model (no decisions: Vela's operators differ)."""
    import glob

    for path in sorted(glob.glob(os.path.join(folder, "*.tflite"))):
        errs = collections.defaultdict(list)
        ok, n = check_blocks(vela_schedule(path), errs)
        print("{:26s} blocks {:4d} / {:4d}  cycles |median error| {}".format(
            os.path.basename(path), ok, n, ", ".join(
                "{}/{} {:.1%} (n={})".format(k[0], k[1], np.median(np.abs(v)), len(v))
                for k, v in sorted(errs.items()))))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--zoo":
        return zoo(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, ".cache", "zoo"))
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 121
    paths = [p for p in VALIDATION if os.path.exists(p)] + store_models(n)
    blocks_ok = blocks_n = 0
    cyc_err = collections.defaultdict(list)
    decisions, buf_err = [], []
    for path in paths:
        ops = vela_schedule(path)
        ok, n_ops = check_blocks(ops, cyc_err)
        blocks_ok, blocks_n = blocks_ok + ok, blocks_n + n_ops
        graph = read_model(path)
        x = featurize(graph).x
        ours = [i for i, node in enumerate(graph.ops) if node.op != "RESHAPE"]  # Vela drops them
        if len(ours) != len(ops):
            continue
        double, whole = raw(x, "est_double_buffer"), raw(x, "est_weight_buffer_bytes")
        for j, i in enumerate(ours):
            o = ops[j]
            if o.get("buf_kind") in ("Single", "Double"):
                decisions.append(bool(double[i]) == (o["buf_kind"] == "Double"))
                buf_err.append(whole[i] / o["buf"] - 1)
    print("{} models ({} validation-bench, {} store seeds)".format(
        len(paths), len(paths) - n, n))
    print("OFM blocks exactly Vela's: {} / {}".format(blocks_ok, blocks_n))
    for (kind, trav), e in sorted(cyc_err.items()):
        e = np.array(e)
        print("compute cycles {:9s} {:10s} n={:4d} median {:+.1%} |median| {:.1%} "
              "p10..p90 {:+.1%}..{:+.1%}".format(kind, trav, len(e), np.median(e),
                                                 np.median(np.abs(e)), np.percentile(e, 10),
                                                 np.percentile(e, 90)))
    e = np.array(buf_err)
    print("single/double buffering: {:.1%} of {} decisions right; buffer bytes median |error| "
          "{:.1%}, mean {:.1%}, within 5%: {:.1%}".format(
              np.mean(decisions), len(decisions), np.median(np.abs(e)), np.mean(np.abs(e)),
              np.mean(np.abs(e) < 0.05)))


if __name__ == "__main__":
    main()
