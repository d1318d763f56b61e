"""Size of the weight stream Vela encodes for an operator, from the filter's shape alone.

Vela (5.2) turns an INT8 filter into a stream of compressed weight bricks plus 10 bytes of bias
and scale per output channel, and DMAs that stream from flash into SRAM in front of the operator
(``Scheduler.propose_weight_buffering``) -- for CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV,
never for FULLY_CONNECTED, whose weights it reads from flash. What the stream costs in SRAM moves
the peak Vela reports on weight-heavy spaces (cnn-kws: weights are 39% of the peak bytes,
``benches/results/sram_phases.md``).

The compressed size depends on the weight *values*. This module estimates it from the shape, for
weights like the dataset's (normal, per-channel quantized to INT8 by TFLite's converter): each
real weight costs ``a + b * ln(n)`` bytes (``n`` weights per output channel: the wider the
channel, the heavier the quantized distribution's centre, the better it compresses), each zero
Vela pads the traversal with costs ``c`` bytes, plus terms per output channel and per stream.
The coefficients are least-squares fits (on the relative error) to Vela's encoded sizes of the
75 validation models (``python -m benches.weight_encoding --fit``); the same bench scores them on
models not used for the fit. Trained weights compress better than random ones: read the estimate
as the size for *untrained* weights of this shape.

Pure Python, no numpy needed; Python 3.7 compatible.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

__all__ = ["ENCODING_COEFFICIENTS", "encoded_weight_bytes", "conv_traversal_elements",
           "sram_buffered"]

#: bias and scale bytes per output channel (Vela's ``encode_bias``: 40-bit bias, 32-bit scale,
#: 6-bit shift, packed in 10 bytes)
SCALE_BYTES = 10

#: per filter group: coefficients of (real weights, real weights * ln(weights per output channel),
#: padding zeros, output channels, 1) in the encoded weight bytes (bias and scale bytes apart).
#: Fitted by ``python -m benches.weight_encoding --fit`` (Vela 5.2.0, ethos-u55-128).
ENCODING_COEFFICIENTS: Dict[str, Tuple[float, float, float, float, float]] = {
    "conv": (1.2312, -0.040419, 0.34066, -3.0911, 37.939),  # CONV_2D, input depth > 8
    "conv_i8": (1.3331, -0.04724, 0.078886, -1.4461, 71.643),  # CONV_2D, input depth 2..8
    "conv_i1": (1.4378, -0.055745, 0.039364, -1.2167, 64.559),  # CONV_2D, input depth 1
    "depthwise": (-0.73141, 0.4871, 0.0, 7.3915, 24.316),  # DEPTHWISE_CONV_2D, multiplier 1
}

#: operators whose weights Vela 5.2 buffers in SRAM (FULLY_CONNECTED reads them from flash)
_BUFFERED = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")


def _ceil_to(value: int, step: int) -> int:
    return -(-int(value) // step) * step


def conv_traversal_elements(shape: Sequence[int]) -> int:
    """Elements of a CONV_2D filter as the Ethos-U weight traversal lays it out, padding included.

    Vela picks *part-kernel-first* traversal (kernel positions padded to 4, input depth to 8)
    when that uses the MAC engine at least as well as *depth-first* (input depth padded to 32),
    and always for input depths up to 8 (``weight_compressor.encode_weight_and_scale_tensor``).

    Args:
        shape: filter shape [O, H, W, I].

    Returns:
        O * (padded kernel positions) * (padded input depth).
    """
    o, h, w, i = (int(d) for d in shape)
    kernel = h * w
    depth_first = i / _ceil_to(i, 32)
    part_kernel = (i / _ceil_to(i, 8)) * (kernel / _ceil_to(kernel, 4))
    if part_kernel >= depth_first or i <= 8:
        return _ceil_to(kernel, 4) * _ceil_to(i, 8) * o
    return kernel * _ceil_to(i, 32) * o


def encoded_weight_bytes(op: str, shape: Sequence[int]) -> Optional[float]:
    """Estimated bytes of Vela's encoded weight stream for an INT8 filter, bias and scale included.

    Args:
        op: ``CONV_2D`` (filter [O, H, W, I]) or ``DEPTHWISE_CONV_2D`` ([1, H, W, C]).
        shape: the filter's shape.

    Returns:
        The estimate in bytes (at least the bias and scale bytes), or None for another operator
        or filter rank (the caller falls back to another size).
    """
    if len(shape) != 4 or any(int(d) <= 0 for d in shape):
        return None
    if op == "CONV_2D":
        o, h, w, i = (int(d) for d in shape)
        group = "conv_i1" if i == 1 else ("conv_i8" if i <= 8 else "conv")
        real = float(o * h * w * i)
        padding = float(conv_traversal_elements(shape)) - real
        per_channel = h * w * i
    elif op == "DEPTHWISE_CONV_2D" and int(shape[0]) == 1:
        _, h, w, o = (int(d) for d in shape)
        group, real, padding, per_channel = "depthwise", float(h * w * o), 0.0, h * w
    else:
        return None
    a, b, c, d, e = ENCODING_COEFFICIENTS[group]
    weights = real * (a + b * math.log(per_channel)) + c * padding + d * o + e
    return float(SCALE_BYTES * o + max(weights, 0.0))


def sram_buffered(op: str) -> bool:
    """True when Vela 5.2 DMAs the operator's weights into SRAM before it runs."""
    return op in _BUFFERED
