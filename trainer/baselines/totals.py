"""Totals regression: whole-graph totals into a log-log linear model or gradient-boosted trees.

Per graph, :func:`totals` computes (in units, then ``log1p``): total MACs, parameters (constant
elements), weight bytes, activation bytes read and written (sums of every operator's activation
inputs and outputs), the largest single output tensor (a whole-graph statistic that a peak such
as SRAM needs), operator and edge counts, and the operator count of every category of
:data:`edge_predictor.op_table.CATEGORIES`. The label is ``log(y)`` per metric:

* ``kind="linear"``: ridge least squares on standardised features, i.e. a product of power laws
  ``y = exp(b) * prod_k (1 + total_k) ** w_k``;
* ``kind="gbr"``: scikit-learn's ``HistGradientBoostingRegressor`` per metric. The fitted trees
  are exported to plain arrays (``trees.npz``: feature, threshold, children, leaf values) and
  evaluated by NumPy, so a saved model needs neither pickles nor scikit-learn to predict.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from edge_predictor.op_table import CATEGORIES

from ..dataset import Dataset
from . import graph_sums, raw_column, read_json, write_json

__all__ = ["TOTALS", "KINDS", "TotalsModel", "totals", "fit", "predict", "save", "load"]

TOTALS: Tuple[str, ...] = (
    "macs", "params", "weight_bytes", "act_in_bytes", "act_out_bytes", "max_out_bytes",
    "n_ops", "n_edges") + tuple("n_" + c.lower() for c in CATEGORIES)
KINDS = ("linear", "gbr")
_TREE_FIELDS = ("feature", "threshold", "nan_left", "left", "right", "leaf", "value")


@dataclass
class TotalsModel:
    """A fitted totals regressor.

    Attributes:
        kind: ``"linear"`` or ``"gbr"``; metrics: M output names.
        mean, std: float [K] feature standardisation (linear).
        coef: float [K, M] and intercept float [M] on the standardised features (linear).
        baseline: float [M] initial prediction of the boosted trees (gbr).
        trees: per metric, the concatenated tree arrays of :data:`_TREE_FIELDS` plus
            ``ptr`` int [n_trees + 1] (gbr).
    """

    kind: str
    metrics: List[str]
    mean: List[float] = field(default_factory=list)
    std: List[float] = field(default_factory=list)
    coef: List[List[float]] = field(default_factory=list)
    intercept: List[float] = field(default_factory=list)
    baseline: List[float] = field(default_factory=list)
    trees: List[Dict[str, np.ndarray]] = field(default_factory=list)


def totals(ds: Dataset) -> np.ndarray:
    """Whole-graph totals of every example, ``log1p``-transformed.

    Args:
        ds: n examples.

    Returns:
        float64 [n, len(TOTALS)], columns in :data:`TOTALS` order.
    """
    t = ds.table
    cols = [raw_column(t, "macs"), raw_column(t, "weight_elements"),
            raw_column(t, "weight_bytes"), raw_column(t, "in_bytes"),
            raw_column(t, "out_bytes")]
    sums = graph_sums(t, np.stack(cols, axis=1))
    out_bytes = cols[-1]
    max_out = np.zeros(len(t.seed))
    if len(out_bytes):
        np.maximum.at(max_out, np.repeat(np.arange(len(t.seed)), t.n_nodes), out_bytes)
    counts = graph_sums(t, np.eye(len(CATEGORIES))[t.cat])
    per_graph = np.column_stack([sums, max_out, t.n_nodes, np.diff(t.edge_ptr), counts])
    return np.log1p(np.maximum(per_graph[ds.index], 0.0))


def _fit_linear(x: np.ndarray, z: np.ndarray, ridge: float) -> Dict[str, Any]:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std < 1e-9, 1.0, std)
    xs = (x - mean) / std
    zm = z.mean(axis=0)
    k = xs.shape[1]
    a = np.vstack([xs, np.sqrt(ridge * len(xs)) * np.eye(k)])
    b = np.vstack([z - zm, np.zeros((k, z.shape[1]))])
    coef = np.linalg.lstsq(a, b, rcond=None)[0]
    return {"mean": mean.tolist(), "std": std.tolist(), "coef": coef.tolist(),
            "intercept": zm.tolist()}


def _export_trees(est) -> Tuple[float, Dict[str, np.ndarray]]:
    """The trees of a fitted HistGradientBoostingRegressor as flat arrays (private API read)."""
    parts: Dict[str, List[np.ndarray]] = {k: [] for k in _TREE_FIELDS}
    ptr = [0]
    for (tree,) in est._predictors:
        n = tree.nodes
        if n["is_categorical"].any():
            raise ValueError("categorical splits are not exported")
        parts["feature"].append(n["feature_idx"].astype(np.int64))
        parts["threshold"].append(n["num_threshold"].astype(np.float64))
        parts["nan_left"].append(n["missing_go_to_left"].astype(bool))
        parts["left"].append(n["left"].astype(np.int64))
        parts["right"].append(n["right"].astype(np.int64))
        parts["leaf"].append(n["is_leaf"].astype(bool))
        parts["value"].append(n["value"].astype(np.float64))
        ptr.append(ptr[-1] + len(n))
    arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    arrays["ptr"] = np.asarray(ptr, np.int64)
    return float(np.ravel(est._baseline_prediction)[0]), arrays


def _predict_trees(baseline: float, tr: Dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Sum of the leaf values reached by every row of ``x`` float [n, K], plus the baseline."""
    out = np.full(len(x), baseline, np.float64)
    rows = np.arange(len(x))
    for lo in tr["ptr"][:-1]:
        node = np.full(len(x), lo, np.int64)
        for _ in range(10000):
            live = ~tr["leaf"][node]
            if not live.any():
                break
            nd = node[live]
            v = x[rows[live], tr["feature"][nd]]
            go_left = np.where(np.isnan(v), tr["nan_left"][nd], v <= tr["threshold"][nd])
            node[live] = lo + np.where(go_left, tr["left"][nd], tr["right"][nd])
        out += tr["value"][node]
    return out


