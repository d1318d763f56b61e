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
75 CNN validation models (``python -m benches.weight_encoding --fit``); the same bench scores
them on models not used for the fit. Weights drawn otherwise compress otherwise (the zoo's Keras
initialisers: 7.2% off per operator, mostly low; trained weights: not measured): read the
estimate as the size for weights like the dataset's.

The module also holds the other weight-stream facts the featurizer uses: the uncompressed
stream size (:func:`npu_weight_bytes`, schema 4) and the single/double buffering slack
(:func:`weight_slack`, schema 5), and the NPU's brick arithmetic (:func:`ceil_to_brick`,
:func:`brick_ratio`, :func:`macs_brick`). Python 3.7 compatible.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from .graph import TensorInfo

__all__ = ["ENCODING_COEFFICIENTS", "SCALE_BYTES", "BRICK_DEPTH", "BRICK_IFM_DEPTH",
           "SLACK_DOUBLE_BUFFER", "encoded_weight_bytes", "encoding_terms",
           "conv_traversal_elements", "ceil_to_brick", "sram_buffered", "npu_weight_bytes",
           "weight_slack", "npu_weights", "npu_stream_bytes", "npu_sram_weights", "brick_ratio",
           "macs_brick"]

BRICK_DEPTH = 16  # the Ethos-U stores feature maps in NHCWB16 bricks of 16 channels
BRICK_IFM_DEPTH = 8  # ... and its MAC engine consumes input depth in micro-blocks of 8
#: below this ratio of the previous operator's brick MACs to an operator's NPU weight bytes,
#: Vela (5.2's scheduler, ``propose_weight_buffering``) double-buffers the weights in depth
#: slices: right for 94% of 251 cnn-kws operators (``benches/results/sram_phases.md``)
SLACK_DOUBLE_BUFFER = 10.0

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


def ceil_to_brick(depth: float, brick: int = BRICK_DEPTH) -> float:
    """``depth`` rounded up to a whole number of bricks (0 stays 0), as a float."""
    return float(_ceil_to(depth, brick))


def brick_ratio(depth: float, brick: int = BRICK_DEPTH) -> float:
    """ceil(depth / brick) * brick / depth: the padding factor of a depth stored in bricks.

    Args:
        depth: a channel count (0 or less: no padding, ratio 1).
        brick: the brick size.
    """
    if depth <= 0:
        return 1.0
    return ceil_to_brick(depth, brick) / float(depth)


def macs_brick(hyper: dict, in_c: float, out_c: float) -> float:
    """MACs an NPU computing in bricks performs for an operator.

    Args:
        hyper: the operator's hyperparameter slots (``macs``, ``kernel_h``, ``kernel_w``,
            ``groups``, ``depth_multiplier``), see :mod:`edge_predictor.op_features`.
        in_c: depth of the first activation input.
        out_c: depth of the first output.

    Returns:
        ``macs`` with the output depth rounded up to :data:`BRICK_DEPTH` and the reduction depth
        (convolutions: the filter's input depth; FULLY_CONNECTED/BATCH_MATMUL: K) to
        :data:`BRICK_IFM_DEPTH`; depthwise convolutions only round their depth. 0 without MACs.
    """
    macs = float(hyper.get("macs") or 0.0)
    if macs <= 0:
        return 0.0
    ratio = brick_ratio(out_c)
    if not hyper.get("depth_multiplier"):
        if hyper.get("kernel_h"):
            k = in_c / max(1.0, float(hyper.get("groups") or 1.0))
        else:
            k = float(hyper.get("kernel_w") or 0.0)
        ratio *= brick_ratio(k, BRICK_IFM_DEPTH)
    return macs * ratio


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


