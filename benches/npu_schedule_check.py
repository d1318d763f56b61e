"""Bench: the featurizer's Vela replay against Vela's own schedule, per accelerator configuration.

The featurizer's replayed-schedule columns (:mod:`edge_predictor.npu_blocks`,
:mod:`edge_predictor.npu_schedule`) restate three decisions Vela 5.2 makes for an Ethos-U55: the
OFM block of each (depthwise) convolution and pooling, the compute cycles its scheduler weighs
weight transfers against, and which weight streams it double-buffers in SRAM. Vela's
``--verbose-schedule`` prints all three per operator. For every accelerator of
:data:`edge_predictor.npu_blocks.ACCELERATORS` this bench compiles cnn-kws models (the space
whose SRAM peak the weight buffers move most) and scores:

1. the share of OFM blocks exactly Vela's;
2. the compute-cycle error per operator kind and traversal (median, median |error|,
   p10..p90);
3. the share of single/double buffering decisions right, and the buffer bytes' error;
4. on the adaptation bench's pool of fresh models of every space (``.cache/adaptation/pool``,
   if ``python -m benches.adaptation`` built it), the featurizer's ``npu_cost_cycles`` for the
   configuration against Vela's per-layer cycles, per operator type: the sum of ours over the
   sum of Vela's, and the type's share of Vela's cycles.

Models: store seeds ``0..N-1`` of cnn-kws (rebuilt from (space, seed) into
``.cache/vela_schedule/models``; ``--seeds``, default 30) and, as held-out, the validation
bench's fresh cnn-kws models (seeds 800000.., if ``python -m benches.validation`` built them).
Vela's schedules are cached per accelerator in ``.cache/vela_schedule[_<accelerator>]``
(~1.5 s per model and configuration). Writes ``benches/results/npu_schedule_check.{json,md}``.

Run: ``python -m benches.npu_schedule_check [--accelerators ethos-u55-128,ethos-u55-256]
[--seeds 30]``.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import sys
import tempfile
import time
from typing import Any, Dict, List

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benches.results_io import write_results  # noqa: E402
from edge_predictor.featurize import featurize, raw_columns  # noqa: E402
from edge_predictor.npu_blocks import ACCELERATORS, compute_cycles, ofm_block  # noqa: E402
from edge_predictor.tflite_reader import read_model  # noqa: E402

__all__ = ["parse_schedule", "vela_schedule", "check_model", "cost_by_type", "summarize",
           "render_markdown", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache", "vela_schedule")
RESULTS = os.path.join(ROOT, "benches", "results")
KINDS = {"Conv2D": "conv", "DepthwiseConv2D": "depthwise", "AvgPool": "pool"}


def parse_schedule(log: str) -> List[Dict[str, Any]]:
    """Vela's ``--verbose-schedule`` text -> one dict per operator of the final schedule
    (``op``, ``ofm``, ``kernel``, ``ofm_block``, ``traversal``, ``ifm``, ``buf``, ``buf_kind``,
    ``cycles`` where printed)."""
    ops: List[Dict[str, Any]] = []
    cur: Dict[str, Any] = {}
    for line in log.split("Schedule: '")[-1].splitlines():
        s = line.strip()
        m = re.match(r"(\d+): Operation (\w+)\s+- OFM ([\d, ]+)", s)
        if m:
            cur = {"op": m[2], "ofm": [int(v) for v in m[3].split(",")]}
            ops.append(cur)
        elif not cur:
            continue
        elif s.startswith("Kernel:"):
            cur["kernel"] = [int(v) for v in re.match(
                r"Kernel: size=(\d+),(\d+) stride=(\d+),(\d+)", s).groups()]
        elif s.startswith("Operator Config"):
            m = re.search(r"OFM Block=\[([\d, ]+)\].*Traversal=(\w+)", s)
            cur["ofm_block"], cur["traversal"] = [int(v) for v in m[1].split(",")], m[2]
        elif s.startswith("IFM Stripe"):
            cur["ifm"] = [int(v) for v in re.findall(r"\d+", s)]
        elif s.startswith("Weight buffer"):
            cur["buf"] = int(re.findall(r"\d+", s)[0])
            cur["buf_kind"] = re.findall(r"\((\w+)\)", s)[0]
        elif s.startswith("Estimated Perf"):
            cur["cycles"] = int(re.search(r"Cycles=(\d+)", s)[1])
    return ops


def vela_schedule(path: str, accelerator: str) -> List[Dict[str, Any]]:
    """Vela's schedule of one model for one accelerator, cached."""
    from benches.labelers.vela import run_vela

    folder = CACHE + ("" if accelerator == "ethos-u55-128" else "_" + accelerator)
    cache = os.path.join(folder, os.path.basename(path) + ".json")
    if os.path.exists(cache):
        with open(cache) as f:
            return json.load(f)
    with tempfile.TemporaryDirectory() as out:
        _, log = run_vela(path, out, accelerator=accelerator, extra_args=["--verbose-schedule"])
    ops = parse_schedule(log)
    os.makedirs(folder, exist_ok=True)
    with open(cache + ".tmp", "w") as f:
        json.dump(ops, f)
    os.replace(cache + ".tmp", cache)
    return ops


