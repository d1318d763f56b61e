"""Eagle (BRP-NAS, Dudziak et al. 2020): a GCN on operator types and adjacency only.

As in SamsungLabs/eagle's latency predictor: the input of a node is the one-hot of its operator
type and nothing else (no shapes, no hyperparameters); a *global node* linked to every operator
is added, 4 graph-convolution layers of 600 units (each followed by layer normalisation, ReLU
and dropout 0.002) update the nodes, and a linear layer reads the global node's final state.

Adapted to our graphs (the paper's §5.3 also adapted it): Eagle's NAS-Bench-201 cells have 8
nodes and a raw directed adjacency; ours have up to ~1000 operators, so the adjacency is made
symmetric, given self loops and normalised as in Kipf & Welling (``D^-1/2 (A + I) D^-1/2``,
Spektral's ``GCNConv``), which keeps the global node's sum over hundreds of neighbours bounded.
The outputs, loss (the hybrid loss of :mod:`trainer.losses` in the model space of
:mod:`trainer.targets`), optimiser (AdamW, Eagle's lr 4e-4 and weight decay 5e-4) and early
stopping on the validation MAPE are those of PerfSAGE's trainer, so the comparison is about the
model. Weights are saved as ``weights.npz`` (plain arrays) next to ``model.json``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from edge_predictor.featurize import FEATURE_NAMES
from edge_predictor.op_table import OP_VOCAB

from .. import batching
from .. import dataset as D
from ..losses import DEFAULT_ALPHA, hybrid_loss, mape_np
from ..targets import Targets
from . import read_json, write_json

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Spektral needs Keras 2

__all__ = ["EagleConfig", "EagleModel", "build_eagle", "eagle_inputs", "fit", "predict", "save",
           "load"]

_IDENTITY = D.Normalizer([0.0] * len(FEATURE_NAMES), [1.0] * len(FEATURE_NAMES))


@dataclass
class EagleConfig:
    """Architecture and training of one Eagle model (defaults: BRP-NAS's latency predictor).

    Attributes:
        metrics: output names; n_ops: operator vocabulary size (one-hot width, + 1 global).
        hidden: GCN width (600); layers: GCN layers (4); dropout: after each layer (0.002).
        epochs, patience: maximum epochs and early-stopping patience (validation MAPE).
        batch_size: graphs per batch; lr, weight_decay: AdamW; seed: every random choice.
        loss: ``"hybrid"`` or ``"mape"``; alpha: the hybrid loss's MSE weight.
    """

    metrics: List[str] = field(default_factory=lambda: ["latency_ms"])
    n_ops: int = len(OP_VOCAB)
    hidden: int = 600
    layers: int = 4
    dropout: float = 0.002
    epochs: int = 100
    patience: int = 15
    batch_size: int = 32
    lr: float = 4e-4
    weight_decay: float = 5e-4
    seed: int = 0
    loss: str = "hybrid"
    alpha: float = DEFAULT_ALPHA


@dataclass
class EagleModel:
    """A trained Eagle: config, target transforms, weights (those of ``best_epoch``), history."""

    config: EagleConfig
    targets: Targets
    weights: List[np.ndarray]
    history: List[Dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    keras: Any = None  # the built model (not saved)


def build_eagle(cfg: EagleConfig):
    """The Keras model: inputs ``op`` int32 [B, N] (-1 = padding) and ``a`` float32 [B, N, N]
    (normalised, node 0 = the global node); output float32 [B, M] in model space."""
    import tensorflow as tf
    import tf_keras as keras
    from spektral.layers import GCNConv

    op = keras.Input((None,), name="op", dtype="int32")
    a = keras.Input((None, None), name="a", dtype="float32")
    h = keras.layers.Lambda(lambda o: tf.one_hot(o, cfg.n_ops + 1), name="op_onehot")(op)
    for i in range(cfg.layers):
        h = GCNConv(cfg.hidden, name="gcn_{}".format(i + 1))([h, a])
        h = keras.layers.LayerNormalization(name="norm_{}".format(i + 1))(h)
        h = keras.layers.ReLU(name="relu_{}".format(i + 1))(h)
        if cfg.dropout > 0:
            h = keras.layers.Dropout(cfg.dropout, name="dropout_{}".format(i + 1))(h)
    g = keras.layers.Lambda(lambda t: t[:, 0], name="global_node")(h)
    out = keras.layers.Dense(len(cfg.metrics), name="head")(g)
    return keras.Model(inputs={"op": op, "a": a}, outputs=out, name="eagle")


def eagle_inputs(inputs: Dict[str, np.ndarray], n_ops: int) -> Dict[str, np.ndarray]:
    """Eagle's inputs from a padded batch of :func:`trainer.batching.batches`.

    Args:
        inputs: ``op`` int32 [B, N], ``a`` float32 [B, N, N] symmetric 0/1, ``mask`` [B, N].
        n_ops: vocabulary size (the global node's type is ``n_ops``).

    Returns:
        ``op`` int32 [B, N+1] (global node first, padding -1) and ``a`` float32 [B, N+1, N+1]
        = ``D^-1/2 (A + I) D^-1/2`` over real nodes, the global node linked to all of them.
    """
    mask = inputs["mask"].astype(np.float32)
    b, n = mask.shape
    op = np.full((b, n + 1), -1, np.int32)
    op[:, 0] = n_ops
    op[:, 1:] = np.where(mask > 0, inputs["op"], -1)
    a = np.zeros((b, n + 1, n + 1), np.float32)
    a[:, 1:, 1:] = inputs["a"]
    a[:, 0, 1:] = mask
    a[:, 1:, 0] = mask
    real = np.concatenate([np.ones((b, 1), np.float32), mask], axis=1)
    a += real[:, :, None] * np.eye(n + 1, dtype=np.float32)[None]
    deg = a.sum(axis=2)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0).astype(np.float32)
    return {"op": op, "a": a * inv[:, :, None] * inv[:, None, :]}


def _predict_z(model, ds: D.Dataset, n_ops: int, batch_size: int, fn) -> np.ndarray:
    out = np.zeros((len(ds), len(ds.metrics)), np.float32)
    for inputs, rows in batching.batches(ds, batch_size, _IDENTITY):
        out[rows] = fn(eagle_inputs(inputs, n_ops)).numpy()
    return out


def fit(train: D.Dataset, val: Optional[D.Dataset] = None, config: Optional[EagleConfig] = None,
        progress: Optional[Callable[[Dict[str, Any]], None]] = None) -> EagleModel:
    """Train Eagle; keep the weights of the best validation epoch.

    Args:
        train: training examples (labels float [n, M] > 0).
        val: validation examples for early stopping (None: train ``epochs`` and keep the last).
        config: architecture and training (default :class:`EagleConfig` with train's metrics).
        progress: called after every epoch with ``{"epoch", "train_loss", "val_mape",
            "best_epoch", "epoch_s"}``.

    Returns:
        The trained :class:`EagleModel`.
    """
    import tensorflow as tf
    import tf_keras as keras

    cfg = config or EagleConfig(metrics=list(train.metrics))
    cfg.metrics = list(train.metrics)
    keras.utils.set_random_seed(cfg.seed)
    targets = Targets.fit(train.target, cfg.metrics, train.y)
    model = build_eagle(cfg)
    opt = keras.optimizers.AdamW(cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = hybrid_loss(targets, cfg.alpha, cfg.loss)
    spec = {"op": tf.TensorSpec([None, None], tf.int32),
            "a": tf.TensorSpec([None, None, None], tf.float32)}

    @tf.function(input_signature=[spec, tf.TensorSpec([None, len(cfg.metrics)], tf.float32)])
    def step(inputs, z):
        with tf.GradientTape() as tape:
            loss = loss_fn(z, model(inputs, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    predict_fn = tf.function(lambda inputs: model(inputs, training=False),
                             input_signature=[spec])
    z_train = targets.to_model(train.y)
    best, best_epoch, bad, history = None, 0, 0, []
    best_weights = model.get_weights()
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.time()
        rng = np.random.default_rng([cfg.seed, epoch])
        total, n = 0.0, 0
        for inputs, rows in batching.batches(train, cfg.batch_size, _IDENTITY, rng=rng):
            total += float(step(eagle_inputs(inputs, cfg.n_ops), z_train[rows]))
            n += 1
        val_mape = None
        if val is not None and len(val):
            pred = targets.from_model(_predict_z(model, val, cfg.n_ops, 64, predict_fn))
            val_mape = mape_np(val.y, pred)
            score = float(val_mape.mean())
        else:
            score = -float(epoch)  # no validation: the last epoch is the best
        if best is None or score < best:
            best, best_epoch, bad = score, epoch, 0
            best_weights = model.get_weights()
        else:
            bad += 1
        history.append({"epoch": epoch, "train_loss": total / max(n, 1), "epoch_s":
                        time.time() - t0, "val_mape": None if val_mape is None else
                        dict(zip(cfg.metrics, val_mape.tolist()))})
        if progress:
            progress(dict(history[-1], best_epoch=best_epoch))
        if bad >= cfg.patience:
            break
    model.set_weights(best_weights)
    return EagleModel(cfg, targets, [np.asarray(w) for w in best_weights], history, best_epoch,
                      model)


def _keras_of(model: EagleModel):
    if model.keras is None:
        model.keras = build_eagle(model.config)
        model.keras.set_weights(model.weights)
    return model.keras


def predict(model: EagleModel, ds: D.Dataset, batch_size: int = 64) -> np.ndarray:
    """float64 [n, M] predictions in units for the examples of ``ds``."""
    import tensorflow as tf

    km = _keras_of(model)
    fn = tf.function(lambda inputs: km(inputs, training=False), reduce_retracing=True)
    return model.targets.from_model(_predict_z(km, ds, model.config.n_ops, batch_size, fn))


def save(model: EagleModel, folder: str) -> None:
    """Write ``model.json`` (config, target transforms, history) and ``weights.npz``."""
    write_json({"baseline": "eagle", "config": dataclasses.asdict(model.config),
                "targets": model.targets.to_json(), "history": model.history,
                "best_epoch": model.best_epoch}, folder)
    np.savez(os.path.join(folder, "weights.npz"),
             **{"w{:03d}".format(i): w for i, w in enumerate(model.weights)})


def load(folder: str) -> EagleModel:
    """Read a model written by :func:`save` (the Keras model is built on first use)."""
    meta = read_json(folder)
    if meta.get("baseline") != "eagle":
        raise ValueError("{}: not an Eagle model".format(folder))
    with np.load(os.path.join(folder, "weights.npz"), allow_pickle=False) as z:
        weights = [z[k] for k in sorted(z.files)]
    return EagleModel(EagleConfig(**meta["config"]), Targets.from_json(meta["targets"]),
                      weights, meta.get("history", []), meta.get("best_epoch", 0))
