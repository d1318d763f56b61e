"""Fit the analytical host-CPU latency model (:mod:`edge_predictor.cpu_cost`) of one CPU target.

A model's live latency is a sum over its operators of ``terms @ c[key]``, so summing each
model's terms per coefficient key gives a design matrix [models, keys x terms] linear in all
coefficients: one non-negative least squares on relative error over the train split, then
trimmed refits without the models it cannot explain (|error| > :data:`TRIM`: a measurement
disturbed by another process).

Labels of one host only: CPU labels of two machines of one fingerprint differ 1.8-3.9x per kind
of model (``benches/results/cpu_host_scale.md``), so the spaces fitted are chosen (default: the
``families`` space, labelled on one VM) and the table's docstring names them, the host
fingerprint and the dates of the labels.

Usage: ``python -m trainer.cpu_cost_fit [--target T] [--spaces families]`` (rewrites the
target's entry of ``edge_predictor/cpu_cost_table.py``, keeping the other targets').
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from edge_predictor.cpu_cost import CPU_TERMS, FALLBACK, TERM_COLUMNS, cpu_terms
from edge_predictor.featurize import featurize, raw_columns
from edge_predictor.graph import graph_from_record
from edge_predictor.op_table import lookup

from .dataset import split_of
from .store import LABELS, MODELS, Store

__all__ = ["MIN_MODELS", "TRIM", "ModelTerms", "cpu_labels", "model_terms", "coefficient_keys",
           "design_rows", "fit_cpu_table", "write_tables", "main"]

#: train models an operator type (or category) must occur in to get a row of its own
MIN_MODELS = 20
TRIM_ROUNDS = 2
TRIM = 0.5
DEFAULT_TARGET = "cpu-epyc-litert-t1"
TABLE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "edge_predictor", "cpu_cost_table.py")


class ModelTerms(NamedTuple):
    """One labelled model: ``ops`` [N] operator types, ``terms`` float64 [N, K], its split and
    its measured latency in ms."""

    space: str
    seed: int
    split: str
    ops: List[str]
    terms: np.ndarray
    latency_ms: float


def cpu_labels(store: Store, target: str, spaces: Sequence[str]
               ) -> Tuple[Dict[Tuple[str, int], float], Dict[str, object]]:
    """``(space, seed) -> latency_ms`` of the first-pass labels of ``target`` in ``spaces``,
    and what they were measured on (host fingerprints, first and last date)."""
    labels, hosts, times = {}, set(), []
    for rec in store.records(LABELS, target):
        if rec.get("space") not in spaces or rec.get("pass", 1) != 1:
            continue
        value = rec.get("labels", {}).get("latency_ms")
        if rec.get("status", "ok") == "ok" and value:
            labels[(rec["space"], rec["seed"])] = float(value)
            prov = rec.get("prov", {})
            host = prov.get("host", {})
            hosts.add("{} {} cores, {} {}, {} thread(s)".format(
                host.get("cpu_model"), host.get("logical_cores"), host.get("interpreter"),
                host.get("interpreter_version"), host.get("threads")))
            if prov.get("time"):
                times.append(prov["time"])
    return labels, {"hosts": sorted(hosts), "first": min(times) if times else None,
                    "last": max(times) if times else None}


def model_terms(store: Store, labels: Dict[Tuple[str, int], float]) -> List[ModelTerms]:
    """Featurize every labelled model (rebuilt from its stored graph)."""
    out = []
    for space in sorted({s for s, _ in labels}):
        for rec in store.records(MODELS, space):
            key = (space, rec.get("seed"))
            if rec.get("status") != "ok" or key not in labels:
                continue
            graph = graph_from_record(rec["graph"])
            terms = cpu_terms(raw_columns(featurize(graph), TERM_COLUMNS))
            out.append(ModelTerms(space, rec["seed"], split_of(space, rec["seed"]),
                                  [n.op for n in graph.ops], terms, labels[key]))
    return out


def _category(op: str) -> str:
    return "category:" + lookup(op)[0].category


def coefficient_keys(models: Sequence[ModelTerms]) -> List[str]:
    """Operator types in at least :data:`MIN_MODELS` models, categories for the rarer ones
    where the category is that common, and :data:`FALLBACK` for the rest."""
    seen: Dict[str, set] = collections.defaultdict(set)
    for i, m in enumerate(models):
        for op in m.ops:
            seen[op].add(i)
            seen[_category(op)].add(i)
    keys = {FALLBACK}
    for m in models:
        for op in m.ops:
            for key in (op, _category(op)):
                if len(seen[key]) >= MIN_MODELS:
                    keys.add(key)
                    break
    return sorted(keys)


def _key(op: str, index: Dict[str, int]) -> str:
    return op if op in index else _category(op) if _category(op) in index else FALLBACK


def design_rows(models: Sequence[ModelTerms], keys: Sequence[str]) -> np.ndarray:
    """float64 [M, len(keys) * K]: per model, its operators' terms summed per key."""
    k = len(CPU_TERMS)
    index = {key: j for j, key in enumerate(keys)}
    out = np.zeros((len(models), len(keys) * k))
    for i, m in enumerate(models):
        for op, t in zip(m.ops, m.terms):
            j = index[_key(op, index)]
            out[i, j * k:(j + 1) * k] += t
    return out