def fit(train: Dataset, kind: str = "linear", ridge: float = 1e-3,
        gbr_params: Optional[Dict[str, Any]] = None, threads: int = 1) -> TotalsModel:
    """Fit on the training examples.

    Args:
        train: n examples with labels ``train.y`` float [n, M] > 0.
        kind: ``"linear"`` (log-log ridge) or ``"gbr"`` (boosted trees on log targets).
        ridge: L2 weight of the linear model, per example, on standardised features.
        gbr_params: keyword arguments of ``HistGradientBoostingRegressor`` (default:
            ``max_iter=300, learning_rate=0.05, random_state=0`` and ``min_samples_leaf`` n/20
            clipped to 2..20, so that a space with a few dozen models still gets splits).
        threads: OpenMP threads of the tree fitting.

    Returns:
        The fitted :class:`TotalsModel`.
    """
    if kind not in KINDS:
        raise ValueError("kind must be one of {}, got {!r}".format(", ".join(KINDS), kind))
    y = np.asarray(train.y, np.float64)
    if len(y) == 0 or (y <= 0).any() or not np.isfinite(y).all():
        raise ValueError("totals regression needs positive finite labels")
    x, z = totals(train), np.log(y)
    model = TotalsModel(kind, list(train.metrics))
    if kind == "linear":
        for k, v in _fit_linear(x, z, ridge).items():
            setattr(model, k, v)
        return model
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    params = dict(max_iter=300, learning_rate=0.05, random_state=0,
                  min_samples_leaf=int(np.clip(len(y) // 20, 2, 20)))
    params.update(gbr_params or {})
    for j in range(z.shape[1]):
        with threadpool_limits(threads):  # OpenMP on busy cores is ~10x slower than 1 thread
            est = HistGradientBoostingRegressor(**params).fit(x, z[:, j])
        base, arrays = _export_trees(est)
        model.baseline.append(base)
        model.trees.append(arrays)
    return model


def predict(model: TotalsModel, ds: Dataset) -> np.ndarray:
    """float64 [n, M] predictions in units for the examples of ``ds``."""
    x = totals(ds)
    if model.kind == "linear":
        xs = (x - np.asarray(model.mean)) / np.asarray(model.std)
        z = xs @ np.asarray(model.coef).reshape(x.shape[1], -1) + np.asarray(model.intercept)
    else:
        z = np.stack([_predict_trees(b, tr, x) for b, tr in zip(model.baseline, model.trees)],
                     axis=1) if model.trees else np.zeros((len(x), 0))
    return np.exp(np.clip(z, -700.0, 700.0))


def save(model: TotalsModel, folder: str) -> None:
    """Write ``model.json`` (+ ``trees.npz`` for gbr) into ``folder``."""
    meta = {"baseline": "totals", "kind": model.kind, "metrics": model.metrics,
            "features": list(TOTALS), "mean": model.mean, "std": model.std,
            "coef": model.coef, "intercept": model.intercept, "tree_baseline": model.baseline}
    write_json(meta, folder)
    if model.kind == "gbr":
        np.savez(os.path.join(folder, "trees.npz"),
                 **{"{}__{}".format(j, k): v for j, tr in enumerate(model.trees)
                    for k, v in tr.items()})


def load(folder: str) -> TotalsModel:
    """Read a model written by :func:`save`."""
    meta = read_json(folder)
    if meta.get("baseline") != "totals" or list(meta["features"]) != list(TOTALS):
        raise ValueError("{}: not a totals model of this feature list".format(folder))
    model = TotalsModel(meta["kind"], list(meta["metrics"]), meta["mean"], meta["std"],
                        meta["coef"], meta["intercept"], list(meta["tree_baseline"]))
    if model.kind == "gbr":
        with np.load(os.path.join(folder, "trees.npz"), allow_pickle=False) as z:
            model.trees = [{k: z["{}__{}".format(j, k)] for k in _TREE_FIELDS + ("ptr",)}
                           for j in range(len(model.metrics))]
    return model
