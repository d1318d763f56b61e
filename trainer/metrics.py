"""Accuracy metrics of a performance predictor: MAPE, shares within a tolerance, Spearman's rho.

Every function takes labels and predictions in *units* (not the model space of
:mod:`trainer.targets`). Shared with the trainer, so the bench, the trainer and the
baselines report the same numbers:

* :func:`mape` is :func:`trainer.losses.mape_np` (per-metric MAPE of [G, M] arrays, a fraction);
* :func:`score`, the per-space aggregation (``{space: {metric: {"n", "mape", "within_5",
  "within_10", "spearman"}}}`` with an ``"all"`` entry) behind the trainer's ``metrics.json``.

The rest is NumPy only: :func:`ape` (absolute percentage errors), :func:`within` (share of models
whose error is at most a tolerance), :func:`rankdata` (average ranks, ties shared) and
:func:`spearman` (Pearson correlation of those ranks, which is what ``scipy.stats.spearmanr``
computes), and :func:`summary` for one group of models. MAPE and shares are fractions
(0.05 = 5%); an undefined value (no model, constant input) is ``None`` in the dict forms.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .losses import mape_np as mape

__all__ = ["mape", "ape", "within", "rankdata", "spearman", "summary", "score", "EPS"]

EPS = 1e-12  # floor of |y_true| in a percentage error (as trainer.losses.mape_np)


def ape(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Absolute percentage errors ``|pred - true| / |true|`` (fractions).

    Args:
        y_true: float [G] or [G, M] labels in units.
        y_pred: float, same shape, predictions in units.

    Returns:
        float64 array of the same shape.
    """
    t = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    return np.abs(p - t) / np.maximum(np.abs(t), EPS)


def within(y_true: np.ndarray, y_pred: np.ndarray, tol: float) -> np.ndarray:
    """Share of models whose percentage error is at most ``tol`` (e.g. 0.05 for +-5%).

    Args:
        y_true, y_pred: float [G] or [G, M] in units; tol: a fraction.

    Returns:
        float64 scalar array for [G] inputs, float64 [M] for [G, M]; NaN when G = 0.
    """
    e = ape(y_true, y_pred)
    if e.shape[0] == 0:
        return np.full(e.shape[1:], np.nan)
    return np.mean(e <= tol, axis=0)


def rankdata(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array, tied values sharing the average of their ranks.

    Args:
        a: float [n].

    Returns:
        float64 [n] (``[10, 20, 20, 30] -> [1, 2.5, 2.5, 4]``).
    """
    a = np.asarray(a).ravel()
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    # start of each run of equal values
    new = np.concatenate([[True], sorted_a[1:] != sorted_a[:-1]]) if len(a) else np.zeros(0, bool)
    run = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.concatenate([starts[1:], [len(a)]])
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(len(a), np.float64)
    ranks[order] = avg[run]
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of two 1-D arrays, ties handled by average ranks.

    Args:
        x, y: float [n].

    Returns:
        rho in [-1, 1]; NaN when n < 2 or either input is constant.
    """
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    if len(x) != len(y):
        raise ValueError("spearman: {} vs {} values".format(len(x), len(y)))
    if len(x) < 2:
        return float("nan")
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx * rx).sum()) * float((ry * ry).sum()))
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def _finite(v: float) -> Optional[float]:
    return float(v) if v is not None and math.isfinite(v) else None


def summary(y_true: np.ndarray, y_pred: np.ndarray, metrics: Sequence[str]
            ) -> Dict[str, Dict[str, Any]]:
    """Accuracy of one group of models, per metric (the inner level of :func:`score`).

    Args:
        y_true, y_pred: float [G, M] in units; metrics: the M names.

    Returns:
        ``{metric: {"n", "mape", "within_5", "within_10", "spearman"}}`` (None where undefined).
    """
    t = np.asarray(y_true, np.float64).reshape(-1, len(metrics))
    p = np.asarray(y_pred, np.float64).reshape(-1, len(metrics))
    out = {}
    for j, m in enumerate(metrics):
        e = ape(t[:, j], p[:, j])
        out[m] = {"n": int(len(e)),
                  "mape": _finite(float(e.mean())) if len(e) else None,
                  "within_5": _finite(float(within(t[:, j], p[:, j], 0.05))),
                  "within_10": _finite(float(within(t[:, j], p[:, j], 0.10))),
                  "spearman": _finite(spearman(t[:, j], p[:, j]))}
    return out


def score(y_true: np.ndarray, y_pred: np.ndarray, spaces: np.ndarray, metrics: List[str]
          ) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """Accuracy per space (and ``"all"``) and metric: :func:`summary` of every group.

    Args:
        y_true, y_pred: float [G, M] in units; spaces: str [G]; metrics: M names.

    Returns:
        ``{space: {metric: {"n", "mape", "within_5", "within_10", "spearman"}}}``; MAPE and the
        within-shares are fractions; an undefined rho (fewer than 2 models) is None.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for name in sorted(set(spaces.tolist())) + ["all"]:
        sel = np.ones(len(spaces), bool) if name == "all" else spaces == name
        out[name] = summary(y_true[sel], y_pred[sel], metrics)
    return out
