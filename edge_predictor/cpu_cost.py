"""An analytical per-operator latency model of a host CPU running the TFLite interpreter.

The CPU bundle's network learned its design spaces and the machine that labelled them; on real
architectures it is far off, and its labels mixed two hosts of one fingerprint that differ
1.8-3.9x per kind of model (``benches/results/cpu_host_scale.md``). This model is the physics
under it: an operator's time is linear in what its kernel does,

    ``time_us = c0 + c1 * MACs + c2 * output elements + c3 * input bytes + c4 * weight bytes``

with non-negative coefficients per operator type (its category, then a pooled ``"*"`` row, as
the fallback for a type seen too rarely), fitted per CPU target on whole-model latencies by
``python -m trainer.cpu_cost_fit`` (:data:`edge_predictor.cpu_cost_table.TABLES`: one table per
target, the host it was measured on named with it). A model's time is the plain sum: the
interpreter runs one operator after the other on one thread.

The coefficients are the host's: another machine scales them (per kind of operator, as its
kernel library differs), which is what calibrating from a few measurements adjusts. Pure
numpy; Python 3.7 compatible.
"""

from __future__ import annotations

import hashlib
import json
from typing import Mapping, Optional, Sequence

import numpy as np

from .errors import InputError
from .graph import OpGraph
from .op_table import lookup

__all__ = ["CPU_TERMS", "TERM_COLUMNS", "FALLBACK", "cpu_terms", "coefficient_key",
           "coefficient_rows", "cost_of", "cpu_cost_us", "cpu_latency_ms", "table_for",
           "table_digest"]

#: the terms of an operator's time, in order
CPU_TERMS = ("const", "macs", "out_elements", "in_bytes", "weight_bytes")
#: the featurizer's columns behind every term but the constant
TERM_COLUMNS = CPU_TERMS[1:]
#: the pooled row of operator types too rare for a row of their own
FALLBACK = "*"


def cpu_terms(columns: Sequence[np.ndarray]) -> np.ndarray:
    """float64 [N, K] the terms from the featurizer's raw :data:`TERM_COLUMNS` ([N] each)."""
    cols = [np.asarray(c, np.float64) for c in columns]
    n = len(cols[0]) if cols else 0
    return np.stack([np.ones(n)] + [np.maximum(c, 0.0) for c in cols], 1) if n else \
        np.zeros((0, len(CPU_TERMS)))


def coefficient_key(op: str, table: Mapping[str, Sequence[float]]) -> str:
    """The table row of an operator type: its own, its category's, else :data:`FALLBACK`."""
    if op in table:
        return op
    category = "category:" + lookup(op)[0].category
    return category if category in table else FALLBACK


def coefficient_rows(ops: Sequence[str], table: Mapping[str, Sequence[float]]) -> np.ndarray:
    """float64 [N, K] the coefficients of every operator (zeros if the table lacks a fallback)."""
    zero = (0.0,) * len(CPU_TERMS)
    if not len(ops):
        return np.zeros((0, len(CPU_TERMS)))
    return np.array([table.get(coefficient_key(op, table), zero) for op in ops], np.float64)


def cost_of(ops: Sequence[str], terms: np.ndarray,
            table: Mapping[str, Sequence[float]]) -> np.ndarray:
    """float64 [N] microseconds per operator from its type and terms [N, K]."""
    return np.maximum(np.einsum("nk,nk->n", coefficient_rows(ops, table),
                                np.asarray(terms, np.float64)), 0.0)


def table_for(target: str) -> Mapping[str, Sequence[float]]:
    """The fitted table of a CPU target.

    Raises:
        InputError: no table was fitted for ``target``.
    """
    from .cpu_cost_table import TABLES

    if target not in TABLES:
        raise InputError("no CPU cost table for target {!r} (fitted: {})".format(
            target, ", ".join(sorted(TABLES)) or "none"))
    return TABLES[target]


def cpu_cost_us(graph: OpGraph, target: str,
                table: Optional[Mapping[str, Sequence[float]]] = None) -> np.ndarray:
    """float64 [N] estimated microseconds of every operator of ``graph`` on ``target``'s host."""
    from .featurize import featurize, raw_columns

    table = table_for(target) if table is None else table
    terms = cpu_terms(raw_columns(featurize(graph), TERM_COLUMNS))
    return cost_of([n.op for n in graph.ops], terms, table)


def cpu_latency_ms(graph: OpGraph, target: str,
                   table: Optional[Mapping[str, Sequence[float]]] = None) -> float:
    """The analytical model's latency of one inference in milliseconds."""
    return float(cpu_cost_us(graph, target, table).sum() * 1e-3)


def table_digest(table: Mapping[str, Sequence[float]]) -> str:
    """sha256 of a coefficient table."""
    text = json.dumps({k: list(map(float, v)) for k, v in table.items()}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