def store_models(n: int) -> List[str]:
    """cnn-kws store seeds 0..n-1, rebuilt (bit-identical) from (space, seed)."""
    paths = []
    for seed in range(n):
        path = os.path.join(CACHE, "models", "cnn-kws-{}.tflite".format(seed))
        if not os.path.exists(path):
            from converters.quantize import build_tflite

            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".tmp", "wb") as f:
                f.write(build_tflite("cnn-kws", seed))
            os.replace(path + ".tmp", path)
        paths.append(path)
    return paths


def check_model(path: str, accelerator: str) -> Dict[str, list]:
    """One model's comparison rows: ``blocks`` [bool], ``cycles`` [(kind/traversal, relative
    error)], ``decisions`` [bool], ``buffers`` [relative error]."""
    arch = ACCELERATORS[accelerator]
    ops = vela_schedule(path, accelerator)
    out: Dict[str, list] = {"blocks": [], "cycles": [], "decisions": [], "buffers": []}
    for o in ops:
        kind = KINDS.get(o["op"])
        if kind is None or "ofm_block" not in o:
            continue
        kw, kh, sx, sy = o["kernel"]
        b = ofm_block(kind, tuple(o["ofm"][1:]), tuple(o["ifm"][1:]), (kh, kw), (sy, sx),
                      (1, 1), arch)
        out["blocks"].append(b is not None and list(b) == o["ofm_block"][1:])
        if o["ofm"][1] > 1 and b is not None and o.get("cycles"):  # not the classifier as FC
            est = compute_cycles(kind, o["ofm"][1:], o["ifm"][3], (kh, kw), b, arch)
            out["cycles"].append(("{}/{}".format(kind, o["traversal"]), est / o["cycles"] - 1))
    graph = read_model(path)
    double, whole = raw_columns(featurize(graph, accelerator),
                                ("est_double_buffer", "est_weight_buffer_bytes"))
    ours = [i for i, node in enumerate(graph.ops) if node.op != "RESHAPE"]  # Vela drops them
    if len(ours) == len(ops):
        for j, i in enumerate(ours):
            o = ops[j]
            if o.get("buf_kind") in ("Single", "Double") and o.get("buf"):
                out["decisions"].append(bool(double[i]) == (o["buf_kind"] == "Double"))
                out["buffers"].append(float(whole[i] / o["buf"] - 1))
    return out


def cost_by_type(paths: List[str], accelerator: str) -> Dict[str, Dict[str, float]]:
    """Per operator type: ``npu_cost_cycles`` (featurized for ``accelerator``) summed over
    Vela's per-layer cycles summed, and the type's share of Vela's cycles (operators of more
    than 100 cycles)."""
    from benches.labelers.vela import label_vela
    from edge_predictor.errors import LabelError
    from edge_predictor.npu_cost import cost_kinds

    ours, vela = collections.Counter(), collections.Counter()
    for path in paths:
        graph = read_model(path)
        with open(path, "rb") as f:
            try:
                res = label_vela(f.read(), accelerator=accelerator, layers=True, graph=graph)
            except LabelError:
                continue
        cycles = (res["raw"].get("layers") or {}).get("cycles")
        if not cycles:
            continue
        est = raw_columns(featurize(graph, accelerator), ("npu_cost_cycles",))[0]
        for kind, o, v in zip(cost_kinds(graph), est.tolist(), cycles):
            if v and v > 100:
                ours[kind.split("/")[0]] += o
                vela[kind.split("/")[0]] += v
    total = float(sum(vela.values())) or 1.0
    return {k: {"ratio": round(ours[k] / vela[k], 3), "share": round(100 * vela[k] / total, 1)}
            for k in sorted(vela, key=lambda k: -vela[k])}


def summarize(rows: List[Dict[str, list]]) -> Dict[str, Any]:
    """The scores over many :func:`check_model` rows."""
    blocks = [v for r in rows for v in r["blocks"]]
    per_kind = collections.defaultdict(list)
    for r in rows:
        for k, e in r["cycles"]:
            per_kind[k].append(e)
    decisions = [v for r in rows for v in r["decisions"]]
    buffers = np.array([v for r in rows for v in r["buffers"]])

    def pct(v):
        return round(100 * float(v), 1)

    return {
        "models": len(rows), "blocks": {"right": int(sum(blocks)), "of": len(blocks)},
        "cycles": {k: {"n": len(e), "median": pct(np.median(e)),
                       "median_abs": pct(np.median(np.abs(e))),
                       "p10": pct(np.percentile(e, 10)), "p90": pct(np.percentile(e, 90))}
                   for k, e in sorted(per_kind.items())},
        "decisions": {"right": int(sum(decisions)), "of": len(decisions)},
        "buffer_bytes": ({"median_abs": pct(np.median(np.abs(buffers))),
                          "within5": pct(np.mean(np.abs(buffers) < 0.05))}
                         if len(buffers) else None)}


