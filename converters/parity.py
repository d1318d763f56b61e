"""Parity of an exported bundle with the Keras model it came from (``converters.export``).

:func:`check_parity` runs random graphs (:func:`random_graphs`, in the raw feature space)
through every bucket of a bundle, padded by the runtime itself, and through the Keras model
unpadded (:func:`pad_batch`); and one graph small enough for every bucket through all of them
(bucket invariance).
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from converters.export import TrainedModel
from edge_predictor import bundle as B

__all__ = ["random_graphs", "pad_batch", "check_parity"]


def _forward(v: np.ndarray, metrics: List[Dict[str, Any]]) -> np.ndarray:
    """Units -> model space, float64 [B, M] (the inverse of :func:`_inverse`)."""
    out = np.empty_like(v)
    for j, m in enumerate(metrics):
        u = np.log(np.maximum(v[:, j], 1e-300)) if m["transform"] == "log" else v[:, j]
        out[:, j] = (u - m["mu"]) / m["sigma"]
    return out


def random_graphs(n_graphs: int, max_nodes: int, tm: TrainedModel, seed: int = 0,
                  min_nodes: int = 1) -> List[Tuple[np.ndarray, ...]]:
    """Random DAG-like graphs in the raw feature space, for parity checks.

    Returns:
        A list of ``(x float32 [n, F], cat int32 [n], op int32 [n], edges int32 [E, 2])``.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_graphs):
        n = int(rng.integers(min_nodes, max_nodes + 1))
        x = (tm.mean + tm.std * rng.standard_normal((n, len(tm.mean)))).astype(np.float32)
        cat = rng.integers(0, tm.config.n_categories, n).astype(np.int32)
        op = rng.integers(0, tm.config.n_ops, n).astype(np.int32)
        src = np.arange(n - 1)
        dst = src + 1 + (rng.integers(0, 3, n - 1) if n > 1 else 0)
        edges = np.stack([src, np.minimum(dst, n - 1)], 1).astype(np.int32)
        out.append((x, cat, op, edges[edges[:, 0] != edges[:, 1]]))
    return out


def pad_batch(graphs: Sequence[Tuple[np.ndarray, ...]], nodes: int, batch: int):
    """Pad graphs (see :func:`random_graphs`) into the bucket tensors (x, cat, op, a, mask)."""
    f = graphs[0][0].shape[1]
    x = np.zeros((batch, nodes, f), np.float32)
    cat = np.zeros((batch, nodes), np.int32)
    op = np.zeros((batch, nodes), np.int32)
    a = np.zeros((batch, nodes, nodes), np.float32)
    mask = np.zeros((batch, nodes), np.float32)
    for i, (gx, gc, go, ge) in enumerate(graphs):
        n = gx.shape[0]
        x[i, :n], cat[i, :n], op[i, :n], mask[i, :n] = gx, gc, go, 1.0
        if len(ge):
            a[i, ge[:, 0], ge[:, 1]] = 1.0
            a[i, ge[:, 1], ge[:, 0]] = 1.0
    return x, cat, op, a, mask


def check_parity(tm: TrainedModel, bundle_dir: str, graphs_per_bucket: int = 6,
                 seed: int = 0) -> Dict[str, Any]:
    """Compare every bucket with the Keras model, and bucket invariance.

    Keras runs each graph unpadded (N = its node count); each bucket pads it. Invariance: one
    graph small enough for every bucket is padded into all of them.

    Returns:
        {"buckets": {signature or file: max rel. diff}, "invariance", "max_rel_diff" (worst of
        all), "max_model_space_diff" (absolute, before exp(): random weights give large
        outputs)}.
    """
    from edge_predictor.featurize import GraphFeatures
    from edge_predictor.runtime import Predictor

    def feats(graphs):  # the runtime pads them as it pads a featurized model
        return [GraphFeatures(x=gx, categories=gc, op_ids=go, edges=ge)
                for gx, gc, go, ge in graphs]

    bundle = B.load_bundle(bundle_dir)
    predictor = Predictor(bundle)
    res: Dict[str, Any] = {"buckets": {}}
    zdiff = 0.0
    smallest = min(b.nodes for b in bundle.buckets)
    probe = random_graphs(1, smallest, tm, seed=seed + 999, min_nodes=smallest)
    probe_out = []
    for k, b in enumerate(bundle.buckets):
        runner = predictor.runner(b)
        graphs = random_graphs(b.batch * max(1, graphs_per_bucket // b.batch) or 1,
                               b.nodes, tm, seed=seed + k, min_nodes=max(1, b.nodes // 4))
        worst = 0.0
        for i in range(0, len(graphs), b.batch):
            chunk = graphs[i:i + b.batch]
            got = runner.run(feats(chunk))
            ref = np.concatenate([tm.keras_predict(*pad_batch([g], g[0].shape[0], 1))
                                  for g in chunk])
            worst = max(worst, float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-12))))
            zdiff = max(zdiff, float(np.max(np.abs(_forward(got, tm.metrics) -
                                                   _forward(ref, tm.metrics)))))
        res["buckets"][b.signature or b.file] = worst
        probe_out.append(runner.run(feats(probe))[0])
    p = np.stack(probe_out)
    res["invariance"] = float(np.max(np.abs(p - p[0]) / np.maximum(np.abs(p[0]), 1e-12)))
    res["max_rel_diff"] = max([res["invariance"]] + list(res["buckets"].values()))
    res["max_model_space_diff"] = zdiff
    return res
