"""Graph -> PerfSAGE input: one function shared by the trainer and the runtime.

Following PerfSAGE §4.1, every operator becomes a node with

* **node features**: its hyperparameters (kernel, strides, dilation, padding, fused activation,
  depth multiplier, axis, MACs, weights...) and its input shapes,
* **edge features**: its output dimensions (the paper puts the output tensor's size on the node),
* a **category** index (for the categorical feature encoding, Eq. 1) and an **op id** (for an
  op-type embedding),

plus a directed adjacency between operators. :data:`FEATURES`
(:mod:`edge_predictor.feature_schema`, re-exported here) documents every column: name, unit and
transform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .feature_schema import FEATURE_NAMES, FEATURE_SCHEMA_VERSION, FEATURES, Feature
from .feature_schema import LOG_TRANSFORMED as _LOG_COLS
from .graph import OpGraph, TensorInfo
from .op_features import HYPER_SLOTS
from .npu_blocks import ACCELERATORS, DEFAULT_ARCH
from .npu_blocks import clear_caches as clear_block_searches
from .npu_cost import cost_kinds, cost_terms, elements_brick, own_cost_kind, part_cycles
from .npu_energy import energy_of
from .npu_memory import live_bytes, live_bytes_pair, npu_live_bytes, npu_scratch_bytes
from .tflite_schema import clear_options_cache
from .delegate_rules import graph_off_delegate
from .npu_schedule import (BLOCK_MODEL_OPS, SCHEDULE_COLUMNS, OpGeometry, clear_block_models,
                           cycle_kind, schedule_columns, sram_peak)
from .op_table import category_index, lookup, op_index
from .weight_stream import (BRICK_DEPTH, BRICK_IFM_DEPTH, SLACK_DOUBLE_BUFFER, brick_ratio,
                            ceil_to_brick, macs_brick, npu_sram_weights, npu_stream_bytes,
                            npu_weight_bytes, npu_weights, weight_slack)

__all__ = ["FEATURE_SCHEMA_VERSION", "FEATURES", "FEATURE_NAMES", "Feature", "GraphFeatures",
           "featurize", "clear_cache", "raw_columns", "dims4", "live_bytes", "brick_ratio",
           "macs_brick", "BRICK_DEPTH", "BRICK_IFM_DEPTH", "npu_weight_bytes", "weight_slack",
           "SLACK_DOUBLE_BUFFER"]

_WEIGHT_COL = FEATURE_NAMES.index("weight_bytes")
_NEXT_WEIGHT_COL = FEATURE_NAMES.index("next_weight_bytes")
_NPU_WEIGHT_COL = FEATURE_NAMES.index("npu_weight_bytes")
_NEXT_NPU_WEIGHT_COL = FEATURE_NAMES.index("next_npu_weight_bytes")
_MACS_BRICK_COL = FEATURE_NAMES.index("macs_brick")
_SRAM_WEIGHT_COL = FEATURE_NAMES.index("sram_weight_bytes")
_NEXT_SRAM_WEIGHT_COL = FEATURE_NAMES.index("next_sram_weight_bytes")
_SLACK_COLS = [FEATURE_NAMES.index(n) for n in (
    "prev_macs_brick", "weight_slack", "double_buffer_hint", "next_weight_slack",
    "next_double_buffer_hint")]
_SCHEDULE_COLS = [FEATURE_NAMES.index(n) for n in SCHEDULE_COLUMNS]
_CYCLE_INPUTS = [FEATURE_NAMES.index(n) for n in ("macs_brick", "in_bytes", "out_bytes")]
_OUT_C_COL = FEATURE_NAMES.index("out_c")
_COST_INPUTS = [FEATURE_NAMES.index(n) for n in ("est_cycles", "macs_brick", "npu_weight_bytes")]
_COST_COL = FEATURE_NAMES.index("npu_cost_cycles")
_MEMORY_COLS = [FEATURE_NAMES.index(n) for n in ("npu_live_bytes", "npu_scratch_bytes")]
_ENERGY_COL = FEATURE_NAMES.index("npu_energy_pj")
_FLOAT = ("FLOAT32", "FLOAT16", "BFLOAT16", "FLOAT64")
_INT32 = ("INT32", "INT64", "BOOL", "UINT32", "UINT64")


@dataclass
class GraphFeatures:
    """Featurized graph.

    Attributes:
        x: float32 [N, F] node features (F = len(FEATURES)), transforms applied.
        categories: int32 [N] index into ``op_table.CATEGORIES``.
        op_ids: int32 [N] index into ``op_table.OP_VOCAB``.
        edges: int32 [E, 2] unique directed (producer, consumer) operator pairs.
        unknown_ops: operator names outside the op table (category OTHER).
        schema_version: :data:`FEATURE_SCHEMA_VERSION` at featurization time.
        npu_parts: float64 [N, P] the analytical NPU cycles of each operator in each of
            :data:`edge_predictor.npu_cost.PARTS` (compute, SRAM, flash), whose max is the
            ``npu_cost_cycles`` column; None when not kept (features read back from a cache).
        sram_peaks: accelerator -> the analytical SRAM peak in bytes
            (:func:`npu_schedule.sram_peak`): the featurized configuration's and those asked
            for with ``also``; None when not kept.
        alt: the same graph featurized for another accelerator, when a bundle answers some
            metric from it (:class:`edge_predictor.accelerator.AcceleratorView`); else None.
        off_delegate: bool [N] the quantized ADD, SUB and MUL operators a CPU's default
            delegate refuses for their scales (:mod:`edge_predictor.delegate_rules`; the host
            model keys them apart); None when not kept.
    """

    x: np.ndarray
    categories: np.ndarray
    op_ids: np.ndarray
    edges: np.ndarray
    unknown_ops: Tuple[str, ...] = ()
    schema_version: int = FEATURE_SCHEMA_VERSION
    npu_parts: Optional[np.ndarray] = None
    sram_peaks: Optional[Dict[str, float]] = None
    alt: Optional["GraphFeatures"] = None
    off_delegate: Optional[np.ndarray] = None

    @property
    def n_nodes(self) -> int:
        """N, the number of operators."""
        return int(self.x.shape[0])

    def adjacency(self, n_pad: Optional[int] = None, symmetric: bool = True) -> np.ndarray:
        """Dense 0/1 adjacency.

        Args:
            n_pad: pad to this many nodes (>= N); default N.
            symmetric: True for predecessors and successors (A + A^T, clipped to 1), False for
                ``A[i, j] = 1`` when operator i feeds operator j.

        Returns:
            float32 array of shape [n_pad, n_pad].
        """
        n = self.n_nodes if n_pad is None else int(n_pad)
        a = np.zeros((n, n), dtype=np.float32)
        if len(self.edges):
            a[self.edges[:, 0], self.edges[:, 1]] = 1.0
            if symmetric:
                a[self.edges[:, 1], self.edges[:, 0]] = 1.0
        return a


def raw_columns(feats: GraphFeatures, names: Sequence[str]) -> List[np.ndarray]:
    """Columns of ``feats.x`` by name with their transform undone: float64 [N] each."""
    out = []
    for name in names:
        col = feats.x[:, FEATURE_NAMES.index(name)].astype(np.float64)
        out.append(np.expm1(col) if _LOG_COLS[FEATURE_NAMES.index(name)] else col)
    return out


def dims4(shape: Sequence[int]) -> Tuple[int, int, int, int]:
    """Right-align a shape into (N, H, W, C): missing leading dims are 1, extra ones fold into N."""
    s = [int(d) for d in shape]
    if len(s) > 4:
        lead = 1
        for d in s[:-3]:
            lead *= d
        s = [lead] + s[-3:]
    s = [1] * (4 - len(s)) + s
    return s[0], s[1], s[2], s[3]


def _dtype_flags(dtype: str) -> List[float]:
    return [float(dtype in ("INT8", "UINT8")), float(dtype == "INT16"), float(dtype in _FLOAT),
            float(dtype in _INT32)]


class _Local(NamedTuple):
    """What one operator contributes that depends on nothing but itself: its options and its
    tensors' shapes, types and constness (:func:`_signature`)."""

    row: np.ndarray  # float64 [F] the feature row; _CONTEXT_COLS and the rest filled per graph
    category: int
    op_id: int
    known: bool
    kind: str  # npu_schedule.cycle_kind
    stream: float  # weight bytes streamed into SRAM or, FULLY_CONNECTED, from flash
    geometry: Optional[OpGeometry]
    own_kind: str  # npu_cost.own_cost_kind


