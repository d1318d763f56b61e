"""Host-CPU labeler: live latency through a TFLite interpreter on the labelling machine.

Wraps :func:`edge_predictor.measure.measure_latency` (warm-up, then at least ``runs`` timed
invocations and ``min_time_s`` seconds, median reported). The target id names the CPU, the
interpreter and the thread count (``cpu-<cpu>-<interp>-t<threads>``), so labels from different
hosts or runtimes never land in one target silently; the full host fingerprint goes into the
provenance. Measure serially, with nothing else heavy running on the machine.

No energy label: this host has no power sensor.
"""

from __future__ import annotations

from edge_predictor import measure
from edge_predictor.errors import LabelError, ModelFormatError, UnavailableError

from . import make_result, read_model

__all__ = ["cpu_target", "label_cpu"]


def cpu_target(threads=1):
    """Target id of this host's CPU with the chosen interpreter and ``threads``.

    Raises:
        UnavailableError: no TFLite interpreter works here.
    """
    return measure.cpu_target_id(measure.host_fingerprint(threads=threads))


def label_cpu(model, threads=1, warmup=10, runs=30, min_time_s=1.0, seed=0,
              default_delegates=True):
    """Measure one model's latency on this host's CPU.

    Args:
        model: ``.tflite`` bytes or a path.
        threads: interpreter threads (the target id records it).
        warmup: untimed invocations.
        runs: minimum timed invocations.
        min_time_s: minimum total timed seconds.
        seed: seed of the random inputs.
        default_delegates: False to measure without the default (XNNPACK) delegate; recorded
            in the provenance (and the target id gets a ``-nodelegate`` suffix).

    Returns:
        A labeler result (see :mod:`benches.labelers`): ``labels`` ``{"latency_ms": median}``;
        ``raw`` all statistics (median/mean/p90/std/min ms, n_runs, warmup, total_time_s);
        ``provenance`` the method and the host fingerprint.

    Raises:
        UnavailableError: no TFLite interpreter works here.
        LabelError: the interpreter rejects or fails on the model.
    """
    content, name = read_model(model)
    try:
        stats = measure.measure_latency(
            content, threads=threads, warmup=warmup, runs=runs, min_time_s=min_time_s,
            seed=seed, default_delegates=default_delegates,
        )
    except UnavailableError:
        raise
    except ModelFormatError as exc:
        raise LabelError("{}: {}".format(name, exc.reason)) from exc
    except Exception as exc:  # noqa: BLE001 - interpreter failures vary by backend
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise LabelError("{}: CPU measurement failed: {}: {}".format(
            name, type(exc).__name__, first)) from exc
    fingerprint = stats.pop("fingerprint")
    target = measure.cpu_target_id(fingerprint)
    if not default_delegates:
        target += "-nodelegate"
    provenance = {
        "labeler": "cpu",
        "labeler_version": "{} {}".format(
            fingerprint["interpreter"], fingerprint["interpreter_version"]
        ),
        "method": "random inputs (seed {}), {} warm-up runs, >= {} timed runs and >= {} s, "
        "time.perf_counter around invoke(), median".format(seed, warmup, runs, min_time_s),
        "threads": int(threads),
        "default_delegates": bool(default_delegates),
        "host": fingerprint,
    }
    return make_result(target, {"latency_ms": stats["median_ms"]}, stats, provenance)
