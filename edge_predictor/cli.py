"""The ``edge-perf`` command line.

The only module that prints or exits: library code raises :mod:`edge_predictor.errors`, and
:func:`main` turns them into one line on stderr and an exit code (2 for bad input). Heavy verbs
(``dataset``, ``train``) live in other packages and import TensorFlow only when invoked.
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from .cli_support import handled, warn
from .errors import BundleError

__all__ = ["app", "main", "handled", "warn"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False,
                  help="Predict latency, energy and memory of TFLite models on edge targets.")


@app.callback()
def _root() -> None:
    """Predict latency, energy and memory of TFLite models on edge targets."""


def _human(n: float, unit: str = "") -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return "{:.2f} {}{}".format(n / scale, suffix, unit)
    return "{:g} {}".format(n, unit).rstrip()


@app.command()
@handled
def inspect(model: str = typer.Argument(..., help="a .tflite file"),
            as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Summarise a model's operator graph: operators, MACs, parameters, tensors."""
    from .summary import summarize
    from .tflite_reader import read_model

    graph = read_model(model)
    s = summarize(graph)
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    for w in s["warnings"]:
        warn("{}: {}".format(model, w))
    typer.echo("{}".format(model))
    typer.echo("  operators       {}".format(s["operators"]))
    typer.echo("  MACs            {}".format(_human(s["macs"])))
    typer.echo("  parameters      {} ({})".format(_human(s["params"]),
                                                  _human(s["param_bytes"], "B")))
    typer.echo("  tensors         {}".format(s["tensors"]))
    big = s["largest_activation"]
    if big:
        typer.echo("  largest act.    {} {} ({})".format(big["dtype"], big["shape"],
                                                        _human(big["bytes"], "B")))
    typer.echo("  inputs          {}".format(
        ", ".join("{} {}".format(i["dtype"], i["shape"]) for i in s["inputs"])))
    typer.echo("  subgraphs       {} ({} operators outside the main one)".format(
        s["subgraphs"], s["other_subgraph_operators"]))
    typer.echo("  unknown ops     {}".format(", ".join(s["unknown_operators"]) or "none"))
    typer.echo("  operator counts")
    for op, n in s["op_counts"].items():
        typer.echo("    {:<28} {:>5}".format(op, n))


#: up to this many models, ``predict`` runs the predictors without XNNPACK: the process stays
#: small (XNNPACK repacks every bucket's weights, ~30 MB a target) and the slower invokes (a few
#: ms) do not show beside the process start; more models get XNNPACK's speed.
LEAN_MODELS = 8


def _load_predictors(targets: List[str], bundles: List[str], threads: int,
                     delegates: bool = True) -> list:
    """Predictors for --target/--bundle; with neither, every bundled target."""
    from .bundle import list_bundles
    from .runtime import Predictor

    names = list(targets) + list(bundles)
    if not names:
        names = sorted(list_bundles())
        if not names:
            raise BundleError("no bundled predictors are installed; pass --bundle PATH")
    return [Predictor.load(n, threads=threads, delegates=delegates) for n in names]