def render_markdown(doc: Dict[str, Any]) -> str:
    lines = ["# The featurizer's Vela replay against Vela's schedule", "",
             "Command: `{}`; {}; Vela {}. cnn-kws models: store seeds 0..{} and the validation "
             "bench's fresh ones (held out: nothing here was fitted on them). Blocks: OFM "
             "blocks exactly Vela's; cycles: compute-cycle error (ours / Vela's - 1, %, "
             "median, median |error|, p10..p90); decisions: single/double weight buffering "
             "right; buffer bytes: median |error|, share within 5%.".format(
                 doc["command"], doc["when"], doc["vela"], doc["seeds"] - 1), "",
             "| accelerator | models | blocks | cycles | decisions | buffer bytes |",
             "|---|---|---|---|---|---|"]
    for acc, sets in doc["accelerators"].items():
        for name, st in sets.items():
            cyc = "; ".join("{} {:+.1f} / {:.1f} ({:+.0f}..{:+.0f}, n={})".format(
                k, v["median"], v["median_abs"], v["p10"], v["p90"], v["n"])
                for k, v in st["cycles"].items())
            buf = st["buffer_bytes"]
            lines.append("| {} | {} ({}) | {} / {} | {} | {} / {} ({:.1f}%) | {} |".format(
                acc, name, st["models"], st["blocks"]["right"], st["blocks"]["of"], cyc,
                st["decisions"]["right"], st["decisions"]["of"],
                100.0 * st["decisions"]["right"] / max(st["decisions"]["of"], 1),
                "{}% / {}%".format(buf["median_abs"], buf["within5"]) if buf else "-"))
    costs = doc.get("cost_by_type") or {}
    if costs:
        accs = list(costs)
        kinds = list(costs[accs[0]])[:12]
        lines += ["", "`npu_cost_cycles` on each configuration's features over Vela's per-layer "
                  "cycles, per operator type, on the adaptation pool ({} models); the type's "
                  "share of Vela's cycles in brackets:".format(doc.get("pool_models")), "",
                  "| type | " + " | ".join(accs) + " |", "|---|" + "---|" * len(accs)]
        for k in kinds:
            lines.append("| {} | {} |".format(k, " | ".join(
                "{} ({}%)".format(costs[a][k]["ratio"], costs[a][k]["share"]) if k in costs[a]
                else "-" for a in accs)))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benches.npu_schedule_check",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--accelerators", default=",".join(ACCELERATORS))
    ap.add_argument("--seeds", type=int, default=30, help="cnn-kws store seeds 0..N-1")
    ap.add_argument("--out", default=RESULTS)
    args = ap.parse_args(argv)
    accs = [a for a in args.accelerators.split(",") if a]
    unknown = [a for a in accs if a not in ACCELERATORS]
    if unknown:
        ap.error("no block model for {}; known: {}".format(unknown, ", ".join(ACCELERATORS)))
    from benches.labelers.vela import vela_version

    sets = {"store": store_models(args.seeds),
            "fresh": sorted(glob.glob(os.path.join(ROOT, ".cache", "validation", "models",
                                                   "cnn-kws-8*.tflite")))}
    doc: Dict[str, Any] = {"command": ("python -m benches.npu_schedule_check " + " ".join(
        argv if argv is not None else sys.argv[1:])).strip(), "when": time.strftime("%Y-%m-%d"),
        "vela": vela_version(), "seeds": args.seeds, "accelerators": {}}
    pool = sorted(glob.glob(os.path.join(ROOT, ".cache", "adaptation", "pool", "*.tflite")))
    if pool:
        doc["pool_models"] = len(pool)
        doc["cost_by_type"] = {}
    for acc in accs:
        if pool:
            print("{}: npu_cost on {} pool models".format(acc, len(pool)), file=sys.stderr)
            doc["cost_by_type"][acc] = cost_by_type(pool, acc)
        doc["accelerators"][acc] = {}
        for name, paths in sets.items():
            if paths:
                print("{}: {} {} models".format(acc, len(paths), name), file=sys.stderr)
                doc["accelerators"][acc][name] = summarize([check_model(p, acc) for p in paths])
    write_results(args.out, "npu_schedule_check", doc, render_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