def _nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    scale = np.abs(a).max(0)
    scale[scale == 0] = 1.0
    w = 1.0 / y
    coef, _ = nnls(a / scale * w[:, None], y * w, maxiter=100 * a.shape[1])
    return coef / scale


def fit_cpu_table(models: Sequence[ModelTerms]) -> Tuple[Dict[str, List[float]], Dict[str, int]]:
    """Coefficients (microseconds per term unit) per key from the models' latencies.

    Returns:
        ``(table, counts)``: key -> [K] coefficients over :data:`CPU_TERMS`, key -> models
        holding it.
    """
    keys = coefficient_keys(models)
    k = len(CPU_TERMS)
    a = design_rows(models, keys)
    y = np.array([m.latency_ms for m in models]) * 1e3
    keep = y > 0
    for _ in range(TRIM_ROUNDS + 1):
        coef = _nnls(a[keep], y[keep])
        rel = np.abs(a @ coef / np.maximum(y, 1e-9) - 1.0)
        keep = (y > 0) & (rel <= TRIM)
    table = {key: [float("{:.6g}".format(v)) for v in coef[j * k:(j + 1) * k]]
             for j, key in enumerate(keys)}
    counts = {key: int((a[:, j * k:(j + 1) * k] != 0).any(1).sum()) for j, key in enumerate(keys)}
    return table, counts


def write_tables(tables: Dict[str, Dict[str, List[float]]], sources: Dict[str, str],
                 path: str = TABLE_PATH) -> None:
    """Write every target's table as the Python module the runtime imports."""
    lines = ["# ruff: noqa: E501  (generated: one row per operator type)",
             '"""Fitted coefficients of :mod:`edge_predictor.cpu_cost` (generated: do not edit).',
             "", "Written by ``python -m trainer.cpu_cost_fit``: per CPU target, one non-negative "
             "least squares", "on whole-model relative error over the train split. Each row: "
             "microseconds per unit of", "``cpu_cost.CPU_TERMS`` ({}). Sources:".format(
                 ", ".join(CPU_TERMS)), ""]
    lines += ["- ``{}``: {}".format(t, sources[t]) for t in sorted(tables)]
    lines += ['"""', "", '__all__ = ["TABLES", "SOURCES"]', "", "SOURCES = {"]
    lines += ["    {!r}: {!r},".format(t, sources[t]) for t in sorted(tables)]
    lines += ["}", "", "TABLES = {"]
    for t in sorted(tables):
        lines.append("    {!r}: {{".format(t))
        for key in sorted(tables[t]):
            lines.append("        {!r}: {!r},".format(key, tables[t][key]))
        lines.append("    },")
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="fit the analytical host-CPU latency model")
    parser.add_argument("--target", default=DEFAULT_TARGET)
    parser.add_argument("--spaces", default="families",
                        help="comma-separated spaces whose labels come from one host")
    parser.add_argument("--out", default=TABLE_PATH, help="the table module to (re)write")
    args = parser.parse_args(argv)
    store = Store()
    labels, prov = cpu_labels(store, args.target, args.spaces.split(","))
    models = model_terms(store, labels)
    train = [m for m in models if m.split == "train"]
    if not train:
        print("no labelled train models of {} in {}".format(args.target, args.spaces),
              file=sys.stderr)
        return 2
    table, counts = fit_cpu_table(train)
    try:
        from edge_predictor.cpu_cost_table import SOURCES, TABLES
        tables, sources = dict(TABLES), dict(SOURCES)
    except ImportError:
        tables, sources = {}, {}
    per_space = collections.Counter(m.space for m in train)
    tables[args.target] = table
    sources[args.target] = "{} train models ({}), labelled on {} from {} to {}".format(
        len(train), ", ".join("{} {}".format(s, n) for s, n in sorted(per_space.items())),
        "; ".join(prov["hosts"]), prov["first"], prov["last"])
    write_tables(tables, sources, args.out)
    print("wrote {} ({}: {} keys; {})".format(args.out, args.target, len(table),
                                              sources[args.target]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
