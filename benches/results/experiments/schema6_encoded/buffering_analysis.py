"""Where cnn-kws SRAM error comes from once weight sizes are right: Vela's buffering decisions.

Runs Vela 5.2 twice on each cnn-kws model of the validation bench (``.cache/validation/models``,
seeds 800000..800024; ``python -m benches.validation --per-space 25 --build-only`` builds them):
``--verbose-allocation`` (every SRAM tensor with its live range: activations and the weight
buffers ``WB_<single|double|double2>_<bytes>_op<k>``) and ``--verbose-performance`` (cycles per
operator). Answers cached in ``.cache/buffering_analysis``. Prints

1. Vela's allocation rebuilt (two phases per operator, ``benches.sram_phases.reconstruct``) with
   its buffers rescaled to our *estimated* encoded sizes, and with every buffer single instead;
2. for each CONV_2D after a single-buffered operator: previous operator's cycles / encoded
   weight bytes, and whether Vela double-buffered it (the separation of the two sets);
3. a replay of ``Scheduler.propose_weight_buffering`` from Vela's own cycles: how many buffering
   decisions it gets right and the SRAM MAPE it reaches.

Run from the repository root: ``python benches/results/experiments/schema6_encoded/
buffering_analysis.py``.
"""

import json
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, ROOT)

from benches.labelers.vela import run_vela  # noqa: E402
from benches.sram_phases import _WB, parse_encoded_weights, parse_sram_allocation  # noqa: E402
from benches.sram_phases import reconstruct  # noqa: E402
from edge_predictor.tflite_reader import read_model  # noqa: E402
from edge_predictor.weight_stream import encoded_weight_bytes  # noqa: E402

CACHE = os.path.join(ROOT, ".cache", "buffering_analysis")
MODELS = [os.path.join(ROOT, ".cache", "validation", "models", "cnn-kws-{}.tflite".format(s))
          for s in range(800000, 800025)]
TRANSFER = 1.06  # cycles per encoded weight byte from flash (0.47 GB/s at 500 MHz)


def vela(path):
    """Per model: label, SRAM tensors and, per operator of ours, filter, encoded size, buffers
    and Vela's cycles (operators Vela drops, RESHAPE here, are dropped)."""
    cache = os.path.join(CACHE, os.path.basename(path) + ".json")
    if os.path.exists(cache):
        return json.load(open(cache))
    with tempfile.TemporaryDirectory() as out:
        _, alloc = run_vela(path, out, extra_args=["--verbose-allocation"])
        _, perf = run_vela(path, out, extra_args=["--verbose-performance"])
    tensors, total = parse_sram_allocation(alloc)
    encoded = parse_encoded_weights(alloc)
    cycles = [int(p[5]) for p in (line.split() for line in perf.splitlines())
              if len(p) >= 15 and p[2] == "NPU" and p[5].isdigit() and p[1] != "Relu"]
    graph = read_model(path)
    wb = {}
    for _, _, size, name in tensors:
        m = _WB.match(name)
        if m:
            wb.setdefault(int(m[2]), []).append([m[1], size])
    ops = []
    for node in graph.ops:
        consts = graph.constant_inputs(node)
        ops.append({"op": node.op, "shape": list(consts[0].shape) if consts else [],
                    "enc": encoded.get(consts[0].name) if consts else None,
                    "wb": wb.get(node.index, [])})
    ops = [o for o in ops if o["op"] != "RESHAPE"]
    rec = {"label": total * 1024, "tensors": tensors, "ops": ops,
           "cycles": cycles if len(cycles) == len(ops) else None}
    os.makedirs(CACHE, exist_ok=True)
    json.dump(rec, open(cache, "w"))
    return rec


def rebuilt(rec, size_of, single=False):
    """Two-phase peak of Vela's allocation with every weight buffer resized by ``size_of``."""
    out = []
    for s, e, size, name in rec["tensors"]:
        m = _WB.match(name)
        if m:
            o = rec["ops"][int(m[2])]
            if single:
                if m[1] == "double2":
                    continue
                e = max(t[1] for t in rec["tensors"] if _WB.match(t[3]) and
                        int(_WB.match(t[3])[2]) == int(m[2]))
                size, name = size_of(o), name.replace("double", "single")
            else:
                size = size * size_of(o) / o["enc"]
        out.append((s, e, size, name))
    return reconstruct(out)["two_phase"]