_CONTEXT_COLS = [FEATURE_NAMES.index(n) for n in (
    "fanout", "is_graph_output", "live_bytes", "live_bytes_brick")]
#: operators seen, by :func:`_signature`: a model's repeated blocks and a search space's
#: candidates share most of theirs. Cleared when it reaches _CACHE_LIMIT entries (~1.5 KB each).
_CACHE: Dict[Tuple[Any, ...], _Local] = {}
_CACHE_LIMIT = 4096


def clear_cache() -> None:
    """Forget the operators featurized so far, the memoised block searches and the reader's
    decoded options (benches time a model as the process sees it for the first time)."""
    _CACHE.clear()
    clear_options_cache()
    elements_brick.cache_clear()
    clear_block_models()
    clear_block_searches()


def _tensor_keys(tensors: Sequence[TensorInfo]) -> List[Tuple[Any, ...]]:
    """Per tensor, what an operator's local features see of it; the last entry, None, stands
    for an omitted optional tensor (index -1)."""
    keys: List[Any] = [(info.shape, info.dtype, info.is_constant, info.quantized,
                        info.per_channel) for info in tensors]
    keys.append(None)
    return keys


def _signature(keys: Sequence[Any], node) -> Tuple[Any, ...]:
    """Everything an operator's local features are a function of (``keys``:
    :func:`_tensor_keys` of its graph)."""
    return (node.op, tuple(node.options.items()), tuple([keys[t] for t in node.inputs]),
            tuple([keys[t] for t in node.outputs]))


