"""Bench: validation sweeps of the bundled predictors against measurements (issue 6).

For every target it runs :func:`edge_predictor.validate.validate` (the library behind
``edge-perf validate``) over

* **fresh in-space models**: ``--per-space`` models of each design space with seeds from
  :data:`SEED_BASE` (the committed dataset's seeds start at 0 and stay far below), built once
  into ``.cache/validation/models/`` with ``edge-perf dataset sample``;
* **out-of-space models**: the real-world architectures of :mod:`benches.zoo` (``.cache/zoo``,
  checked against ``benches/zoo_manifest.json``), never trained on;

"measuring" with Vela for ``ethos-u55-128`` and live on this host for the ``cpu-...`` target.
For the live target the same models are measured a second time into another database: the MAPE
between the two measurements is the **noise floor**, shown beside the predictor's error. Each
sweep is resumable (SQLite, one row per model; rerunning skips what is done) and keyed by the
bundle's sha256, so a new predictor gets fresh predictions.

Writes ``benches/results/validation.{json,md}`` and one PNG per target
(``validation_<target>.png``: predicted vs. measured, error by magnitude).

Run: ``python -m benches.validation [--per-space 50] [--targets T1,T2]`` (the train extra:
TensorFlow builds the models, Vela labels them).
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

os.environ.setdefault("EDGE_PERF_INTERPRETER", "litert")  # the CPU target's interpreter

from benches.results_io import read_results, write_results  # noqa: E402
from benches.zoo import check_built  # noqa: E402
from edge_predictor import bundle as B  # noqa: E402
from edge_predictor.validate import ResultStore, error_stats, sha256_file, validate  # noqa: E402

__all__ = ["SEED_BASE", "SPACES", "family_of", "db_rows", "build_models", "sweep", "summarize",
           "render_markdown", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache", "validation")
ZOO_DIR = os.path.join(ROOT, ".cache", "zoo")
RESULTS = os.path.join(ROOT, "benches", "results")
SPACES = ("cnn-cifar10", "cnn-imagenet", "cnn-kws", "vit-cifar100", "families")
SEED_BASE = 800000  #: fresh models: seeds SEED_BASE .. SEED_BASE + per_space - 1 per space
OUT_OF_SPACE = "out-of-space"
#: live measurement settings: those of the dataset's CPU labels (trainer/cpu_pass.py)
LIVE = {"warmup": 10, "runs": 30, "min_time_s": 0.3}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def family_of(path: str) -> str:
    """The design space of ``<space>-<seed>.tflite``, else :data:`OUT_OF_SPACE`."""
    name = os.path.basename(path)
    for sp in SPACES:
        if name.startswith(sp + "-") and name[len(sp) + 1:-len(".tflite")].isdigit():
            return sp
    return OUT_OF_SPACE


def build_models(per_space: int, out: str = os.path.join(CACHE, "models"),
                 seed_base: int = SEED_BASE) -> List[str]:
    """Build the missing fresh models (a child ``edge-perf dataset sample`` per seed range):
    seeds ``seed_base ..`` of every space.

    Returns:
        The model paths, in space and seed order.
    """
    paths = []
    for sp in SPACES:
        want = [os.path.join(out, "{}-{}.tflite".format(sp, seed_base + i))
                for i in range(per_space)]
        missing = [i for i, p in enumerate(want) if not os.path.exists(p)]
        while missing:  # one child per contiguous run of missing seeds
            lo = hi = missing[0]
            while hi + 1 in missing:
                hi += 1
            _log("building {} seeds {}..{}".format(sp, seed_base + lo, seed_base + hi))
            subprocess.run([sys.executable, "-m", "edge_predictor.cli", "dataset", "sample",
                            "--space", sp, "--seed-from", str(seed_base + lo), "--count",
                            str(hi - lo + 1), "--out", out], check=True)
            missing = [i for i in missing if i > hi]
        paths += want
    return paths


def zoo_models(zoo_dir: str = ZOO_DIR) -> List[str]:
    """The zoo files whose sha256 matches the manifest (the others are skipped, with a log)."""
    ok, skipped = check_built(zoo_dir)
    for line in skipped:
        _log("zoo: " + line)
    return [os.path.join(zoo_dir, name + ".tflite") for name in ok]


def _progress(i, n, path, status, detail):
    if status != "skipped":
        _log("[{}/{}] {} {} {}".format(i + 1, n, status, os.path.basename(path),
                                       "" if status == "ok" else detail))


def sweep(target: str, models: List[str], bundle_dir: str, repeat: bool) -> Dict[str, Any]:
    """Validate ``models`` on ``target`` (and, if ``repeat``, measure them again).

    Returns:
        ``{"db", "repeat_db", "summary"}``: the database paths and validate()'s summary.
    """
    tag = _bundle_tag(bundle_dir)
    os.makedirs(CACHE, exist_ok=True)
    db = os.path.join(CACHE, "{}-{}.sqlite".format(target, tag))
    plot = os.path.join(RESULTS, "validation_{}.png".format(target))
    _log("validate {} on {} models (db {})".format(target, len(models), db))
    summary = validate(models, target, db, bundle=bundle_dir, progress=_progress, plot_path=plot,
                       **(LIVE if target.startswith("cpu-") else {}))
    out = {"db": db, "repeat_db": None, "summary": summary}
    if repeat:
        out["repeat_db"] = os.path.join(CACHE, "{}-{}.repeat.sqlite".format(target, tag))
        _log("second measurement of the same models (noise floor), db {}".format(
            out["repeat_db"]))
        validate(models, target, out["repeat_db"], bundle=bundle_dir, progress=_progress,
                 **LIVE)
    return out


def _bundle_tag(bundle_dir: str) -> str:
    """The first 12 hex digits of the sha256 of the bundle's meta.json (it lists every file's)."""
    return sha256_file(os.path.join(bundle_dir, "meta.json"))[:12]


def db_rows(db: str, target: str) -> Dict[str, Dict[str, Any]]:
    """``{metric: {path: (predicted, measured)}}`` of one database."""
    store = ResultStore(db)
    try:
        pairs = store.pairs(target)
    finally:
        store.close()
    return {m: {p: (a, b) for p, a, b in zip(d["paths"], d["predicted"], d["measured"])}
            for m, d in pairs.items()}


def summarize(target: str, run: Dict[str, Any]) -> Dict[str, Any]:
    """Per family (each space, in-space overall, out-of-space) and metric: the predictor's
    error_stats, and for a repeated live target the noise floor (first vs. second measurement).
    """
    rows = db_rows(run["db"], target)
    again = db_rows(run["repeat_db"], target) if run["repeat_db"] else {}
    out: Dict[str, Any] = {}
    for metric, by_path in sorted(rows.items()):
        groups: Dict[str, List[str]] = {}
        for path in by_path:
            fam = family_of(path)
            groups.setdefault(fam, []).append(path)
            if fam != OUT_OF_SPACE:
                groups.setdefault("in-space", []).append(path)
        per: Dict[str, Any] = {}
        for fam in list(SPACES) + ["in-space", OUT_OF_SPACE]:
            paths = groups.get(fam, [])
            if not paths:
                continue
            st = error_stats([by_path[p][0] for p in paths], [by_path[p][1] for p in paths])
            rep = [p for p in paths if p in again.get(metric, {})]
            if rep:  # the second measurement as a "prediction" of the first
                st["noise_floor"] = error_stats([again[metric][p][1] for p in rep],
                                                [by_path[p][1] for p in rep])
            per[fam] = st
        out[metric] = per
    return out


def _f(v: Optional[float], fmt: str = "{:.2f}%") -> str:
    return "-" if v is None else fmt.format(v)


def render_markdown(doc: Dict[str, Any]) -> str:
    """The readable table of :func:`main`'s JSON document."""
    lines = ["# Validation sweeps: bundled predictors vs. measurements", "",
             "Last produced by `{}` on {} ({}); targets it did not name are kept from their "
             "own earlier run (dated below).".format(doc["command"], doc["date"], doc["host"]),
             "",
             "Per target, the equivalent `edge-perf validate` commands (after building the "
             "models with the `edge-perf dataset sample` calls the bench makes):", ""]
    for t in doc["targets"].values():
        lines.append("    " + t["command"])
    lines += ["", "Fresh in-space models: {} per space, seeds {}..{} (the committed dataset "
              "never reaches them). Out-of-space: {} real-world architectures of "
              "benches/zoo.py, never trained on. MAPE, shares within +-5 % / +-10 % and "
              "Spearman's rho of predicted vs. measured. The noise floor is the same statistic "
              "between two live measurements of the same models: no predictor can beat it."
              .format(doc["per_space"], SEED_BASE, SEED_BASE + doc["per_space"] - 1,
                      doc["n_zoo"]), ""]
    for target, t in doc["targets"].items():
        lines += ["## {} ({})".format(target, t["measured_by"]), "",
                  "Run {} on {}: {} fresh models per space and {} zoo models. Bundle {} "
                  "(meta.json sha256 {}). {} model(s), {} failed. Plot: `{}`.".format(
                      t.get("date", doc["date"]), t.get("host", doc["host"]),
                      t.get("per_space", doc["per_space"]), t.get("n_zoo", doc["n_zoo"]),
                      t["bundle"], t["bundle_tag"], t["models"], t["failed"], t["plot"]), ""]
        for f in t["failures"]:
            lines.append("- failed: {}: {}".format(os.path.basename(f["model"]), f["error"]))
        if t["failures"]:
            lines.append("")
        noise = any("noise_floor" in s for per in t["stats"].values() for s in per.values())
        head = "| metric | models | n | MAPE | within 5% | within 10% | Spearman |"
        sep = "|---|---|---:|---:|---:|---:|---:|"
        if noise:
            head += " noise floor MAPE | noise within 5% | MAPE / noise floor |"
            sep += "---:|---:|---:|"
        lines += [head, sep]
        for metric, per in t["stats"].items():
            for fam, s in per.items():
                row = "| {} | {} | {} | {} | {} | {} | {} |".format(
                    metric, fam, s["n"], _f(s["mape"]), _f(s["within_5"], "{:.0f}%"),
                    _f(s["within_10"], "{:.0f}%"), _f(s["spearman"], "{:.3f}"))
                if noise:
                    nf = s.get("noise_floor") or {}
                    ratio = (s["mape"] / nf["mape"] if nf.get("mape") and s["mape"] is not None
                             else None)
                    row += " {} | {} | {} |".format(_f(nf.get("mape")),
                                                    _f(nf.get("within_5"), "{:.0f}%"),
                                                    _f(ratio, "{:.1f}x"))
                lines.append(row)
        lines.append("")
    return "\n".join(lines) + "\n"


