"""Baseline predictors that PerfSAGE is compared with (issue 4, paper §5.3).

Three families, each a module with the same small interface -- ``fit(train, ...) -> model``,
``predict(model, ds) -> float64 [n, M]`` in units, ``save(model, folder)`` and
``load(folder)`` as JSON (+ ``.npz`` arrays; never pickles, so a saved baseline survives a
scikit-learn upgrade, unlike nn-Meter's predictors):

* :mod:`.totals` -- whole-graph totals (MACs, parameters, activation bytes, operator counts per
  category) into a log-log linear model or gradient-boosted trees;
* :mod:`.kernel_sum` -- nn-Meter style: a linear cost per operator type, summed over the graph,
  fitted jointly on whole-model labels;
* :mod:`.eagle` -- BRP-NAS's Eagle GCN: operator-type one-hot and adjacency only (TensorFlow).

``train`` and ``ds`` are :class:`trainer.dataset.Dataset` selections (labels ``ds.y`` [n, M] in
units, metric names ``ds.metrics``). This module holds what they share: undoing the featurizer's
transforms (:func:`raw_column`), per-graph sums (:func:`graph_sums`) and building a
:class:`trainer.dataset.FeatureTable` from featurized graphs that are not in the store (the zoo,
tests: :func:`table_from_graphs`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from edge_predictor.featurize import FEATURE_NAMES, FEATURES

from ..dataset import Dataset, FeatureTable

__all__ = ["raw_column", "graph_ids", "graph_sums", "table_from_graphs", "dataset_of",
           "dataset_from_tflite", "write_json", "read_json"]

_COL = {n: i for i, n in enumerate(FEATURE_NAMES)}


def raw_column(table: FeatureTable, name: str) -> np.ndarray:
    """A node-feature column in its own units (``log1p`` undone).

    Args:
        table: the featurized graphs (T nodes).
        name: a name in :data:`edge_predictor.featurize.FEATURE_NAMES`, e.g. ``"macs"``.

    Returns:
        float64 [T].
    """
    j = _COL[name]
    v = table.x[:, j].astype(np.float64)
    return np.expm1(v) if FEATURES[j].transform == "log1p" else v


def graph_ids(table: FeatureTable) -> np.ndarray:
    """int64 [T]: the graph of every node."""
    return np.repeat(np.arange(len(table.node_ptr) - 1), table.n_nodes)


def graph_sums(table: FeatureTable, values: np.ndarray) -> np.ndarray:
    """Per-graph sums of per-node values.

    Args:
        table: G graphs, T nodes.
        values: float [T] or [T, K].

    Returns:
        float64 [G] or [G, K].
    """
    values = np.asarray(values, np.float64)
    out = np.zeros((len(table.node_ptr) - 1,) + values.shape[1:], np.float64)
    np.add.at(out, graph_ids(table), values)
    return out


def table_from_graphs(graphs: Sequence[Any], spaces: Sequence[str], seeds: Sequence[int],
                      labels: Optional[Mapping[str, Mapping[str, Sequence[float]]]] = None
                      ) -> FeatureTable:
    """A :class:`FeatureTable` of featurized graphs that do not come from the store.

    Args:
        graphs: G :class:`edge_predictor.featurize.GraphFeatures` (or anything with ``x``
            float [N, F], ``categories`` int [N], ``op_ids`` int [N], ``edges`` int [E, 2]).
        spaces: G space names (e.g. ``"zoo"``); seeds: G integers.
        labels: target -> metric -> G values (NaN for missing).

    Returns:
        The table, graphs in the given order.
    """
    f = len(FEATURE_NAMES)
    xs = [np.asarray(g.x, np.float32).reshape(-1, f) for g in graphs]
    es = [np.asarray(g.edges, np.int32).reshape(-1, 2) for g in graphs]
    n_nodes = [len(x) for x in xs]
    table = FeatureTable(
        x=np.concatenate([np.zeros((0, f), np.float32)] + xs),
        cat=np.concatenate([np.zeros(0, np.int32)] + [np.asarray(g.categories, np.int32)
                                                      for g in graphs]),
        op=np.concatenate([np.zeros(0, np.int32)] + [np.asarray(g.op_ids, np.int32)
                                                     for g in graphs]),
        node_ptr=np.cumsum([0] + n_nodes).astype(np.int64),
        edges=np.concatenate([np.zeros((0, 2), np.int32)] + es),
        edge_ptr=np.cumsum([0] + [len(e) for e in es]).astype(np.int64),
        space=np.array(list(spaces), dtype=str), seed=np.array(list(seeds), dtype=np.int64))
    for target, metrics in (labels or {}).items():
        for metric, v in metrics.items():
            table.labels.setdefault(target, {})[metric] = np.asarray(v, np.float64)
    return table


def dataset_of(table: FeatureTable, target: str, metrics: Sequence[str]) -> Dataset:
    """Every graph of ``table`` as a :class:`Dataset`, NaN where a label is missing.

    Unlike :func:`trainer.dataset.select` nothing is dropped (predictions need no label).
    """
    have = table.labels.get(target, {})
    y = np.stack([have.get(m, np.full(len(table.seed), np.nan)) for m in metrics], axis=1)
    return Dataset(table, np.arange(len(table.seed), dtype=np.int64),
                   y.reshape(len(table.seed), len(metrics)), target, tuple(metrics))


def dataset_from_tflite(paths: Sequence[str], target: str, metrics: Sequence[str],
                        labels: Optional[Sequence[Sequence[float]]] = None, space: str = "zoo"
                        ) -> Dataset:
    """Read and featurize ``.tflite`` files (outside the store) into a :class:`Dataset`.

    Args:
        paths: n model files; target, metrics: the label columns.
        labels: float [n, M] labels in units (default NaN); space: their space name.

    Raises:
        edge_predictor.errors.ModelFormatError: a file is not a readable TFLite model.
    """
    from edge_predictor.featurize import featurize
    from edge_predictor.tflite_reader import read_model

    graphs = [featurize(read_model(p)) for p in paths]
    y = np.full((len(paths), len(metrics)), np.nan) if labels is None else np.asarray(
        labels, np.float64).reshape(len(paths), len(metrics))
    table = table_from_graphs(graphs, [space] * len(paths), range(len(paths)),
                              {target: {m: y[:, j] for j, m in enumerate(metrics)}})
    return dataset_of(table, target, metrics)


def write_json(obj: Dict[str, Any], folder: str, name: str = "model.json") -> str:
    """Write ``obj`` as ``folder/name`` (atomically); returns the path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
    os.replace(path + ".tmp", path)
    return path


def read_json(folder: str, name: str = "model.json") -> Dict[str, Any]:
    """Read ``folder/name``."""
    with open(os.path.join(folder, name)) as f:
        return json.load(f)