def _local(graph: OpGraph, node) -> _Local:
    tensors = graph.tensors
    spec, known = lookup(node.op)
    hyper = spec.extractor(graph, node)
    row = [float(hyper.get(slot) or 0.0) for slot in HYPER_SLOTS]
    acts: List[TensorInfo] = []
    consts: List[TensorInfo] = []
    for t in node.inputs:
        if t >= 0:
            (consts if tensors[t].is_constant else acts).append(tensors[t])
    outs = [tensors[t] for t in node.outputs if t >= 0]
    second = acts[1] if len(acts) > 1 else (consts[0] if consts else None)
    out_shape = outs[0].shape if outs else ()
    in0 = dims4(acts[0].shape if acts else ())
    out4 = dims4(out_shape)
    row += in0
    row += dims4(second.shape) if second is not None else (0, 0, 0, 0)
    row += [len(acts), len(consts), sum(t.nbytes for t in acts),
            sum(t.elements for t in consts), sum(t.nbytes for t in consts),
            float(any(t.per_channel for t in consts))]
    row += _dtype_flags(outs[0].dtype if outs else "")
    row += out4
    row += [len(out_shape), sum(t.elements for t in outs), sum(t.nbytes for t in outs),
            len(outs), 0.0, 0.0, 0.0]  # fanout, is_graph_output, live_bytes: per graph
    out_c = out4[3] if outs else 0
    row += [ceil_to_brick(in0[3]), ceil_to_brick(out_c), macs_brick(hyper, in0[3], out_c),
            0.0, 0.0,  # live_bytes_brick: per graph; next_weight_bytes: filled per graph
            npu_weights(node.op, consts), 0.0]  # next_npu_weight_bytes: per graph
    row += [0.0] * len(_SLACK_COLS)  # the slack columns: per graph
    # weights streamed into SRAM or, FULLY_CONNECTED, from flash: encoded if a filter
    stream = npu_stream_bytes(node.op, consts, row[_NPU_WEIGHT_COL])
    row += [npu_sram_weights(node.op, consts, stream, acts[0].shape if acts else None), 0.0]
    row += [0.0] * len(_SCHEDULE_COLS)  # the replayed schedule: per graph
    row += [0.0] * 4  # npu_cost_cycles, npu_live/scratch_bytes, npu_energy_pj: per graph
    kind = cycle_kind(node.op)
    geometry = None
    if (node.op in BLOCK_MODEL_OPS and outs and row[_SRAM_WEIGHT_COL] > 0
            and (hyper.get("groups") or 1) <= 1):
        # buffered in SRAM: Vela's block estimate (the rest, and grouped convolutions, whose
        # blocks are one group deep in Vela: weight-bound op_cycles)
        geometry = OpGeometry.of(kind, hyper, in0, out4)
    return _Local(np.array(row, dtype=np.float64), category_index(spec.category),
                  op_index(node.op), known, kind, stream, geometry, own_cost_kind(graph, node))


