"""Bench: is this machine the machine that labelled the store? Re-measure stored CPU labels.

A CPU target is named by a fingerprint (``cpu-epyc-litert-t1``: CPU family, interpreter,
threads), but two VMs of one fingerprint can differ by several times. This bench re-measures a
fixed, evenly spread sample of every space's labelled models on this host, serially, with the
labelling methodology (``benches.labelers.cpu.label_cpu``: 10 warm-up runs, median of at least
30 runs and ``--min-time`` seconds), and reports per space the ratio *measured now / stored
label*: ~1 means this host is the labelling host's equal; a ratio that differs between spaces
means no single scale factor converts one host's labels into the other's.

The models are read from the local model cache when it holds them, else rebuilt from
``(space, seed)``; a rebuild whose sha256 differs from the store's is reported (the model is not
reproducible on this machine) and skipped. Run it on an otherwise idle machine:
``python -m benches.cpu_host_scale [--per-space 8] [--out benches/results]``; writes
``cpu_host_scale.{json,md}``.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np

from benches.results_io import write_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benches", "results")

__all__ = ["spread_sample", "summarize", "main"]


def spread_sample(seeds: List[int], k: int) -> List[int]:
    """``k`` seeds evenly spread over the sorted ``seeds`` (all of them if fewer)."""
    seeds = sorted(seeds)
    if len(seeds) <= k:
        return seeds
    idx = np.linspace(0, len(seeds) - 1, k).round().astype(int)
    return [seeds[i] for i in idx]


def summarize(ratios: List[float]) -> Dict[str, Any]:
    """Median and p10..p90 of measured-now / stored-label ratios."""
    r = np.asarray(ratios, np.float64)
    if not len(r):
        return {"n": 0, "median": None, "p10": None, "p90": None}
    return {"n": int(len(r)), "median": round(float(np.median(r)), 3),
            "p10": round(float(np.percentile(r, 10)), 3),
            "p90": round(float(np.percentile(r, 90)), 3)}


def _markdown(doc: Dict[str, Any]) -> str:
    lines = ["# This host against the host that labelled the store (CPU latency)", "",
             "Written by `{}` on {} ({}), {}. Ratio = latency measured now / stored label, "
             "same models, same methodology, serially.".format(
                 doc["command"], doc["host"].get("cpu_model"), doc["target"], doc["date"]), "",
             "| space | models | median ratio | p10 | p90 | not reproducible here |",
             "|---|---:|---:|---:|---:|---:|"]
    for space, row in doc["per_space"].items():
        lines.append("| {} | {} | {} | {} | {} | {} |".format(
            space, row["n"], row["median"], row["p10"], row["p90"], row["not_reproducible"]))
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-space", type=int, default=8)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--data", default=None, help="store root (default data/edgedlperf)")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    from benches.labelers.cpu import cpu_target, label_cpu
    from edge_predictor.measure import host_fingerprint
    from trainer.cpu_pass import _model_bytes
    from trainer.store import LABELS, MODELS, Store

    store = Store(args.data)
    target = cpu_target(threads=1)
    labels: Dict[Any, float] = {}
    for r in store.records(LABELS, target):
        if r.get("pass", 1) == 1 and "latency_ms" in r.get("labels", {}):
            labels[(r["space"], r["seed"])] = float(r["labels"]["latency_ms"])
    by_space: Dict[str, List[int]] = collections.defaultdict(list)
    for space, seed in labels:
        by_space[space].append(seed)
    per_space: Dict[str, Dict[str, Any]] = {}
    for space in sorted(by_space):
        chosen = set(spread_sample(by_space[space], args.per_space))
        ratios, bad = [], 0
        for rec in store.records(MODELS, space):
            if rec["seed"] not in chosen or rec.get("status") != "ok":
                continue
            try:
                content = _model_bytes(rec)
            except RuntimeError:  # rebuilt bytes differ from the stored sha256
                bad += 1
                continue
            res = label_cpu(content, threads=1, warmup=10, runs=30, min_time_s=args.min_time)
            ratios.append(res["labels"]["latency_ms"] / labels[(space, rec["seed"])])
            print("{} {}: x{:.2f}".format(space, rec["seed"], ratios[-1]), file=sys.stderr)
        per_space[space] = dict(summarize(ratios), not_reproducible=bad,
                                ratios=[round(x, 3) for x in ratios])
    doc = {"command": "python -m benches.cpu_host_scale " + " ".join(argv or sys.argv[1:]),
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "target": target,
           "host": host_fingerprint(threads=1), "per_space": per_space}
    paths = write_results(args.out, "cpu_host_scale", doc, _markdown(doc))
    print("wrote", *paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
