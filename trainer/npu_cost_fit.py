"""Fit the analytical NPU cost model (:mod:`edge_predictor.npu_cost`) on operator-level labels.

The labels are Vela's per-layer cycles summed per TFLite operator
(:mod:`benches.labelers.vela_layers`): in the model records of spaces generated with them
(``raw["ethos-u55-128"]["layers"]``) and in the ``labels/ethos-u55-128-layers`` records the
backfill pass (:mod:`trainer.layers_pass`) wrote for a sample of the older spaces. Only models of
the *train* split (:func:`trainer.dataset.split_of`) are fitted on.

Per cost kind and part (:data:`edge_predictor.npu_cost.PARTS`: compute, SRAM and flash access
cycles, whose max is the operator's cycles), non-negative least squares of
``terms @ c = part cycles``, forward-selected, weighted by cycles^-WEIGHT_POWER and trimmed of
outliers (:func:`_nnls`); an operator Vela removes has 0 cycles and must cost ~0;
kinds with fewer than :data:`MIN_ROWS` operators fall back to their operator type, then to
their category (``"category:<name>"``), each fitted the same way on all its rows.

Usage::

    python -m trainer.npu_cost_fit            # fit, write edge_predictor/npu_cost_table.py
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from edge_predictor.featurize import featurize, raw_columns
from edge_predictor.graph import graph_from_record
from edge_predictor.npu_cost import PARTS, TERMS, cost_kinds, cost_terms
from edge_predictor.op_table import lookup

from .dataset import split_of
from .layers_pass import GROUP
from .store import LABELS, MODELS, Store

__all__ = ["FLOOR", "MIN_ROWS", "PART_TERMS", "OpRows", "operator_rows", "trusted", "terms_of",
           "fit_table", "write_table", "main"]

#: cycles below which an operator's error counts as absolute, not relative
FLOOR = 200.0
#: rows are weighted by cycles ** -WEIGHT_POWER: 1 fits relative error (every operator alike),
#: 0 absolute error; between, the large operators that make a model's latency count more
WEIGHT_POWER = 0.5
#: forward selection: at most this many terms per part, each lowering the error by MIN_GAIN
MAX_TERMS = 3
MIN_GAIN = 0.05
#: trimmed refits, and the relative error beyond which an operator is left out of the next
TRIM_ROUNDS = 2
TRIM = 0.5
#: operators a kind needs for coefficients of its own
MIN_ROWS = 20
#: the terms each part may use (physics: compute scales with work, memory access with bytes,
#: flash access with the weight stream, or with the output for a constant operand re-read from
#: flash per block)
PART_TERMS = {
    "npu": ("const", "block_cycles", "macs_brick", "out_elements_brick", "in_elements_brick"),
    "sram_ac": ("const", "out_elements_brick", "in_elements_brick", "weight_stream_bytes"),
    "offflash_ac": ("const", "out_elements_brick", "weight_stream_bytes"),
}
TARGET = "ethos-u55-128"
TABLE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "edge_predictor", "npu_cost_table.py")

OpRows = collections.namedtuple("OpRows",
                                "space seed split ops kinds terms cycles parts total valid")


def _layers_by_model(store: Store) -> Dict[Tuple[str, int], Dict[str, Any]]:
    return {(r["space"], r["seed"]): r["layers"] for r in store.records(LABELS, GROUP)
            if r.get("status") == "ok" and r.get("layers")}


def operator_rows(store: Optional[Store] = None, spaces: Optional[List[str]] = None
                  ) -> Iterator[OpRows]:
    """Every stored model with operator-level Vela cycles, featurized.

    Yields:
        :data:`OpRows` per model: ``ops`` [N] operator types, ``kinds`` [N] cost kinds,
        ``terms`` float64 [N, K], ``cycles`` float64 [N] Vela's cycles, ``parts`` float64
        [N, P] its compute and memory-access cycles, ``total`` Vela's summed cycles,
        ``valid`` bool [N] operators whose label is trusted (:func:`trusted`).
    """
    store = store or Store()
    backfill = _layers_by_model(store)
    groups = spaces or sorted({s for s, _ in backfill} | set(_spaces(store)))
    for space in groups:
        for rec in store.records(MODELS, space):
            if rec.get("status") != "ok":
                continue
            layers = rec.get("raw", {}).get(TARGET, {}).get("layers") or backfill.get(
                (space, rec["seed"]))
            if not layers:
                continue
            graph = graph_from_record(rec["graph"])
            cycles = np.asarray(layers["cycles"], np.float64)
            if len(cycles) != len(graph.ops):
                continue
            yield OpRows(space, rec["seed"], split_of(space, rec["seed"]),
                         [n.op for n in graph.ops], cost_kinds(graph), terms_of(graph), cycles,
                         parts_of(layers, len(cycles)),
                         float(cycles.sum()) + float(layers.get("unmatched_cycles", 0)),
                         trusted(graph, layers))


def trusted(graph, layers: Dict[str, Any]) -> np.ndarray:
    """bool [N]: operators whose per-layer label can be trusted. Attribution version 1 gave
    every row of the operators writing into one concatenation to the first of them: under it,
    operators feeding a concatenation are left out of fits (the model's total is right)."""
    ok = np.ones(len(graph.ops), bool)
    if int(layers.get("attribution", 1)) >= 2:
        return ok
    producer = graph.producer()
    for node in graph.ops:
        if node.op == "CONCATENATION":
            for t in node.inputs:
                if t >= 0 and producer[t] >= 0:
                    ok[int(producer[t])] = False
    return ok


def parts_of(layers: Dict[str, Any], n: int) -> np.ndarray:
    """float64 [N, P] the per-operator :data:`PARTS` of a layers record (absent: zeros)."""
    return np.stack([np.asarray(layers.get(p) or [0] * n, np.float64) for p in PARTS], 1)


def terms_of(graph) -> np.ndarray:
    """float64 [N, K] :func:`edge_predictor.npu_cost.cost_terms` of a graph, featurized here."""
    cols = raw_columns(featurize(graph), ("est_cycles", "macs_brick", "npu_weight_bytes"))
    return cost_terms(graph, *cols)


def _spaces(store: Store) -> List[str]:
    base = os.path.join(store.root, MODELS)
    return sorted(os.listdir(base)) if os.path.isdir(base) else []


def _nnls(terms: np.ndarray, target: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Non-negative ``c`` with ``terms @ c ~ target``, few terms, errors relative to the op's
    cycles (weighted by :data:`WEIGHT_POWER`), robust to the few operators the terms cannot
    explain.

    Forward selection: start from the constant, add the term that lowers the trimmed error
    most, stop when it falls by less than :data:`MIN_GAIN` (or at :data:`MAX_TERMS`). Collinear
    terms (an elementwise operator's bytes and its brick elements) would otherwise share the
    weight in a way that fits the training spaces and extrapolates badly; one physical term per
    cost extrapolates."""
    chosen = [0] if terms.shape[1] and terms[:, 0].any() else []
    candidates = [j for j in range(1, terms.shape[1]) if terms[:, j].any()]
    best_coef, best_err = _trimmed_fit(terms, target, cycles, chosen)
    while candidates and len(chosen) < MAX_TERMS:
        trials = [(_trimmed_fit(terms, target, cycles, chosen + [j]), j) for j in candidates]
        (coef, err), j = min(trials, key=lambda t: t[0][1])
        if err > best_err * (1.0 - MIN_GAIN):
            break
        chosen.append(j)
        candidates.remove(j)
        best_coef, best_err = coef, err
    return best_coef


def _plausible(term: np.ndarray, target: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """bool [R]: the rows whose target is within 3x of the term's median ratio to it (or that
    are small either way): the start of the trimmed fit, so that a few mislabelled operators
    with large terms (0 cycles on a 300,000-element addition whose row Vela printed under
    another operator's name) cannot steer the first fit and then the trimming."""
    big = (cycles >= FLOOR) & (term > 0)
    if big.sum() < MIN_ROWS:
        return np.ones(len(target), bool)
    ratio = float(np.median(target[big] / term[big]))
    pred = ratio * term
    small = np.maximum(pred, target) < FLOOR
    return small | ((target <= 3.0 * pred) & (target >= pred / 3.0))


def _trimmed_fit(terms: np.ndarray, target: np.ndarray, cycles: np.ndarray, cols):
    """NNLS on ``cols`` of ``terms``, refitted without operators off by more than :data:`TRIM`
    (relative), :data:`TRIM_ROUNDS` times; returns (coefficients over all terms, the mean
    weighted absolute error over every operator)."""
    from scipy.optimize import nnls

    coef_all = np.zeros(terms.shape[1])
    scale = np.maximum(cycles, FLOOR) ** -WEIGHT_POWER
    b = target * scale
    if not cols:
        return coef_all, float(np.mean(np.abs(b)))
    a = terms[:, cols] * scale[:, None]
    norm = np.sqrt((a ** 2).sum(0))
    norm[norm == 0] = 1.0
    a = a / norm  # columns scaled to unit norm so the solver sees comparable magnitudes
    keep = _plausible(terms[:, cols[-1]], target, cycles)
    for _ in range(TRIM_ROUNDS + 1):
        coef, _ = nnls(a[keep], b[keep], maxiter=50 * len(cols))
        rel = np.abs(a @ coef - b) / scale / np.maximum(cycles, FLOOR)
        inliers = rel <= TRIM
        if inliers.sum() < max(MIN_ROWS, len(b) // 2) or (inliers == keep).all():
            break
        keep = inliers
    coef_all[cols] = coef / norm
    return coef_all, float(np.mean(np.minimum(np.abs(a @ coef - b), TRIM * np.maximum(
        cycles, FLOOR) ** (1 - WEIGHT_POWER))))


def _fit_kind(terms: np.ndarray, parts: np.ndarray, cycles: np.ndarray) -> List[List[float]]:
    """[P][K] coefficients of one kind: the max of per-part fits (Vela's structure for an
    operator that is one pass) or, where it fits the operators' cycles better, one fit of the
    cycles themselves in the first part (an operator Vela lowers into many passes, a SOFTMAX:
    the max of its summed parts is not the sum of its passes' maxima)."""
    split = []
    for j, part in enumerate(PARTS):
        mask = np.array([t in PART_TERMS[part] for t in TERMS], np.float64)
        split.append(_nnls(terms * mask, parts[:, j], cycles) * mask)
    whole = _nnls(terms * np.array([t in PART_TERMS["npu"] or t == "weight_stream_bytes"
                                    for t in TERMS], np.float64), cycles, cycles)
    split_pred = np.max(np.stack([terms @ c for c in split], 1), 1)
    candidates = [(split, split_pred), ([whole] + [np.zeros(len(TERMS))] * (len(PARTS) - 1),
                                        terms @ whole)]
    best = min(candidates, key=lambda c: _robust_error(c[1], cycles))[0]
    return [[float("{:.6g}".format(v)) for v in c] for c in best]


def _robust_error(pred: np.ndarray, cycles: np.ndarray) -> float:
    """Mean relative error capped at :data:`TRIM` per operator (a few mislabelled rows do not
    decide), weighted like the fits."""
    w = np.maximum(cycles, FLOOR) ** (1.0 - WEIGHT_POWER)
    rel = np.minimum(np.abs(pred - cycles) / np.maximum(cycles, FLOOR), TRIM)
    return float(np.sum(w * rel) / np.sum(w))


def fit_table(models: List[OpRows]) -> Tuple[Dict[str, List[float]], Dict[str, int]]:
    """Per-kind, per-type and per-category coefficients from the train split's operators.

    Returns:
        ``(table, counts)``: key -> coefficients over :data:`TERMS`, key -> operators fitted.
    """
    groups: Dict[str, List[Tuple[np.ndarray, np.ndarray]]] = collections.defaultdict(list)
    for m in models:
        if m.split != "train":
            continue
        for k, (kind, op) in enumerate(zip(m.kinds, m.ops)):
            if kind.endswith("/cpu") or not m.valid[k]:
                continue
            row = (m.terms[k], m.parts[k], m.cycles[k])
            groups[kind].append(row)
            if "/" in kind:
                groups[kind.split("/")[0]].append(row)
            groups["category:" + lookup(op)[0].category].append(row)
    table, counts = {}, {}
    for key in sorted(groups):
        rows = groups[key]
        if len(rows) < MIN_ROWS and not key.startswith("category:"):
            continue
        terms = np.stack([r[0] for r in rows])
        parts = np.stack([r[1] for r in rows])
        cycles = np.array([r[2] for r in rows])
        table[key] = _fit_kind(terms, parts, cycles)
        counts[key] = len(rows)
    return table, counts


def write_table(table: Dict[str, List[float]], counts: Dict[str, int], sources: str,
                path: str = TABLE_PATH) -> None:
    """Write the fitted table as the Python module the runtime imports."""
    lines = ["# ruff: noqa: E501  (generated: one row per cost kind)",
             '"""Fitted coefficients of :mod:`edge_predictor.npu_cost` (generated: do not edit).',
             "", "Written by ``python -m trainer.npu_cost_fit``: non-negative least squares per "
             "cost kind on", "relative error, train split only; {}.".format(sources),
             "Each row: per part ({}) the coefficients over ``npu_cost.TERMS``".format(
                 ", ".join(PARTS)), "({}); the comment: operators fitted.".format(", ".join(TERMS)),
             '"""', "", '__all__ = ["COEFFICIENTS"]', "",
             "COEFFICIENTS = {"]
    for key in sorted(table):
        lines.append("    {!r}: {!r},  # {}".format(key, table[key], counts[key]))
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="fit the analytical NPU cost model")
    parser.add_argument("--out", default=TABLE_PATH, help="the table module to write")
    args = parser.parse_args(argv)
    models = list(operator_rows())
    per_space = collections.Counter(m.space for m in models if m.split == "train")
    n_ops = sum(len(m.ops) for m in models if m.split == "train")
    table, counts = fit_table(models)
    sources = "{} operators of {} models ({})".format(
        n_ops, sum(per_space.values()),
        ", ".join("{} {}".format(s, n) for s, n in sorted(per_space.items())))
    write_table(table, counts, sources, args.out)
    print("wrote {} ({} keys; {})".format(args.out, len(table), sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
