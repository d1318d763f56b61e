"""Vela's SRAM live ranges, replayed: which activation tensors share the NPU's SRAM at once.

The featurizer's ``live_bytes`` counts every activation tensor from its producer to its last
reader in the model file's operator order. Vela (5.2) allocates differently, and on real
architectures the difference is most of the SRAM error (zoo of 47 models, peak of the plain
count vs Vela's ``Total SRAM used``: 43% MAPE; with the three rules below: 12%):

The file-order count (:func:`live_bytes`, the featurizer's ``live_bytes`` columns) is kept
beside Vela's (:func:`npu_live_bytes`); the rules:

* **its own operator order** (:func:`vela_order`): Vela packs passes by a depth-first walk
  *backwards from the graph outputs* (an operator is placed once every reader of its outputs is
  placed, then its inputs are walked in order), and runs them in the reverse of that. An
  unrolled LSTM, whose file computes the 49 input projections first and keeps them all alive,
  runs each projection just before its step (1.3 KiB live instead of 9.7; Vela: 1.1);
* **memory-only operators alias** their input (RESHAPE, SQUEEZE, EXPAND_DIMS: Vela removes
  them, one buffer, not two);
* **elementwise operators write over an input** (Vela's ``live_range.ofm_can_reuse_ifm``): the
  output of an ADD, SUB, MUL, ... shares the buffer of an input of the same shape and type that
  no other operator reads -- a residual add, a squeeze-excitation scale, a hard-swish's
  multiplications cost no second feature map (MobileNetV3 1,568 KiB -> 980; Vela: 983).

Vela also expands an int8 SOFTMAX into ~30 passes over int32 intermediates of the input's shape
(``softmax.py``: the exponentials and their rescaled copy live together);
:func:`npu_scratch_bytes` is that working memory (a 21-class 128x128 segmentation softmax:
~5 MB, where its input and output are 0.7 MB).

Pure numpy; Python 3.7 compatible.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

from .graph import OpGraph
from .weight_stream import BRICK_DEPTH, brick_ratio

__all__ = ["ALIASING_OPS", "IN_PLACE_OPS", "live_bytes", "live_bytes_pair", "vela_order",
           "npu_live_bytes", "npu_scratch_bytes"]

#: operators Vela removes: their output is their input's buffer
ALIASING_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
#: Vela's elementwise operators (``NpuBlockType.ElementWise``), whose output may overwrite an input
IN_PLACE_OPS = ("ABS", "ADD", "EXP", "LEAKY_RELU", "MAXIMUM", "MINIMUM", "MUL", "RSQRT",
                "SQUARED_DIFFERENCE", "SUB")
#: int32 intermediates of an int8 SOFTMAX (bytes per bricked input element): Vela's exponentials
#: and their rescaled copy, alive together
_SOFTMAX_BYTES_PER_ELEMENT = 8.0
#: its one-channel int32 row statistics (max, sum, ...), stored one brick deep
_SOFTMAX_BYTES_PER_ROW = 4.0 * BRICK_DEPTH


def live_bytes(graph: OpGraph, brick: bool = False) -> np.ndarray:
    """float64 [N] bytes of activation tensors alive during each operator, in execution order.

    A non-constant tensor lives from its producer (graph inputs: the first operator) to its last
    reader (graph outputs: the last operator; never-read outputs: their producer only). The
    maximum over operators is the peak arena size an allocator without fragmentation needs.

    Args:
        graph: the operator graph.
        brick: count every rank-4 tensor with its depth rounded up to :data:`BRICK_DEPTH`, as
            the NPU stores feature maps (NHCWB16) -- except graph inputs and outputs, which
            Vela keeps in NHWC for the host.
    """
    return live_bytes_pair(graph)[int(bool(brick))]


def live_bytes_pair(graph: OpGraph) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`live_bytes` without and with bricks, in one walk: two float64 [N]."""
    n = len(graph.ops)
    if n == 0:  # a main subgraph without operators (corrupt or trivial): nothing is alive
        return np.zeros(0), np.zeros(0)
    # Python lists, not numpy: one element at a time is what these walks do
    start = graph.producer().tolist()
    end = [-1] * len(graph.tensors)
    for node in graph.ops:
        for t in node.inputs:
            if t >= 0:
                end[t] = node.index  # ops are in execution order: the last reader wins
    for t in graph.inputs:
        start[t] = 0
    for t in graph.outputs:
        end[t] = n - 1
    host = set(graph.inputs) | set(graph.outputs)
    diff = [0.0] * (n + 1)
    diff_brick = [0.0] * (n + 1)
    for t, info in enumerate(graph.tensors):
        if info.is_constant or start[t] < 0:
            continue
        size = float(info.nbytes)
        bricked = size * brick_ratio(info.shape[-1]) if (
            len(info.shape) == 4 and t not in host) else size
        first, after = start[t], max(end[t], start[t]) + 1
        diff[first] += size
        diff[after] -= size
        diff_brick[first] += bricked
        diff_brick[after] -= bricked
    return np.cumsum(np.array(diff[:n])), np.cumsum(np.array(diff_brick[:n]))


