"""Progress display for long CLI work (generate, label-cpu, sample, validate): one helper both
command-line interfaces import.

On a terminal with ``rich`` installed (typer depends on it) it is a rich progress bar with
count, rate, elapsed time and ETA; where rich is absent (an old typer on a board) or stderr is not
a terminal (a log file, CI), a plain line -- the count, rate, ETA and a note -- written at most
every ``interval_s`` seconds and at the end, so logs stay readable. Library code never prints:
it takes a ``progress(done, total, note)`` callable, and the CLI passes one of these.
"""

from __future__ import annotations

import sys
import time
from typing import Optional

__all__ = ["PlainProgress", "RichProgress", "progress_bar", "hms"]


def hms(seconds: float) -> str:
    """``H:MM:SS`` of a duration; ``?`` for an unknown (infinite) one."""
    if seconds == float("inf") or seconds != seconds:
        return "?"
    s = int(seconds)
    return "{}:{:02d}:{:02d}".format(s // 3600, s % 3600 // 60, s % 60)


class PlainProgress:
    """A one-line progress display: ``label: done/total (pct) rate/s ETA h:mm:ss note``.

    Args:
        label: what is counted.
        stream: where to write (default stderr).
        interval_s: least seconds between two lines when the stream is not a terminal.
        clock: the time source (tests pass a fake one).
    """

    def __init__(self, label: str, stream=None, interval_s: float = 10.0, clock=time.time):
        self.label, self.clock = label, clock
        self.t0 = clock()
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = float(interval_s)
        self._last: Optional[float] = None

    def line(self, done: int, total: int, note: str = "") -> str:
        """The text shown for ``done`` of ``total``."""
        rate = done / max(self.clock() - self.t0, 1e-9)
        eta = (total - done) / rate if rate > 0 else float("inf")
        return "{}: {}/{} ({:.0f}%) {:.2f}/s ETA {} {}".format(
            self.label, done, total, 100.0 * done / max(total, 1), rate, hms(eta), note).rstrip()

    def __call__(self, done: int, total: int, note: str = "") -> None:
        now = self.clock()
        if not (self.tty or done >= total or self._last is None or
                now - self._last >= self.interval_s):
            return
        text = self.line(done, total, note)
        self.stream.write(("\r" + text[:120].ljust(120)) if self.tty else text + "\n")
        if done >= total and self.tty:
            self.stream.write("\n")
        self.stream.flush()
        self._last = now

    def close(self) -> None:
        """Nothing to release (the same interface as :class:`RichProgress`)."""


class RichProgress:
    """A rich progress bar on stderr; call it like :class:`PlainProgress`, then :meth:`close`."""

    def __init__(self, label: str):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                             TextColumn("{task.fields[note]}"),
                             console=Console(stderr=True), transient=False)
        self._task = self._bar.add_task(label, total=None, note="")
        self._bar.start()

    def __call__(self, done: int, total: int, note: str = "") -> None:
        self._bar.update(self._task, completed=done, total=total, note=str(note)[:60])

    def close(self) -> None:
        """Stop the live display (leaves the final bar on screen)."""
        self._bar.stop()


def progress_bar(label: str, stream=None, interval_s: float = 10.0):
    """A rich bar when stderr is a terminal and rich imports, else a :class:`PlainProgress`.

    Args:
        label: what is counted.
        stream: where a plain line goes (default stderr; a given stream never gets rich).
        interval_s: least seconds between two plain lines off a terminal.

    Returns:
        a callable ``(done, total, note)`` with a ``close()``.
    """
    target = stream if stream is not None else sys.stderr
    if stream is None and getattr(target, "isatty", lambda: False)():
        try:
            return RichProgress(label)
        except ImportError:
            pass
    return PlainProgress(label, target, interval_s=interval_s)
