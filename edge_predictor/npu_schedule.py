"""Which weight buffers Vela double-buffers, replayed from estimated operator cycles.

Vela's scheduler (``Scheduler.propose_weight_buffering`` in its Python core; Vela 5.2 compiles the
Ethos-U55 with its C++ core, ``ethosu.regor``, which behaves the same way) walks the operators in
execution order and DMAs each one's encoded weight stream from flash into SRAM while the previous
operator computes. When the transfer outlasts that slack, it splits the stream into depth slices
and double-buffers them (two smaller buffers instead of one full one), and the *next* operator then
only gets the cycles of this one's last slice as slack: a chain that a graph network cannot work
out from local features. On cnn-kws, where weight buffers are a large share of the SRAM peak, these
decisions are what was left of the SRAM error once weight sizes were right
(``docs/experiments.md: schema6_encoded``).

This module replays that walk with *estimated* cycles, so the featurizer can hand the network
the buffers Vela most likely allocates:

* :func:`block_model`: for a (depthwise) convolution whose shapes are known
  (:class:`OpGeometry`), Vela's OFM block and its block-by-block estimate of the cycles
  (:mod:`edge_predictor.npu_blocks`, schema 8): the figure Vela's scheduler itself uses;
* :func:`op_cycles`: for the other operators, cycles from brick MACs, activation bytes and
  weight bytes (a max of compute, weight-transfer and memory terms; :data:`CYCLE_MODEL`, fitted
  to Vela's ``--verbose-performance`` on 25 cnn-kws models; a guess outside cnn-kws);
* :func:`replay_buffering`: the walk itself, with Vela's transfer cost (1 cycle per byte from
  flash plus 64 of latency), slices in whole OFM blocks, returning per operator the
  double-buffering flag, the first / kept / whole buffer bytes and the slack ratio
  (:class:`BufferPlan`).

On 146 cnn-kws models, 95.7% of Vela's 1,479 single/double decisions come out right and the
buffer bytes are 1.4% off (median; ``docs/experiments.md: schema8_blocks``; schema 7:
90.9% and 1.5%). Other spaces were not checked. Pure numpy; Python 3.7 compatible.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .npu_blocks import DEFAULT_ARCH, Arch, compute_cycles, ofm_blocks

__all__ = ["CYCLE_MODEL", "TRANSFER_CYCLES_PER_BYTE", "TRANSFER_LATENCY", "SLICE_DEPTH",
           "SCHEDULE_COLUMNS", "BLOCK_MODEL_OPS", "BufferPlan", "OpGeometry", "block_model",
           "block_models", "clear_block_models",
           "cycle_kind",
           "op_cycles", "replay_buffering", "schedule_columns", "sram_peak"]

#: NPU cycles per byte of weight stream DMA'd from flash, and the latency of a transfer: Vela's
#: figures for its default system config (flash at 1 byte per cycle, 64 cycles to first byte)
TRANSFER_CYCLES_PER_BYTE = 1.0
TRANSFER_LATENCY = 64.0
#: Vela slices weight streams in multiples of 16 output channels (``OFMSplitDepth``)
SLICE_DEPTH = 16

#: per operator kind, cycle model coefficients (Vela 5.2, ethos-u55-128, 25 cnn-kws models):
#: "conv": (cycles per brick MAC, per encoded weight byte, per output byte) -- the max of the
#: three terms (median |error| 5%, p10..p90 -13..+9%);
#: "depthwise": (per brick MAC, per output byte, constant) -- a sum (5%, -6..+8%);
#: "other": cycles per byte of the larger of input and output (AVERAGE_POOL_2D: 1%, -2..+13%)
CYCLE_MODEL = {
    "conv": (0.0104, 1.1, 0.7),
    "depthwise": (0.072, 0.189, 1046.0),
    "other": (0.67,),
}


#: the featurizer's columns :func:`schedule_columns` returns, in order (feature schemas 7, 8)
SCHEDULE_COLUMNS = ("est_cycles", "est_double_buffer", "est_first_buffer_bytes",
                    "est_kept_buffer_bytes", "est_weight_buffer_bytes",
                    "next_est_first_buffer_bytes", "est_handover_buffer_bytes", "est_slack_ratio",
                    "next_est_slack_ratio")

_KINDS = {"CONV_2D": "conv", "TRANSPOSE_CONV": "conv", "DEPTHWISE_CONV_2D": "depthwise"}
#: operators :func:`block_model` covers (TRANSPOSE_CONV upsamples: not modelled)
BLOCK_MODEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def cycle_kind(op: str) -> str:
    """The :data:`CYCLE_MODEL` row of a TFLite operator: "conv", "depthwise" or "other"."""
    return _KINDS.get(op, "other")


class BufferPlan(NamedTuple):
    """Replayed weight buffering, float64 [N] each (N operators in execution order).

    Attributes:
        cycles: estimated NPU cycles of each operator (:func:`op_cycles`).
        double: 1.0 where the weights are double-buffered in depth slices.
        first: bytes of the first buffer, filled before the operator starts (0: no weights).
        kept: bytes of the buffer still live when the operator hands over to the next one.
        whole: bytes of all its weight buffers (the full stream when single-buffered).
        slack_ratio: ``ln((1 + slack cycles) / (1 + transfer cycles))`` for operators with
            buffered weights (below 0: the transfer outlasts the slack), else 0.
    """

    cycles: np.ndarray
    double: np.ndarray
    first: np.ndarray
    kept: np.ndarray
    whole: np.ndarray
    slack_ratio: np.ndarray


def op_cycles(kind: str, macs_brick: float, in_bytes: float, out_bytes: float,
              weight_bytes: float) -> float:
    """Estimated NPU cycles of one operator.

    Args:
        kind: "conv" (CONV_2D, TRANSPOSE_CONV), "depthwise" or anything else ("other").
        macs_brick: MACs in NPU bricks (``featurize.macs_brick``).
        in_bytes, out_bytes: activation bytes read and written.
        weight_bytes: bytes of weights the operator streams, buffered or read from flash:
            the encoded estimate for a filter (``weight_stream.encoded_weight_bytes``), the
            stored bytes otherwise (FULLY_CONNECTED).

    Returns:
        The cycle estimate (>= 0).
    """
    if kind == "conv":
        per_mac, per_weight, per_out = CYCLE_MODEL["conv"]
        return max(per_mac * macs_brick, per_weight * weight_bytes, per_out * out_bytes, 0.0)
    if kind == "depthwise":
        per_mac, per_out, const = CYCLE_MODEL["depthwise"]
        return per_mac * macs_brick + per_out * out_bytes + const
    (per_byte,) = CYCLE_MODEL["other"]
    return max(per_byte * max(in_bytes, out_bytes), TRANSFER_CYCLES_PER_BYTE * weight_bytes, 0.0)


def _share(cycles: float, part: int, depth: int) -> float:
    """Cycles of an output-depth slice: the NPU computes in 8-channel micro-blocks."""
    return cycles * (-(-part // 8)) / (-(-depth // 8))


def _slices(depth: int, slack: float, cycles: float, transfer: float, block: int) -> List[int]:
    """Output-depth slice widths of a stream whose transfer outlasts the slack: a first slice
    sized to the slack, then slices transferred while the one before computes, in whole OFM
    blocks of ``block`` channels (16-channel steps when a slice is smaller than a block)."""
    pre = max(SLICE_DEPTH, int(depth * slack / transfer) // SLICE_DEPTH * SLICE_DEPTH)
    step = math.ceil(depth * _share(cycles, min(pre, depth), depth) / transfer)
    step = -(-step // block) * block
    step = step // block * block if step > block else step // SLICE_DEPTH * SLICE_DEPTH
    step = max(step, SLICE_DEPTH)
    cuts = [0] + (list(range(pre, depth, step)) if pre < depth else []) + [depth]
    return [b - a for a, b in zip(cuts[:-1], cuts[1:])]


def replay_buffering(cycles: np.ndarray, weights: np.ndarray, depths: np.ndarray,
                     blocks: Optional[np.ndarray] = None) -> BufferPlan:
    """Replay Vela's single/double weight-buffering walk over a graph in execution order.

    Args:
        cycles: float [N] cycles of each operator (:func:`op_cycles`).
        weights: float [N] encoded weight bytes Vela buffers in SRAM (0: none).
        depths: float [N] output channels of each operator (the dimension Vela slices).
        blocks: float [N] OFM block depth of each operator (:func:`npu_blocks.ofm_block`);
            None: 16 for all.

    Returns:
        The :class:`BufferPlan`.
    """
    cycles = np.asarray(cycles, np.float64).reshape(-1)
    n = len(cycles)
    double, first, kept, whole, ratio = (np.zeros(n) for _ in range(5))
    blocks = np.full(n, float(SLICE_DEPTH)) if blocks is None else np.asarray(blocks, np.float64)
    slack = 0.0
    # a walk over Python floats: numpy scalars would cost more than the arithmetic
    for k, (cyc, w, d, blk) in enumerate(zip(cycles.tolist(),
                                             np.asarray(weights, np.float64).tolist(),
                                             np.asarray(depths, np.float64).tolist(),
                                             blocks.tolist())):
        if w <= 0:
            slack = cyc
            continue
        transfer = TRANSFER_CYCLES_PER_BYTE * w + TRANSFER_LATENCY
        ratio[k] = math.log1p(slack) - math.log1p(transfer)
        first[k] = kept[k] = whole[k] = w
        depth = max(int(round(d)), 1)
        widths = (_slices(depth, slack, cyc, transfer, max(int(blk), SLICE_DEPTH))
                  if transfer > slack else [depth])
        if len(widths) == 1:
            slack = cyc
            continue
        b0 = max(widths[0::2]) * w / depth
        b1 = max(widths[1::2]) * w / depth
        double[k], first[k], whole[k] = 1.0, b0, b0 + b1
        kept[k] = b1 if len(widths) % 2 == 0 else b0
        slack = _share(cyc, widths[-1], depth)
    return BufferPlan(cycles=cycles, double=double, first=first, kept=kept, whole=whole,
                      slack_ratio=ratio)


class OpGeometry(NamedTuple):
    """What Vela's block search and cycle estimate need of a (depthwise) convolution.

    Attributes:
        kind: "conv" or "depthwise" (:func:`cycle_kind`).
        ofm, ifm: (height, width, depth) of the output and the input.
        kernel: (height, width); stride, dilation: (y, x).
    """

    kind: str
    ofm: Tuple[int, int, int]
    ifm: Tuple[int, int, int]
    kernel: Tuple[int, int]
    stride: Tuple[int, int]
    dilation: Tuple[int, int]

    @classmethod
    def of(cls, kind: str, hyper: Mapping[str, Any], in_shape: Sequence[int],
           out_shape: Sequence[int]) -> "OpGeometry":
        """From the featurizer's view of an operator: its hyperparameters (``kernel_h``,
        ``stride_w``, ...; missing ones are 1) and its NHWC input and output shapes."""
        def get(slot):
            return max(int(hyper.get(slot) or 1), 1)

        return cls(kind, (int(out_shape[1]), int(out_shape[2]), int(out_shape[3])),
                   (int(in_shape[1]), int(in_shape[2]), int(in_shape[3])),
                   (get("kernel_h"), get("kernel_w")), (get("stride_h"), get("stride_w")),
                   (get("dilation_h"), get("dilation_w")))


#: (geometry, accelerator) -> :func:`block_model`'s answer (models repeat their shapes, a
#: search space's candidates share them); emptied past _MEMO_LIMIT entries
_MEMO: Dict[Tuple[OpGeometry, Arch], Optional[Tuple[int, float]]] = {}
_MEMO_LIMIT = 8192


def block_models(geoms: Sequence[OpGeometry], arch: Arch = DEFAULT_ARCH
                 ) -> List[Optional[Tuple[int, float]]]:
    """:func:`block_model` of many operators: the ones not seen before searched together
    (:func:`npu_blocks.ofm_blocks`, one pass of numpy operations for all of them)."""
    missing = [g for g in dict.fromkeys(geoms) if (g, arch) not in _MEMO]
    if missing:
        if len(_MEMO) + len(missing) > _MEMO_LIMIT:  # full: start again with this graph's
            _MEMO.clear()
            missing = list(dict.fromkeys(geoms))
        blocks = ofm_blocks([(g.kind, g.ofm, g.ifm, g.kernel, g.stride, g.dilation)
                             for g in missing], arch)
        for g, block in zip(missing, blocks):
            kernel = ((g.kernel[0] - 1) * g.dilation[0] + 1, (g.kernel[1] - 1) * g.dilation[1] + 1)
            _MEMO[(g, arch)] = None if block is None else (
                block.depth, compute_cycles(g.kind, g.ofm, g.ifm[2], kernel, block, arch))
    return [_MEMO[(g, arch)] for g in geoms]


def block_model(geom: OpGeometry, arch: Arch = DEFAULT_ARCH) -> Optional[Tuple[int, float]]:
    """(OFM block depth, compute cycles) Vela estimates for an operator on ``arch``; None: no
    block fits (memoised)."""
    return block_models([geom], arch)[0]


def clear_block_models() -> None:
    """Forget the memoised :func:`block_model` answers."""
    _MEMO.clear()


def schedule_columns(kinds: Sequence[str], cycle_inputs: np.ndarray, stream: np.ndarray,
                     sram: np.ndarray, depths: np.ndarray,
                     geometry: Optional[Sequence[Optional[OpGeometry]]] = None,
                     arch: Arch = DEFAULT_ARCH) -> np.ndarray:
    """The featurizer's :data:`SCHEDULE_COLUMNS` for a graph, before its log transform.

    Args:
        kinds: [N] :func:`cycle_kind` of each operator, in execution order.
        cycle_inputs: float [N, 3] brick MACs, input bytes and output bytes of each operator.
        stream: float [N] weight bytes each operator reads, buffered or from flash.
        sram: float [N] encoded weight bytes Vela buffers in SRAM (0: none).
        depths: float [N] output channels.
        geometry: [N] the :class:`OpGeometry` of each (depthwise) convolution, None for the
            others: their cycles are Vela's block-by-block estimate
            (:func:`npu_blocks.compute_cycles`) and their weights are sliced in whole blocks.
            None: every operator on :func:`op_cycles`.
        arch: the accelerator the blocks and cycles are for (the other operators'
            :func:`op_cycles` are the ethos-u55-128's, scaled by its MACs per cycle).

    Returns:
        float64 [N, 9]: cycles, double flag, first / kept / whole buffer bytes, the next
        operator's first buffer, kept + next first (the hand-over), slack ratio and the next
        operator's.
    """
    n = len(kinds)
    geometry = list(geometry) if geometry is not None else [None] * n
    cycles, blocks = np.zeros(n), np.full(n, float(SLICE_DEPTH))
    searched = iter(block_models([g for g in geometry if g is not None], arch))
    for k, (kind, (macs, inb, outb), w, geom) in enumerate(zip(
            kinds, np.asarray(cycle_inputs, np.float64).tolist(),
            np.asarray(stream, np.float64).tolist(), geometry)):
        model = next(searched) if geom is not None else None
        if model is not None:
            blocks[k], cycles[k] = model
        else:
            cycles[k] = op_cycles(kind, macs * DEFAULT_ARCH.macs / arch.macs, inb, outb, w)
    plan = replay_buffering(cycles, sram, depths, blocks)
    nxt_first, nxt_ratio = np.zeros(n), np.zeros(n)
    nxt_first[:-1], nxt_ratio[:-1] = plan.first[1:], plan.slack_ratio[1:]
    return np.stack([cycles, plan.double, plan.first, plan.kept, plan.whole, nxt_first,
                     plan.kept + nxt_first, plan.slack_ratio, nxt_ratio], 1).reshape(n, 9)


def sram_peak(schedule: np.ndarray, live: np.ndarray, scratch: np.ndarray) -> float:
    """The analytical SRAM peak of a graph: the largest, over operators, of the activation
    buffers alive (``npu_live_bytes``), the operator's scratch and its weight buffers (the
    whole buffer, or the hand-over to the next operator's first slice if larger).

    It is a lower bound of Vela's figure (no fragmentation, no lookup tables), but it moves as
    Vela's does between accelerator configurations, which is what
    :class:`~edge_predictor.runtime.Predictor` uses it for: on fresh cnn-kws models the ratio
    of the ethos-u55-256 and ethos-u55-128 peaks takes the u55-128 network's SRAM answer to
    Vela's u55-256 figure within 5.3% (19.6% unscaled; ``docs/npu-accelerators.md``).

    Args:
        schedule: float [N, 9] :func:`schedule_columns` (before any log transform).
        live, scratch: float [N] bytes (``npu_memory.npu_live_bytes``, ``npu_scratch_bytes``).

    Returns:
        Bytes (0.0 for an empty graph).
    """
    if len(live) == 0:
        return 0.0
    buffers = np.maximum(schedule[:, SCHEDULE_COLUMNS.index("est_weight_buffer_bytes")],
                         schedule[:, SCHEDULE_COLUMNS.index("est_handover_buffer_bytes")])
    return float(np.max(np.asarray(live) + np.asarray(scratch) + buffers))
