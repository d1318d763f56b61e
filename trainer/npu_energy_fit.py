"""Fit the analytical NPU energy model (:mod:`edge_predictor.npu_energy`) on whole-model labels.

A model's estimated energy is a sum over its operators of ``terms @ c[kind]``, so summing each
model's terms per coefficient key gives a design matrix [models, keys x terms] that is linear in
all coefficients at once: one non-negative least squares on relative error over the train
split, then trimmed refits without the models it cannot explain (|error| > :data:`TRIM`).
Fitting on totals, not on Vela's per-layer rows, because the per-layer report books a weight
prefetch to the operator before the one that uses it; the totals are exact.

Usage: ``python -m trainer.npu_energy_fit`` (writes ``edge_predictor/npu_energy_table.py``).
Refitting changes every ``npu_energy`` figure: rerun ``python -m benches.npu_cost``.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from edge_predictor.npu_cost import TERMS
from edge_predictor.op_table import lookup

from .npu_cost_fit import OpRows, operator_rows
from .store import MODELS, Store

__all__ = ["ENERGY_TERMS", "MIN_MODELS", "coefficient_keys", "design_rows", "fit_energy_table",
           "energy_labels", "labelled_train_rows", "write_table", "main"]

#: the terms energy may scale with: MACs, activation bytes moved (output and input bricks),
#: weight bytes streamed from flash, a constant; not the block model's cycles (time, not work)
ENERGY_TERMS = ("const", "macs_brick", "out_elements_brick", "in_elements_brick",
                "weight_stream_bytes")
#: train models a cost kind must occur in to get coefficients of its own
MIN_MODELS = 20
TRIM_ROUNDS = 2
TRIM = 0.5
TARGET = "ethos-u55-128"
TABLE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "edge_predictor", "npu_energy_table.py")


def _key_of(kind: str, op: str, keys: Sequence[str]) -> Optional[str]:
    if kind.endswith("/cpu"):
        return None
    base = kind.split("/")[0]
    category = "category:" + lookup(op)[0].category
    for key in (kind, base, category):
        if key in keys:
            return key
    return None


def coefficient_keys(models: List[OpRows]) -> List[str]:
    """Cost kinds seen in at least :data:`MIN_MODELS` models; rarer ones are pooled under their
    operator type, then their category."""
    seen: Dict[str, set] = collections.defaultdict(set)
    for i, m in enumerate(models):
        for kind, op in zip(m.kinds, m.ops):
            if kind.endswith("/cpu"):
                continue
            seen[kind].add(i)
            seen[kind.split("/")[0]].add(i)
            seen["category:" + lookup(op)[0].category].add(i)
    keys = set()
    for m in models:
        for kind, op in zip(m.kinds, m.ops):
            if kind.endswith("/cpu"):
                continue
            for key in (kind, kind.split("/")[0], "category:" + lookup(op)[0].category):
                if len(seen[key]) >= MIN_MODELS:
                    keys.add(key)
                    break
    return sorted(keys)


def design_rows(models: List[OpRows], keys: Sequence[str]) -> np.ndarray:
    """float64 [M, len(keys) * K]: per model, its operators' terms summed per coefficient key
    (the terms outside :data:`ENERGY_TERMS` zeroed)."""
    k = len(TERMS)
    mask = np.array([t in ENERGY_TERMS for t in TERMS], np.float64)
    index = {key: j for j, key in enumerate(keys)}
    out = np.zeros((len(models), len(keys) * k))
    for i, m in enumerate(models):
        for n, (kind, op) in enumerate(zip(m.kinds, m.ops)):
            key = _key_of(kind, op, index)
            if key is not None:
                j = index[key]
                out[i, j * k:(j + 1) * k] += m.terms[n] * mask
    return out


def _nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    scale = np.abs(a).max(0)
    scale[scale == 0] = 1.0
    w = 1.0 / y
    coef, _ = nnls(a / scale * w[:, None], y * w, maxiter=50 * a.shape[1])
    return coef / scale


def fit_energy_table(models: List[OpRows], energy_mj: np.ndarray
                     ) -> Tuple[Dict[str, List[float]], Dict[str, int]]:
    """Coefficients (pJ per term unit) per key from the models' energy labels.

    Args:
        models: the train split's operator rows (M models).
        energy_mj: float [M] their ``energy_mj`` labels.

    Returns:
        ``(table, counts)``: key -> [K] coefficients over :data:`TERMS`, key -> models holding
        it. An operator type or category without a key of its own gets its most common member's
        coefficients, so that the runtime's fallback never silently costs 0.
    """
    keys = coefficient_keys(models)
    k = len(TERMS)
    a = design_rows(models, keys)
    y = np.asarray(energy_mj, np.float64) * 1e9
    keep = y > 0
    for _ in range(TRIM_ROUNDS + 1):
        coef = _nnls(a[keep], y[keep])
        rel = np.abs(a @ coef / np.maximum(y, 1e-9) - 1.0)
        keep = (y > 0) & (rel <= TRIM)
    table = {key: [round(float(v), 6) for v in coef[j * k:(j + 1) * k]]
             for j, key in enumerate(keys)}
    counts = {key: int((a[:, j * k:(j + 1) * k] != 0).any(1).sum()) for j, key in enumerate(keys)}
    for key in list(keys):  # fallbacks for types and categories that have none of their own
        if "/" not in key or key.split("/")[0] in table:
            continue
        siblings = [s for s in keys if s.split("/")[0] == key.split("/")[0]]
        best = max(siblings, key=lambda s: counts[s])
        table[key.split("/")[0]] = table[best]
        counts[key.split("/")[0]] = 0
    return table, counts


def write_table(table: Dict[str, List[float]], counts: Dict[str, int], sources: str,
                path: str = TABLE_PATH) -> None:
    """Write the fitted table as the Python module the runtime imports."""
    lines = ["# ruff: noqa: E501  (generated: one row per cost kind)",
             '"""Fitted coefficients of :mod:`edge_predictor.npu_energy` (generated: do not '
             'edit).', "",
             "Written by ``python -m trainer.npu_energy_fit``: one non-negative least squares on",
             "whole-model relative error, train split only; {}.".format(sources),
             "Each row: pJ per unit of ``npu_cost.TERMS`` ({}); the comment: models".format(
                 ", ".join(TERMS)),
             "holding the key (0: a fallback copied from its most common kind).", '"""', "",
             '__all__ = ["COEFFICIENTS"]', "", "COEFFICIENTS = {"]
    for key in sorted(table):
        lines.append("    {!r}: {!r},  # {}".format(key, table[key], counts[key]))
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def energy_labels(store: Optional[Store] = None) -> Dict[Tuple[str, int], float]:
    """``(space, seed) -> energy_mj`` of every stored model with that label."""
    store = store or Store()
    labels = {}
    for space in sorted(os.listdir(os.path.join(store.root, MODELS))):
        for rec in store.records(MODELS, space):
            value = rec.get("labels", {}).get(TARGET, {}).get("energy_mj")
            if rec.get("status") == "ok" and value:
                labels[(space, rec["seed"])] = float(value)
    return labels


def labelled_train_rows(store: Optional[Store] = None) -> Tuple[List[OpRows], np.ndarray]:
    """The train split's operator rows and their ``energy_mj`` labels."""
    store = store or Store()
    labels = energy_labels(store)
    models = [m for m in operator_rows(store)
              if m.split == "train" and (m.space, m.seed) in labels]
    return models, np.array([labels[(m.space, m.seed)] for m in models])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="fit the analytical NPU energy model")
    parser.add_argument("--out", default=TABLE_PATH, help="the table module to write")
    args = parser.parse_args(argv)
    models, energy = labelled_train_rows()
    table, counts = fit_energy_table(models, energy)
    per_space = collections.Counter(m.space for m in models)
    sources = "{} models ({})".format(
        len(models), ", ".join("{} {}".format(s, n) for s, n in sorted(per_space.items())))
    write_table(table, counts, sources, args.out)
    print("wrote {} ({} keys; {})".format(args.out, len(table), sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
