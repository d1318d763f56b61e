"""An analytical per-operator energy model of the Ethos-U NPU (an ESTIMATE, as the label is).

The ``energy_mj`` label of the ``ethos-u55-128`` target is itself an estimate computed from
Vela's counts (``benches/labelers/energy.py``): 0.23 pJ per MAC, 1.25 pJ per SRAM byte and an
assumed 1,111 pJ per byte read from off-chip flash. Flash dominates it (80-100% of every zoo
model's estimate), and what Vela reads from flash is not only each weight stream once: it
re-reads the constant operand of an unfolded batch normalisation (a ``MUL``/``ADD`` with a
constant vector) for every output brick, a LayerNorm's constants for every token, a SOFTMAX's
tables, and it leaves operators it cannot map to the CPU (not in the NPU's energy).

So an operator's energy here is linear in the physical quantities of
:data:`edge_predictor.npu_cost.TERMS` (a constant, block cycles, MACs in bricks, output and
input elements in 16-channel bricks, weight-stream bytes), with non-negative coefficients per
cost kind (:func:`edge_predictor.npu_cost.cost_kinds`; the operator type, then its category,
as the fallback), zero for an operator on the CPU. The coefficients
(:data:`edge_predictor.npu_energy_table.COEFFICIENTS`, pJ per unit of each term) are fitted by
``python -m trainer.npu_energy_fit`` on whole-model labels -- a model's energy is a plain sum,
so the fit is linear at model level and does not depend on how Vela's per-layer report
attributes a weight prefetch to the operator before it. Errors on every space and on the zoo
of real architectures: ``benches/results/npu_cost.md``. Pure numpy; Python 3.7 compatible.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from .graph import OpGraph
from .npu_cost import TERMS, cost_kinds, cost_terms
from .op_table import lookup

__all__ = ["kind_coefficients", "energy_of", "npu_energy_pj", "npu_energy_mj", "table_digest"]

_ZERO = (0.0,) * len(TERMS)


def kind_coefficients(kind: str, op: str, table: Mapping[str, Sequence[float]]) -> np.ndarray:
    """float64 [K] pJ per unit of each term for a cost kind; else its operator type's; else its
    category's; zero for an operator on the CPU or of a category never fitted."""
    if kind.endswith("/cpu"):
        return np.asarray(_ZERO, np.float64)
    if kind in table:
        return np.asarray(table[kind], np.float64)
    base = kind.split("/")[0]
    if base in table:
        return np.asarray(table[base], np.float64)
    return np.asarray(table.get("category:" + lookup(op)[0].category, _ZERO), np.float64)


def energy_of(ops: Sequence[str], kinds: Sequence[str], terms: np.ndarray,
              table: Optional[Mapping[str, Sequence[float]]] = None) -> np.ndarray:
    """Estimated energy of every operator, in picojoules.

    Args:
        ops: [N] operator types.
        kinds: [N] their cost kinds (:func:`edge_predictor.npu_cost.cost_kinds`).
        terms: float64 [N, K] :func:`edge_predictor.npu_cost.cost_terms`.
        table: kind -> [K] coefficients (default: the fitted table).

    Returns:
        float64 [N], >= 0 (0 for operators Vela leaves to the CPU).
    """
    if table is None:
        from .npu_energy_table import COEFFICIENTS as table
    if not len(kinds):
        return np.zeros(0)
    memo: dict = {}  # a graph repeats few (kind, type) pairs
    coefs = np.stack([memo[key] if key in memo else memo.setdefault(
        key, kind_coefficients(key[0], key[1], table)) for key in zip(kinds, ops)])
    return np.maximum(np.einsum("nk,nk->n", coefs, np.asarray(terms, np.float64)), 0.0)


def npu_energy_pj(graph: OpGraph, table: Optional[Mapping[str, Sequence[float]]] = None
                  ) -> np.ndarray:
    """float64 [N] estimated energy of every operator of ``graph`` in pJ (featurized here)."""
    from .featurize import featurize, raw_columns

    cols = raw_columns(featurize(graph), ("est_cycles", "macs_brick", "npu_weight_bytes"))
    return energy_of([n.op for n in graph.ops], cost_kinds(graph), cost_terms(graph, *cols),
                     table)


def npu_energy_mj(graph: OpGraph, table: Optional[Mapping[str, Sequence[float]]] = None
                  ) -> float:
    """The analytical model's energy per inference in millijoules (an estimate of an
    estimate: see the module docstring)."""
    return float(npu_energy_pj(graph, table).sum() * 1e-9)


def table_digest(table: Optional[Mapping[str, Sequence[float]]] = None) -> str:
    """sha256 of an energy coefficient table (default: the fitted one)."""
    import hashlib
    import json

    if table is None:
        from .npu_energy_table import COEFFICIENTS as table
    text = json.dumps({k: list(map(float, v)) for k, v in table.items()}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
