"""Bench: leave one family out, the network (issue 20).

For each architecture family of ``--families``: train the NPU predictor with the shipped
settings (``physics-gen``, ``docs/npu-cost-model.md``) for ``--epochs`` without the ``families``
space's models of that family (``TrainConfig.hold_out_family``), export it (float32, one
1536-node bucket) and score the zoo's real models of that family against Vela; beside it, a
reference run on every family with the same epochs, scored on the same zoo models. The
difference is what a family nobody sampled costs the network.

Caveat: the analytical tables under the network (``npu_cost_table.py``, ``npu_energy_table.py``)
are the shipped ones, fitted on every family; the analytical model's own leave-one-family-out,
with the tables refitted, is in ``benches/results/npu_cost.md``.

Resumable: every run trains in ``.cache/lofo/<name>`` (an interrupted one resumes). Writes
``benches/results/network_lofo.{json,md}``.

Run: ``python -m benches.network_lofo [--families densenet,unet,...] [--epochs 12]`` (the train
extra; ~25 s per epoch on 2 cores; zoo labels from ``benches/results/npu_cost_zoo_layers.json``,
written by ``python -m benches.npu_cost``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from benches.results_io import read_results, write_results  # noqa: E402

__all__ = ["METRICS", "run_family", "render_markdown", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")
CACHE = os.path.join(ROOT, ".cache", "lofo")
ZOO_DIR = os.path.join(ROOT, ".cache", "zoo")
METRICS = ("latency_ms", "sram_kib", "energy_mj")
#: the shipped NPU bundle's settings (docs/npu-cost-model.md), epochs set per run
SETTINGS = dict(target="ethos-u55-128", metrics=list(METRICS), mode="generalized", patience=25,
                hidden=64, lr=0.0005, dropout=0.1, peak_tau=0.05, bounded_peak=True,
                replayed_peak=True, npu_prior=True, energy_prior=True, npu_live_peak=True)


def _zoo_labels() -> Dict[str, Dict[str, float]]:
    with open(os.path.join(RESULTS, "npu_cost_zoo_layers.json")) as f:
        return {name: rec["labels"] for name, rec in json.load(f).items()}


def run_family(family: Optional[str], epochs: int, zoo: Dict[str, List[str]],
               labels: Dict[str, Dict[str, float]]) -> Dict[str, Any]:
    """Train without ``family`` (None: the reference on every family), export, and return
    ``{zoo family: {metric: [error %, ...]}}`` for the zoo families asked."""
    from converters.export import export_bundle, load_trained
    from edge_predictor.runtime import Predictor
    from trainer.train import TrainConfig, train

    name = "without-" + family if family else "all-families"
    out = os.path.join(CACHE, "{}-e{}".format(name, epochs))
    train(TrainConfig(out=out, epochs=epochs, lr_decay_epochs=epochs, hold_out_family=family,
                      **SETTINGS))
    bundle = out + "-bundle"
    export_bundle(load_trained(out), bundle, buckets=((1536, 1),))
    predictor = Predictor.load(bundle)
    res: Dict[str, Any] = {}
    for fam, names in zoo.items():
        if family and fam != family:
            continue
        per = {m: [] for m in METRICS}
        for n in names:
            pred = predictor.predict(os.path.join(ZOO_DIR, n + ".tflite"))
            for m in METRICS:
                per[m].append(round(100 * (pred[m] / labels[n][m] - 1), 2))
        res[fam] = per
    return res


def _mape(errs: List[float]) -> Optional[float]:
    return round(float(np.mean(np.abs(errs))), 2) if errs else None


def render_markdown(doc: Dict[str, Any]) -> str:
    lines = ["# Leave one family out: the network", "",
             "Command: `{}`. Each row: the shipped NPU settings trained {} epochs without the "
             "families space's models of the family, scored on the zoo's models of it against "
             "Vela (MAPE %), beside the same training on every family. The analytical tables "
             "under the network were fitted on every family (their own leave-one-family-out: "
             "`npu_cost.md`).".format(doc["command"], doc["epochs"]), "",
             "| family | zoo models | latency held out / all | SRAM held out / all | "
             "energy held out / all |", "|---|---:|---|---|---|"]
    pooled: Dict[str, Dict[str, List[float]]] = {"out": {m: [] for m in METRICS},
                                                 "all": {m: [] for m in METRICS}}
    for fam, r in doc["families"].items():
        ref = doc["reference"].get(fam, {})
        cells = []
        for m in METRICS:
            pooled["out"][m] += r[m]
            pooled["all"][m] += ref.get(m, [])
            cells.append("{} / {}".format(_mape(r[m]), _mape(ref.get(m, []))))
        lines.append("| {} | {} | {} |".format(fam, len(r[METRICS[0]]), " | ".join(cells)))
    lines.append("| pooled | {} | {} |".format(
        sum(len(r[METRICS[0]]) for r in doc["families"].values()),
        " | ".join("{} / {}".format(_mape(pooled["out"][m]), _mape(pooled["all"][m]))
                   for m in METRICS)))
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    from benches.zoo import check_built, zoo_family

    ap = argparse.ArgumentParser(prog="python -m benches.network_lofo",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--families", default="densenet,efficientnet_v2,unet,vit,conv1d")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", default=RESULTS)
    args = ap.parse_args(argv)
    labels = _zoo_labels()
    files, _ = check_built(ZOO_DIR)
    families = [f for f in args.families.split(",") if f]
    zoo: Dict[str, List[str]] = {}
    for name in sorted(files):
        if zoo_family(name) in families and name in labels:
            zoo.setdefault(zoo_family(name), []).append(name)
    missing = [f for f in families if f not in zoo]
    if missing:
        ap.error("no zoo model of {} (zoo families: {})".format(
            missing, sorted({zoo_family(n) for n in files})))
    doc: Dict[str, Any] = {"command": "python -m benches.network_lofo " + " ".join(
        argv if argv is not None else sys.argv[1:]), "epochs": args.epochs,
        "reference": run_family(None, args.epochs, zoo, labels), "families": {}}
    prev = read_results(args.out, "network_lofo")
    if prev.get("epochs") == args.epochs:  # keep the families of earlier runs, same epochs
        doc["families"] = {k: v for k, v in prev["families"].items() if k not in families}
        doc["reference"] = dict(prev["reference"], **doc["reference"])
        doc["command"] = prev["command"] + "; " + doc["command"]
    for fam in families:
        doc["families"][fam] = run_family(fam, args.epochs, zoo, labels)[fam]
        write_results(args.out, "network_lofo", doc, render_markdown(doc))  # after each family
    return 0


if __name__ == "__main__":
    sys.exit(main())
