"""Time the host's kernel library on a fixed grid of operators (nn-Meter's kernel probing).

A calibration's own models say how this host runs *their* operators; a user's next model may
use others: a ResNet's 3x3 convolutions of 256 channels when the calibration models were
mobile networks, a NASNet's 7x7 stride-2 depthwise convolutions (on LiteRT 2.3 a slow path,
100x the time of a 5x5 one of the same size), standalone activations that run outside XNNPACK.
:data:`PROBES` is a fixed grid of the operators convolutional networks are built from --
dense convolutions 1x1 to 7x7 of 16 to 512 channels on 7x7 to 224x224 maps (stems, grouped
ones), depthwise 3x3 to 7x7 at stride 1 and 2, fully connected layers, pools, elementwise
operators (with a layer norm's broadcasts and per-channel constants, also quantized at scales
the CPU's default delegate refuses: :mod:`edge_predictor.delegate_rules`), activations,
attention products, softmax and means, single-channel convolutions: 527 of them --
written by :mod:`edge_predictor.op_writer` with int8 quantization and timed like the models'
operators (:mod:`edge_predictor.op_profile`). On a 2-core Xeon it takes about 10 s.

Python 3.7 compatible; numpy, flatbuffers and the interpreter only.
"""

from __future__ import annotations

import itertools
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from .op_writer import OpSpec, write_op

__all__ = ["PROBES", "MAX_MACS", "CANARY", "probe_specs", "probe_rows", "time_probes", "Canary",
           "drift"]

#: probes doing more multiply-accumulates than this are left out (seconds each on a board)
MAX_MACS = 1.5e9


