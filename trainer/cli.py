"""``edge-perf dataset ...``: generate, inspect, sample and verify the EdgeDLPerf store.

Attached to the main CLI by :mod:`edge_predictor.cli`; TensorFlow and Vela are imported only
inside the verbs that need them, and their absence is reported with the extra to install.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from typing import List, Optional

import typer

from edge_predictor.cli_support import handled
from edge_predictor.errors import InputError, UnavailableError
from edge_predictor.progress import progress_bar

__all__ = ["dataset_app"]

dataset_app = typer.Typer(add_completion=False, no_args_is_help=True,
                          help="Generate and inspect the EdgeDLPerf dataset (generation needs "
                               "the train extra).")


def _need_train_extra() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    try:
        import tensorflow  # noqa: F401
        import ethosu  # noqa: F401
    except ImportError as err:
        raise UnavailableError("this verb needs TensorFlow and Vela ({}); install them with "
                               "pip install 'edge-perf[train]'".format(err.name)) from None


def _space(space: str) -> str:
    from .spaces import SPACES
    if space not in SPACES:
        raise InputError("unknown design space '{}'; known: {}".format(space, ", ".join(SPACES)))
    return space


@dataset_app.command()
@handled
def generate(space: str = typer.Option(..., "--space", help="design space"),
             count: int = typer.Option(..., "--count", help="seeds in the range"),
             seed_from: int = typer.Option(0, "--seed-from", help="first seed"),
             workers: int = typer.Option(1, "--workers", help="worker processes"),
             data: Optional[str] = typer.Option(None, "--data", help="data folder"),
             ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS",
                                               help="build on a Ray cluster instead of local "
                                                    "workers: auto, host:port, ray://host:port")
             ) -> None:
    """Build, read and Vela-label models (space, seed_from..seed_from+count-1); resumable."""
    from .generate import generate as run
    from .store import Store

    _space(space)
    if count <= 0:
        raise InputError("--count must be positive, got {}".format(count))
    if ray is None:
        _need_train_extra()
    else:
        from . import ray_backend  # noqa: F401  (names the extra when Ray is missing)
    bar = progress_bar("generate " + space)
    failed = Counter()

    def progress(done, total, rec, nodes=None):
        if rec["status"] != "ok":
            failed[rec.get("stage")] += 1
        notes = ["{}:{}".format(k, v) for k, v in sorted((nodes or {}).items())]
        if failed:
            notes.append("failed={}".format(sum(failed.values())))
        bar(done, total, " ".join(notes))

    try:
        stats = run(space, count, seed_from=seed_from, workers=workers, store=Store(data),
                    progress=progress, ray=ray)
    finally:
        bar.close()
    typer.echo(json.dumps(stats))


@dataset_app.command()
@handled
def info(as_json: bool = typer.Option(False, "--json"),
         data: Optional[str] = typer.Option(None, "--data", help="data folder")) -> None:
    """Counts per space x target x metric, hosts and failures."""
    from .dataset_info import dataset_info

    s = dataset_info(data)
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    if not s["models"]:
        from .store import Store
        raise InputError("{}: no models here; pass --data DIR or set EDGE_PERF_DATA to the "
                         "dataset folder (data/edgedlperf in a checkout)".format(Store(data).root))
    typer.echo("models: " + ", ".join("{} {}".format(k, v) for k, v in s["models"].items()))
    typer.echo("{:<14} {:<34} {:<12} {:>7}".format("space", "target", "metric", "count"))
    for row in s["counts"]:
        typer.echo("{space:<14} {target:<34} {metric:<12} {count:>7}".format(**row))
    for f, n in s["failures"].items():
        typer.echo("failures {}: {}".format(f, n))
    for h in s["hosts"]:
        typer.echo("host {}: {}".format(h["target"], h.get("cpu_model", "?")))


@dataset_app.command()
@handled
def sample(space: str = typer.Option(..., "--space"),
           seed_from: int = typer.Option(0, "--seed-from"),
           count: int = typer.Option(..., "--count"),
           out: str = typer.Option(..., "--out", help="output folder")) -> None:
    """Write the .tflite files of (space, seed_from) .. (space, seed_from+count-1) to OUT."""
    _space(space)
    if count <= 0:
        raise InputError("--count must be positive, got {}".format(count))
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".edge-perf-probe")
        open(probe, "wb").close()
        os.unlink(probe)
    except OSError as err:
        raise InputError("{}: output folder is not writable ({})".format(
            out, err.strerror)) from None
    _need_train_extra()
    from converters.quantize import build_tflite

    bar = progress_bar("sample " + space)
    try:
        for i, seed in enumerate(range(seed_from, seed_from + count)):
            path = os.path.join(out, "{}-{}.tflite".format(space, seed))
            tmp = "{}.{}.tmp".format(path, os.getpid())  # two samplers into one folder: no clash
            with open(tmp, "wb") as f:
                f.write(build_tflite(space, seed))
            os.replace(tmp, path)
            bar(i + 1, count, os.path.basename(path))
    finally:
        bar.close()


@dataset_app.command()
@handled
def verify(n: int = typer.Option(5, "--sample", help="models to rebuild"),
           seed: int = typer.Option(0, "--seed", help="which random models"),
           data: Optional[str] = typer.Option(None, "--data", help="data folder")) -> None:
    """Rebuild N random stored models from (space, seed) and check each sha256."""
    import hashlib

    from .store import MODELS, Store

    if n <= 0:
        raise InputError("--sample must be positive, got {}".format(n))
    recs = [r for r in Store(data).records(MODELS) if r.get("sha256")]
    if not recs:
        raise InputError("{}: the store has no models to verify".format(Store(data).root))
    _need_train_extra()
    from converters.quantize import build_tflite

    picked = random.Random(seed).sample(recs, min(n, len(recs)))
    bad = []
    for r in picked:
        got = hashlib.sha256(build_tflite(r["space"], r["seed"])).hexdigest()
        ok = got == r["sha256"]
        typer.echo("{} {}-{} {}".format("ok  " if ok else "FAIL", r["space"], r["seed"], got[:16]))
        if not ok:
            bad.append("{}-{}".format(r["space"], r["seed"]))
    if bad:
        typer.echo("edge-perf: error: sha256 mismatch for {}".format(", ".join(bad)), err=True)
        raise typer.Exit(1)
    typer.echo("{} of {} rebuilt models match their stored sha256".format(len(picked),
                                                                          len(picked)))


@dataset_app.command("label-cpu")
@handled
def label_cpu(space: Optional[str] = typer.Option(None, "--space", help="only this space"),
              pass_no: int = typer.Option(1, "--pass", help="1: label all; 2: re-measure 5%"),
              limit: Optional[int] = typer.Option(None, "--limit", help="stop after N models"),
              min_time: float = typer.Option(0.5, "--min-time", help="timed seconds per model"),
              data: Optional[str] = typer.Option(None, "--data", help="data folder"),
              ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS",
                                                help="measure on the boards of a Ray cluster "
                                                     "(auto, host:port, ray://host:port)"),
              targets: Optional[List[str]] = typer.Option(
                  None, "--target", metavar="NAME",
                  help="with --ray: a board's resource name without 'target:' (repeatable; "
                       "default every target:cpu-*)")
              ) -> None:
    """Measure stored models' latency on this host's CPU, serially (run nothing else heavy);
    with --ray, on every board of the cluster, one model at a time per board."""
    from .cpu_pass import cpu_pass
    from .store import Store

    if space is not None:
        _space(space)
    if pass_no not in (1, 2):
        raise InputError("--pass must be 1 or 2, got {}".format(pass_no))
    if targets and ray is None:
        raise InputError("--target needs --ray; without it label-cpu measures this host")
    if ray is not None:
        from .ray_backend import cpu_pass_ray
    bar = progress_bar("label-cpu pass {}".format(pass_no))
    try:
        if ray is not None:
            stats = cpu_pass_ray(ray, Store(data), targets=targets, space=space,
                                 pass_no=pass_no, limit=limit, min_time_s=min_time,
                                 progress=bar)
        else:
            stats = cpu_pass(Store(data), space=space, pass_no=pass_no, limit=limit,
                             min_time_s=min_time, progress=bar)
    finally:
        bar.close()
    typer.echo(json.dumps(stats))
