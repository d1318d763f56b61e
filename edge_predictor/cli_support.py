"""What every edge-perf command shares: errors turned into one stderr line and an exit code,
warnings on stderr. The runtime's and the trainer's CLI modules both import it (and not each
other: ``edge_predictor.cli`` mounts the trainer's commands lazily when they are installed)."""

from __future__ import annotations

import functools
from typing import Callable

import typer

from .errors import EdgePerfError, InputError

__all__ = ["handled", "warn"]


def handled(fn: Callable) -> Callable:
    """Decorate a command so that project errors become one stderr line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EdgePerfError as err:
            typer.echo("edge-perf: error: {}".format(err), err=True)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("edge-perf: interrupted", err=True)
            raise typer.Exit(130) from None
        except OSError as err:  # e.g. a full disk while writing results
            typer.echo("edge-perf: error: {}".format(err), err=True)
            raise typer.Exit(InputError.exit_code) from None

    return wrapper


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    typer.echo("edge-perf: warning: " + message, err=True)
