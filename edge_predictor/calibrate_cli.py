"""``edge-perf calibrate``: adapt a bundled predictor to your hardware from a few measurements.

The lead registers :func:`calibrate` on the ``edge-perf`` app; this module only defines it. The
work is :mod:`edge_predictor.calibrate`.
"""

from __future__ import annotations

import json
import os
from typing import List, Optional

import typer

from .cli_support import handled
from .progress import progress_bar

__all__ = ["DRIFT_WARN", "calibrate"]

#: a live calibration warns when the host's speed moved by more than this while it measured
#: (:func:`edge_predictor.op_probe.drift` of a canary operator timed between models)
DRIFT_WARN = 0.1


def _collect(paths: List[str]) -> List[str]:
    from .validate import collect_models

    return collect_models(paths)


@handled
def calibrate(models: Optional[List[str]] = typer.Argument(
                  None, help="live: the .tflite files or folders to measure here (none: the "
                  "shipped default set of 20 models of the five design spaces)"),
              base: str = typer.Option(..., "--from", help="the bundled target (or bundle "
                                       "folder) to adapt"),
              out: str = typer.Option(..., "--out", help="the calibrated bundle folder to write "
                                      "(must not exist)"),
              labels: Optional[str] = typer.Option(
                  None, "--labels", help="CSV of measurements taken elsewhere: a 'model' column "
                  "(paths relative to the CSV) and one column per metric"),
              name: Optional[str] = typer.Option(None, "--name", help="target id of the "
                                                 "calibrated bundle"),
              accelerator: Optional[str] = typer.Option(
                  None, "--accelerator", help="an Ethos-U base for another configuration "
                  "(Vela's --accelerator-config: ethos-u55-256, -64, -32), whose --labels are "
                  "given or, without them, Vela compiles here: the bundle replays its blocks "
                  "and weight buffers"),
              count: int = typer.Option(20, "--count", min=2, help="live: how many of the "
                                        "models to measure (the most diverse)"),
              threads: int = typer.Option(1, "--threads", min=1, help="live: interpreter "
                                          "threads"),
              warmup: int = typer.Option(10, "--warmup", min=0, help="live: warm-up runs"),
              runs: int = typer.Option(30, "--runs", min=1, help="live: minimum timed runs"),
              min_time: float = typer.Option(0.3, "--min-time", min=0.0,
                                             help="live: minimum timed seconds per model"),
              delegate: bool = typer.Option(True, "--delegate/--no-delegate",
                                            help="live: the interpreter's default delegate "
                                            "(XNNPACK), or its reference kernels"),
              op_profile: bool = typer.Option(True, "--op-profile/--no-op-profile",
                                              help="live: also time every operator of the "
                                              "measured models one at a time, to fit this "
                                              "host's per-operator model"),
              as_json: bool = typer.Option(False, "--json", help="print the calibration as "
                                           "JSON")) -> None:
    """Adapt a predictor from measured models; write a bundle for predict --bundle."""
    from .accelerator import check_accelerator
    from .calibrate import calibrate_bundle, measure_live, read_labels
    from .errors import InputError
    from .npu_blocks import ACCELERATORS
    from .runtime import Predictor

    if labels and models:
        raise InputError("give either --labels FILE.csv or the models to measure live here, "
                         "not both")
    base_predictor = Predictor.load(base)
    if accelerator:
        check_accelerator(base_predictor.target, accelerator)
    npu = base_predictor.target in ACCELERATORS  # measured by Vela, nothing runs here
    profiles, scratch = None, None
    if labels:
        samples = read_labels(labels, base_predictor.metrics)
        source = {"kind": "labels", "file": os.path.abspath(labels)}
    else:
        import tempfile

        from .calibrate import pick_models
        from .calibration_set import write_default_models
        from .measure import host_fingerprint
        from .op_probe import drift

        if not models:  # the shipped default set, written out for the measurement
            scratch = tempfile.TemporaryDirectory(prefix="edge-perf-calibration-set-")
            models = write_default_models(scratch.name)
            typer.echo("no models given: measuring the default calibration set ({} models of "
                       "the five design spaces, edge_predictor/calibration_set/)".format(
                           len(models)), err=True)
        paths = pick_models(base, _collect(models), count)
    if not labels and npu:
        from .calibrate import measure_vela

        acc = accelerator or base_predictor.target
        bar = progress_bar("calibrate: compiling with Vela for the " + acc)
        try:
            samples, failed, labeler = measure_vela(
                paths, acc, progress=lambda i, n, path: bar(i, n, os.path.basename(path)))
        finally:
            bar.close()
        for reason in failed:
            typer.echo("edge-perf: warning: Vela failed, model left out: " + reason, err=True)
        source = {"kind": "vela", "accelerator": acc, "labeler": labeler}
        if scratch is not None:
            source["models"] = "the default calibration set"
    elif not labels:
        profiles = {} if op_profile else None
        bar = progress_bar("calibrate: measuring" + (" and timing operators" if profiles
                                                     is not None else ""))
        canary: List[float] = []
        try:
            samples = measure_live(paths, threads=threads, warmup=warmup, runs=runs,
                                   min_time_s=min_time, default_delegates=delegate,
                                   profiles=profiles,
                                   progress=lambda i, n, path: bar(i, n, os.path.basename(path)),
                                   canary=canary)
        finally:
            bar.close()
        moved = drift(canary)
        if moved > DRIFT_WARN:
            typer.echo("edge-perf: warning: this host's speed moved by {:.0%} while calibrating "
                       "(a 3x3 convolution timed {} times: {:.1f}-{:.1f} us); another process or "
                       "tenant was busy, and the calibration carries it: calibrate again on "
                       "an idle host".format(moved, len(canary), min(canary), max(canary)),
                       err=True)
        source = {"kind": "live", "host": host_fingerprint(threads=threads),
                  "canary_us": [round(v, 2) for v in canary], "drift": round(moved, 3),
                  "default_delegate": delegate,
                  "method": "{} warm-up runs, >= {} timed runs and >= {} s, median{}".format(
                      warmup, runs, min_time, "; every operator timed alone" if profiles
                      is not None else "")}
        if scratch is not None:
            source["models"] = "the default calibration set"
    try:
        meta = calibrate_bundle(base, samples, out, source, name=name, profiles=profiles,
                                accelerator=accelerator)
    finally:
        if scratch is not None:
            scratch.cleanup()
    cal = meta["calibration"]
    if as_json:
        typer.echo(json.dumps({"bundle": out, "target": meta["target"], "calibration": cal},
                              indent=1))
        return
    typer.echo("wrote {} (target {}; base {})".format(out, meta["target"], cal["base"]["target"]))
    for metric, fit in cal["metrics"].items():
        if fit["method"] == "ops":
            how = ("this host's per-operator model ({} distinct timed operators, x{:.3g} "
                   "in a model)").format(len(fit["ops"]["rows"]), fit["ops"]["scale"])
        else:
            how = "{} ({})".format(fit["method"], ", ".join(
                "{} x{:.3g}".format(g, v) for g, v in fit["factors"].items()))
        if fit.get("features"):  # --accelerator: the features leave-one-out preferred
            how += ", on the {} features".format(
                cal["accelerator"] if fit["features"] == "accelerator" else
                cal["base"]["target"])
        typer.echo("{}: {} models, {}, leave-one-out MAPE {:.1%}".format(
            metric, fit["n"], how, fit["loo_mape"]))
