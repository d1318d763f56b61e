"""An analytical per-operator cost model of the Ethos-U NPU: cycles for every TFLite operator.

The featurizer's ``est_cycles`` column models what Vela's scheduler needs (convolutions in Vela's
OFM blocks, :mod:`edge_predictor.npu_blocks`); everything else there is one bytes-per-cycle
guess, so a ViT's BATCH_MATMUL and SOFTMAX come out 30-100x too cheap and the RESHAPEs Vela
removes cost as much as a copy. This module gives every operator a cost of its own *kind*:

* :func:`cost_kind`: the operator's kind -- its TFLite type, with ``"/fused"`` for an activation
  Vela runs inside the pass that produces its input (a LOGISTIC after a single-consumer
  convolution), ``"/broadcast"`` for an elementwise operator with a broadcast operand
  (``"/scalar"`` when it is a single value, ``"/constant"`` a constant vector: an unfolded
  batch normalisation),
  ``"/grouped"`` for a grouped convolution, ``"/patch"`` for a convolution of stride above 3,
  ``"/cpu"`` for one Vela leaves to the CPU (not in
  the NPU's time);
* :func:`cost_terms`: per operator, the physical quantities its cycles scale with (float64
  [N, K], :data:`TERMS`): a constant, the block model's cycles, MACs in bricks, output and input
  elements in 16-channel bricks, weight-stream bytes;
* :func:`npu_cycles`: Vela's own structure, an operator's cycles are the largest of the NPU's
  compute cycles and the access cycles of each memory (:data:`PARTS`: compute, SRAM, flash),
  each ``terms @ coefficients[kind][part]`` with the coefficients of
  :data:`edge_predictor.npu_cost_table.COEFFICIENTS` -- non-negative, fitted per kind and part on
  operator-level labels (Vela's per-layer report, ``trainer/npu_cost_fit.py``), with the
  operator's type, then its category, as the fallback for a kind seen too rarely. The sum over
  operators divided by the NPU clock is a latency prediction on its own (:func:`npu_latency_ms`).

The per-kind errors against Vela, on every space and on the zoo of real architectures, are in
``benches/results/npu_cost.md``. Pure numpy; Python 3.7 compatible.
"""

from __future__ import annotations

import functools
from typing import List, Mapping, Optional, Sequence

import numpy as np

from .graph import OpGraph
from .npu_blocks import DEFAULT_ARCH, Arch
from .op_table import lookup
from .weight_stream import brick_ratio

__all__ = ["TERMS", "PARTS", "NPU_CLOCK_HZ", "FUSABLE_ACTIVATIONS", "FUSING_PRODUCERS", "CPU_ONLY",
           "BROADCASTING", "own_cost_kind", "cost_kind", "cost_kinds", "cost_terms",
           "elements_brick", "coefficients", "apply_table", "compute_scale",
           "part_cycles", "cycles_of", "table_digest", "npu_cycles", "npu_latency_ms"]

#: the columns of :func:`cost_terms`, in order
TERMS = ("const", "block_cycles", "macs_brick", "out_elements_brick", "in_elements_brick",
         "weight_stream_bytes")
#: what an operator's cycles are the max of: Vela's per-layer ``NPU``, ``SRAM AC``, ``OffFlash AC``
PARTS = ("npu", "sram_ac", "offflash_ac")
#: Vela's default ethos-u55-128 system config (``Ethos_U55_High_End_Embedded``) clocks at 500 MHz
NPU_CLOCK_HZ = 500e6

#: activations Vela runs as the output stage of the pass that produces their input
FUSABLE_ACTIVATIONS = ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH",
                       "HARD_SWISH", "LEAKY_RELU", "GELU", "RSQRT", "QUANTIZE")
#: operators whose pass can take such an activation
FUSING_PRODUCERS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "ADD",
                    "SUB", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D", "BATCH_MATMUL", "MEAN",
                    "CONCATENATION")
