"""Inference with a trained PerfSAGE folder in disjoint mode: scoring splits, predicting datasets.

The trainer, the accuracy bench and :func:`trainer.train.evaluate` share these helpers. A folder
written by :func:`trainer.train.train` holds batch-mode weights (``weights.weights.h5``, what the
converter exports); :func:`load_folder` copies them into the disjoint-mode model, which needs no
padding and a sparse adjacency, so scoring a thousand 1,000-node ViTs takes seconds.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, Tuple

import numpy as np

from . import batching
from . import dataset as D
from .model import build_perfsage, build_perfsage_disjoint, copy_weights, load_config
from .targets import Targets

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Spektral needs Keras 2

__all__ = ["WEIGHTS", "tensors", "signature", "predict_ds", "load_folder", "predict_folder"]

WEIGHTS = "weights.weights.h5"


def signature(n_features: int) -> Dict[str, Any]:
    """The ``tf.function`` input signature of the disjoint-mode model with F features."""
    import tensorflow as tf

    return {"x": tf.TensorSpec([None, n_features], tf.float32),
            "cat": tf.TensorSpec([None], tf.int32), "op": tf.TensorSpec([None], tf.int32),
            "a": tf.SparseTensorSpec([None, None], tf.float32),
            "seg": tf.TensorSpec([None], tf.int32)}


def tensors(inputs: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """Disjoint batch arrays -> the model's inputs (the adjacency as a tf.SparseTensor)."""
    import tensorflow as tf

    idx = inputs["a_idx"]
    n = int(inputs["n_nodes"])
    a = tf.SparseTensor(idx, tf.ones([len(idx)], tf.float32), [n, n])
    return {"x": inputs["x"], "cat": inputs["cat"], "op": inputs["op"], "a": a,
            "seg": inputs["seg"]}


def predict_ds(ds: D.Dataset, norm: D.Normalizer, batch_size: int, fn) -> np.ndarray:
    """float32 [G', M] model-space predictions of the disjoint-mode ``fn``, in ``ds`` order."""
    out = np.zeros((len(ds), len(ds.metrics)), np.float32)
    for inputs, rows in batching.disjoint_batches(ds, batch_size, norm):
        out[rows] = fn(tensors(inputs)).numpy()
    return out


def load_folder(model_dir: str) -> Tuple[Callable, D.Normalizer, Targets]:
    """A trained folder's disjoint-mode predict function, normaliser and targets.

    Returns:
        ``(fn, normalizer, targets)``: ``fn(tensors(inputs))`` gives float32 [B, M] model space.
    """
    import tensorflow as tf

    with open(os.path.join(model_dir, "normalizer.json")) as f:
        norm = D.Normalizer.from_json(json.load(f))
    targets = Targets.load(os.path.join(model_dir, "targets.json"))
    mcfg = load_config(os.path.join(model_dir, "config.json"))
    dense, model = build_perfsage(mcfg), build_perfsage_disjoint(mcfg)
    dense.load_weights(os.path.join(model_dir, WEIGHTS))
    copy_weights(dense, model)
    fn = tf.function(lambda inputs: model(inputs, training=False),
                     input_signature=[signature(mcfg.n_features)])
    return fn, norm, targets


def predict_folder(model_dir: str, ds: D.Dataset, batch_size: int = 256) -> np.ndarray:
    """float64 [G', M] predictions in units of a trained folder on any dataset ``ds``."""
    fn, norm, targets = load_folder(model_dir)
    return targets.from_model(predict_ds(ds, norm, batch_size, fn))
