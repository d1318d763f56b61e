"""Kernel sum (nn-Meter style): a linear cost per operator type, summed over the graph.

nn-Meter predicts every kernel's latency with a regressor per kernel type and sums them. Our
labels are whole-model numbers only, so the per-type linear models are fitted *jointly*::

    y_m(graph) ~= sum over operators o of  w_m[key(o)] . phi(o)
    phi(o)     = [1, MACs, input bytes, output elements, weight bytes, brick MACs]  (units)

``key(o)`` is the operator's TFLite type (``"op:CONV_2D"``) when at least ``min_graphs``
training graphs contain it, else its category (``"cat:ELEMENTWISE"``), so a rare operator shares
the weights of its kind. Summing ``onehot(key) (x) phi`` over a graph's operators gives one
design row per graph; the weights come from non-negative least squares on the *relative* error
(every row divided by its label, with a small ridge on column-scaled weights), which is what
gave 6% latency MAPE on 480 CIFAR CNNs in STACK.md. At prediction an operator type unseen in
training falls back to its category, or contributes nothing when the category is unseen too
(counted in :func:`unmapped`). Brick MACs (the MACs with depths padded to the NPU's bricks,
feature schema 3) give it the same padding information PerfSAGE's node features have. One
weight vector per metric; a peak such as SRAM is not a sum, so expect this baseline to do worse
there -- that is the point of reporting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from edge_predictor.op_table import CATEGORIES, OP_VOCAB

from ..dataset import Dataset
from . import graph_ids, raw_column, read_json, write_json

__all__ = ["PHI", "KernelSumModel", "op_phi", "design", "fit", "predict", "unmapped", "save",
           "load"]

PHI = ("const", "macs", "in_bytes", "out_elements", "weight_bytes", "macs_brick")


@dataclass
class KernelSumModel:
    """A fitted kernel-sum model.

    Attributes:
        metrics: M output names.
        keys: K weight-set names (``"op:<TFLite op>"`` or ``"cat:<category>"``).
        coef: float [K, len(PHI), M] weights in label units per phi unit (>= 0 when nonneg).
        relative, nonneg, ridge, min_graphs: how it was fitted.
    """

    metrics: List[str]
    keys: List[str]
    coef: np.ndarray
    relative: bool = True
    nonneg: bool = True
    ridge: float = 1e-6
    min_graphs: int = 5


def op_phi(ds: Dataset) -> np.ndarray:
    """float64 [T, len(PHI)] per-operator features of the whole table of ``ds`` (units)."""
    t = ds.table
    return np.stack([np.ones(len(t.cat))] + [raw_column(t, n) for n in PHI[1:]], axis=1)


def _node_keys(ds: Dataset, keys: List[str]) -> np.ndarray:
    """int64 [T] key column of every node of the table (-1: unmapped)."""
    index = {k: i for i, k in enumerate(keys)}
    by_op = np.array([index.get("op:" + o, -1) for o in OP_VOCAB])
    by_cat = np.array([index.get("cat:" + c, -1) for c in CATEGORIES])
    t = ds.table
    k = by_op[t.op]
    return np.where(k >= 0, k, by_cat[t.cat])


def design(ds: Dataset, keys: List[str]) -> np.ndarray:
    """Design rows: per example, the sum over its operators of ``onehot(key) (x) phi``.

    Returns:
        float64 [n, K * len(PHI)] (column ``k * len(PHI) + p`` = key k, feature p).
    """
    t = ds.table
    node_key = _node_keys(ds, keys)
    phi = op_phi(ds)
    ok = node_key >= 0
    z = np.zeros((len(t.seed), len(keys), len(PHI)), np.float64)
    np.add.at(z, (graph_ids(t)[ok], node_key[ok]), phi[ok])
    return z.reshape(len(t.seed), -1)[ds.index]


def unmapped(model: KernelSumModel, ds: Dataset) -> np.ndarray:
    """int64 [n] operators of every example that no weight set covers."""
    t = ds.table
    miss = np.zeros(len(t.seed), np.int64)
    np.add.at(miss, graph_ids(t), _node_keys(ds, model.keys) < 0)
    return miss[ds.index]


def _choose_keys(train: Dataset, min_graphs: int) -> List[str]:
    t = train.table
    graphs = np.unique(train.index)
    sel = np.isin(graph_ids(t), graphs)
    pairs = np.unique(np.stack([graph_ids(t)[sel], t.op[sel]], axis=1), axis=0)
    op_ids, n_graphs = np.unique(pairs[:, 1], return_counts=True) if len(pairs) else ([], [])
    frequent = {int(o) for o, n in zip(op_ids, n_graphs) if n >= min_graphs}
    keys = ["op:" + OP_VOCAB[o] for o in sorted(frequent)]
    rare = ~np.isin(t.op[sel], sorted(frequent))
    return keys + ["cat:" + CATEGORIES[int(c)] for c in np.unique(t.cat[sel][rare])]


def _solve(a: np.ndarray, b: np.ndarray, ridge: float, nonneg: bool) -> np.ndarray:
    scale = np.sqrt((a * a).mean(axis=0))
    used = scale > 0
    w = np.zeros(a.shape[1])
    if not used.any():
        return w
    a_s = a[:, used] / scale[used]
    k = a_s.shape[1]
    a_aug = np.vstack([a_s, np.sqrt(ridge * len(a)) * np.eye(k)]) if ridge > 0 else a_s
    b_aug = np.concatenate([b, np.zeros(k)]) if ridge > 0 else b
    if nonneg:
        from scipy.optimize import nnls

        sol = nnls(a_aug, b_aug, maxiter=50 * max(k, 10))[0]
    else:
        sol = np.linalg.lstsq(a_aug, b_aug, rcond=None)[0]
    w[used] = sol / scale[used]
    return w


def fit(train: Dataset, min_graphs: int = 5, relative: bool = True, nonneg: bool = True,
        ridge: float = 1e-6) -> KernelSumModel:
    """Fit the per-type weights of every metric jointly on whole-model labels.

    Args:
        train: n examples, labels float [n, M] > 0.
        min_graphs: an op type gets its own weights when at least this many distinct training
            graphs contain it (else its category's).
        relative: minimise the relative error (rows divided by the label) instead of the
            absolute one.
        nonneg: non-negative weights (NNLS) instead of plain least squares.
        ridge: L2 weight on the column-scaled weights, per example.

    Returns:
        The fitted :class:`KernelSumModel`.
    """
    y = np.asarray(train.y, np.float64)
    if len(y) == 0 or (y <= 0).any() or not np.isfinite(y).all():
        raise ValueError("kernel sum needs positive finite labels")
    keys = _choose_keys(train, min_graphs)
    x = design(train, keys)
    coef = np.zeros((len(keys) * len(PHI), y.shape[1]))
    for j in range(y.shape[1]):
        wgt = 1.0 / y[:, j] if relative else np.ones(len(y))
        coef[:, j] = _solve(x * wgt[:, None], y[:, j] * wgt, ridge, nonneg)
    return KernelSumModel(list(train.metrics), keys, coef.reshape(len(keys), len(PHI), -1),
                          relative, nonneg, ridge, min_graphs)


def predict(model: KernelSumModel, ds: Dataset) -> np.ndarray:
    """float64 [n, M] predictions in units (floored at a tiny positive value)."""
    x = design(ds, model.keys)
    pred = x @ model.coef.reshape(-1, len(model.metrics))
    return np.maximum(pred, 1e-9)


def save(model: KernelSumModel, folder: str) -> None:
    """Write ``model.json`` (weights as nested lists, per key and phi) into ``folder``."""
    weights: Dict[str, Dict[str, List[float]]] = {
        k: {p: model.coef[i, j].tolist() for j, p in enumerate(PHI)}
        for i, k in enumerate(model.keys)}
    write_json({"baseline": "kernel_sum", "metrics": model.metrics, "phi": list(PHI),
                "keys": model.keys, "weights": weights, "relative": model.relative,
                "nonneg": model.nonneg, "ridge": model.ridge, "min_graphs": model.min_graphs},
               folder)


def load(folder: str) -> KernelSumModel:
    """Read a model written by :func:`save`."""
    meta = read_json(folder)
    if meta.get("baseline") != "kernel_sum" or list(meta["phi"]) != list(PHI):
        raise ValueError("{}: not a kernel-sum model of this phi".format(folder))
    coef = np.array([[meta["weights"][k][p] for p in PHI] for k in meta["keys"]],
                    np.float64).reshape(len(meta["keys"]), len(PHI), len(meta["metrics"]))
    return KernelSumModel(list(meta["metrics"]), list(meta["keys"]), coef, meta["relative"],
                          meta["nonneg"], meta["ridge"], meta["min_graphs"])
