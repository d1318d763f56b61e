"""``edge-perf validate``: predict and measure many models, store the pairs, report accuracy.

The lead registers :func:`validate` on the ``edge-perf`` app; this module only defines it. The
work is :func:`edge_predictor.validate.validate`; progress goes to stderr (a bar, and a line
for each model that fails).
"""

from __future__ import annotations

import json
import os
from typing import List, Optional

import typer

from .cli_support import handled
from .progress import progress_bar

__all__ = ["validate", "format_summary"]


def _pct(v):
    return "-" if v is None else "{:.1f}%".format(v)


def format_summary(summary):
    """The text report of a validation summary, as a list of lines."""
    lines = ["target {}: {} model(s) ({} measured now, {} done before), {} failed; db {}".format(
        summary["target"], summary["models"], summary["measured"], summary["skipped"],
        summary["failed"], summary["db"])]
    lines.append("{:<14} {:>6} {:>8} {:>8} {:>8} {:>9}".format(
        "metric", "n", "MAPE", "+-5%", "+-10%", "spearman"))
    for metric, s in summary["metrics"].items():
        rho = "-" if s["spearman"] is None else "{:.3f}".format(s["spearman"])
        lines.append("{:<14} {:>6} {:>8} {:>8} {:>8} {:>9}".format(
            metric, s["n"], _pct(s["mape"]), _pct(s["within_5"]), _pct(s["within_10"]), rho))
    if not summary["metrics"]:
        lines.append("(no results)")
    for f in summary["failures"]:
        lines.append("failed{}: {}: {}".format(" earlier" if f.get("earlier") else "",
                                               f["model"], f["error"]))
    if summary.get("plot"):
        lines.append("plot written to {}".format(summary["plot"]))
    return lines


class _ModelProgress:
    """Per-model progress: a bar (rich on a terminal, a plain line every few seconds in a log),
    and one line for every model that fails, so failures are never hidden by the bar."""

    def __init__(self):
        self.bar = progress_bar("validate", interval_s=5.0)

    def __call__(self, index, total, path, status, detail):
        if status == "ok":
            note = ", ".join("{} {:+.1%}".format(m, p / v - 1.0) if v else m
                             for m, p, v in detail)
        else:
            typer.echo("[{}/{}] {} {}: {}".format(index + 1, total, status, path, detail),
                       err=True)
            note = status
        self.bar(index + 1, total, "{} {}".format(os.path.basename(str(path)), note))

    def close(self):
        self.bar.close()


@handled
def validate(paths: List[str] = typer.Argument(..., help=".tflite files or folders"),
             target: str = typer.Option(..., "--target", "-t",
                                        help="ethos-u55-128, -256, -64, -32 (Vela), cpu-... "
                                             "(this host), edgetpu"),
             db: str = typer.Option("edge-perf-validate.sqlite", "--db",
                                    help="SQLite store; rerunning resumes it"),
             plot: Optional[str] = typer.Option(None, "--plot",
                                                help="write a PNG: scatter + error by magnitude"),
             as_json: bool = typer.Option(False, "--json",
                                          help="print a JSON summary object"),
             bundle: Optional[str] = typer.Option(None, "--bundle",
                                                  help="predictor bundle folder "
                                                       "(default: the bundled target)"),
             retry_failed: bool = typer.Option(False, "--retry-failed",
                                               help="run again models that failed before"),
             runs: int = typer.Option(30, "--runs", min=1,
                                      help="live targets: minimum timed runs"),
             warmup: int = typer.Option(10, "--warmup", min=0,
                                        help="live targets: warm-up runs"),
             min_time: float = typer.Option(1.0, "--min-time", min=0.0,
                                            help="live targets: minimum timed seconds"),
             quiet: bool = typer.Option(False, "--quiet", "-q",
                                        help="no per-model progress on stderr")) -> None:
    """Predict and measure models on a target; report MAPE, +-5/10 % shares and Spearman."""
    from . import validate as lib

    progress = None if quiet else _ModelProgress()
    try:
        summary = lib.validate(paths, target, db, bundle=bundle, retry_failed=retry_failed,
                               progress=progress, plot_path=plot,
                               warmup=warmup, runs=runs, min_time_s=min_time)
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    for line in format_summary(summary):
        typer.echo(line)