def _fmt(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return "{:.4g}".format(v)


@app.command()
@handled
def predict(models: List[str] = typer.Argument(..., help=".tflite files"),
            target: List[str] = typer.Option([], "--target", "-t",
                                              help="target id (repeatable); default: all"),
            bundle: List[str] = typer.Option([], "--bundle",
                                              help="a predictor bundle folder (repeatable)"),
            as_json: bool = typer.Option(False, "--json", help="print a JSON array"),
            threads: int = typer.Option(1, "--threads", min=1,
                                        help="interpreter CPU threads")) -> None:
    """Predict latency, memory and energy of models on edge targets."""
    from .tflite_reader import read_model

    predictors = _load_predictors(target, bundle, threads,
                                  delegates=len(models) > LEAN_MODELS)
    graphs = [(path, read_model(path)) for path in models]
    metrics: List[str] = []
    estimated = set()
    for p in predictors:
        metrics += [m for m in p.metrics if m not in metrics]
        estimated.update(p.estimates)
    rows = []
    for path, graph in graphs:
        feats_for = {}  # featurized once per accelerator configuration the predictors answer for
        for p in predictors:
            key = p.view.key
            if key not in feats_for:
                feats_for[key] = p.featurize(graph)
            ans = p.predict_features(feats_for[key], path, graph.warnings)
            row = {"model": path, "target": p.target}
            row.update({m: ans.get(m) for m in metrics})
            row["units"] = {m: p.units[m] for m in p.metrics}
            row["estimates"] = list(p.estimates)
            if "interval" in ans:  # p10-p90 from held-out errors (edge_predictor.interval)
                row["interval"] = ans["interval"]
            row["warnings"] = ans["warnings"]
            rows.append(row)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        for w in row["warnings"]:
            warn("{} ({}): {}".format(row["model"], row["target"], w))
    units = {}
    for p in predictors:
        for m in p.metrics:
            units.setdefault(m, p.units[m])
    heads = ["{} [{}]{}".format(m, units[m], " (estimate)" if m in estimated else "")
             for m in metrics]
    width = max([len("model")] + [len(r["model"]) for r in rows])
    twidth = max([len("target")] + [len(r["target"]) for r in rows])

    def cell(r, m):
        text = _fmt(r[m]) + ("*" if m in r["estimates"] else "")
        iv = r.get("interval", {}).get(m)
        return text + (" [{}-{}]".format(_fmt(iv[0]), _fmt(iv[1])) if iv else "")

    if any("interval" in r for r in rows):
        heads = [h + " [p10-p90]" if any(m in r.get("interval", {}) for r in rows) else h
                 for m, h in zip(metrics, heads)]
    cols = [max([10, len(h)] + [len(cell(r, m)) for r in rows]) for m, h in zip(metrics, heads)]
    typer.echo("  ".join(["{:<{}}".format("model", width), "{:<{}}".format("target", twidth)] +
                         ["{:>{}}".format(h, c) for h, c in zip(heads, cols)]))
    for r in rows:
        cells = ["{:>{}}".format(cell(r, m), c) for m, c in zip(metrics, cols)]
        typer.echo("  ".join(["{:<{}}".format(r["model"], width),
                              "{:<{}}".format(r["target"], twidth)] + cells))
    if estimated:
        typer.echo("* estimate, not a measurement (see `edge-perf targets`)")


@app.command()
@handled
def targets(as_json: bool = typer.Option(False, "--json", help="print a JSON array")) -> None:
    """List the bundled predictors: metrics, provenance and test accuracy."""
    from .bundle import describe, list_bundles, load_bundle

    infos, bad = [], []
    for target, path in sorted(list_bundles().items()):
        try:
            infos.append(describe(load_bundle(path)))
        except BundleError as err:  # list the others; name the refused one, exit non-zero
            bad.append({"target": target, "path": path, "error": str(err)})
    if as_json:
        typer.echo(json.dumps(infos + bad, indent=2))
    elif not infos and not bad:
        typer.echo("no bundled predictors installed")
    for d in [] if as_json else infos:
        typer.echo("{}  ({})".format(d["target"], d["description"] or d["path"]))
        typer.echo("  metrics    " + ", ".join(
            "{} [{}]{}".format(m["name"], m["unit"], " (estimate)" if m["estimate"] else "")
            for m in d["metrics"]))
        typer.echo("  buckets    " + ", ".join(
            "{}x{}".format(b["nodes"], b["batch"]) for b in d["buckets"]) +
            "  ({}, created {})".format(d["precision"], d["created"]))
        td = d["training_data"]
        train = td.get("counts", {}).get("train", {})
        typer.echo("  trained on {} models ({}), {} mode".format(
            sum(train.values()) if train else "?",
            ", ".join("{} {}".format(k, v) for k, v in sorted(train.items())) or "unknown",
            td.get("mode", "?")))
        by = td.get("labelled_by") or {}
        if by:
            host = by.get("host") or {}
            typer.echo("  labels     " + (
                "{} {}".format(by.get("labeler", ""), by.get("labeler_version", "")).strip()
                + (", {} {}".format(by.get("system_config", ""), by.get("memory_mode", ""))
                   if by.get("system_config") else "")
                if not host else "measured on {} ({} cores), {} {}, {} thread(s)".format(
                    host.get("cpu_model"), host.get("logical_cores"), host.get("interpreter"),
                    host.get("interpreter_version"), host.get("threads"))))
        for space, acc in sorted(d["test_accuracy"].items()):
            typer.echo("  test MAPE  {:<13} {}".format(space, ", ".join(
                "{} {:.1f}% (n={}, within 10%: {:.0f}%)".format(
                    m, 100 * v["mape"], v.get("n"), 100 * v.get("within_10", float("nan")))
                for m, v in acc.items() if v.get("mape") is not None)))
        if d["interval_coverage"]:
            typer.echo("  p10-p90    holds {} of held-out models".format(", ".join(
                "{:.0%} ({}, width {:.2f}x)".format(c["coverage"], m, c["width"])
                for m, c in d["interval_coverage"].items())))
        if d["calibration"]:
            typer.echo("  calibrated from {} on {}{}".format(
                d["calibration"]["base"]["target"], d["calibration"]["source"].get("kind"),
                ", for the " + d["calibration"]["accelerator"]
                if d["calibration"].get("accelerator") else ""))
    for b in [] if as_json else bad:
        typer.echo("{}  (refused: see the error below)".format(b["target"]))
    if bad:
        raise BundleError("{} bundle(s) refused: {}".format(len(bad), "; ".join(
            b["error"] for b in bad)))


_REGISTERED = []


def _register_heavy_verbs() -> None:
    """Attach verbs whose implementation lives outside the runtime package (once)."""
    if _REGISTERED:
        return
    _REGISTERED.append(True)
    from .calibrate_cli import calibrate
    from .measure_cli import measure
    from .validate_cli import validate

    app.command("measure")(measure)
    app.command("validate")(validate)
    app.command("calibrate")(calibrate)
    try:
        from trainer.cli import dataset_app
        from trainer.train_cli import train
    except ImportError:  # a runtime-only install without the trainer package
        return
    app.add_typer(dataset_app, name="dataset")
    app.command("train")(train)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``edge-perf`` console script.

    Returns:
        The process exit code: 0 ok, 2 bad input or missing hardware, 1 other known failures,
        130 when interrupted.
    """
    _register_heavy_verbs()
    try:
        app(args=argv, prog_name="edge-perf")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
