"""Bench: what the shipped bundle costs in accuracy against the Keras model it was exported from.

The bundled predictors are float16-weight TFLite files (half the size of float32). For every
bundled target whose training run is in
``benches/results/accuracy_runs/<target>__<kind>.json`` (the run ``benches/build_bundles.sh``
exports; ``--kind [TARGET=]KIND``, default perfsage-gen), this predicts the test split of the
store with the *shipped* bundle through :class:`edge_predictor.runtime.Predictor` -- featurized
graphs padded into the buckets, the TFLite interpreter -- and puts its MAPE per space and metric
beside the Keras model's (the accuracy bench's figures), with the bundle's size.

Writes ``benches/results/bundle_accuracy.{json,md}``.

Run: ``python -m benches.bundle_accuracy [--data DIR] [--kind [TARGET=]KIND ...]
[--trained TARGET=DIR ...]`` (``--data``: the store the bundle was trained on; ``--trained``: a
bundle trained outside the accuracy bench, by its training folder: its ``metrics.json`` holds the
Keras figures, a run specialized on one space is scored on that space only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

import numpy as np

from benches.results_io import read_results, write_results
from edge_predictor import bundle as B
from edge_predictor.featurize import GraphFeatures
from edge_predictor.runtime import Predictor
from trainer import dataset as D

__all__ = ["bundle_test_mape", "render_markdown", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")


def bundle_test_mape(predictor: Predictor, ds: D.Dataset) -> Dict[str, Dict[str, float]]:
    """``{space: {metric: MAPE %}}`` of ``predictor`` on ``ds`` (featurized graphs of a store)."""
    t = ds.table
    pred = np.zeros_like(ds.y)
    for j, g in enumerate(ds.index):
        lo, hi = t.node_ptr[g], t.node_ptr[g + 1]
        feats = GraphFeatures(x=t.x[lo:hi], categories=t.cat[lo:hi], op_ids=t.op[lo:hi],
                              edges=t.edges[t.edge_ptr[g]:t.edge_ptr[g + 1]], unknown_ops=())
        r = predictor.predict_features(feats)
        pred[j] = [r[m] for m in ds.metrics]
    out: Dict[str, Dict[str, float]] = {}
    for sp in sorted(set(ds.spaces.tolist())) + ["all"]:
        sel = np.ones(len(ds), bool) if sp == "all" else ds.spaces == sp
        out[sp] = {m: float(100.0 * np.mean(np.abs(pred[sel, k] - ds.y[sel, k]) / ds.y[sel, k]))
                   for k, m in enumerate(ds.metrics)}
    return out


def _training_folder(folder: str) -> Dict[str, Any]:
    """An accuracy-bench-like run record of a training folder written by
    :func:`trainer.train.train` (``metrics.json``, ``train_config.json``)."""
    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(folder, "train_config.json")) as f:
        cfg = json.load(f)
    space = cfg.get("space") if cfg.get("mode") == "specialized" else None
    return {"spec": {"metrics": cfg["metrics"], "space": space}, "model_dir": folder,
            "result": {"per_space": metrics["per_space"]}}


def render_markdown(doc: Dict[str, Any]) -> str:
    """The readable table of the JSON document."""
    lines = ["# Shipped bundles vs. the Keras models they were exported from", "",
             "Command: `{}`. Test split of the store; MAPE in %.".format(doc["command"]), ""]
    for target, t in doc["targets"].items():
        lines += ["## {}".format(target), ""]
        if t.get("command"):  # kept from an earlier run
            lines += ["From an earlier run: `{}`.".format(t["command"]), ""]
        lines += ["Bundle `{}`: {} ({} files, {:.1f} MB); trained in `{}`.".format(
                      t["bundle"], t["precision"], t["files"], t["size_mb"], t["trained"]), "",
                  "| space | metric | n | Keras MAPE | bundle MAPE | difference (pp) |",
                  "|---|---|---:|---:|---:|---:|"]
        for sp, per in t["bundle_mape"].items():
            for m, v in per.items():
                k = t["keras"].get(sp, {}).get(m, {})
                km = None if k.get("mape") is None else 100.0 * k["mape"]
                lines.append("| {} | {} | {} | {} | {:.2f} | {} |".format(
                    sp, m, k.get("n", "-"), "-" if km is None else "{:.2f}".format(km), v,
                    "-" if km is None else "{:+.2f}".format(v - km)))
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benches.bundle_accuracy",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="store root (default data/edgedlperf)")
    ap.add_argument("--out", default=RESULTS)
    ap.add_argument("--kind", action="append", default=[], metavar="[TARGET=]KIND",
                    help="the accuracy bench run a bundle was exported from (build_bundles KIND; "
                    "default perfsage-gen); TARGET=KIND sets it for one target")
    ap.add_argument("--trained", action="append", default=[], metavar="TARGET=DIR",
                    help="the training folder of a bundle trained outside the accuracy bench")
    ap.add_argument("--targets", default=None,
                    help="comma-separated targets to score (default every bundled one); the "
                    "others are kept from the last results, with their own command")
    args = ap.parse_args(argv)
    trained = dict(t.partition("=")[::2] for t in args.trained)
    kinds = dict(k.partition("=")[::2] if "=" in k else ("*", k) for k in args.kind)
    table = D.load_table(args.data)
    doc: Dict[str, Any] = {"command": "python -m benches.bundle_accuracy" + (
        " --data " + args.data if args.data else "") + "".join(
        " --kind " + k for k in args.kind) + "".join(
        " --trained " + t for t in args.trained), "targets": {}}
    only = set(t for t in (args.targets or "").split(",") if t)
    old = read_results(args.out, "bundle_accuracy") if only else {}
    for target, res in old.get("targets", {}).items():
        if target not in only:
            doc["targets"][target] = dict(res, command=res.get("command", old["command"]))
    for target, path in sorted(B.list_bundles().items()):
        if only and target not in only:
            continue
        kind = kinds.get(target, kinds.get("*", "perfsage-gen"))
        run_file = os.path.join(RESULTS, "accuracy_runs", "{}__{}.json".format(target, kind))
        if target in trained:
            run = _training_folder(trained[target])
        elif not os.path.exists(run_file):
            print("{}: no {}; skipped".format(target, run_file), file=sys.stderr)
            continue
        else:
            with open(run_file) as f:
                run = json.load(f)
        pred = Predictor.load(path)
        ds = D.split(D.select(table, target, list(run["spec"]["metrics"])))["test"]
        if run["spec"].get("space"):
            ds = ds.subset(np.flatnonzero(ds.spaces == run["spec"]["space"]))
        meta = pred.bundle.meta
        files = [os.path.join(path, name) for name in B.bundle_files(meta)]
        doc["targets"][target] = {
            "bundle": os.path.relpath(path, ROOT), "precision": meta.get("precision"),
            "files": len(files), "size_mb": sum(os.path.getsize(p) for p in files) / 1e6,
            "trained": os.path.relpath(run["model_dir"], ROOT),
            "keras": run["result"]["per_space"], "bundle_mape": bundle_test_mape(pred, ds)}
    write_results(args.out, "bundle_accuracy", doc, render_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
