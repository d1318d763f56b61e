"""Tests of the CLI progress helper (edge_predictor.progress)."""

import io

from edge_predictor.progress import PlainProgress, hms, progress_bar


class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_plain_lines_are_throttled_in_logs_and_always_written_at_the_end():
    clock, out = _Clock(), io.StringIO()
    bar = PlainProgress("label-cpu", out, interval_s=10, clock=clock)
    for done in range(1, 5):
        clock.t += 1.0
        bar(done, 4, "m{}".format(done))
    lines = out.getvalue().splitlines()
    assert lines == ["label-cpu: 1/4 (25%) 1.00/s ETA 0:00:03 m1",  # the first
                     "label-cpu: 4/4 (100%) 1.00/s ETA 0:00:00 m4"]  # and the last
    clock.t += 30.0
    bar(5, 9)  # after the interval: a line again
    assert out.getvalue().splitlines()[-1].startswith("label-cpu: 5/9 (56%)")


def test_hms_and_the_fallback_when_stderr_is_not_a_terminal():
    assert hms(3725) == "1:02:05" and hms(float("inf")) == "?"
    bar = progress_bar("x", io.StringIO())
    assert isinstance(bar, PlainProgress) and not bar.tty
    bar.close()
