"""A stand-in record factory for store/generator tests: no TensorFlow, a little latency."""

import time


def fake_record(space, seed):
    """A model record as :func:`trainer.generate.make_record` returns, made up from the seed."""
    time.sleep(0.01)
    if seed % 7 == 3:
        return {"space": space, "seed": seed, "status": "failed", "stage": "convert",
                "reason": "ValueError: synthetic failure"}
    return {"space": space, "seed": seed, "status": "ok", "sha256": "%064x" % seed,
            "labels": {"ethos-u55-128": {"latency_ms": 1.0 + seed}}, "graph": {"o": [], "t": []}}