def vela_order(graph: OpGraph) -> List[int]:
    """The order Vela runs the operators in.

    Vela's pass packing walks backwards from the graph outputs: a tensor is entered once all its
    readers are placed, then its producer is placed once all its outputs are entered (outputs
    nobody reads count as entered), and the producer's inputs are walked in their order; the
    execution order is the reverse. Operators unreachable from the outputs keep their file order
    at the end.

    Returns:
        [N] operator indices in execution order (a permutation of ``range(N)``).
    """
    n, t_count = len(graph.ops), len(graph.tensors)
    producer = graph.producer().tolist()
    readers = [0] * t_count
    for node in graph.ops:
        for t in node.inputs:
            if t >= 0:
                readers[t] += 1
    for t in graph.outputs:
        readers[t] += 1
    const = [info.is_constant for info in graph.tensors]
    entered = [0] * t_count
    outputs_entered = [0] * n
    reverse: List[int] = []
    stack = [iter(list(graph.outputs))]  # an explicit stack: deep graphs exceed Python's
    ops = graph.ops
    while stack:
        t = next(stack[-1], None)
        if t is None:
            stack.pop()
            continue
        entered[t] += 1
        k = producer[t]
        if entered[t] != readers[t] or k < 0:
            continue
        node = ops[k]
        outs = [u for u in node.outputs if u >= 0]
        if outputs_entered[k] == 0:
            outputs_entered[k] += len([u for u in outs if readers[u] == 0])
        outputs_entered[k] += 1
        if outputs_entered[k] == len(outs):
            reverse.append(k)
            stack.append(iter([u for u in node.inputs if u >= 0 and not const[u]]))
    order = reverse[::-1]
    placed = set(order)
    return order + [k for k in range(n) if k not in placed]


def _buffers(graph: OpGraph) -> np.ndarray:
    """int64 [T] the buffer each tensor is stored in (a tensor index: aliases and in-place
    outputs share their input's)."""
    t_count = len(graph.tensors)
    readers = graph.consumers()
    root = list(range(t_count))

    def find(t: int) -> int:
        while root[t] != t:
            t = root[t]
        return t

    g_in, g_out = set(graph.inputs), set(graph.outputs)
    host = g_in | g_out
    const = [info.is_constant for info in graph.tensors]
    for node in graph.ops:
        acts = [u for u in node.inputs if u >= 0 and not const[u]]
        outs = [u for u in node.outputs if u >= 0]
        if not acts or len(outs) != 1:
            continue
        out = outs[0]
        if node.op in ALIASING_OPS and not (acts[0] in g_in and out in g_out):
            root[find(out)] = find(acts[0])
        elif node.op in IN_PLACE_OPS:
            o = graph.tensors[out]
            for a in acts:
                info = graph.tensors[a]
                if (tuple(info.shape) == tuple(o.shape) and info.dtype == o.dtype
                        and readers[a] == 1 and a not in host):
                    root[find(out)] = find(a)
                    break
    return np.array([find(t) for t in range(t_count)], dtype=np.int64)


def npu_live_bytes(graph: OpGraph) -> np.ndarray:
    """Bytes of activation buffers alive while each operator runs, as Vela allocates them.

    Vela's order (:func:`vela_order`), one buffer for an aliasing or in-place output and its
    input, rank-4 feature maps one 16-channel brick deep (graph inputs and outputs: as stored).
    The maximum over operators is a lower bound of Vela's SRAM use without weight buffers.

    Returns:
        float64 [N], indexed by operator (not by position in Vela's order).
    """
    n, t_count = len(graph.ops), len(graph.tensors)
    if n == 0:
        return np.zeros(0)
    order = vela_order(graph)
    pos = [0] * n
    for p, k in enumerate(order):
        pos[k] = p
    buf = _buffers(graph).tolist()
    const = [info.is_constant for info in graph.tensors]
    start = [n] * t_count
    end = [-1] * t_count
    for node in graph.ops:
        p = pos[node.index]
        for t in node.outputs:
            if t >= 0:
                b = buf[t]
                if p < start[b]:
                    start[b] = p
                if p > end[b]:
                    end[b] = p
        for t in node.inputs:
            if t >= 0 and not const[t]:
                b = buf[t]
                if p > end[b]:
                    end[b] = p
    for t in graph.inputs:
        start[buf[t]] = 0
    for t in graph.outputs:
        end[buf[t]] = n - 1
    host = set(graph.inputs) | set(graph.outputs)
    size = [0.0] * t_count
    for t, info in enumerate(graph.tensors):
        if info.is_constant:
            continue
        s = float(info.nbytes)
        if len(info.shape) == 4 and t not in host:
            s *= brick_ratio(info.shape[-1])
        size[buf[t]] = max(size[buf[t]], s)
    diff = [0.0] * (n + 1)
    for b in sorted(set(buf)):
        if size[b] > 0 and start[b] < n:
            diff[start[b]] += size[b]
            diff[max(end[b], start[b]) + 1] -= size[b]
    return np.cumsum(np.array(diff[:n]))[np.array(pos, dtype=np.int64)]


def npu_scratch_bytes(graph: OpGraph) -> np.ndarray:
    """Working memory an operator needs beyond its input and output tensors, in bytes.

    Non-zero for an int8/uint8 SOFTMAX (Vela's int32 intermediates): 8 bytes per element of its
    input with the depth in bricks, plus 64 per row (its height x width in NHWC).

    Returns:
        float64 [N].
    """
    out = np.zeros(len(graph.ops))
    for node in graph.ops:
        if node.op != "SOFTMAX" or not node.inputs or node.inputs[0] < 0:
            continue
        info = graph.tensors[node.inputs[0]]
        if info.dtype not in ("INT8", "UINT8") or not info.shape:
            continue
        depth = int(info.shape[-1])
        rows = float(np.prod([max(int(d), 1) for d in info.shape[:-1]]))
        bricked = rows * float(-(-depth // BRICK_DEPTH) * BRICK_DEPTH)
        out[node.index] = _SOFTMAX_BYTES_PER_ELEMENT * bricked + _SOFTMAX_BYTES_PER_ROW * rows
    return out
