"""The operator graph: what a ``.tflite`` file becomes before it is featurized.

Nodes are operators in execution order; activation tensors are directed edges from the operator
that produces them to every operator that consumes them; constant tensors (weights, biases, shape
operands) are attached to the operator that reads them and never become nodes. The reader
(:mod:`edge_predictor.tflite_reader`) builds it; everything downstream (op features, the
featurizer, ``inspect``) only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["TensorInfo", "OpNode", "SubgraphInfo", "OpGraph", "DTYPE_BITS", "graph_to_record",
           "graph_from_record"]

#: Bits per element of each TFLite ``TensorType`` name (0: not a numeric tensor).
DTYPE_BITS = {
    "FLOAT32": 32, "FLOAT16": 16, "INT32": 32, "UINT8": 8, "INT64": 64, "STRING": 0,
    "BOOL": 8, "INT16": 16, "COMPLEX64": 64, "INT8": 8, "FLOAT64": 64, "COMPLEX128": 128,
    "UINT64": 64, "RESOURCE": 0, "VARIANT": 0, "UINT32": 32, "UINT16": 16, "INT4": 4,
    "BFLOAT16": 16,
}


@dataclass
class TensorInfo:
    """One tensor of the main subgraph.

    Attributes:
        index: position in the subgraph's tensor table.
        shape: concrete shape; a -1 (dynamic batch) is read as 1.
        dtype: TFLite ``TensorType`` name, e.g. ``"INT8"``.
        is_constant: True when the tensor has data in the model (weights, biases, shapes).
        quantized: True when it carries quantization scales.
        per_channel: True when it has more than one scale (per-channel quantization).
        name: tensor name (may be empty).
        scale: its (first) quantization scale; 0.0 when it has none or was not read (graphs
            rebuilt from records).
    """

    index: int
    shape: Tuple[int, ...]
    dtype: str
    is_constant: bool
    quantized: bool
    per_channel: bool
    name: str = ""
    scale: float = 0.0

    def __post_init__(self):
        # computed once: the featurizer asks for them several times per operator
        n = 1
        for d in self.shape:
            n *= d
        self._elements = n
        self._nbytes = (n * DTYPE_BITS.get(self.dtype, 0) + 7) // 8

    @property
    def elements(self) -> int:
        """Number of elements (1 for a scalar)."""
        return self._elements

    @property
    def nbytes(self) -> int:
        """Storage size in bytes, rounded up for sub-byte types."""
        return self._nbytes


@dataclass
class OpNode:
    """One operator of the main subgraph, in execution order.

    Attributes:
        index: execution position (0-based).
        op: builtin name such as ``"CONV_2D"``, ``"CUSTOM:<code>"`` for custom operators, or
            ``"BUILTIN_<n>"`` for a builtin code this reader's schema does not know.
        builtin_code: the resolved builtin code (32 for custom operators).
        version: the operator version recorded in the model.
        inputs: tensor indices of all inputs, ``-1`` for an omitted optional input.
        outputs: tensor indices of the outputs.
        options: builtin options as ``snake_case`` name -> value (ints, floats, bools, tuples).
    """

    index: int
    op: str
    builtin_code: int
    version: int
    inputs: Tuple[int, ...]
    outputs: Tuple[int, ...]
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class SubgraphInfo:
    """A subgraph other than the main one (a WHILE/IF body, a CALL target)."""

    index: int
    name: str
    operators: int
    tensors: int


@dataclass
class OpGraph:
    """Operator graph of a model's main subgraph.

    Attributes:
        path: where the model came from (``"<bytes>"`` for in-memory models).
        ops: operators in execution order, length N.
        tensors: the main subgraph's tensors, length T.
        inputs: tensor indices of the graph inputs.
        outputs: tensor indices of the graph outputs.
        subgraphs: the other subgraphs (counted and reported, not featurized).
        warnings: non-fatal findings, e.g. operators outside the op table.
    """

    path: str
    ops: List[OpNode]
    tensors: List[TensorInfo]
    inputs: Tuple[int, ...]
    outputs: Tuple[int, ...]
    subgraphs: List[SubgraphInfo] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    _producer: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    _consumers: Optional[List[int]] = field(default=None, repr=False, compare=False)

    def producer(self) -> np.ndarray:
        """Producing operator of every tensor.

        Returns:
            int64 array of shape [T]: the index of the operator that writes each tensor, or -1
            for graph inputs and constants.
        """
        if self._producer is None:
            prod = np.full(len(self.tensors), -1, dtype=np.int64)
            for node in self.ops:
                for t in node.outputs:
                    if t >= 0:
                        prod[t] = node.index
            self._producer = prod
        return self._producer

    def consumers(self) -> List[int]:
        """How many operators read each tensor (an operator reading it twice counts once).

        Returns:
            [T] counts, a list (the graph walks index it one tensor at a time).
        """
        if self._consumers is None:
            count = [0] * len(self.tensors)
            for node in self.ops:
                for t in set(node.inputs):
                    if t >= 0:
                        count[t] += 1
            self._consumers = count
        return self._consumers

    def edges(self) -> np.ndarray:
        """Directed data edges between operators.

        Returns:
            int64 array of shape [E, 3]: rows ``(producer op, consumer op, tensor index)``, one per
            (activation tensor, consumer) pair, in consumer order. Constants make no edges.
        """
        prod = self.producer().tolist()
        rows = []
        for node in self.ops:
            for t in node.inputs:
                if t >= 0 and prod[t] >= 0:
                    rows.append((prod[t], node.index, t))
        if not rows:
            return np.zeros((0, 3), dtype=np.int64)
        return np.asarray(rows, dtype=np.int64)

    def constant_inputs(self, node: OpNode) -> List[TensorInfo]:
        """The constant tensors (weights, biases, shape operands) attached to ``node``."""
        return [self.tensors[t] for t in node.inputs if t >= 0 and self.tensors[t].is_constant]

    def activation_inputs(self, node: OpNode) -> List[TensorInfo]:
        """The non-constant input tensors of ``node``, in input order."""
        return [self.tensors[t] for t in node.inputs
                if t >= 0 and not self.tensors[t].is_constant]

    def output_tensors(self, node: OpNode) -> List[TensorInfo]:
        """The output tensors of ``node``."""
        return [self.tensors[t] for t in node.outputs if t >= 0]


def graph_to_record(graph: OpGraph) -> Dict[str, Any]:
    """A compact, JSON-ready form of a graph (what the dataset store keeps per model).

    Tensors become ``[shape, dtype, flags]`` with flags bit 0 constant, 1 quantized,
    2 per-channel; operators ``[op, builtin_code, version, inputs, outputs, options]``. Tensor
    names and the path are dropped. :func:`graph_from_record` inverts it.
    """
    return {
        "t": [[list(t.shape), t.dtype, int(t.is_constant) | int(t.quantized) << 1 |
               int(t.per_channel) << 2] for t in graph.tensors],
        "o": [[n.op, n.builtin_code, n.version, list(n.inputs), list(n.outputs), n.options]
              for n in graph.ops],
        "i": list(graph.inputs),
        "out": list(graph.outputs),
        "s": [[s.index, s.name, s.operators, s.tensors] for s in graph.subgraphs],
    }


def graph_from_record(record: Dict[str, Any], path: str = "<record>") -> OpGraph:
    """Rebuild an :class:`OpGraph` from :func:`graph_to_record`'s output."""
    tensors = [TensorInfo(i, tuple(shape), dtype, bool(fl & 1), bool(fl & 2), bool(fl & 4))
               for i, (shape, dtype, fl) in enumerate(record["t"])]
    ops = []
    for i, (op, code, version, ins, outs, opts) in enumerate(record["o"]):
        opts = {k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()}
        ops.append(OpNode(i, op, code, version, tuple(ins), tuple(outs), opts))
    subs = [SubgraphInfo(*s) for s in record.get("s", [])]
    return OpGraph(path=path, ops=ops, tensors=tensors, inputs=tuple(record["i"]),
                   outputs=tuple(record["out"]), subgraphs=subs)
