"""A stand-in record factory for store/generator tests: no TensorFlow, a little latency."""

import os
import signal
import time


def fake_record(space, seed):
    """A model record as :func:`trainer.generate.make_record` returns, made up from the seed."""
    time.sleep(0.01)
    if seed % 7 == 3:
        return {"space": space, "seed": seed, "status": "failed", "stage": "convert",
                "reason": "ValueError: synthetic failure"}
    return {"space": space, "seed": seed, "status": "ok", "sha256": "%064x" % seed,
            "labels": {"ethos-u55-128": {"latency_ms": 1.0 + seed}}, "graph": {"o": [], "t": []}}


def crash_once_record(marker_dir, space, seed):
    """:func:`fake_record`, except that the process building seed 2 or 5 is killed the first
    time (a marker file in ``marker_dir`` remembers it), as a node's OOM killer would."""
    if seed in (2, 5):
        marker = os.path.join(marker_dir, "killed-%d" % seed)
        if not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
    return fake_record(space, seed)


def slow_record(delay, space, seed):
    """:func:`fake_record` that takes ``delay`` seconds more (long enough to fill a cluster)."""
    time.sleep(delay)
    return fake_record(space, seed)