def featurize(graph: OpGraph, accelerator: str = DEFAULT_ARCH.name,
              also: Sequence[str] = ()) -> GraphFeatures:
    """Turn an operator graph into PerfSAGE's input.

    An operator's own columns are computed once per distinct operator (its options and its
    tensors' shapes, types and constness) and kept in a process-wide cache (:func:`clear_cache`);
    the columns that depend on its neighbours are computed for every graph.

    Args:
        graph: from :func:`edge_predictor.tflite_reader.read_model`.
        accelerator: the Ethos-U configuration (:data:`npu_blocks.ACCELERATORS`) whose OFM
            blocks, compute cycles and weight buffering the replayed-schedule columns
            (:data:`npu_schedule.SCHEDULE_COLUMNS`) describe; ``npu_cost_cycles`` takes a
            buffered convolution's cycles from them. Every other column is the same for every
            configuration. The bundles were trained on the default.
        also: more configurations whose analytical SRAM peak to replay (``sram_peaks``).

    Returns:
        The :class:`GraphFeatures` (N nodes, F features, E unique operator edges). Operators
        outside the op table are listed in ``unknown_ops`` and a warning is added to the graph.

    Raises:
        ValueError: an accelerator outside :data:`npu_blocks.ACCELERATORS`.
    """
    for name in (accelerator,) + tuple(also):
        if name not in ACCELERATORS:
            raise ValueError("no block model for accelerator {!r} (known: {})".format(
                name, ", ".join(sorted(ACCELERATORS))))
    arch = ACCELERATORS[accelerator]
    tensors = graph.tensors
    edges3 = graph.edges()
    fanout = np.zeros(len(tensors), dtype=np.int64)
    if len(edges3):
        np.add.at(fanout, edges3[:, 2], 1)
    fanout_of = fanout.tolist()
    graph_outputs = set(graph.outputs)
    n = len(graph.ops)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    locals_ = []
    fans: List[int] = []
    is_outputs: List[float] = []
    context = np.zeros((n, len(_CONTEXT_COLS)))
    unknown: List[str] = []
    keys = _tensor_keys(tensors)
    for node in graph.ops:
        key = _signature(keys, node)
        try:
            local = _CACHE.get(key)
        except TypeError:  # an option value that cannot be hashed (a hand-built graph's list)
            key, local = None, None
        if local is None:
            local = _local(graph, node)
            if key is not None:
                _CACHE[key] = local
        if not local.known and node.op not in unknown:
            unknown.append(node.op)
        locals_.append(local)
        fan, is_output = 0, 0.0
        for t in node.outputs:
            if t >= 0:
                fan += fanout_of[t]
                if t in graph_outputs:
                    is_output = 1.0
        fans.append(fan)
        is_outputs.append(is_output)
    context[:, 0], context[:, 1] = fans, is_outputs
    context[:, 2], context[:, 3] = live_bytes_pair(graph)
    cats = np.array([loc.category for loc in locals_], dtype=np.int32)
    ids = np.array([loc.op_id for loc in locals_], dtype=np.int32)
    kinds = [loc.kind for loc in locals_]
    stream = np.array([loc.stream for loc in locals_], dtype=np.float64)
    geometry = [loc.geometry for loc in locals_]
    table = [loc.row for loc in locals_]
    rows = np.stack(table) if table else np.zeros((0, len(FEATURES)))
    rows[:, _CONTEXT_COLS] = context
    rows[:-1, _NEXT_WEIGHT_COL] = rows[1:, _WEIGHT_COL]  # ops are in execution order
    rows[:-1, _NEXT_NPU_WEIGHT_COL] = rows[1:, _NPU_WEIGHT_COL]
    prev_macs = np.zeros(n)
    prev_macs[1:] = rows[:-1, _MACS_BRICK_COL]
    slack, double = weight_slack(prev_macs, rows[:, _NPU_WEIGHT_COL])
    nxt_slack, nxt_double = np.zeros(n), np.zeros(n)
    nxt_slack[:-1], nxt_double[:-1] = slack[1:], double[1:]
    rows[:, _SLACK_COLS] = np.stack([prev_macs, slack, double, nxt_slack, nxt_double], 1)
    rows[:-1, _NEXT_SRAM_WEIGHT_COL] = rows[1:, _SRAM_WEIGHT_COL]
    replay = (kinds, rows[:, _CYCLE_INPUTS], stream, rows[:, _SRAM_WEIGHT_COL],
              rows[:, _OUT_C_COL], geometry)
    rows[:, _SCHEDULE_COLS] = schedule = schedule_columns(*replay, arch)
    terms = cost_terms(graph, *rows[:, _COST_INPUTS].T)
    kinds = cost_kinds(graph, [loc.own_kind for loc in locals_])
    parts = part_cycles([node.op for node in graph.ops], kinds, terms, arch=arch)
    rows[:, _COST_COL] = parts.max(1)
    live, scratch = npu_live_bytes(graph), npu_scratch_bytes(graph)
    rows[:, _MEMORY_COLS] = np.stack([live, scratch], 1)
    peaks = {accelerator: sram_peak(schedule, live, scratch)}
    for name in also:
        if name not in peaks:
            peaks[name] = sram_peak(schedule_columns(*replay, ACCELERATORS[name]), live, scratch)
    rows[:, _ENERGY_COL] = energy_of([node.op for node in graph.ops], kinds, terms)
    rows[:, _LOG_COLS] = np.log1p(np.maximum(rows[:, _LOG_COLS], 0.0))
    pairs = np.unique(edges3[:, :2], axis=0).astype(np.int32) if len(edges3) else \
        np.zeros((0, 2), dtype=np.int32)
    note = "operators outside the op table (category OTHER): " + ", ".join(unknown)
    if unknown and note not in graph.warnings:  # once, however often the graph is featurized
        graph.warnings.append(note)
    return GraphFeatures(x=rows.astype(np.float32), categories=cats, op_ids=ids, edges=pairs,
                         unknown_ops=tuple(unknown), npu_parts=parts, sram_peaks=peaks,
                         off_delegate=graph_off_delegate(graph))