def encoding_terms(op: str, shape: Sequence[int]
                   ) -> Optional[Tuple[str, int, Tuple[float, float, float, float, float]]]:
    """The regressors of :func:`encoded_weight_bytes` for one filter.

    Args:
        op: ``CONV_2D`` (filter [O, H, W, I]) or ``DEPTHWISE_CONV_2D`` ([1, H, W, C]).
        shape: the filter's shape.

    Returns:
        ``(group, output channels, terms)``: the :data:`ENCODING_COEFFICIENTS` group and the 5
        terms its coefficients multiply (real weights, real weights * ln(weights per output
        channel), padding zeros, output channels, 1); None for another operator or filter rank.
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
    return group, o, (real, real * math.log(per_channel), padding, float(o), 1.0)


def encoded_weight_bytes(op: str, shape: Sequence[int],
                         coefficients: Mapping[str, Sequence[float]] = ENCODING_COEFFICIENTS
                         ) -> Optional[float]:
    """Estimated bytes of Vela's encoded weight stream for an INT8 filter, bias and scale included.

    Args:
        op: ``CONV_2D`` (filter [O, H, W, I]) or ``DEPTHWISE_CONV_2D`` ([1, H, W, C]).
        shape: the filter's shape.
        coefficients: per group, the 5 coefficients of :func:`encoding_terms` (default: the
            shipped fit; the bench passes its own).

    Returns:
        The estimate in bytes (at least the bias and scale bytes), or None for another operator
        or filter rank (the caller falls back to another size).
    """
    terms = encoding_terms(op, shape)
    if terms is None:
        return None
    group, channels, row = terms
    weights = sum(c * t for c, t in zip(coefficients[group], row))
    return float(SCALE_BYTES * channels + max(weights, 0.0))


def sram_buffered(op: str, in_shape: Optional[Sequence[int]] = None,
                  filter_shape: Optional[Sequence[int]] = None) -> bool:
    """True when Vela 5.2 DMAs the operator's weights into SRAM before it runs.

    Args:
        op: TFLite operator name.
        in_shape: its first input's shape, NHWC (optional).
        filter_shape: its filter's shape, OHWI (optional).

    A 1x1 CONV_2D on a 1x1 input is run as FULLY_CONNECTED (Vela's ``convert_conv_to_fc``),
    whose weights stay in flash: not buffered, when both shapes are given.
    """
    if op not in _BUFFERED:
        return False
    if op == "CONV_2D" and in_shape is not None and filter_shape is not None \
            and len(in_shape) == 4 and len(filter_shape) == 4:
        return not (in_shape[1] == in_shape[2] == 1 and filter_shape[1] == filter_shape[2] == 1)
    return True


def npu_weight_bytes(op: str, shape: Sequence[int]) -> Optional[float]:
    """Bytes of an Ethos-U weight stream for an INT8 filter, before compression.

    The depths are padded as the MAC engine reads them (output depth to :data:`BRICK_DEPTH`,
    input depth to :data:`BRICK_IFM_DEPTH` unless it is shallower), plus 10 bytes of bias and
    scale per output channel. Against Vela 5.2's encoded sizes it is 7.7% off on cnn-kws and
    8.4% over all spaces, raw constant bytes 20.3% and 13.3% (``benches/results/sram_phases.md``).

    Args:
        op: ``CONV_2D`` (filter [O, H, W, I]), ``DEPTHWISE_CONV_2D`` ([1, H, W, C]) or
            ``FULLY_CONNECTED`` ([O, I]).
        shape: the filter's shape.

    Returns:
        The size in bytes, or None for another operator or filter rank.
    """
    if op == "CONV_2D" and len(shape) == 4:
        o, h, w, i = (int(d) for d in shape)
        depth = i if i < BRICK_IFM_DEPTH else ceil_to_brick(i, BRICK_IFM_DEPTH)
        return float(h * w * depth * ceil_to_brick(o) + 10 * o)
    if op == "DEPTHWISE_CONV_2D" and len(shape) == 4:
        c = int(shape[3])
        return float(int(shape[1]) * int(shape[2]) * ceil_to_brick(c) + 10 * c)
    if op == "FULLY_CONNECTED" and len(shape) == 2:
        o = int(shape[0])
        return float(ceil_to_brick(shape[1], BRICK_IFM_DEPTH) * ceil_to_brick(o) + 10 * o)
    return None


def weight_slack(prev_macs: np.ndarray, weights: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """How well each operator's weight transfer hides behind the previous operator's compute.

    Vela's scheduler double-buffers an operator's weights (in depth slices, so a smaller buffer
    twice) when their transfer outlasts the previous operator's compute, and keeps one full
    buffer otherwise; which one it picks moves the SRAM peak. MACs stand in for the compute,
    bytes for the transfer.

    Args:
        prev_macs: float [N] brick MACs of the previous operator in execution order (0 first).
        weights: float [N] NPU weight bytes of each operator (0: no weights).

    Returns:
        ``(slack, double)``, float64 [N] each: ``ln((1 + prev_macs) / (1 + weights))`` and 1.0
        where ``prev_macs < SLACK_DOUBLE_BUFFER * weights``; both 0 for operators without weights.
    """
    prev_macs = np.asarray(prev_macs, np.float64)
    weights = np.asarray(weights, np.float64)
    has = weights > 0
    slack = np.where(has, np.log1p(np.maximum(prev_macs, 0.0)) - np.log1p(np.maximum(weights, 0.0)),
                     0.0)
    double = (has & (prev_macs < SLACK_DOUBLE_BUFFER * weights)).astype(np.float64)
    return slack, double


def npu_weights(op: str, consts: Sequence[TensorInfo]) -> float:
    """:func:`npu_weight_bytes` for an INT8 filter (the first constant input), else raw bytes."""
    raw = float(sum(t.nbytes for t in consts))
    if consts and consts[0].dtype in ("INT8", "UINT8"):
        est = npu_weight_bytes(op, consts[0].shape)
        if est is not None:
            return est
    return raw


def npu_stream_bytes(op: str, consts: Sequence[TensorInfo], npu_bytes: float) -> float:
    """Bytes of weights an operator streams, into SRAM or from flash: the encoded estimate for
    an INT8 filter of an operator kind Vela encodes and buffers, else ``npu_bytes``."""
    if consts and consts[0].dtype in ("INT8", "UINT8") and sram_buffered(op):
        est = encoded_weight_bytes(op, consts[0].shape)
        if est is not None:
            return est
    return npu_bytes


def npu_sram_weights(op: str, consts: Sequence[TensorInfo], stream_bytes: float,
                     in_shape: Optional[Sequence[int]] = None) -> float:
    """The ``sram_weight_bytes`` column: ``stream_bytes`` (:func:`npu_stream_bytes`) when Vela
    buffers the operator's INT8 filter in SRAM, else 0 (``in_shape``: the first activation
    input's shape, for :func:`sram_buffered`)."""
    if not consts or consts[0].dtype not in ("INT8", "UINT8") or \
            not sram_buffered(op, in_shape, consts[0].shape):
        return 0.0
    return stream_bytes