def _macs(spec: OpSpec) -> float:
    hw, k, s = int(spec.get("hw", 1)), int(spec.get("kernel", 1)), int(spec.get("stride", 1))
    ho = -(-hw // s)
    if spec["op"] == "CONV_2D":
        return float(ho * ho * k * k * int(spec["cin"]) * int(spec["cout"]))
    if spec["op"] == "DEPTHWISE_CONV_2D":
        return float(ho * ho * k * k * int(spec["cin"])) * 30  # slow paths: keep them small
    if spec["op"] == "BATCH_MATMUL":
        return float(int(spec["heads"]) * int(spec["rows"]) * int(spec["cin"]) * int(spec["cout"]))
    return 0.0


def probe_specs() -> List[OpSpec]:
    """The grid (deterministic, in a fixed order), less probes above :data:`MAX_MACS`."""
    out: List[OpSpec] = []
    conv = "CONV_2D"
    for c, hw in itertools.product((16, 32, 64, 128, 256, 512), (7, 14, 28, 56, 112)):
        out.append({"op": conv, "hw": hw, "cin": c, "cout": c, "kernel": 3, "stride": 1,
                    "act": "RELU"})
        out.append({"op": conv, "hw": hw, "cin": c, "cout": c, "kernel": 1, "stride": 1})
        out.append({"op": conv, "hw": hw, "cin": c, "cout": 4 * c, "kernel": 1, "stride": 1,
                    "act": "RELU6"})
        out.append({"op": conv, "hw": hw, "cin": 4 * c, "cout": c, "kernel": 1, "stride": 1})
        out.append({"op": conv, "hw": hw, "cin": c, "cout": 2 * c, "kernel": 3, "stride": 2,
                    "act": "RELU"})
    for k, c, hw in itertools.product((5, 7), (32, 128), (14, 56)):
        out.append({"op": conv, "hw": hw, "cin": c, "cout": c, "kernel": k, "stride": 1})
    for k, cout, hw in itertools.product((3, 5, 7), (16, 32, 64), (96, 160, 224)):
        out.append({"op": conv, "hw": hw, "cin": 3, "cout": cout, "kernel": k, "stride": 2,
                    "act": "RELU6"})  # stems
    for k, s, c, hw in itertools.product((3, 5, 7), (1, 2), (16, 64, 256, 576),
                                         (7, 14, 28, 56, 112)):
        out.append({"op": "DEPTHWISE_CONV_2D", "hw": hw, "cin": c, "kernel": k, "stride": s,
                    "act": "RELU6"})
    for c, g, hw in itertools.product((64, 256), (4, 16), (7, 28, 56)):  # grouped (RegNet)
        out.append({"op": conv, "hw": hw, "cin": c, "cout": c, "groups": g, "kernel": 3,
                    "stride": 1, "act": "RELU"})
    for cin, cout in itertools.product((64, 256, 1024), (10, 256, 1024)):
        out.append({"op": "FULLY_CONNECTED", "cin": cin, "cout": cout})
    for cin, cout in ((2048, 2048), (4096, 4096)):  # weights beyond a core's cache: streamed
        out.append({"op": "FULLY_CONNECTED", "cin": cin, "cout": cout})
    for rows, (cin, cout) in itertools.product((16, 64, 196), ((64, 256), (256, 64), (192, 768),
                                                                 (768, 192), (512, 512))):
        out.append({"op": "FULLY_CONNECTED", "rows": rows, "cin": cin, "cout": cout})  # tokens
    for op, k, s, c, hw in itertools.product(("AVERAGE_POOL_2D", "MAX_POOL_2D"), (2, 3), (1, 2),
                                             (16, 128), (14, 56)):
        out.append({"op": op, "hw": hw, "cin": c, "kernel": k, "stride": s})
    for op, c, hw in itertools.product(("ADD", "MUL", "RELU", "RELU6", "HARD_SWISH",
                                        "LOGISTIC", "TANH", "LEAKY_RELU"), (16, 96),
                                       (7, 28, 112)):
        out.append({"op": op, "hw": hw, "cin": c})
    for op, c, hw in itertools.product(("ADD", "MUL", "SUB", "SQUARED_DIFFERENCE"), (64, 192),
                                       (8, 14, 28)):  # a layer norm's broadcasts
        out.append({"op": op, "hw": hw, "cin": c, "broadcast": True})
    for op, c, hw in itertools.product(("ADD", "MUL", "SUB"), (64, 192), (8, 14, 28)):
        # its per-channel constants: x * gamma + beta, and a folded one's beta - x (the
        # constant first)
        out.append({"op": op, "hw": hw, "cin": c,
                    "broadcast": "first" if op == "SUB" else "channels"})
    for op, c, hw in itertools.product(("ADD", "SUB"), (64, 192), (8, 14, 28)):
        # the same with a constant quantized at a scale the CPU's delegate refuses (a
        # converter's all-zero layer norm offset: TFLite's own kernel runs them)
        out.append({"op": op, "hw": hw, "cin": c, "const_scale": 1e-8,
                    "broadcast": "first" if op == "SUB" else "channels"})
    for heads, tokens, dk in itertools.product((1, 4), (16, 64, 196), (32, 64)):  # attention
        out.append({"op": "BATCH_MATMUL", "heads": heads, "rows": tokens, "cin": dk,
                    "cout": tokens})  # queries x keys
        out.append({"op": "BATCH_MATMUL", "heads": heads, "rows": tokens, "cin": tokens,
                    "cout": dk})  # scores x values
    for c, hw in itertools.product((16, 196), (1, 8, 14)):
        out.append({"op": "SOFTMAX", "hw": hw, "cin": c})
    for c, hw in itertools.product((64, 256), (7, 14, 28)):  # global pooling
        out.append({"op": "MEAN", "hw": hw, "cin": c})
    for c, hw in itertools.product((64, 192), (8, 14)):  # a layer norm's mean
        out.append({"op": "MEAN", "hw": hw, "cin": c, "axis": "channels"})
    for k, s, hw, cout in itertools.product((3, 5, 7), (1, 2), (32, 64), (16, 64, 256)):
        # single-channel inputs (a spectrogram's first layer, up to a DS-CNN-L's 276 outputs):
        # keyed apart, they run at another cost per MAC (edge_predictor.host_keys.PATTERNS)
        out.append({"op": conv, "hw": hw, "cin": 1, "cout": cout, "kernel": k, "stride": s})
    return [s for s in out if _macs(s) <= MAX_MACS]


#: the probe grid
PROBES: Tuple[OpSpec, ...] = tuple(probe_specs())


def probe_rows(reference: str):
    """:func:`~edge_predictor.host_ops.op_rows` of every probe, concatenated in
    :data:`PROBES` order (placed by ``reference``'s host table)."""
    from .featurize import featurize
    from .host_ops import op_rows
    from .tflite_reader import read_model

    keys: List[str] = []
    sizes, refs = [], []
    for i, spec in enumerate(PROBES):
        k, s, r = op_rows(featurize(read_model(write_op(spec, seed=i), name="probe")),
                          reference)
        keys += k
        sizes.append(s)
        refs.append(r)
    return keys, np.concatenate(sizes), np.concatenate(refs)


def time_probes(threads: int = 1, default_delegates: bool = True,
                overhead_us: Optional[float] = None,
                progress: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
    """Time every probe on this host.

    Args:
        threads, default_delegates: the interpreter settings (as the calibration's models).
        overhead_us: the invoke overhead to subtract (default: measured here).
        progress: called with (probes done, probes).

    Returns:
        float64 [P] microseconds per probe in :data:`PROBES` order, NaN where the interpreter
        refused one.
    """
    from . import interpreters
    from .errors import ModelFormatError
    from .measure import random_inputs
    from .op_profile import invoke_overhead_us, time_interpreter_us

    if overhead_us is None:
        overhead_us = invoke_overhead_us(threads, default_delegates)
    times = np.full(len(PROBES), np.nan)
    for i, spec in enumerate(PROBES):
        try:
            it = interpreters.make_interpreter(write_op(spec, seed=i), threads=threads,
                                               default_delegates=default_delegates)
            random_inputs(it, seed=i)
            times[i] = max(time_interpreter_us(it) - overhead_us, 0.0)
        except (ModelFormatError, RuntimeError, ValueError):
            pass
        if progress:
            progress(i + 1, len(PROBES))
    return times


#: the operator whose time, taken again and again during a calibration, tells whether this
#: host's speed held still (a dense 3x3 convolution of 64 channels on 28x28)
CANARY: OpSpec = {"op": "CONV_2D", "hw": 28, "cin": 64, "cout": 64, "kernel": 3, "stride": 1}


class Canary:
    """The :data:`CANARY` operator, ready to be timed whenever asked.

    Args:
        threads, default_delegates: the interpreter settings (as the calibration's models).
    """

    def __init__(self, threads: int = 1, default_delegates: bool = True):
        from . import interpreters
        from .measure import random_inputs

        self._it = interpreters.make_interpreter(write_op(CANARY), threads=threads,
                                                 default_delegates=default_delegates)
        random_inputs(self._it, seed=0)
        #: microseconds of every :meth:`time` so far
        self.times: List[float] = []

    def time(self) -> float:
        """Time it once more (the fastest of a few batches); returns and keeps the
        microseconds."""
        from .op_profile import time_interpreter_us

        self.times.append(float(time_interpreter_us(self._it)))
        return self.times[-1]


def drift(times: Sequence[float]) -> float:
    """How much a host's speed moved over repeated timings of one operator: the 90th
    percentile over the 10th, less 1 (one stray timing does not count; 0 for fewer than two).
    A calibration of 20 models on an idle Xeon: 0.03 (22 timings, 32.3-33.4 us but for one
    35.5 and two 29.7)."""
    t = np.array([float(v) for v in times if v > 0])
    return float(np.quantile(t, 0.9) / np.quantile(t, 0.1)) - 1.0 if len(t) > 1 else 0.0