def _earlier(out: str) -> Dict[str, Any]:
    """The targets of an earlier ``validation.json`` in ``out``, each with its own run's date,
    host and model counts (``{}`` if there is none)."""
    old = read_results(out, "validation")
    return {target: dict({k: old.get(k) for k in ("date", "host", "per_space", "n_zoo")}, **t)
            for target, t in old.get("targets", {}).items()}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benches.validation",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--per-space", type=int, default=50, help="fresh models per space")
    ap.add_argument("--targets", default=",".join(sorted(B.list_bundles())),
                    help="comma-separated bundled targets")
    ap.add_argument("--out", default=RESULTS, help="results folder")
    ap.add_argument("--build-only", action="store_true", help="build the models and stop")
    args = ap.parse_args(argv)
    models = build_models(args.per_space) + zoo_models()
    if args.build_only:
        return 0
    doc: Dict[str, Any] = {
        "command": "python -m benches.validation --per-space {} --targets {}".format(
            args.per_space, args.targets),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": os.uname().nodename if hasattr(os, "uname") else "",
        "per_space": args.per_space, "n_zoo": sum(family_of(m) == OUT_OF_SPACE for m in models),
        "targets": {}}
    doc["targets"].update(_earlier(args.out))  # kept unless rerun now: one doc, all targets
    for target in [t for t in args.targets.split(",") if t]:
        bundle_dir = B.resolve(target)
        live = target.startswith("cpu-")
        run = sweep(target, models, bundle_dir, repeat=live)
        s = run["summary"]
        doc["targets"][target] = {
            "measured_by": "live, this host, measured twice" if live else "Vela (estimate "
                           "for energy_mj)" if target.startswith("ethos-u") else "live",
            "bundle": os.path.relpath(bundle_dir, ROOT), "bundle_tag": _bundle_tag(bundle_dir),
            "models": s["models"], "failed": s["failed"], "failures": s["failures"],
            "plot": os.path.relpath(s["plot"], ROOT) if s["plot"] else None,
            "command": "edge-perf validate .cache/validation/models .cache/zoo --target {} "
                       "--db {} --plot {}{}".format(
                           target, os.path.relpath(run["db"], ROOT),
                           os.path.relpath(os.path.join(RESULTS, "validation_{}.png".format(
                               target)), ROOT),
                           " --runs 30 --warmup 10 --min-time 0.3" if live else ""),
            "stats": summarize(target, run), "date": doc["date"], "host": doc["host"],
            "per_space": doc["per_space"], "n_zoo": doc["n_zoo"]}
    write_results(args.out, "validation", doc, render_markdown(doc))
    _log("wrote {}/validation.{{json,md}}".format(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