def replay(rec):
    """Vela's buffering decisions replayed from its cycles: (double flags, first, kept, whole)."""
    ops, cyc = rec["ops"], rec["cycles"]
    n = len(ops)
    first, kept, whole = np.zeros(n + 1), np.zeros(n), np.zeros(n)
    double = np.zeros(n, bool)
    slack = 0.0
    for k, o in enumerate(ops):
        if not o["wb"]:
            slack = cyc[k]
            continue
        w = encoded_weight_bytes(o["op"], o["shape"])
        depth = o["shape"][0] if o["op"] == "CONV_2D" else o["shape"][3]
        transfer = TRANSFER * w
        whole[k] = w
        if transfer <= slack:
            first[k] = kept[k] = w
            slack = cyc[k]
            continue
        pre = min(depth, max(16, int(depth * slack / transfer) // 16 * 16))
        step = max(16, -(-int(depth * cyc[k] * pre / depth / transfer) // 16) * 16)
        cuts = [0] + (list(range(pre, depth, step)) if pre < depth else []) + [depth]
        sizes = np.diff(cuts) * w / depth
        if len(sizes) == 1:
            first[k] = kept[k] = w
            slack = cyc[k]
            continue
        double[k] = True
        b0, b1 = sizes[0::2].max(), sizes[1::2].max()
        first[k], kept[k], whole[k] = b0, (b1 if len(sizes) % 2 == 0 else b0), b0 + b1
        slack = cyc[k] * (cuts[-1] - cuts[-2]) / depth
    return double, first, kept, whole


def main():
    recs = [vela(p) for p in MODELS if os.path.exists(p)]
    est = lambda o: encoded_weight_bytes(o["op"], o["shape"])  # noqa: E731
    for name, kw in (("Vela's buffers, Vela's sizes", dict(size_of=lambda o: o["enc"])),
                     ("Vela's buffers, estimated sizes", dict(size_of=est)),
                     ("every buffer single, estimated sizes", dict(size_of=est, single=True))):
        e = np.array([rebuilt(r, **kw) / r["label"] - 1 for r in recs])
        print("{:40s} SRAM MAPE {:5.2f}%  bias {:+.2f}%  (n={})".format(
            name, 100 * np.mean(np.abs(e)), 100 * np.mean(e), len(e)))
    ratios = {True: [], False: []}
    for r in [r for r in recs if r["cycles"]]:
        for k, o in enumerate(r["ops"][1:], 1):
            prev = r["ops"][k - 1]
            if o["op"] == "CONV_2D" and o["wb"] and not any(w[0] == "double" for w in prev["wb"]):
                ratios[any(w[0] == "double" for w in o["wb"])].append(r["cycles"][k - 1] / o["enc"])
    print("CONV_2D after a single-buffered operator, previous cycles / encoded bytes: double "
          "max {:.2f} (n={}), single min {:.2f} (n={})".format(
              max(ratios[True]), len(ratios[True]), min(ratios[False]), len(ratios[False])))
    agree, errs = [], []
    for r in [r for r in recs if r["cycles"]]:
        double, first, kept, whole = replay(r)
        truth = np.array([any(w[0] == "double" for w in o["wb"]) for o in r["ops"]])
        has = np.array([bool(o["wb"]) for o in r["ops"]])
        agree += list((double == truth)[has])
        act = np.zeros(max(t[1] for t in r["tensors"]) + 2)
        for s, e, size, name in r["tensors"]:
            if not _WB.match(name):
                act[s:e + 1] += size
        n = len(r["ops"])
        act = np.concatenate([act, np.zeros(2 * n + 2)])  # steps past Vela's last: nothing
        peak = max(max(act[2 * k] + whole[k] for k in range(n)),
                   max(act[2 * k + 1] + kept[k] + first[k + 1] for k in range(n)))
        errs.append(peak / r["label"] - 1)
    print("replay from Vela's cycles: decisions right {:.1%} of {}, SRAM MAPE {:.2f}%".format(
        np.mean(agree), len(agree), 100 * np.mean(np.abs(errs))))


if __name__ == "__main__":
    main()
