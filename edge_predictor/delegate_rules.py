"""Which operators TFLite's default CPU delegate (XNNPACK) refuses for their quantization, so the
interpreter runs them on its own kernels (pure Python).

XNNPACK rescales an int8 ADD or SUB's inputs to its output with a fixed-point multiplier of
limited range, and takes the operator only when each input's scale over the output's lies in
[2^-10, 2^8); a MUL only when the product of its inputs' scales over the output's lies in
[2^-16, 2^8) (the delegate's ``CheckTensorsInputOutputScale`` and
``CheckTensorsInputProductOutputScale``). Outside that range the operator stays with TFLite's
built-in kernel, whose broadcasting int8 path is far slower: a converter that quantizes a layer
norm's all-zero offset at a scale of ~4e-9 makes ``SUB(beta[192], x[1, 196, 192])`` take
270 us on a Xeon where the same operator with an ordinary offset takes 7 us (DeiT-tiny, ViT-tiny
and KWT in the zoo: 30-40x, ``docs/calibration.md``; the vit-cifar100 space's models have
5-25 such operators each too). Nothing in an operator's shapes says so;
its scales do. The host model (:mod:`edge_predictor.host_keys`) keys such an operator apart.

Python 3.7 compatible.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .graph import OpGraph, TensorInfo

__all__ = ["ADD_SCALE_RANGE", "MUL_SCALE_RANGE", "off_delegate", "graph_off_delegate"]

#: the range of input scale / output scale XNNPACK takes for an int8 ADD or SUB
ADD_SCALE_RANGE = (2.0 ** -10, 2.0 ** 8)
#: the range of (input scale x input scale) / output scale it takes for an int8 MUL
MUL_SCALE_RANGE = (2.0 ** -16, 2.0 ** 8)
_QUANTIZED = ("INT8", "UINT8")


_OPS = frozenset(("ADD", "SUB", "MUL"))


def off_delegate(op: str, inputs: Sequence[TensorInfo], output: TensorInfo) -> bool:
    """Whether XNNPACK refuses a quantized ADD, SUB or MUL for its scales (False for anything
    else, for float operators and for tensors whose scales were not read)."""
    if op not in _OPS or len(inputs) != 2:
        return False
    a, b = inputs
    if not (a.dtype == b.dtype == output.dtype and output.dtype in _QUANTIZED):
        return False
    if not (a.scale > 0 and b.scale > 0 and output.scale > 0):
        return False
    if op == "MUL":
        lo, hi = MUL_SCALE_RANGE
        ratios = [a.scale * b.scale / output.scale]
    else:
        lo, hi = ADD_SCALE_RANGE
        ratios = [a.scale / output.scale, b.scale / output.scale]
    return any(not lo <= r < hi for r in ratios)


def graph_off_delegate(graph: OpGraph) -> np.ndarray:
    """bool [N] :func:`off_delegate` of every operator of a graph, in execution order (run for
    every prediction: only quantized binary operators are looked at)."""
    out = np.zeros(len(graph.ops), dtype=bool)
    tensors = graph.tensors
    for k, node in enumerate(graph.ops):
        if node.op not in _OPS or len(node.inputs) != 2 or not node.outputs:
            continue
        i, j, o = node.inputs[0], node.inputs[1], node.outputs[0]
        if min(i, j, o) >= 0 and tensors[o].dtype in _QUANTIZED:
            out[k] = off_delegate(node.op, (tensors[i], tensors[j]), tensors[o])
    return out
