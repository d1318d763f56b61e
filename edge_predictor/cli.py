"""The ``edge-perf`` command line.

The only module that prints or exits: library code raises :mod:`edge_predictor.errors`, and
:func:`main` turns them into one line on stderr and an exit code (2 for bad input). Heavy verbs
(``dataset``, ``train``) live in other packages and import TensorFlow only when invoked.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Callable, List, Optional

import typer

from .errors import EdgePerfError, InputError

__all__ = ["app", "main", "handled", "warn"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False,
                  help="Predict latency, energy and memory of TFLite models on edge targets.")


@app.callback()
def _root() -> None:
    """Predict latency, energy and memory of TFLite models on edge targets."""


def handled(fn: Callable) -> Callable:
    """Decorate a command so that project errors become one stderr line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EdgePerfError as err:
            typer.echo("edge-perf: error: {}".format(err), err=True)
            raise typer.Exit(err.exit_code)
        except KeyboardInterrupt:
            typer.echo("edge-perf: interrupted", err=True)
            raise typer.Exit(130)
        except OSError as err:  # e.g. a full disk while writing results
            typer.echo("edge-perf: error: {}".format(err), err=True)
            raise typer.Exit(InputError.exit_code)

    return wrapper


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    typer.echo("edge-perf: warning: " + message, err=True)


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


def _register_heavy_verbs() -> None:
    """Attach verbs whose implementation lives outside the runtime package, if installed."""
    try:
        from trainer.cli import dataset_app
    except ImportError:
        return
    app.add_typer(dataset_app, name="dataset")


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
