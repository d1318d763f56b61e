"""Whole-graph totals: what ``edge-perf inspect`` prints and the totals baseline regresses on."""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict

from .graph import OpGraph
from .op_table import lookup

__all__ = ["summarize"]


def summarize(graph: OpGraph) -> Dict[str, Any]:
    """Totals of a model's main subgraph.

    Args:
        graph: from :func:`edge_predictor.tflite_reader.read_model`.

    Returns:
        A JSON-ready dict: ``operators`` (int), ``op_counts`` (op name -> int, most frequent
        first), ``categories`` (category -> int), ``macs``, ``params`` (elements of distinct
        constant tensors read by operators, shape operands included), ``param_bytes``,
        ``tensors``, ``activation_bytes`` (sum over non-constant tensors),
        ``largest_activation`` ({tensor, shape, dtype, bytes}), ``inputs``/``outputs`` (shapes
        and dtypes), ``subgraphs`` (count, main included), ``other_subgraph_operators``,
        ``unknown_operators`` (names outside the op table) and ``warnings``.
    """
    counts = Counter(node.op for node in graph.ops)
    cats: Counter = Counter()
    macs = 0
    unknown = []
    const_ids = set()
    for node in graph.ops:
        spec, known = lookup(node.op)
        cats[spec.category] += 1
        if not known and node.op not in unknown:
            unknown.append(node.op)
        macs += int(spec.extractor(graph, node).get("macs", 0))
        const_ids.update(t for t in node.inputs if t >= 0 and graph.tensors[t].is_constant)
    consts = [graph.tensors[t] for t in sorted(const_ids)]
    acts = [t for t in graph.tensors if not t.is_constant]
    largest = max(acts, key=lambda t: t.nbytes, default=None)
    return {
        "path": graph.path,
        "operators": len(graph.ops),
        "op_counts": dict(counts.most_common()),
        "categories": dict(cats.most_common()),
        "macs": macs,
        "params": sum(t.elements for t in consts),
        "param_bytes": sum(t.nbytes for t in consts),
        "tensors": len(graph.tensors),
        "activation_bytes": sum(t.nbytes for t in acts),
        "largest_activation": None if largest is None else {
            "tensor": largest.name, "shape": list(largest.shape), "dtype": largest.dtype,
            "bytes": largest.nbytes},
        "inputs": [{"shape": list(graph.tensors[t].shape), "dtype": graph.tensors[t].dtype}
                   for t in graph.inputs],
        "outputs": [{"shape": list(graph.tensors[t].shape), "dtype": graph.tensors[t].dtype}
                    for t in graph.outputs],
        "subgraphs": 1 + len(graph.subgraphs),
        "other_subgraph_operators": sum(s.operators for s in graph.subgraphs),
        "unknown_operators": unknown,
        "warnings": list(graph.warnings),
    }
