"""Bench: fit every bundled predictor's p10-p90 interval and measure its coverage (issue 21).

Held-out models with a measurement: the validation sweep's fresh models (10 per space, seeds
800000..) and the zoo of real architectures (``benches/results/validation.md``'s databases in
``.cache/validation``: Vela for the NPU, live on this host for the CPU). For each target and
metric, the log error ``ln(measured / predicted)`` of the shipped bundle and the answer's
departure from the analytical model (:mod:`edge_predictor.interval`) give

* **coverage**, leave-one-family-out: each family (a design space's fresh models, a zoo family)
  scored by an interval fitted without it -- the share of models inside their p10-p90 (aim
  70-90%) and the mean width p90/p10;
* the spec fitted on every held-out model (bounds: the pool's 5th and 95th percentiles, which
  is what covers ~80% of a family left out, :data:`FIT_LEVELS`), written into the bundle's
  ``meta.json``
  (``interval``; ``ood_departure``: the 95th percentile of the fresh in-space models' departure,
  beyond which an answer is flagged out of distribution).

Writes ``benches/results/intervals.{json,md}``.

Run: ``python -m benches.intervals [--targets T1,T2] [--no-write]`` after ``python -m
benches.validation`` (the train extra is not needed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np

from benches.results_io import read_results, write_results
from benches.validation import OUT_OF_SPACE, family_of

__all__ = ["held_out", "fit_target", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")
CACHE = os.path.join(ROOT, ".cache", "validation")
#: the pool's empirical quantiles taken as p10 and p90: a family nobody sampled errs wider than
#: the pool of the others, and (0.1, 0.9) covered only 57-66% of the zoo's families on the NPU
#: (leave-one-family-out); (0.05, 0.95) covers 68-74% of them, 86-100% of fresh models
FIT_LEVELS = (0.05, 0.95)


def _group(path: str) -> str:
    fam = family_of(path)
    if fam != OUT_OF_SPACE:
        return fam
    from benches.zoo import zoo_family

    return "zoo:" + zoo_family(os.path.basename(path)[:-len(".tflite")])


def held_out(target: str, db: str) -> Dict[str, Dict[str, float]]:
    """``{model path: {metric: measured}}`` of a validation database."""
    from benches.validation import db_rows

    out: Dict[str, Dict[str, float]] = {}
    for metric, rows in db_rows(db, target).items():
        for path, (_, meas) in rows.items():
            out.setdefault(path, {})[metric] = float(meas)
    return out


def fit_target(target: str, bundle_dir: str, measured: Dict[str, Dict[str, float]]
               ) -> Dict[str, Any]:
    """Coverage and the spec per metric of one bundle on its held-out models."""
    from edge_predictor.featurize import featurize
    from edge_predictor.interval import (analytical_of, bounds, departure, fit_spec,
                                         group_coverage)
    from edge_predictor.runtime import Predictor
    from edge_predictor.tflite_reader import read_model

    predictor = Predictor.load(bundle_dir)
    rows = []
    for path, meas in sorted(measured.items()):
        if not os.path.exists(path):
            continue
        feats = featurize(read_model(path))
        ans = predictor.predict_features(feats, path)
        rows.append((path, feats, ans, meas))
    out: Dict[str, Any] = {}
    for metric in predictor.metrics:
        sel = [(p, f, a, m) for p, f, a, m in rows if metric in m]
        err = np.array([np.log(m[metric] / a[metric]) for _, _, a, m in sel])
        dep = np.array([departure(a[metric], analytical_of(f, target, metric))
                        for _, f, a, _ in sel])
        groups = [_group(p) for p, _, _, _ in sel]
        in_space = np.array([not g.startswith("zoo:") for g in groups])
        spec = fit_spec(err, dep, levels=FIT_LEVELS)
        finite = dep[in_space & np.isfinite(dep)]
        spec["ood_departure"] = round(float(np.quantile(finite, 0.95)), 5) if len(finite) else None
        cov = group_coverage(err, dep, groups, levels=FIT_LEVELS)
        zoo = np.array([g.startswith("zoo:") for g in groups])
        per_set = {}
        for name, mask in (("fresh", in_space), ("zoo", zoo)):
            # the leave-one-family-out bounds of this set's models
            inside, width = [], []
            for i in np.flatnonzero(mask):
                rest = np.array([g != groups[i] for g in groups])
                lo, hi = bounds(1.0, dep[i], fit_spec(err[rest], dep[rest],
                                                      levels=FIT_LEVELS))
                inside.append(lo <= np.exp(err[i]) <= hi)
                width.append(hi / lo)
            per_set[name] = {"n": int(mask.sum()), "coverage": round(float(np.mean(inside)), 3)
                             if inside else None,
                             "width": round(float(np.mean(width)), 3) if width else None}
        out[metric] = {"spec": dict(spec, fitted_on="{} held-out models ({} fresh, {} zoo)"
                                    .format(len(sel), int(in_space.sum()), int(zoo.sum()))),
                       "coverage": round(cov["coverage"], 3), "width": round(cov["width"], 3),
                       "per_set": per_set}
    return out


def _markdown(doc: Dict[str, Any]) -> str:
    ran = ["- `{}`: `{}`, {}".format(t, r["command"], r["date"])
           for t, r in sorted(doc.get("ran", {}).items())]
    lines = ["# p10-p90 intervals: coverage on held-out models", "",
             "Command: `{}` ({}); targets it did not name are kept from their own earlier run "
             "(`ran` below). Each model's interval is fitted without its family (a design "
             "space's fresh models, a zoo family): coverage is the share of models whose "
             "measurement lies inside their p10-p90 (aim 70-90%), width the mean "
             "p90/p10.".format(doc["command"], doc.get("date", "")), ""]
    lines += ran + [""] if ran else []
    lines += ["| target | metric | models | coverage | width | fresh: coverage / width | "
              "zoo: coverage / width | departure bins (edges) |",
              "|---|---|---:|---:|---:|---|---|---|"]
    for target, per in doc["targets"].items():
        for metric, r in per.items():
            f, z = r["per_set"]["fresh"], r["per_set"]["zoo"]
            lines.append("| {} | {} | {} | {:.0%} | {:.2f}x | {} / {} | {} / {} | {} |".format(
                target, metric, sum(r["spec"]["n"]), r["coverage"], r["width"],
                f["coverage"], f["width"], z["coverage"], z["width"], r["spec"]["edges"]))
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    from edge_predictor import bundle as B

    ap = argparse.ArgumentParser(prog="python -m benches.intervals",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default=",".join(sorted(B.list_bundles())))
    ap.add_argument("--no-write", action="store_true", help="do not write the bundles' specs")
    ap.add_argument("--out", default=RESULTS)
    args = ap.parse_args(argv)
    doc: Dict[str, Any] = {"command": "python -m benches.intervals " + " ".join(
        argv if argv is not None else sys.argv[1:]), "targets": {}, "ran": {},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    old = read_results(args.out, "intervals")  # keep the targets not rerun, with their run
    for target, res in old.get("targets", {}).items():
        doc["targets"][target] = res
        doc["ran"][target] = old.get("ran", {}).get(target) or {
            "command": old.get("command", "?"), "date": old.get("date", "date not recorded")}
    for target in [t for t in args.targets.split(",") if t]:
        bundle_dir = B.resolve(target)
        meta_path = os.path.join(bundle_dir, B.META_FILE)
        # the validation sweep of this bundle's buckets (its databases are keyed by the meta.json
        # the sweep saw, which writing the spec changes: validation.json names the tag)
        with open(os.path.join(RESULTS, "validation.json")) as f:
            tag = json.load(f)["targets"].get(target, {}).get("bundle_tag")
        db = os.path.join(CACHE, "{}-{}.sqlite".format(target, tag))
        if not tag or not os.path.exists(db):
            print("{}: no validation database {} (run python -m benches.validation for this "
                  "bundle first)".format(target, db), file=sys.stderr)
            return 2
        res = fit_target(target, bundle_dir, held_out(target, db))
        doc["targets"][target] = res
        doc["ran"][target] = {"command": doc["command"], "date": doc["date"]}
        if not args.no_write:
            with open(meta_path) as f:
                meta = json.load(f)
            meta["interval"] = {m: r["spec"] for m, r in res.items()}
            meta["interval_coverage"] = {m: {"coverage": r["coverage"], "width": r["width"]}
                                         for m, r in res.items()}
            with open(meta_path + ".tmp", "w") as f:
                json.dump(meta, f, indent=1)
                f.write("\n")
            os.replace(meta_path + ".tmp", meta_path)
    write_results(args.out, "intervals", doc, _markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
