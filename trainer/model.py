"""PerfSAGE (paper §4) in Spektral + tf-keras, on dense padded graphs.

Inputs (batch mode; B graphs padded to N nodes; the converter feeds the same tensors)::

    x     float32 [B, N, F]  node features, already normalised (featurize + Normalizer)
    cat   int32   [B, N]     category index (op_table.CATEGORIES), 0 on padded nodes
    op    int32   [B, N]     op vocabulary index (op_table.OP_VOCAB), 0 on padded nodes
    a     float32 [B, N, N]  0/1 adjacency over predecessors *and* successors, no self loops
    mask  float32 [B, N]     1 for real nodes, 0 for padding

Output: float32 [B, M], one column per metric in the *model space* of :mod:`trainer.targets`
(the converter appends the inverse transform so that exported predictors answer in units).

Layers:

1. Categorical feature encoding (Eq. 1): ``h0 = relu(W_c [x || E(op)] + b_c)``, implemented as
   one dense layer over the outer product ``onehot(c) (x) [x || E(op) || 1]``, which is exactly a
   separate weight matrix and bias per category. ``cfe=False`` (the ablation) uses one shared
   dense layer instead.
2. ``gnn_layers`` x Spektral ``GCSConv`` with a raw 0/1 adjacency: ``relu(A h W1 + h W2 + b)``,
   i.e. Eq. 2 with SUM aggregation; padded rows are zeroed after every layer.
3. Max readout over the real nodes (ReLU outputs are >= 0, so zeroed padding never wins).
4. ``dense_layers`` x Dense(``dense_width``, relu), then Dense(M).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__all__ = ["PerfSAGEConfig", "build_perfsage", "INPUT_NAMES", "save_config", "load_config"]

INPUT_NAMES = ("x", "cat", "op", "a", "mask")


@dataclass
class PerfSAGEConfig:
    """Architecture hyperparameters (paper defaults where the paper gives them).

    Attributes:
        n_features: F, node-feature columns.
        n_categories: C, operator categories (CFE weight sets).
        n_ops: operator vocabulary size (op embedding rows).
        metrics: output names, in column order.
        hidden: width of the node hidden vectors.
        op_embedding: width of the trainable op-type embedding ``E``.
        gnn_layers: message-passing layers (paper: 8).
        dense_layers: fully connected layers after the readout (paper: 4).
        dense_width: their width (paper: 1024).
        dropout: dropout after each dense layer (0 disables).
        l2: L2 weight decay on all kernels.
        cfe: categorical feature encoding on (False = the paper's ablation).
    """

    n_features: int
    n_categories: int
    n_ops: int
    metrics: List[str] = field(default_factory=list)
    hidden: int = 128
    op_embedding: int = 16
    gnn_layers: int = 8
    dense_layers: int = 4
    dense_width: int = 1024
    dropout: float = 0.0
    l2: float = 0.0
    cfe: bool = True


def save_config(cfg: PerfSAGEConfig, path: str) -> None:
    """Write the config as JSON (no pickles)."""
    with open(path, "w") as f:
        json.dump(dataclasses.asdict(cfg), f, indent=2)


def load_config(path: str) -> PerfSAGEConfig:
    """Read a config written by :func:`save_config`."""
    with open(path) as f:
        data: Dict[str, Any] = json.load(f)
    return PerfSAGEConfig(**data)


def build_perfsage(cfg: PerfSAGEConfig):
    """Build the PerfSAGE Keras model.

    Args:
        cfg: the architecture.

    Returns:
        A ``tf_keras.Model`` taking the inputs named in :data:`INPUT_NAMES` (as a dict or in
        that order) and returning float32 [B, len(cfg.metrics)].
    """
    import tensorflow as tf
    import tf_keras as keras
    from spektral.layers import GCSConv

    reg = keras.regularizers.l2(cfg.l2) if cfg.l2 > 0 else None
    x = keras.Input((None, cfg.n_features), name="x", dtype="float32")
    cat = keras.Input((None,), name="cat", dtype="int32")
    op = keras.Input((None,), name="op", dtype="int32")
    a = keras.Input((None, None), name="a", dtype="float32")
    mask = keras.Input((None,), name="mask", dtype="float32")
    m = keras.layers.Reshape((-1, 1), name="mask_col")(mask)

    emb = keras.layers.Embedding(cfg.n_ops, cfg.op_embedding, name="op_embedding")(op)
    z = keras.layers.Concatenate(name="node_input")([x, emb])
    if cfg.cfe:
        onehot = keras.layers.Lambda(lambda c: tf.one_hot(c, cfg.n_categories),
                                     name="category_onehot")(cat)
        width = cfg.n_features + cfg.op_embedding + 1  # +1: the per-category bias
        outer = keras.layers.Lambda(
            lambda t: tf.reshape(
                t[0][:, :, :, None] * tf.concat([t[1], tf.ones_like(t[1][:, :, :1])], -1)[
                    :, :, None, :],
                [tf.shape(t[1])[0], tf.shape(t[1])[1], cfg.n_categories * width]),
            name="cfe_outer")([onehot, z])
        h = keras.layers.Dense(cfg.hidden, activation="relu", use_bias=False,
                               kernel_regularizer=reg, name="cfe_dense")(outer)
    else:
        h = keras.layers.Dense(cfg.hidden, activation="relu", kernel_regularizer=reg,
                               name="shared_dense")(z)
    h = keras.layers.Multiply(name="mask_0")([h, m])
    for i in range(cfg.gnn_layers):
        h = GCSConv(cfg.hidden, activation="relu", kernel_regularizer=reg,
                    name="gcs_{}".format(i + 1))([h, a])
        h = keras.layers.Multiply(name="mask_{}".format(i + 1))([h, m])
    g = keras.layers.Lambda(lambda t: tf.reduce_max(t, axis=1), name="max_readout")(h)
    for i in range(cfg.dense_layers):
        g = keras.layers.Dense(cfg.dense_width, activation="relu", kernel_regularizer=reg,
                               name="fc_{}".format(i + 1))(g)
        if cfg.dropout > 0:
            g = keras.layers.Dropout(cfg.dropout, name="dropout_{}".format(i + 1))(g)
    out = keras.layers.Dense(len(cfg.metrics), name="head")(g)
    return keras.Model(inputs={"x": x, "cat": cat, "op": op, "a": a, "mask": mask},
                       outputs=out, name="perfsage")