#: operators Vela 5.2 never maps to the NPU (a model's other float or int32 operators too)
CPU_ONLY = ("CUSTOM", "DEQUANTIZE", "CAST", "ARG_MIN", "WHERE", "NON_MAX_SUPPRESSION_V4",
            "NON_MAX_SUPPRESSION_V5", "TOPK_V2", "GATHER_ND", "SCATTER_ND", "WHILE", "IF",
            "CALL_ONCE", "LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM",
            "UNIDIRECTIONAL_SEQUENCE_RNN", "RANDOM_UNIFORM", "MULTINOMIAL")
_INT_DTYPES = ("INT8", "UINT8", "INT16")
#: elementwise operators Vela costs differently when one operand is broadcast (SE scaling)
BROADCASTING = ("ADD", "SUB", "MUL", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM")


def _npu_rejects(graph: OpGraph, node) -> bool:
    """Vela's operator checks that send the common operators to the CPU (Vela 5.2, checked on
    the zoo): a stride above 3 with SAME padding (with VALID padding, as in a ViT's patch
    embedding, Vela rewrites it; a stride along an output dimension of size 1 is free), a
    dilated kernel taller than 64, transposed convolutions of stride other than 1 or 2."""
    opt = node.options
    outs = [graph.tensors[t].shape for t in node.outputs if t >= 0]
    if node.op not in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV") or not outs:
        return False
    ofm = outs[0] if len(outs[0]) == 4 else (1, 1, 1, 1)
    sh, sw = int(opt.get("stride_h") or 1), int(opt.get("stride_w") or 1)
    if node.op == "TRANSPOSE_CONV":
        return sh not in (1, 2) or sw not in (1, 2)
    same = int(opt.get("padding") or 0) == 0  # TFLite Padding: SAME 0, VALID 1
    if same and ((sh > 3 and ofm[1] > 1) or (sw > 3 and ofm[2] > 1)):
        return True
    weights = [graph.tensors[t].shape for t in node.inputs[1:2] if t >= 0]
    if weights and len(weights[0]) == 4:
        kh = int(weights[0][1])
        dh = int(opt.get("dilation_h_factor") or 1)
        return (kh - 1) * dh + 1 > 64
    return False


def own_cost_kind(graph: OpGraph, node) -> str:
    """The cost kind an operator has by itself: :func:`cost_kind` before a fusable activation
    looks at its producer (a function of the operator's options and tensors only)."""
    outs = [graph.tensors[t] for t in node.outputs if t >= 0]
    base = node.op.split(":")[0]
    if base in CPU_ONLY or (outs and outs[0].dtype not in _INT_DTYPES
                            and base not in ("RESHAPE", "SHAPE")) or _npu_rejects(graph, node):
        return base + "/cpu"
    if base in BROADCASTING:
        acts = [graph.tensors[t] for t in node.inputs if t >= 0]
        if len(acts) > 1 and len({a.elements for a in acts}) > 1 and any(
                a.is_constant and a.elements > 1 for a in acts):
            return base + "/constant"  # a constant vector Vela streams from flash per block
        if len(acts) > 1 and len({a.elements for a in acts}) > 1:
            # one operand a single value (a scale, LayerNorm's epsilon), or a tensor broadcast
            # over the other's spatial dimensions (squeeze-and-excitation): Vela's costs differ
            return base + ("/scalar" if min(a.elements for a in acts) == 1 else "/broadcast")
    if base in ("CONV_2D", "DEPTHWISE_CONV_2D") and max(
            int(node.options.get("stride_h") or 1), int(node.options.get("stride_w") or 1)) > 3:
        return base + "/patch"  # a stride above 3 (VALID: a patch embedding), rewritten by Vela
    if base == "CONV_2D":
        weights = [graph.tensors[t] for t in node.inputs[1:2] if t >= 0]
        acts = [graph.tensors[t] for t in node.inputs[:1] if t >= 0]
        if weights and acts and len(weights[0].shape) == 4 and acts[0].shape and \
                weights[0].shape[3] != acts[0].shape[-1]:
            return base + "/grouped"  # Vela runs one convolution per group
    return base


def cost_kind(graph: OpGraph, k: int, producer: Optional[np.ndarray] = None,
              consumers: Optional[Sequence[int]] = None, own: Optional[str] = None) -> str:
    """The cost kind of operator ``k``: its type, ``"<type>/fused"`` or ``"<type>/cpu"``.

    ``own``: its :func:`own_cost_kind`, when already known."""
    node = graph.ops[k]
    kind = own_cost_kind(graph, node) if own is None else own
    if kind in FUSABLE_ACTIVATIONS:  # the bare type: no other kind was found
        producer = graph.producer() if producer is None else producer
        consumers = graph.consumers() if consumers is None else consumers
        acts = [t for t in node.inputs if t >= 0 and not graph.tensors[t].is_constant]
        if acts and producer[acts[0]] >= 0 and consumers[acts[0]] == 1:
            if graph.ops[int(producer[acts[0]])].op in FUSING_PRODUCERS:
                return kind + "/fused"
    return kind


def cost_kinds(graph: OpGraph, own: Optional[Sequence[str]] = None) -> List[str]:
    """:func:`cost_kind` of every operator, in execution order (``own``: their
    :func:`own_cost_kind`, when already known)."""
    producer, consumers = graph.producer(), graph.consumers()
    own = [None] * len(graph.ops) if own is None else own
    return [cost_kind(graph, k, producer, consumers, own[k]) for k in range(len(graph.ops))]


@functools.lru_cache(maxsize=8192)
def elements_brick(shape: Sequence[int]) -> float:
    """Elements of a tensor of ``shape`` (a tuple) with its last dimension in 16-channel bricks
    (memoised)."""
    n = 1.0
    for d in shape:
        n *= max(int(d), 1)
    return n * (brick_ratio(shape[-1]) if len(shape) else 1.0)


def cost_terms(graph: OpGraph, est_cycles: np.ndarray, macs_brick: np.ndarray,
               weight_bytes: np.ndarray) -> np.ndarray:
    """The physical quantities each operator's cycles scale with.

    Args:
        graph: the operator graph (N operators).
        est_cycles: float [N] the featurizer's ``est_cycles`` (Vela's block model for
            convolutions, :func:`edge_predictor.npu_schedule.schedule_columns`).
        macs_brick: float [N] MACs in NPU bricks (``featurize.macs_brick``).
        weight_bytes: float [N] the weight stream (``npu_weight_bytes``).

    Returns:
        float64 [N, K], K = len(:data:`TERMS`): 1, ``est_cycles``, ``macs_brick``, output
        elements and activation input elements with the channel depth rounded up to 16
        (NHCWB16), the weight stream bytes.
    """
    n = len(graph.ops)
    # per tensor, once: its bricked elements, 0 for a constant (no activation input)
    brick = [elements_brick(info.shape) for info in graph.tensors]
    act = [0.0 if info.is_constant else b for info, b in zip(graph.tensors, brick)]
    out_el = np.array([sum([brick[t] for t in node.outputs if t >= 0]) for node in graph.ops],
                      np.float64)
    in_el = np.array([sum([act[t] for t in node.inputs if t >= 0]) for node in graph.ops],
                     np.float64)
    return np.stack([np.ones(n), np.asarray(est_cycles, np.float64),
                     np.asarray(macs_brick, np.float64), out_el, in_el,
                     np.asarray(weight_bytes, np.float64)], 1).reshape(n, len(TERMS))


_ZERO = ((0.0,) * len(TERMS),) * len(PARTS)


def coefficients(kind: str, op: str, table: Mapping[str, Sequence[Sequence[float]]]
                 ) -> np.ndarray:
    """float64 [P, K] a kind's coefficients (P parts, K terms); else its operator type's; else
    its category's; zero for an operator on the CPU or of a category never fitted."""
    if kind in table:
        return np.asarray(table[kind], np.float64)
    if kind.endswith("/cpu"):
        return np.asarray(_ZERO)
    base = kind.split("/")[0]
    if base in table:
        return np.asarray(table[base], np.float64)
    return np.asarray(table.get("category:" + lookup(op)[0].category, _ZERO), np.float64)


def apply_table(graph: OpGraph, terms: np.ndarray, kinds: Optional[Sequence[str]] = None,
                table: Optional[Mapping[str, Sequence[float]]] = None) -> np.ndarray:
    """Analytical NPU cycles of every operator from its :func:`cost_terms`.

    Args:
        graph: the operator graph.
        terms: float64 [N, K] :func:`cost_terms`.
        kinds: [N] :func:`cost_kinds` (computed if None).
        table: kind -> [P][K] coefficients, P = len(:data:`PARTS`), K = len(:data:`TERMS`)
            (default: the fitted table).

    Returns:
        float64 [N], >= 0: the max over parts; 0 for operators Vela leaves to the CPU.
    """
    kinds = cost_kinds(graph) if kinds is None else kinds
    return cycles_of([node.op for node in graph.ops], kinds, terms, table)


def compute_scale(arch: Optional[Arch] = None) -> np.ndarray:
    """float64 [K]: how each of :data:`TERMS` weighs in the compute part on ``arch`` against the
    ethos-u55-128 the table was fitted on: MACs by the MAC ratio, input and output elements by
    the ratio of elementwise units (Vela's tables); the block model's cycles are the
    accelerator's already, the constant and the weight stream do not change."""
    if arch is None or arch == DEFAULT_ARCH:
        return np.ones(len(TERMS))
    mac = max(DEFAULT_ARCH.macs / arch.macs, 1.0)
    elem = DEFAULT_ARCH.elem_units / arch.elem_units
    return np.array([1.0, 1.0, mac, elem, elem, 1.0])


def part_cycles(ops: Sequence[str], kinds: Sequence[str], terms: np.ndarray,
                table: Optional[Mapping[str, Sequence[Sequence[float]]]] = None,
                arch: Optional[Arch] = None) -> np.ndarray:
    """float64 [N, P] each operator's cycles in each of :data:`PARTS` (compute, SRAM access,
    off-chip flash access), >= 0: the part with the most cycles binds the operator. On another
    accelerator than the table's (``arch``) the compute part's terms are scaled by
    :func:`compute_scale`; the memory parts stay (the same memory system)."""
    if table is None:
        from .npu_cost_table import COEFFICIENTS as table
    if not len(kinds):
        return np.zeros((0, len(PARTS)))
    memo: dict = {}  # a graph repeats few (kind, type) pairs
    coefs = np.stack([memo[key] if key in memo else memo.setdefault(
        key, coefficients(key[0], key[1], table)) for key in zip(kinds, ops)])
    if arch is not None and arch != DEFAULT_ARCH:
        coefs = coefs.copy()
        coefs[:, PARTS.index("npu"), :] *= compute_scale(arch)
    return np.maximum(np.einsum("npk,nk->np", coefs, np.asarray(terms, np.float64)), 0.0)


def cycles_of(ops: Sequence[str], kinds: Sequence[str], terms: np.ndarray,
              table: Optional[Mapping[str, Sequence[Sequence[float]]]] = None) -> np.ndarray:
    """float64 [N] cycles from [N] operator types, their cost kinds and terms [N, K]: per
    operator, the max over :data:`PARTS` of ``terms @ coefficients`` (:func:`apply_table`
    without a graph, for operator tables kept apart from their graphs)."""
    if not len(kinds):
        return np.zeros(0)
    return part_cycles(ops, kinds, terms, table).max(1)


def npu_cycles(graph: OpGraph, table: Optional[Mapping[str, Sequence[float]]] = None
               ) -> np.ndarray:
    """float64 [N] analytical NPU cycles of every operator of ``graph`` (featurized here)."""
    from .featurize import featurize, raw_columns

    cols = raw_columns(featurize(graph), ("est_cycles", "macs_brick", "npu_weight_bytes"))
    return apply_table(graph, cost_terms(graph, *cols), table=table)


def table_digest(table: Optional[Mapping[str, Sequence[Sequence[float]]]] = None) -> str:
    """sha256 of a coefficient table (default: the fitted one), as bundles record it: a bundle
    trained on the ``npu_cost_cycles`` of one table cannot be fed another's."""
    import hashlib
    import json

    if table is None:
        from .npu_cost_table import COEFFICIENTS as table
    text = json.dumps({k: [list(map(float, r)) for r in v] for k, v in table.items()},
                      sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def npu_latency_ms(graph: OpGraph, table: Optional[Mapping[str, Sequence[float]]] = None
                   ) -> float:
    """The analytical model's latency: summed cycles over the NPU clock, in milliseconds."""
    return float(npu_cycles(graph, table).sum() / NPU_CLOCK_HZ * 1e3)
