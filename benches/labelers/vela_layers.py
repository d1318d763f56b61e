"""Vela's per-layer performance report, attributed to the model's TFLite operators.

With ``--verbose-performance`` Vela 5.2 writes ``<name>_per-layer.csv``: one row per operation
of its internal graph (NNG), in its execution order, with the cycles it estimates (``Op
Cycles`` = the max of the NPU's compute cycles and each memory's access cycles; their sum over
rows is the summary's ``cycles_total``), the access cycles per memory, the MACs and the
``Original Operator`` (the TFLite operator type the row was lowered from). One TFLite operator
may become several rows (a SOFTMAX is ~30 elementwise and LUT passes, a MEAN a depthwise
convolution and a multiplication, a fused activation a zero-cycle row of its own), and Vela
reorders independent operators.

:func:`attribute` maps every row back to the index of the TFLite operator it came from, by the
tensor name Vela prints (the output of the operator or, for pieces of a decomposed operator, a
name derived from its input), checked against the original operator type; and
:func:`per_operator` sums rows per operator. This is the operator-level label that an analytical
per-operator cost model is fitted and checked on (nn-Meter fits kernels, not whole models).

Pure Python and numpy; no Vela import (it parses files Vela wrote).
"""

from __future__ import annotations

import csv
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = ["ATTRIBUTION_VERSION", "LAYER_FIELDS", "VELA_OP_NAMES", "parse_per_layer_csv",
           "tflite_op_name", "attribute",
           "per_operator"]

#: 2: several operators writing into one concatenation get one row each (1 gave all of them to
#: the first); records without the key were attributed by version 1
ATTRIBUTION_VERSION = 2

#: per-layer CSV columns kept, under short names (cycles and bytes-as-cycles per memory)
LAYER_FIELDS = {
    "Op Cycles": "cycles", "NPU": "npu", "SRAM AC": "sram_ac", "DRAM AC": "dram_ac",
    "OnFlash AC": "onflash_ac", "OffFlash AC": "offflash_ac", "MAC Count": "macs",
    "Staging Usage": "staging",
}

#: Vela's ``Original Operator`` names that do not follow CamelCase -> UPPER_SNAKE
VELA_OP_NAMES = {
    "Conv2D": "CONV_2D", "DepthwiseConv2D": "DEPTHWISE_CONV_2D", "Concat": "CONCATENATION",
    "ConcatTFLite": "CONCATENATION", "AvgPool": "AVERAGE_POOL_2D", "MaxPool": "MAX_POOL_2D",
    "TransposeConv": "TRANSPOSE_CONV", "TransposeConv2D": "TRANSPOSE_CONV",
    "Conv2DBackpropInput": "TRANSPOSE_CONV",
    "Conv2DBackpropInputSwitchedBias": "TRANSPOSE_CONV", "ReduceSum": "SUM",
    "Sigmoid": "LOGISTIC", "Relu": "RELU", "Relu6": "RELU6", "ReluN1To1": "RELU_N1_TO_1",
    "Relu0To1": "RELU_0_TO_1", "LeakyRelu": "LEAKY_RELU", "HardSwish": "HARD_SWISH",
    "Prelu": "PRELU", "ResizeBilinear": "RESIZE_BILINEAR",
    "ResizeNearestNeighbor": "RESIZE_NEAREST_NEIGHBOR", "SquaredDifference": "SQUARED_DIFFERENCE",
    "BatchMatMul": "BATCH_MATMUL", "FullyConnected": "FULLY_CONNECTED",
    "ReduceMax": "REDUCE_MAX", "ReduceMin": "REDUCE_MIN", "ArgMax": "ARG_MAX",
}

#: what Vela appends to a tensor name for the pieces it lowers an operator into
_SUFFIXES = re.compile(
    r"(_intermediate|_softmax_\d+|_broadcasted|_propagated_reshape|_32bit|_split_\d+"
    r"|/Transpose|/Mul|/Sub|/Add)$")
#: operators that only relabel a tensor (Vela removes them): their consumers read the data
_ALIASES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


def tflite_op_name(vela_name: str) -> str:
    """TFLite builtin name of a Vela ``Original Operator`` (``"DepthwiseConv2D"`` ->
    ``"DEPTHWISE_CONV_2D"``, ``"Concat"`` -> ``"CONCATENATION"``)."""
    if vela_name in VELA_OP_NAMES:
        return VELA_OP_NAMES[vela_name]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", vela_name).upper()


def parse_per_layer_csv(path: str) -> List[Dict[str, object]]:
    """Rows of Vela's per-layer CSV.

    Returns:
        One dict per row: ``op`` (original operator, Vela's name), ``nng`` (the NNG operation),
        ``target`` ("NPU" or "CPU"), ``name`` (the tensor name Vela prints) and the numbers of
        :data:`LAYER_FIELDS` under their short names (floats, 0 where empty).
    """
    rows = []
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            row: Dict[str, object] = {"op": raw.get("Original Operator", ""),
                                      "nng": raw.get("NNG Operator", ""),
                                      "target": raw.get("Target", ""), "name": raw.get("Name", "")}
            for col, key in LAYER_FIELDS.items():
                try:
                    row[key] = float(raw.get(col) or 0.0)
                except ValueError:
                    row[key] = 0.0
            rows.append(row)
    return rows


