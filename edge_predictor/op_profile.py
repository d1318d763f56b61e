"""Time every operator of a model on this host, one operator at a time.

The Python interpreters expose no per-operator profiler, so each operator is cut into a model of
its own (:mod:`edge_predictor.op_slice`) and timed with the interpreter settings of
:func:`edge_predictor.measure.measure_latency` (threads, default delegate). Each time is the
median of several batches of back-to-back invocations, less the cost of invoking an interpreter
from Python at all (timed on a one-element operator of the same backend), so that an operator's
time is what it adds inside a whole model. Across the 47 real architectures of the zoo the sum
of a model's operator times (before that subtraction) is 0.84-1.15x its measured latency
(models above 0.5 ms; an Intel Xeon, LiteRT 2.3, one thread).

A few models' operator times (a thousand operators and more) are enough to fit a host's
per-operator model (:mod:`edge_predictor.host_ops`), where a few whole-model latencies are not.

Python 3.7 compatible; numpy, flatbuffers and the interpreter only.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np

from . import interpreters
from .measure import random_inputs
from .op_slice import ModelView, SliceError, slice_op

__all__ = ["invoke_overhead_us", "time_interpreter_us", "profile_ops"]

_BATCH_S = 2e-4  # a timed batch lasts at least this long
_BATCHES = 7


def time_interpreter_us(interpreter, batches: int = _BATCHES, warmup: int = 2) -> float:
    """The microseconds of one ``invoke()`` of an allocated interpreter with inputs set: the
    fastest of ``batches`` batches of back-to-back invocations, each long enough
    (:data:`_BATCH_S`) for the clock. The fastest, not the median: another tenant's work only
    ever slows a batch, and on a shared VM it comes in bursts (a 3x3 convolution timed every
    2 s for a minute ranged 36-86 us); timed twice back to back, an operator's figure moved by
    a median 1.9% with the fastest batch, 4.8% with the median one (12 zoo models, 1 thread).
    A model's latency (:mod:`edge_predictor.measure`) stays a median of runs; the host
    model's in-model factor carries the difference."""
    invoke = interpreter.invoke
    clock = time.perf_counter
    t0 = clock()
    for _ in range(max(1, warmup)):
        invoke()
    once = (clock() - t0) / max(1, warmup)
    reps = max(1, int(_BATCH_S / max(once, 1e-7)))
    out = []
    for _ in range(batches):
        t0 = clock()
        for _ in range(reps):
            invoke()
        out.append((clock() - t0) / reps)
    return float(min(out) * 1e6)


def _tiny_model() -> bytes:
    """A one-operator model (RELU on one int8 element) to time the cost of invoking at all."""
    from .op_writer import write_op

    return write_op({"op": "RELU", "hw": 1, "cin": 1})


def invoke_overhead_us(threads: int = 1, default_delegates: bool = True) -> float:
    """Microseconds of invoking a one-element, one-operator model from Python on this host."""
    it = interpreters.make_interpreter(_tiny_model(), threads=threads,
                                       default_delegates=default_delegates)
    random_inputs(it, seed=0)
    return min(time_interpreter_us(it) for _ in range(3))


def profile_ops(model: bytes, threads: int = 1, default_delegates: bool = True,
                overhead_us: Optional[float] = None,
                progress: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
    """Time every operator of a model's main subgraph on this host.

    Args:
        model: the ``.tflite`` bytes.
        threads: interpreter threads.
        default_delegates: False: the interpreter's reference kernels (no XNNPACK).
        overhead_us: the invoke overhead to subtract (default: :func:`invoke_overhead_us`).
        progress: called with (operators done, operators) after each.

    Returns:
        float64 [N] microseconds per operator in execution order (>= 0), NaN where the operator
        could not be cut out or the interpreter refused it alone.

    Raises:
        UnavailableError: no interpreter works here.
    """
    from .errors import ModelFormatError

    if overhead_us is None:
        overhead_us = invoke_overhead_us(threads, default_delegates)
    view = ModelView(model)
    out = np.full(view.n_ops, np.nan)
    for i in range(view.n_ops):
        try:
            it = interpreters.make_interpreter(slice_op(view, i), threads=threads,
                                               default_delegates=default_delegates)
            random_inputs(it, seed=i)
            out[i] = max(time_interpreter_us(it) - overhead_us, 0.0)
        except (SliceError, ModelFormatError, RuntimeError, ValueError):
            pass
        if progress:
            progress(i + 1, view.n_ops)
    return out

