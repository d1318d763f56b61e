"""Train PerfSAGE on the EdgeDLPerf store: specialized (one space) or generalized (all spaces).

:func:`train` runs a resumable training loop (Adam, the hybrid loss, early stopping on the
validation slice, a checkpoint every epoch) and writes an output folder::

    train_config.json   the TrainConfig (what evaluate() and a resume read back)
    config.json         the PerfSAGEConfig (trainer.model.save_config)
    normalizer.json     per-feature mean/std (trainer.dataset.Normalizer)
    targets.json        metric transforms and units (trainer.targets.Targets)
    weights.weights.h5  Keras weights of the best validation epoch
    metrics.json        per-space test accuracy, train time, counts
    state.json          epoch, best validation score, optimizer step, history
    checkpoints/        TF checkpoint (model + optimizer) of the last finished epoch

Everything is JSON, HDF5 or a TF checkpoint: no pickles. :func:`evaluate` re-scores a finished
folder on any split, per space (the accuracy bench reuses it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from edge_predictor.errors import InputError
from edge_predictor.cpu_cost import TERM_COLUMNS as CPU_TERM_COLUMNS
from edge_predictor.featurize import FEATURE_NAMES, FEATURE_SCHEMA_VERSION
from edge_predictor.npu_cost import NPU_CLOCK_HZ
from edge_predictor.op_table import CATEGORIES, OP_VOCAB

from . import batching
from . import dataset as D
from .infer import WEIGHTS, predict_ds, predict_folder, signature, tensors
from .losses import DEFAULT_ALPHA, LOSSES, hybrid_loss, mape_np
from .metrics import score
from .model import (READOUTS, PerfSAGEConfig, build_perfsage, build_perfsage_disjoint,
                    copy_weights, load_config, save_config)
from .store import LABELS, MODELS, Store
from .targets import Targets, aggregate, unit

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Spektral needs Keras 2

__all__ = ["TrainConfig", "train", "evaluate", "score", "MODES", "WEIGHTS"]

MODES = ("specialized", "generalized")
#: node-feature columns (log1p sizes) of the additive path's cost prior; live_bytes is there for
#: SRAM, a peak of live activation memory (the soft readout can turn the sum into a max)
COST_FEATURES = ("macs", "in_bytes", "weight_bytes", "out_elements", "live_bytes")
#: what bounds a node's memory (bytes): live activations as the NPU lays them out, and the
#: encoded weight streams Vela buffers in SRAM for it and for the next operator (prefetched while
#: it runs). Feature schema 6 on; the schema-4 bundles were trained with the uncompressed
#: ``npu_weight_bytes`` / ``next_npu_weight_bytes`` here (their bound is baked into their graphs).
BOUNDED_FEATURES = ("live_bytes_brick", "sram_weight_bytes", "next_sram_weight_bytes")
#: the phases of an operator's schedule for ``phased_peak`` (Vela's allocation on the Ethos-U):
#: while it runs (its activations and weights) and at the hand-over to the next operator (what
#: it keeps of its weights and the first buffer of the next one's); "fixed": 16 KiB of buffers
BOUNDED_PHASES = (("live_bytes_brick", "sram_weight_bytes", "fixed"),
                  ("live_bytes_brick", "sram_weight_bytes", "next_sram_weight_bytes", "fixed"))
#: ``replayed_peak``: the same two phases over the buffers the featurizer's replay of Vela's
#: weight buffering allocates (:mod:`edge_predictor.npu_schedule`, feature schema 8): while it
#: runs, its activations and all its buffers; at the hand-over, the buffer it keeps and the
#: next operator's first one
REPLAYED_FEATURES = ("live_bytes_brick", "est_weight_buffer_bytes", "est_kept_buffer_bytes",
                     "next_est_first_buffer_bytes")
REPLAYED_PHASES = (("live_bytes_brick", "est_weight_buffer_bytes", "fixed"),
                   ("live_bytes_brick", "est_kept_buffer_bytes", "next_est_first_buffer_bytes",
                    "fixed"))
#: ``npu_live_peak``: those phases over Vela's live SRAM buffers (its order, aliasing and in-place
#: outputs, :mod:`edge_predictor.npu_memory`, feature schema 10) and an operator's scratch
#: memory (a SOFTMAX's int32 intermediates) while it runs
NPU_LIVE_FEATURES = ("npu_live_bytes", "npu_scratch_bytes", "est_weight_buffer_bytes",
                     "est_kept_buffer_bytes", "next_est_first_buffer_bytes")
NPU_LIVE_PHASES = (("npu_live_bytes", "npu_scratch_bytes", "est_weight_buffer_bytes", "fixed"),
                   ("npu_live_bytes", "est_kept_buffer_bytes", "next_est_first_buffer_bytes",
                    "fixed"))


@dataclass
class TrainConfig:
    """One training run. Architecture fields mirror :class:`trainer.model.PerfSAGEConfig`.

    Attributes:
        target: target name; metrics: label columns, in output order.
        mode: ``"specialized"`` (needs ``space``) or ``"generalized"`` (every space).
        out: output folder (resumed when it holds an unfinished run of the same config).
        epochs: maximum epochs; patience: early-stopping patience in epochs (val MAPE).
        batch_size: graphs per batch; lr: Adam learning rate; seed: every random choice.
        lr_schedule: ``"cosine"`` (decay to 5% of ``lr`` over ``lr_decay_epochs``, then flat; a
            horizon apart from ``epochs`` so that extending a run resumes the same schedule) or
            ``"constant"``.
        loss: ``"hybrid"`` or ``"mape"``; alpha: the hybrid loss's MSE weight.
        upsampling: in generalized mode, repeat small spaces to ``min_share`` of the training set.
        fraction: train on this hash-chosen fraction of the training split (learning curves).
        peak_tau: initial temperature of the additive readout for peak metrics
            (:func:`trainer.targets.aggregate`; SRAM): 1.0 starts them as sums like the others.
        bounded_peak: peak metrics (in KiB) get per-node costs bounded by the node's live and
            weight bytes (:func:`trainer.model._bounded_cost`).
        phased_peak: with ``bounded_peak``, the bound is the larger of the two phases of
            :data:`BOUNDED_PHASES` (the next operator's weights only at the hand-over), not one
            sum of everything.
        replayed_peak: with ``bounded_peak``, the two phases of :data:`REPLAYED_PHASES` over
            the replayed weight buffers instead of the encoded streams.
        npu_prior: latency is the analytical NPU cost model's cycles (feature
            ``npu_cost_cycles``, :mod:`edge_predictor.npu_cost`) summed over the operators, each
            times a bounded learned correction (:func:`trainer.model._prior_cost`); NPU
            targets only.
        energy_prior: the same for energy over the analytical energy model (feature
            ``npu_energy_pj``, :mod:`edge_predictor.npu_energy`; feature schema 10).
        cpu_prior: latency is the target's analytical host-CPU model (:mod:`edge_predictor.
            cpu_cost`, its table baked into the network) per operator times a bounded learned
            correction; CPU targets with a fitted table only.
        hold_out_family: leave the ``families`` space's models of this architecture family out
            of the train and validation splits (leave-one-family-out: the network's error on a
            family nobody sampled, scored on the zoo's models of it).
        npu_live_peak: with ``replayed_peak``, the phases of :data:`NPU_LIVE_PHASES` (Vela's
            live buffers and scratch instead of the file-order live bytes; schema 10).
        data: store root (None: the default); cache_dir: feature cache ("" default, None off).
    """

    target: str = "ethos-u55-128"
    metrics: List[str] = field(default_factory=lambda: ["latency_ms"])
    mode: str = "specialized"
    space: Optional[str] = None
    out: str = "runs/perfsage"
    epochs: int = 100
    patience: int = 15
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    loss: str = "hybrid"
    alpha: float = DEFAULT_ALPHA
    upsampling: bool = True
    min_share: float = 0.1
    fraction: float = 1.0
    data: Optional[str] = None
    cache_dir: Optional[str] = ""
    hidden: int = 128
    op_embedding: int = 16
    gnn_layers: int = 8
    dense_layers: int = 4
    dense_width: int = 1024
    dropout: float = 0.0
    l2: float = 0.0
    cfe: bool = True
    readout: str = "max+sum"
    node_head: int = 64
    layer_norm: bool = True
    cost_prior: bool = True
    soft_readout: bool = True
    peak_tau: float = 1.0
    bounded_peak: bool = False
    phased_peak: bool = False
    replayed_peak: bool = False
    npu_prior: bool = False
    energy_prior: bool = False
    cpu_prior: bool = False
    npu_live_peak: bool = False
    hold_out_family: Optional[str] = None
    lr_schedule: str = "cosine"
    lr_decay_epochs: int = 100

    def check(self) -> None:
        """Raise :class:`InputError` for an inconsistent config."""
        if self.mode not in MODES:
            raise InputError("mode must be one of {}, got {!r}".format(", ".join(MODES),
                                                                        self.mode))
        if self.mode == "specialized" and not self.space:
            raise InputError("specialized mode needs a design space (--space)")
        if self.loss not in LOSSES:
            raise InputError("loss must be one of {}, got {!r}".format(", ".join(LOSSES),
                                                                        self.loss))
        if not self.metrics:
            raise InputError("at least one metric is needed")
        if not 0.0 < self.fraction <= 1.0:
            raise InputError("fraction must be in (0, 1], got {}".format(self.fraction))
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise InputError("epochs, batch size and patience must be positive")
        if self.lr_schedule not in ("cosine", "constant"):
            raise InputError("lr_schedule must be cosine or constant, got {!r}".format(
                self.lr_schedule))
        if self.bounded_peak and any(unit("", m) != "KiB" for m in self.metrics
                                     if aggregate(m) == "peak"):
            raise InputError("bounded_peak needs its peak metrics in KiB")
        if (self.phased_peak or self.replayed_peak) and not self.bounded_peak:
            raise InputError("phased_peak and replayed_peak refine bounded_peak: set it too")
        if not self.peak_tau > 0:
            raise InputError("peak_tau must be positive, got {}".format(self.peak_tau))
        if self.npu_prior and (self.readout == "max" or "latency_ms" not in self.metrics
                               or self.target.startswith("cpu")):
            raise InputError("npu_prior needs the additive readout and an NPU latency metric")
        if self.energy_prior and (self.readout == "max" or "energy_mj" not in self.metrics
                                  or self.target.startswith("cpu")):
            raise InputError("energy_prior needs the additive readout and an NPU energy metric")
        if self.cpu_prior and (self.readout == "max" or "latency_ms" not in self.metrics
                               or not self.target.startswith("cpu") or self.npu_prior):
            raise InputError("cpu_prior needs the additive readout and a CPU latency metric")
        if self.npu_live_peak and not self.replayed_peak:
            raise InputError("npu_live_peak refines replayed_peak: set it too")
        if self.readout not in READOUTS:
            raise InputError("readout must be one of {}, got {!r}".format(
                ", ".join(READOUTS), self.readout))

    def model_config(self, targets: Optional[Targets] = None, typical_nodes: float = 100.0,
                     norm: Optional[D.Normalizer] = None) -> PerfSAGEConfig:
        """The architecture for this run (the additive readout needs the fitted ``targets``,
        its cost prior the normaliser)."""
        cols = [FEATURE_NAMES.index(n) for n in COST_FEATURES] \
            if self.cost_prior and self.readout != "max" and norm else []
        peak = [j for j, m in enumerate(self.metrics) if aggregate(m) == "peak"] \
            if self.bounded_peak and self.readout != "max" and norm else []
        names, phases = ((NPU_LIVE_FEATURES, NPU_LIVE_PHASES) if self.npu_live_peak else
                         (REPLAYED_FEATURES, REPLAYED_PHASES) if self.replayed_peak else
                         (BOUNDED_FEATURES, BOUNDED_PHASES))
        bcols = [FEATURE_NAMES.index(n) for n in names] if peak else []
        phased = self.phased_peak or self.replayed_peak
        priors = [(m, FEATURE_NAMES.index(f) if f else -1, s) for m, f, s, on in (
            ("latency_ms", PRIOR_FEATURE, 1e3 / NPU_CLOCK_HZ, self.npu_prior),
            ("energy_mj", ENERGY_PRIOR_FEATURE, 1e-9, self.energy_prior),
            ("latency_ms", None, 1.0, self.cpu_prior)) if on and norm]
        table = _cpu_prior_rows(self.target) if self.cpu_prior and norm else []
        tcols = [FEATURE_NAMES.index(n) for n in CPU_TERM_COLUMNS] if table else []
        return PerfSAGEConfig(
            prior_metrics=[self.metrics.index(m) for m, _, _ in priors],
            prior_columns=[c for _, c, _ in priors],
            prior_means=[float(norm.mean[c]) if c >= 0 else 0.0 for _, c, _ in priors],
            prior_stds=[float(norm.std[c]) if c >= 0 else 1.0 for _, c, _ in priors],
            prior_scales=[s for _, _, s in priors], prior_table=table, prior_table_columns=tcols,
            prior_table_mean=[float(norm.mean[c]) for c in tcols],
            prior_table_std=[float(norm.std[c]) for c in tcols],
            bounded=peak, bounded_columns=bcols,
            bounded_mean=[float(norm.mean[c]) for c in bcols] if bcols else [],
            bounded_std=[float(norm.std[c]) for c in bcols] if bcols else [],
            bounded_phases=[[float(n in ph) for n in names + ("fixed",)]
                            for ph in phases] if bcols and phased else [],
            cost_columns=cols, cost_mean=[float(norm.mean[c]) for c in cols] if cols else [],
            cost_std=[float(norm.std[c]) for c in cols] if cols else [],
            soft_readout=self.soft_readout,
            tau_init=[self.peak_tau if aggregate(m) == "peak" else 1.0 for m in self.metrics]
            if self.peak_tau != 1.0 else [],
            readout=self.readout, node_head=self.node_head, layer_norm=self.layer_norm,
            log_mean=list(targets.mean) if targets else [],
            log_std=list(targets.std) if targets else [], typical_nodes=float(typical_nodes),
            n_features=len(FEATURE_NAMES), n_categories=len(CATEGORIES), n_ops=len(OP_VOCAB),
            metrics=list(self.metrics), hidden=self.hidden, op_embedding=self.op_embedding,
            gnn_layers=self.gnn_layers, dense_layers=self.dense_layers,
            dense_width=self.dense_width, dropout=self.dropout, l2=self.l2, cfe=self.cfe)


#: the analytical per-operator cycles ``npu_prior`` builds latency on (feature schema 9)
PRIOR_FEATURE = "npu_cost_cycles"
def _cpu_prior_rows(target: str) -> List[List[float]]:
    """[n_ops, K] milliseconds per unit of each :data:`edge_predictor.cpu_cost.CPU_TERMS`, per
    operator of the vocabulary, from ``target``'s fitted table (fallbacks resolved)."""
    from edge_predictor.cpu_cost import coefficient_rows, table_for
    from edge_predictor.op_table import OP_VOCAB

    return (coefficient_rows(OP_VOCAB, table_for(target)) * 1e-3).tolist()


#: the analytical per-operator energy (pJ) ``energy_prior`` builds energy on (feature schema 10)
ENERGY_PRIOR_FEATURE = "npu_energy_pj"

_RESUMABLE_CHANGES = ("epochs", "patience", "out", "data", "cache_dir")


def _dump(obj: Any, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, allow_nan=False)
    os.replace(tmp, path)


def _load_splits(cfg: TrainConfig) -> Dict[str, D.Dataset]:
    spaces = [cfg.space] if cfg.mode == "specialized" else None
    table = D.load_table(cfg.data, spaces=spaces, cache_dir=cfg.cache_dir)
    try:
        ds = D.select(table, cfg.target, cfg.metrics, spaces=spaces)
    except KeyError as err:
        raise InputError("{}: {}".format(D.Store(cfg.data).root, err.args[0])) from None
    parts = D.split(ds)
    if cfg.hold_out_family:
        for name in ("train", "val"):
            parts[name] = _without_family(parts[name], cfg.hold_out_family)
    if len(parts["train"]) == 0 or len(parts["val"]) == 0:
        raise InputError("too few labelled models to train on ({} in total)".format(len(ds)))
    return parts


def _without_family(ds: D.Dataset, family: str) -> D.Dataset:
    """``ds`` without the ``families`` space's models sampled from ``family``."""
    from .spaces import sample_config

    t = ds.table
    keep = np.array([not (t.space[g] == "families" and
                          sample_config("families", int(t.seed[g]))["family"] == family)
                     for g in ds.index], bool)
    return ds.subset(keep)


def _compiled(model, loss_fn, opt, n_features: int, n_metrics: int):
    import tensorflow as tf

    spec = signature(n_features)

    @tf.function(input_signature=[spec, tf.TensorSpec([None, n_metrics], tf.float32)])
    def step(inputs, z):
        with tf.GradientTape() as tape:
            loss = loss_fn(z, model(inputs, training=True))
            total = loss + tf.add_n(model.losses) if model.losses else loss
        grads = tape.gradient(total, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(input_signature=[spec])
    def predict(inputs):
        return model(inputs, training=False)

    return step, predict


def _resume_state(cfg: TrainConfig) -> Optional[Dict[str, Any]]:
    path = os.path.join(cfg.out, "state.json")
    if not os.path.exists(path):
        return None
    with open(os.path.join(cfg.out, "train_config.json")) as f:
        old = json.load(f)
    new = dataclasses.asdict(cfg)
    # a field added after the run was written has its default there (defaults keep behaviour)
    added = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name not in old}
    diff = [k for k in new if k not in _RESUMABLE_CHANGES and old.get(k, added.get(k)) != new[k]]
    if diff:
        raise InputError("{} holds a run with another {}; use a new --out folder".format(
            cfg.out, ", ".join(diff)))
    with open(path) as f:
        return json.load(f)


def train(cfg: TrainConfig, progress: Optional[Callable[[Dict[str, Any]], None]] = None
          ) -> Dict[str, Any]:
    """Train (or resume) one PerfSAGE run and write its output folder.

    Args:
        cfg: the run.
        progress: called with ``{"event": "data", "counts"}`` once and ``{"event": "epoch",
            "epoch", "epochs", "train_loss", "val_mape": {metric: fraction}, "best_epoch",
            "epoch_s", "eta_s"}`` after every epoch. Library code prints nothing.

    Returns:
        The content of ``metrics.json`` (plus ``"out"``).
    """
    cfg.check()
    t_wall = time.time()
    state = _resume_state(cfg)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(cfg.seed)
    parts = _load_splits(cfg)
    train_ds = D.take_fraction(parts["train"], cfg.fraction)
    unique_train = train_ds
    if cfg.mode == "generalized" and cfg.upsampling:
        train_ds = D.upsample(train_ds, cfg.min_share)
    counts = {"train": unique_train.counts(), "train_upsampled": train_ds.counts(),
              "val": parts["val"].counts(), "test": parts["test"].counts()}
    if progress:
        progress({"event": "data", "counts": counts})
    os.makedirs(os.path.join(cfg.out, "checkpoints"), exist_ok=True)
    if state is None:
        norm = D.Normalizer.fit(unique_train)
        targets = Targets.fit(cfg.target, cfg.metrics, unique_train.y)
        _dump(dataclasses.asdict(cfg), os.path.join(cfg.out, "train_config.json"))
        typical = float(np.median(unique_train.table.n_nodes[unique_train.index]))
        save_config(cfg.model_config(targets, typical, norm),
                    os.path.join(cfg.out, "config.json"))
        _dump(norm.to_json(), os.path.join(cfg.out, "normalizer.json"))
        targets.save(os.path.join(cfg.out, "targets.json"))
        state = {"epoch": 0, "best_val": None, "best_epoch": 0, "bad_epochs": 0, "step": 0,
                 "stopped_early": False, "train_s": 0.0, "history": [], "checkpoint": None}
    else:  # resume: the statistics of the first run, whatever the store holds now
        with open(os.path.join(cfg.out, "normalizer.json")) as f:
            norm = D.Normalizer.from_json(json.load(f))
        targets = Targets.load(os.path.join(cfg.out, "targets.json"))
        _dump(dataclasses.asdict(cfg), os.path.join(cfg.out, "train_config.json"))

    mcfg = load_config(os.path.join(cfg.out, "config.json"))
    model = build_perfsage_disjoint(mcfg)  # trains; `dense` (batch mode) is what gets saved
    dense = build_perfsage(mcfg)
    n_batches = int(math.ceil(len(train_ds) / cfg.batch_size))
    lr: Any = cfg.lr
    if cfg.lr_schedule == "cosine":  # a function of the optimizer step: resumes exactly
        lr = keras.optimizers.schedules.CosineDecay(cfg.lr, cfg.lr_decay_epochs * n_batches,
                                                    alpha=0.05)
    opt = keras.optimizers.Adam(lr)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
    if state["checkpoint"]:
        ckpt.read(os.path.join(cfg.out, "checkpoints", state["checkpoint"])).expect_partial()
    step, predict = _compiled(model, hybrid_loss(targets, cfg.alpha, cfg.loss), opt,
                              mcfg.n_features, len(cfg.metrics))
    z_train = targets.to_model(train_ds.y)
    y_val = parts["val"].y
    resumed_from = state["epoch"]

    for epoch in range(state["epoch"] + 1, cfg.epochs + 1):
        if state["stopped_early"]:
            break
        t0 = time.time()
        rng = np.random.default_rng([cfg.seed, epoch])
        total = 0.0
        for inputs, rows in batching.disjoint_batches(train_ds, cfg.batch_size, norm, rng=rng):
            total += float(step(tensors(inputs), z_train[rows]))
        val_pred = targets.from_model(predict_ds(parts["val"], norm, 256, predict))
        val_mape = mape_np(y_val, val_pred)
        val = float(val_mape.mean())
        if state["best_val"] is None or val < state["best_val"]:
            state.update(best_val=val, best_epoch=epoch, bad_epochs=0)
            copy_weights(model, dense)
            dense.save_weights(os.path.join(cfg.out, "tmp." + WEIGHTS))  # atomic replace
            os.replace(os.path.join(cfg.out, "tmp." + WEIGHTS), os.path.join(cfg.out, WEIGHTS))
        else:
            state["bad_epochs"] += 1
        epoch_s = time.time() - t0
        name = "ckpt-{}".format(epoch)
        ckpt.write(os.path.join(cfg.out, "checkpoints", name))
        old = state["checkpoint"]
        state.update(epoch=epoch, step=int(opt.iterations.numpy()), checkpoint=name,
                     train_s=state["train_s"] + epoch_s,
                     stopped_early=state["bad_epochs"] >= cfg.patience)
        state["history"].append({"epoch": epoch, "train_loss": total / max(n_batches, 1),
                                 "val_mape": dict(zip(cfg.metrics, val_mape.tolist())),
                                 "epoch_s": epoch_s})
        _dump(state, os.path.join(cfg.out, "state.json"))
        if old and old != name:
            for fname in os.listdir(os.path.join(cfg.out, "checkpoints")):
                if fname.startswith(old + "."):
                    os.unlink(os.path.join(cfg.out, "checkpoints", fname))
        if progress:
            done = epoch - resumed_from
            per = state["train_s"] / max(epoch, 1)
            progress({"event": "epoch", "epoch": epoch, "epochs": cfg.epochs,
                      "train_loss": state["history"][-1]["train_loss"],
                      "val_mape": state["history"][-1]["val_mape"], "best_epoch":
                      state["best_epoch"], "epoch_s": epoch_s, "done": done,
                      "eta_s": per * (cfg.epochs - epoch), "stopped_early":
                      state["stopped_early"]})

    dense.load_weights(os.path.join(cfg.out, WEIGHTS))
    copy_weights(dense, model)
    test = parts["test"]
    result = {
        "target": cfg.target, "metrics": list(cfg.metrics), "mode": cfg.mode,
        "space": cfg.space, "split": "test", "loss": cfg.loss, "cfe": cfg.cfe,
        "readout": cfg.readout,
        "upsampling": cfg.upsampling, "fraction": cfg.fraction,
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "per_space": score(test.y, targets.from_model(predict_ds(test, norm, 256, predict)),
                           test.spaces, list(cfg.metrics)) if len(test) else {},
        "epochs_run": state["epoch"], "best_epoch": state["best_epoch"],
        "best_val_mape": state["best_val"], "stopped_early": state["stopped_early"],
        "train_time_s": state["train_s"], "s_per_epoch": state["train_s"] / max(state["epoch"], 1),
        "wall_time_s": time.time() - t_wall, "resumed_from_epoch": resumed_from,
        "counts": counts, "n_params": int(model.count_params()),
    }
    _dump(result, os.path.join(cfg.out, "metrics.json"))
    _dump(_training_description(cfg, unique_train), os.path.join(cfg.out, "training.json"))
    return dict(result, out=cfg.out)


def _training_description(cfg: TrainConfig, train_ds: "D.Dataset") -> Dict[str, Any]:
    """What the converter puts in the bundle: the operators seen in training, the data."""
    t = train_ds.table
    graphs = np.unique(train_ds.index)
    ids = np.unique(np.concatenate([t.op[t.node_ptr[g]:t.node_ptr[g + 1]] for g in graphs]))
    labeller: Dict[str, Any] = {}
    store = Store(cfg.data)
    spaces = set(train_ds.counts())
    if cfg.target.startswith("cpu-"):  # a label of a space trained on (hosts differ per space)
        rec = next((r for r in store.records(LABELS, cfg.target) if r.get("space") in spaces),
                   None)
        labeller = {"host": rec.get("prov", {}).get("host")} if rec else {}
    else:
        for rec in store.records(MODELS):
            if cfg.target in rec.get("prov", {}):
                labeller = {k: v for k, v in rec["prov"][cfg.target].items()
                            if k not in ("time", "vela_wall_s")}
                break
    return {"ops_seen": [OP_VOCAB[int(i)] for i in ids], "labelled_by": labeller,
            "description": "PerfSAGE ({}{}{}) trained on EdgeDLPerf ({} models)".format(
                cfg.mode, " on " + cfg.space if cfg.mode == "specialized" else "",
                ", over the analytical model" if cfg.npu_prior or cfg.cpu_prior else "",
                len(graphs))}


def evaluate(model_dir: str, split: str = "test", data: Optional[str] = None,
             cache_dir: Optional[str] = "", batch_size: int = 256) -> Dict[str, Any]:
    """Score a trained output folder on one split of the store, per space.

    Args:
        model_dir: a folder written by :func:`train`.
        split: ``"test"``, ``"val"`` or ``"train"``.
        data: store root (default: the one the run trained on).
        cache_dir: feature cache, as in :func:`trainer.dataset.load_table`.

    Returns:
        ``{"split", "target", "metrics", "per_space": score(...), "predictions": {"space",
        "seed", "y_true", "y_pred"}}`` with predictions as JSON lists ([G], [G, M]).
    """
    if split not in ("train", "val", "test"):
        raise InputError("split must be train, val or test, got {!r}".format(split))
    path = os.path.join(model_dir, "train_config.json")
    if not os.path.exists(path):
        raise InputError("{}: not a training output folder (no train_config.json)".format(
            model_dir))
    with open(path) as f:
        cfg = TrainConfig(**json.load(f))
    cfg.data, cfg.cache_dir = data or cfg.data, cache_dir
    ds = _load_splits(cfg)[split]
    y_pred = predict_folder(model_dir, ds, batch_size)
    return {"split": split, "target": cfg.target, "metrics": list(cfg.metrics),
            "per_space": score(ds.y, y_pred, ds.spaces, list(cfg.metrics)),
            "predictions": {"space": ds.spaces.tolist(),
                            "seed": ds.table.seed[ds.index].tolist(),
                            "y_true": ds.y.tolist(), "y_pred": y_pred.tolist()}}

