"""Fit the analytical NPU cost model (:mod:`edge_predictor.npu_cost`) on operator-level labels.

The labels are Vela's per-layer cycles summed per TFLite operator
(:mod:`benches.labelers.vela_layers`): in the model records of spaces generated with them
(``raw["ethos-u55-128"]["layers"]``) and in the ``labels/ethos-u55-128-layers`` records the
backfill pass (:mod:`trainer.layers_pass`) wrote for a sample of the older spaces. Only models of
the *train* split (:func:`trainer.dataset.split_of`) are fitted on.

Per cost kind and part (:data:`edge_predictor.npu_cost.PARTS`: compute, SRAM and flash access
cycles, whose max is the operator's cycles), non-negative least squares of
``terms @ c = part cycles`` on relative error (rows divided by ``max(cycles, FLOOR)``; an
operator Vela removes has 0 cycles and must cost ~0);
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

__all__ = ["FLOOR", "MIN_ROWS", "PART_TERMS", "OpRows", "operator_rows", "terms_of", "fit_table", "write_table",
           "main"]

#: cycles below which an operator's error counts as absolute, not relative
FLOOR = 200.0
#: operators a kind needs for coefficients of its own
MIN_ROWS = 20
#: the terms each part may use (physics: compute scales with work, memory access with bytes,
#: flash access with the weight stream only), as 0/1 over TERMS
PART_TERMS = {
    "npu": ("const", "block_cycles", "macs_brick", "out_elements_brick", "in_elements_brick"),
    "sram_ac": ("const", "out_elements_brick", "in_elements_brick", "weight_stream_bytes"),
    "offflash_ac": ("const", "weight_stream_bytes"),
}
TARGET = "ethos-u55-128"
TABLE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "edge_predictor", "npu_cost_table.py")

OpRows = collections.namedtuple("OpRows", "space seed split ops kinds terms cycles parts total")


def _layers_by_model(store: Store) -> Dict[Tuple[str, int], Dict[str, Any]]:
    return {(r["space"], r["seed"]): r["layers"] for r in store.records(LABELS, GROUP)
            if r.get("status") == "ok" and r.get("layers")}


def operator_rows(store: Optional[Store] = None, spaces: Optional[List[str]] = None
                  ) -> Iterator[OpRows]:
    """Every stored model with operator-level Vela cycles, featurized.

    Yields:
        :data:`OpRows` per model: ``ops`` [N] operator types, ``kinds`` [N] cost kinds,
        ``terms`` float64 [N, K], ``cycles`` float64 [N] Vela's cycles, ``parts`` float64
        [N, P] its compute and memory-access cycles, ``total`` Vela's summed cycles.
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
                         float(cycles.sum()) + float(layers.get("unmatched_cycles", 0)))


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
    """Non-negative ``c`` with ``terms @ c ~ target``, errors relative to the op's cycles."""
    from scipy.optimize import nnls

    scale = 1.0 / np.maximum(cycles, FLOOR)
    # columns scaled to unit norm so the solver sees comparable magnitudes
    a = terms * scale[:, None]
    norm = np.sqrt((a ** 2).sum(0))
    norm[norm == 0] = 1.0
    coef, _ = nnls(a / norm, target * scale, maxiter=50 * terms.shape[1])
    return coef / norm


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
            if kind.endswith("/cpu"):
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
        table[key] = []
        for j, part in enumerate(PARTS):
            mask = np.array([t in PART_TERMS[part] for t in TERMS], np.float64)
            coef = _nnls(terms * mask, parts[:, j], cycles) * mask
            table[key].append([float("{:.6g}".format(c)) for c in coef])
        counts[key] = len(rows)
    return table, counts


def write_table(table: Dict[str, List[float]], counts: Dict[str, int], sources: str,
                path: str = TABLE_PATH) -> None:
    """Write the fitted table as the Python module the runtime imports."""
    lines = ['"""Fitted coefficients of :mod:`edge_predictor.npu_cost` (generated: do not edit).',
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