class _Index:
    """Tensor-name lookups over a graph record's operators."""

    def __init__(self, graph):
        tensor_names = [t.name for t in graph.tensors]
        ops = graph.ops
        self.types = [op.op for op in ops]
        self.by_output: Dict[str, int] = {}
        self.by_input: Dict[str, List[int]] = {}
        self.producer: Dict[int, int] = {}
        self.inputs, self.outputs, self.names = [], [], tensor_names
        for k, op in enumerate(ops):
            self.outputs.append([t for t in op.outputs if t >= 0])
            ins = [t for t in op.inputs if t >= 0]
            self.inputs.append(ins)
            for t in op.outputs:
                self.by_output.setdefault(tensor_names[t], k)
                self.producer[t] = k
            for t in ins:
                self.by_input.setdefault(tensor_names[t], []).append(k)

    def match(self, name: str, want: str, taken=frozenset()) -> Optional[int]:
        """The operator of type ``want`` a row named ``name`` belongs to, or None; ``taken``:
        (name, operator) pairs earlier rows claimed through a consumer's name (several
        convolutions writing into one concatenation are printed under its name, in order)."""
        candidates = [name]
        stripped = name
        for _ in range(8):
            nxt = _SUFFIXES.sub("", stripped)
            if nxt == stripped:
                break
            stripped = nxt
            candidates.append(stripped)
        for cand in candidates:
            k = self.by_output.get(cand)
            if k is not None:
                if self.types[k] == want:
                    return k
                # printed under the consumer's output: a fused pair (ADD + RSQRT as one pass),
                # or operators writing straight into a concatenation, one row each
                for t in self.inputs[k]:
                    p = self.producer.get(t)
                    if p is not None and self.types[p] == want and (cand, p) not in taken:
                        return p
            for k in self.consumers(cand):
                if self.types[k] == want:
                    return k
        return None

    def consumers(self, name: str) -> List[int]:
        """Operators reading tensor ``name``, looking through reshapes (Vela removes them)."""
        out, todo, seen = [], list(self.by_input.get(name, ())), set()
        while todo:
            k = todo.pop(0)
            if k in seen:
                continue
            seen.add(k)
            out.append(k)
            if self.types[k] in _ALIASES:
                for t in self.outputs[k]:
                    todo.extend(self.by_input.get(self.names[t], ()))
        return out


def attribute(rows: Sequence[dict], graph) -> List[Optional[int]]:
    """The TFLite operator index of every per-layer row.

    Args:
        rows: :func:`parse_per_layer_csv` output.
        graph: the model's :class:`edge_predictor.graph.OpGraph` as read from the file
            (tensor names included: a graph rebuilt from a store record has none).

    Returns:
        One entry per row: the operator index, or None where no operator of the row's original
        type matches its name. A row that matches nothing by name joins the run of rows of the
        same original type it sits in (the next placed row of that run, else the previous):
        the pieces of a decomposed operator with names of Vela's own.
    """
    index = _Index(graph)
    wants = [tflite_op_name(str(row["op"])) for row in rows]
    out: List[Optional[int]] = []
    taken = set()
    for i, (row, want) in enumerate(zip(rows, wants)):
        name = str(row["name"])
        if (i and out[-1] is not None and rows[i - 1]["name"] == name and wants[i - 1] == want
                and row["nng"] != row["op"]):
            out.append(out[-1])  # the fused activation of the pass just placed
            continue
        k = index.match(name, want, taken)
        if k is not None and index.by_output.get(name) != k:
            taken.add((name, k))
        out.append(k)
    for k in range(len(rows)):
        if out[k] is not None:
            continue
        for step in (1, -1):
            j = k + step
            while 0 <= j < len(rows) and wants[j] == wants[k] and out[j] is None:
                j += step
            if 0 <= j < len(rows) and wants[j] == wants[k] and out[j] is not None:
                out[k] = out[j]
                break
    return out


def per_operator(rows: Sequence[dict], owners: Sequence[Optional[int]],
                 n_ops: int) -> Dict[str, object]:
    """Per-layer numbers summed per TFLite operator.

    Args:
        rows: :func:`parse_per_layer_csv` output.
        owners: :func:`attribute` output, one per row.
        n_ops: operators in the graph.

    Returns:
        ``{key: [n_ops] list of ints}`` for every short name of :data:`LAYER_FIELDS` except
        ``staging`` (summed) and ``staging`` itself (max over the operator's rows); ``on_cpu``:
        [n_ops] 1 where Vela left the operator to the CPU; ``rows``: [n_ops] NNG rows;
        ``unmatched_cycles``: cycles of rows no operator was found for (a check on
        :func:`attribute`: 0 when every row was placed); ``attribution``:
        :data:`ATTRIBUTION_VERSION`.
    """
    keys = [k for k in LAYER_FIELDS.values() if k != "staging"]
    sums = {k: np.zeros(n_ops) for k in keys}
    staging, on_cpu, count = np.zeros(n_ops), np.zeros(n_ops), np.zeros(n_ops)
    unmatched = 0.0
    for row, k in zip(rows, owners):
        if k is None:
            unmatched += float(row["cycles"])
            continue
        for key in keys:
            sums[key][k] += float(row[key])
        staging[k] = max(staging[k], float(row["staging"]))
        on_cpu[k] = max(on_cpu[k], 1.0 if row["target"] == "CPU" else 0.0)
        count[k] += 1
    out: Dict[str, object] = {k: [int(round(v)) for v in sums[k]] for k in keys}
    out["staging"] = [int(v) for v in staging]
    out["on_cpu"] = [int(v) for v in on_cpu]
    out["rows"] = [int(v) for v in count]
    out["unmatched_cycles"] = int(round(unmatched))
    out["attribution"] = ATTRIBUTION_VERSION
    return out
