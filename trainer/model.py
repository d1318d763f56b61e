"""PerfSAGE (paper §4) in Spektral + tf-keras, in batch mode (export) and disjoint mode (training).

Batch-mode inputs (B graphs padded to N nodes; the converter feeds the same tensors)::

    x     float32 [B, N, F]  node features, already normalised (featurize + Normalizer)
    cat   int32   [B, N]     category index (op_table.CATEGORIES), 0 on padded nodes
    op    int32   [B, N]     op vocabulary index (op_table.OP_VOCAB), 0 on padded nodes
    a     float32 [B, N, N]  0/1 adjacency over predecessors *and* successors, no self loops
    mask  float32 [B, N]     1 for real nodes, 0 for padding

Disjoint-mode inputs (Spektral's disjoint mode: T nodes of B graphs, no padding; training uses
it because a dense [B, N, N] adjacency of 1,000-node ViTs costs ~20x the rest of the model)::

    x float32 [T, F], cat int32 [T], op int32 [T], a sparse float32 [T, T] block diagonal,
    seg int32 [T] (graph of every node, sorted)

Both return float32 [B, M], one column per metric in the *model space* of
:mod:`trainer.targets`, and share every weight: the layers have the same names, and
:func:`copy_weights` moves weights between the two (the trainer saves batch-mode weights).

Layers:

1. Categorical feature encoding (Eq. 1): ``h0 = relu(W_c [x || E(op)] + b_c)``, implemented as
   one dense layer over the outer product ``onehot(c) (x) [x || E(op) || 1]``, which is exactly a
   separate weight matrix and bias per category. ``cfe=False`` (the ablation) uses one shared
   dense layer instead.
2. ``gnn_layers`` x Spektral ``GCSConv`` with a raw 0/1 adjacency: ``relu(A h W1 + h W2 + b)``,
   i.e. Eq. 2 with SUM aggregation; padded rows are zeroed after every layer. With
   ``layer_norm`` (ours) the pre-activation is layer-normalised first, ``relu(LN(A h W1 + h W2 +
   b))``: SUM aggregation multiplies the activations' scale by about the node degree per layer
   (measured ~x3 per layer on ViTs, 4,600 after 8 layers), which swamps the readouts.
3. Max readout over the real nodes (ReLU outputs are >= 0, so zeroed padding never wins).
4. ``dense_layers`` x Dense(``dense_width``, relu), then Dense(M).

``readout="max+sum"`` (ours, beyond the paper) adds an additive path: a small per-node head on
``[h0 || h_L]`` gives every node a log-cost ``u_i`` [M] and the graph gets
``log(sum_i exp(u_i))`` (a masked log-sum-exp), standardised with the targets' log mean and std;
the max-readout MLP of step 4 (zero-initialised last layer) adds a correction in model space.
With ``cost_columns`` the per-node log-cost also gets a learned *cost prior*: the log of a
non-negative linear function of the node's sizes (MACs, bytes) with per-operator weights, the
kernel-sum baseline's form (:func:`_cost_prior`). With ``soft_readout`` the sum becomes
``tau * log sum_i exp(u_i / tau)`` with a learned ``tau`` per metric, which spans sum (1) to max
(-> 0): SRAM use is a peak over the schedule, not a sum.
Latency and energy are sums of per-operator costs, which a max readout can only approximate;
the additive path gives the network that structure, and the GNN layers give each node's cost
its context (neighbours, fusion, memory placement). Every metric must use the log transform.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__all__ = ["PerfSAGEConfig", "build_perfsage", "build_perfsage_disjoint", "copy_weights",
           "INPUT_NAMES", "EDGE_INPUT_NAMES", "DISJOINT_INPUT_NAMES", "READOUTS", "save_config",
           "load_config"]

INPUT_NAMES = ("x", "cat", "op", "a", "mask")
EDGE_INPUT_NAMES = ("x", "cat", "op", "src", "dst", "mask")
DISJOINT_INPUT_NAMES = ("x", "cat", "op", "a", "seg")


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
        layer_norm: normalise every GCS layer's pre-activation over its features (ours).
        readout: ``"max"`` (the paper) or ``"max+sum"`` (max readout plus the additive path).
        node_head: width of the per-node head of the additive path.
        log_mean, log_std: per metric, the targets' mean and std of log labels (additive path).
        typical_nodes: initial per-node cost is ``exp(log_mean) / typical_nodes``.
        cost_columns: node-feature columns (log1p of a size: MACs, bytes) of the cost prior of
            the additive path; empty: no prior.
        cost_mean, cost_std: their normaliser statistics, to undo the normalisation in-model.
        soft_readout: learn a temperature per metric in the additive readout (sum .. max).
        tau_init: per metric, the readout's initial temperature (empty: 1.0 for all, a sum);
            a small value (0.05) starts a peak metric such as SRAM near a max.
        bounded: metric columns whose per-node cost is *bounded* by the node's memory sizes
            (:func:`_bounded_cost`) instead of the free head + cost prior; empty: none.
        bounded_columns: node-feature columns (log1p of bytes: live, weights) of that bound;
            bounded_mean, bounded_std: their normaliser statistics.
        bounded_unit: bytes per unit of the bounded metrics (1024 for KiB).
        bounded_phases: P rows of K + 1 zeros and ones, one per *phase* of a node's schedule
            (columns: ``bounded_columns`` and the fixed buffers): the sizes that can be in
            memory together during that phase; the node's cost is the largest phase. Empty:
            one phase holding everything.
        prior_metrics: metric columns whose per-node cost is an *analytical prior* times a
            bounded learned correction (:func:`_prior_cost`): latency over the NPU cost
            model's cycles; empty: none.
        prior_column: node-feature column (log1p of cycles) of that prior; prior_mean,
            prior_std: its normaliser statistics; prior_scale: metric units per cycle
            (1e3 / clock for milliseconds).
        prior_columns, prior_means, prior_stds, prior_scales: the same per prior metric
            (parallel to ``prior_metrics``; energy over the analytical energy in pJ), or empty:
            every prior metric over ``prior_column``.
            A column of -1: the prior is the analytical table below instead.
        prior_table: [n_ops, K] the metric's units per unit of each term, per operator of the
            vocabulary (a host CPU's :mod:`edge_predictor.cpu_cost` table, fallbacks
            resolved); the terms: a constant and the ``prior_table_columns`` (log1p sizes,
            normalised with ``prior_table_mean`` / ``prior_table_std``).
        prior_bound: largest |log correction| of one node's prior (1.5: x0.22 .. x4.5).
        prior_graph_bound: largest |log correction| of the graph-level term for those
            metrics (the max-readout MLP), so that an unfamiliar graph stays near its prior.
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
    layer_norm: bool = False
    readout: str = "max"
    node_head: int = 64
    log_mean: List[float] = field(default_factory=list)
    log_std: List[float] = field(default_factory=list)
    typical_nodes: float = 100.0
    cost_columns: List[int] = field(default_factory=list)
    cost_mean: List[float] = field(default_factory=list)
    cost_std: List[float] = field(default_factory=list)
    soft_readout: bool = False
    tau_init: List[float] = field(default_factory=list)
    bounded: List[int] = field(default_factory=list)
    bounded_columns: List[int] = field(default_factory=list)
    bounded_mean: List[float] = field(default_factory=list)
    bounded_std: List[float] = field(default_factory=list)
    bounded_unit: float = 1024.0
    bounded_phases: List[List[float]] = field(default_factory=list)
    prior_metrics: List[int] = field(default_factory=list)
    prior_column: int = -1
    prior_mean: float = 0.0
    prior_std: float = 1.0
    prior_scale: float = 1.0
    prior_columns: List[int] = field(default_factory=list)
    prior_means: List[float] = field(default_factory=list)
    prior_stds: List[float] = field(default_factory=list)
    prior_scales: List[float] = field(default_factory=list)
    prior_table: List[List[float]] = field(default_factory=list)
    prior_table_columns: List[int] = field(default_factory=list)
    prior_table_mean: List[float] = field(default_factory=list)
    prior_table_std: List[float] = field(default_factory=list)
    prior_bound: float = 1.5
    prior_graph_bound: float = 0.5


READOUTS = ("max", "max+sum")


def save_config(cfg: PerfSAGEConfig, path: str) -> None:
    """Write the config as JSON (no pickles)."""
    with open(path, "w") as f:
        json.dump(dataclasses.asdict(cfg), f, indent=2)


def load_config(path: str) -> PerfSAGEConfig:
    """Read a config written by :func:`save_config`."""
    with open(path) as f:
        data: Dict[str, Any] = json.load(f)
    return PerfSAGEConfig(**data)


def _partitioned_cfe(units: int, n_cat: int, width: int, reg, name: str):
    """Eq. 1 for stacked nodes without the outer product: the same kernel [C * W, H] as the
    batch mode's ``cfe_dense``, applied as one [T_c, W] x [W, H] product per category c.

    The outer product ``onehot(c) (x) z`` [T, C * W] costs C times the multiply-adds and memory
    of the product it selects (measured ~30% of a training step with 23 categories); training
    (disjoint mode) uses this layer, the exported batch mode the outer product. Same variable,
    same result (tests/trainer/test_model.py checks both modes agree).
    """
    import tensorflow as tf
    import tf_keras as keras

    class PartitionedCategoricalDense(keras.layers.Layer):
        def build(self, shapes):
            self.kernel = self.add_weight(name="kernel", shape=(n_cat * width, units),
                                          initializer="glorot_uniform", regularizer=reg)

        def call(self, inputs):
            c, zz = inputs
            zb = tf.concat([zz, tf.ones_like(zz[:, :1])], -1)
            k3 = tf.reshape(self.kernel, [n_cat, width, units])
            rows = tf.dynamic_partition(tf.range(tf.shape(zb)[0]), c, n_cat)
            parts = tf.dynamic_partition(zb, c, n_cat)
            outs = [tf.matmul(parts[i], k3[i]) for i in range(n_cat)]
            return tf.nn.relu(tf.dynamic_stitch(rows, outs))

    return PartitionedCategoricalDense(name=name)


def _body(cfg: PerfSAGEConfig, x, cat, op, a, keep, pool_max, pool_lse,
          partitioned: bool = False):
    """The shared graph of layers; ``keep`` zeroes padded rows, the pools reduce per graph.
    ``partitioned``: stacked nodes [T, F] (disjoint mode), Eq. 1 without the outer product."""
    import tensorflow as tf
    import tf_keras as keras
    from spektral.layers import GCSConv

    from trainer.edge_gcs import edge_gcs

    reg = keras.regularizers.l2(cfg.l2) if cfg.l2 > 0 else None
    emb = keras.layers.Embedding(cfg.n_ops, cfg.op_embedding, name="op_embedding")(op)
    z = keras.layers.Concatenate(name="node_input")([x, emb])
    if cfg.cfe:
        n_cat, width = cfg.n_categories, cfg.n_features + cfg.op_embedding + 1  # +1: bias

        def outer(t):
            onehot, zz = tf.one_hot(t[0], n_cat), t[1]
            zb = tf.concat([zz, tf.ones_like(zz[..., :1])], -1)
            return tf.reshape(onehot[..., :, None] * zb[..., None, :],
                              tf.concat([tf.shape(zz)[:-1], [n_cat * width]], 0))

        if partitioned:
            h = _partitioned_cfe(cfg.hidden, n_cat, width, reg, "cfe_dense")([cat, z])
        else:
            o = keras.layers.Lambda(outer, name="cfe_outer")([cat, z])
            h = keras.layers.Dense(cfg.hidden, activation="relu", use_bias=False,
                                   kernel_regularizer=reg, name="cfe_dense")(o)
    else:
        h = keras.layers.Dense(cfg.hidden, activation="relu", kernel_regularizer=reg,
                               name="shared_dense")(z)
    h0 = h = keep(h, "mask_0")
    for i in range(cfg.gnn_layers):
        act, name = None if cfg.layer_norm else "relu", "gcs_{}".format(i + 1)
        if isinstance(a, tuple):  # (src, dst): the edge-list form (trainer.edge_gcs)
            h = edge_gcs(cfg.hidden, act, reg, name)([h, a[0], a[1]])
        else:
            h = GCSConv(cfg.hidden, activation=act, kernel_regularizer=reg, name=name)([h, a])
        if cfg.layer_norm:
            h = keras.layers.LayerNormalization(name="norm_{}".format(i + 1))(h)
            h = keras.layers.ReLU(name="relu_{}".format(i + 1))(h)
        h = keep(h, "mask_{}".format(i + 1))
    g = pool_max(h)
    for i in range(cfg.dense_layers):
        g = keras.layers.Dense(cfg.dense_width, activation="relu", kernel_regularizer=reg,
                               name="fc_{}".format(i + 1))(g)
        if cfg.dropout > 0:
            g = keras.layers.Dropout(cfg.dropout, name="dropout_{}".format(i + 1))(g)
    m = len(cfg.metrics)
    if cfg.readout == "max":
        return keras.layers.Dense(m, name="head")(g)
    corr = keras.layers.Dense(m, kernel_initializer="zeros", name="head")(g)
    u = keras.layers.Concatenate(name="node_head_input")([h0, h])
    u = node_in = keras.layers.Dense(cfg.node_head, activation="relu", kernel_regularizer=reg,
                                     name="node_fc")(u)
    init = [mu - math.log(cfg.typical_nodes) for mu in cfg.log_mean]
    if cfg.cost_columns:
        init = [v - max(cfg.cost_mean) for v in init]
    u = u_head = keras.layers.Dense(m, bias_initializer=keras.initializers.Constant(init),
                                    name="node_cost")(u)
    if cfg.cost_columns:
        u = keras.layers.Add(name="node_log_cost")([u, _cost_prior(cfg, x, cat, op)])
    if cfg.bounded:
        gates = keras.layers.Dense(len(cfg.bounded) * len(_phases(cfg)) *
                                   (len(cfg.bounded_columns) + 1), name="bounded_gates")(node_in)
        u = _bounded_cost(cfg, u, gates, x)
    if cfg.prior_metrics:
        u = _prior_cost(cfg, u, u_head, x, op, init)
        corr = _bounded_correction(cfg, corr)
    mu = tf.constant(cfg.log_mean, tf.float32)
    inv_sd = tf.constant([1.0 / s for s in cfg.log_std], tf.float32)
    add = keras.layers.Lambda(lambda v: (v - mu) * inv_sd, name="additive")(pool_lse(u))
    return keras.layers.Add(name="output")([add, corr])


#: the table prior's internal unit, in millionths of the metric's (see :func:`_prior_cost`)
_TABLE_UNIT = 1e6


def _prior_cost(cfg: PerfSAGEConfig, u, head, x, op, init: List[float]):
    """Replace the prior metrics' columns of the per-node log-costs ``u`` [.., M] by
    ``log(prior) + B tanh((head - init) / B)`` (``head``: the node head's output, before any
    learned cost prior; ``init`` its initial bias): the analytical cost of the node (its
    ``prior_column``, undone from the normalised ``x``, in the metric's unit) times a learned
    correction bounded to ``exp(+-B)``. The graph's cost is the sum over nodes (the additive
    readout), so a graph unlike any the network saw degrades to the analytical model's sum
    rather than to anything; a node the prior gives 0 (an operator Vela leaves to the CPU or
    removes) costs ~0 whatever the network says.
    """
    import tensorflow as tf
    import tf_keras as keras

    bound, m, k = float(cfg.prior_bound), len(cfg.metrics), len(cfg.prior_metrics)
    cols = list(cfg.prior_columns) or [int(cfg.prior_column)] * k
    means = list(cfg.prior_means) or [float(cfg.prior_mean)] * k
    stds = list(cfg.prior_stds) or [float(cfg.prior_std)] * k
    scales = list(cfg.prior_scales) or [float(cfg.prior_scale)] * k

    if cfg.prior_table:
        # in millionths of the metric's unit (ns for ms): a float16 bundle keeps its constants
        # as float16, where picoseconds per MAC in ms would flush to 0
        rows = tf.constant([[v * _TABLE_UNIT for v in r] for r in cfg.prior_table],
                           tf.float32)  # [n_ops, K]
        tcols = list(cfg.prior_table_columns)
        tmean = tf.constant(cfg.prior_table_mean, tf.float32)
        tstd = tf.constant(cfg.prior_table_std, tf.float32)

    def table_amount(v, ids):
        sizes = tf.maximum(tf.exp(_log1p_sizes(v, tcols, tmean, tstd)) - 1.0, 0.0)
        terms = tf.concat([tf.ones_like(sizes[..., :1]), sizes], -1)  # [.., K]
        return tf.reduce_sum(tf.gather(rows, ids) * terms, -1)

    def cost(t):
        free, raw, v, ids = t
        cols_out = []
        for j in range(m):
            if j in cfg.prior_metrics:
                i = cfg.prior_metrics.index(j)
                scale = scales[i]
                if cols[i] < 0:
                    amount = table_amount(v, tf.cast(ids, tf.int32))
                    scale = scales[i] / _TABLE_UNIT
                else:
                    amount = tf.exp(v[..., cols[i]] * stds[i] + means[i]) - 1.0
                # log(amount * scale + 1e-9) without constants float16 flushes to 0
                base = tf.math.log(tf.maximum(amount, 0.0) + 1e-9 / scale) + math.log(scale)
                cols_out.append(base + bound * tf.tanh((raw[..., j] - init[j]) / bound))
            else:
                cols_out.append(free[..., j])
        return tf.stack(cols_out, -1)

    return keras.layers.Lambda(cost, name="prior_cost")([u, head, x, op])


def _bounded_correction(cfg: PerfSAGEConfig, corr):
    """The graph-level correction [.., M] (model space), bounded for the prior metrics to
    ``+-prior_graph_bound`` in log units."""
    import tensorflow as tf
    import tf_keras as keras

    bound = float(cfg.prior_graph_bound)
    scale = [bound / cfg.log_std[j] if j in cfg.prior_metrics else 0.0
             for j in range(len(cfg.metrics))]
    free = [0.0 if j in cfg.prior_metrics else 1.0 for j in range(len(cfg.metrics))]

    def f(c):
        return c * tf.constant(free, tf.float32) + tf.tanh(c) * tf.constant(scale, tf.float32)

    return keras.layers.Lambda(f, name="bounded_correction")(corr)


def _log1p_sizes(v, cols, mean, std):
    """The normalised feature columns ``cols`` of ``v`` [.., F] back in log1p units [.., K]."""
    import tensorflow as tf

    return tf.gather(v, cols, axis=-1) * std + mean


def _cost_prior(cfg: PerfSAGEConfig, x, cat, op):
    """Per node and metric, ``log sum_k exp(beta[op, k] + beta[cat, k] + l_k)`` [.., M]: the log
    of a non-negative linear cost in the node's sizes ``exp(l_k)`` (``l_k`` = log1p of MACs,
    bytes..., undone from the normalised ``x``) plus a constant term, with per-operator and
    per-category log-weights -- nn-Meter's kernel model inside the network, learned end to end.
    """
    import tensorflow as tf
    import tf_keras as keras

    m, k = len(cfg.metrics), len(cfg.cost_columns) + 1
    cols = list(cfg.cost_columns)
    mean = tf.constant(cfg.cost_mean, tf.float32)
    std = tf.constant(cfg.cost_std, tf.float32)

    def sizes(v):  # [.., F] -> [.., 1, K]: the log sizes and a 0 for the constant term
        ell = _log1p_sizes(v, cols, mean, std)
        return tf.concat([ell, tf.zeros_like(ell[..., :1])], -1)[..., None, :]

    ell = keras.layers.Lambda(sizes, name="cost_sizes")(x)
    b_op = keras.layers.Embedding(cfg.n_ops, m * k, embeddings_initializer="zeros",
                                  name="cost_op")(op)
    b_cat = keras.layers.Embedding(cfg.n_categories, m * k, embeddings_initializer="zeros",
                                   name="cost_cat")(cat)
    beta = keras.layers.Add(name="cost_log_weights")([b_op, b_cat])

    def prior(t):
        b, e = t
        b = tf.reshape(b, tf.concat([tf.shape(b)[:-1], [m, k]], 0))
        return tf.reduce_logsumexp(b + e, axis=-1)

    return keras.layers.Lambda(prior, name="cost_prior")([beta, ell])


def _phases(cfg: PerfSAGEConfig) -> List[List[float]]:
    """The bound's phase masks, [P, K + 1] (one phase of everything when none are set)."""
    return [list(map(float, p)) for p in cfg.bounded_phases] or [
        [1.0] * (len(cfg.bounded_columns) + 1)]


def _bounded_cost(cfg: PerfSAGEConfig, u, gates, x):
    """Replace the bounded metrics' columns of the per-node log-costs ``u`` [.., M] by
    ``log(max_p sum_k mask[p, k] 2 sigmoid(g[p, k]) s_k + 1e-3)``: in each phase ``p`` of the
    node's schedule (``bounded_phases``), a learned share in (0, 2) of each memory size ``s_k``
    that phase can hold (the columns of ``bounded_columns``: activation bytes alive, its weight
    bytes, the next operator's weight bytes; in the metric's unit) plus up to 2 x 16 units of
    fixed buffers; the node costs its largest phase. On the Ethos-U two phases make Vela's
    allocation exact (measured on 40 DS-CNNs with Vela's own buffer sizes: 0.004%): while the
    operator runs, its activations and all its weight buffers; at the hand-over, its
    activations, what it keeps of its weights (a single buffer, or the second of a double
    buffer) and the first buffer of the next operator's. Memory in use cannot exceed twice what
    a node keeps alive plus its and the next operator's weights, whatever the graph looks like:
    the bound holds out of the training distribution, where a free head extrapolates (measured:
    one unseen 224x224 patch convolution alone predicted 21 MB of SRAM, Vela says 1 MB in all).
    ``gates`` [.., len(bounded) * P * (K + 1)] come from the per-node head.
    """
    import tensorflow as tf
    import tf_keras as keras

    cols, k, m = list(cfg.bounded_columns), len(cfg.bounded_columns) + 1, len(cfg.metrics)
    phases = _phases(cfg)
    mean = tf.constant(cfg.bounded_mean, tf.float32)
    std = tf.constant(cfg.bounded_std, tf.float32)
    masks = tf.constant(phases, tf.float32)  # [P, K]
    unit = float(cfg.bounded_unit)

    def bound(t):
        free, g, v = t
        sizes = (tf.exp(_log1p_sizes(v, cols, mean, std)) - 1.0) / unit  # [.., K-1]
        sizes = tf.concat([tf.maximum(sizes, 0.0), 16.0 * tf.ones_like(sizes[..., :1])], -1)
        g = tf.reshape(g, tf.concat([tf.shape(g)[:-1], [len(cfg.bounded), len(phases), k]], 0))
        held = tf.reduce_sum(2.0 * tf.sigmoid(g) * masks * sizes[..., None, None, :], -1)
        val = tf.math.log(tf.reduce_max(held, -1) + 1e-3)  # [.., len(bounded)]
        cols_out = []
        for j in range(m):
            cols_out.append(val[..., cfg.bounded.index(j)] if j in cfg.bounded else free[..., j])
        return tf.stack(cols_out, -1)

    return keras.layers.Lambda(bound, name="bounded_cost")([u, gates, x])


def _soft_readout(lse, learn_tau: bool, tau_init: List[float], fixed: List[int] = ()):
    """The additive readout layer: ``tau * LSE_i(u_i / tau)`` per graph and metric.

    ``lse(u, group)`` is the mode's log-sum-exp over each graph's nodes. With ``learn_tau`` each
    metric has a learned temperature ``tau = exp(log_tau)`` (initially ``tau_init``, else 1):
    tau = 1 is the log of a *sum* of per-node costs (latency, energy), tau -> 0 their *max* (a
    peak, as SRAM use is). The metrics in ``fixed`` (those over an analytical prior) stay sums.
    """
    import tensorflow as tf
    import tf_keras as keras

    class SoftSumReadout(keras.layers.Layer):
        def build(self, shapes):
            m = int(shapes[0][-1])
            init = [math.log(t) for t in tau_init] if tau_init else [0.0] * m
            self.log_tau = self.add_weight(name="log_tau", shape=(m,), trainable=learn_tau,
                                           initializer=keras.initializers.Constant(init))

        def call(self, inputs):
            m = int(self.log_tau.shape[0])
            free = tf.constant([0.0 if j in fixed else 1.0 for j in range(m)], tf.float32)
            tau = tf.exp(self.log_tau * free)
            return tau * lse(inputs[0] / tau, inputs[1])

    return SoftSumReadout(name="sum_readout")


def _check(cfg: PerfSAGEConfig) -> None:
    if cfg.readout not in READOUTS:
        raise ValueError("readout must be one of {}, got {!r}".format(READOUTS, cfg.readout))
    if cfg.readout != "max" and not (len(cfg.log_mean) == len(cfg.log_std) == len(cfg.metrics)):
        raise ValueError("the additive readout needs log_mean and log_std for every metric")
    if not len(cfg.cost_columns) == len(cfg.cost_mean) == len(cfg.cost_std):
        raise ValueError("cost_columns, cost_mean and cost_std must have the same length")
    if cfg.bounded and (not cfg.bounded_columns or max(cfg.bounded) >= len(cfg.metrics) or
                        cfg.readout == "max"):
        raise ValueError("bounded metrics need the additive readout and bounded_columns")
    if not len(cfg.bounded_columns) == len(cfg.bounded_mean) == len(cfg.bounded_std):
        raise ValueError("bounded_columns, bounded_mean and bounded_std must match")
    if cfg.bounded_phases and any(len(p) != len(cfg.bounded_columns) + 1 or not any(p)
                                  for p in cfg.bounded_phases):
        raise ValueError("every bounded phase needs one non-empty 0/1 row of K + 1 entries")
    if cfg.prior_columns and len(cfg.prior_columns) != len(cfg.prior_metrics):
        raise ValueError("prior_columns must be parallel to prior_metrics")
    if -1 in cfg.prior_columns and (len(cfg.prior_table) != cfg.n_ops or len(
            cfg.prior_table_columns) + 1 != len(cfg.prior_table[0])):
        raise ValueError("a table prior needs a row per operator and a column per term")
    if cfg.prior_metrics and (cfg.readout == "max" or
                              (cfg.prior_column < 0 and not cfg.prior_columns) or
                              max(cfg.prior_metrics) >= len(cfg.metrics) or
                              set(cfg.prior_metrics) & set(cfg.bounded)):
        raise ValueError("prior metrics need the additive readout, a prior column and no bound")
    if cfg.tau_init and (len(cfg.tau_init) != len(cfg.metrics) or min(cfg.tau_init) <= 0):
        raise ValueError("tau_init needs one positive temperature per metric")


def build_perfsage(cfg: PerfSAGEConfig, edges: bool = False):
    """Build the batch-mode (padded) PerfSAGE model: the one the converter exports.

    Args:
        cfg: the architecture.
        edges: take the adjacency as an edge list (``src``, ``dst`` int32 [B, E],
            :mod:`trainer.edge_gcs`) instead of ``a``; the same weights, in the same order.

    Returns:
        A ``tf_keras.Model`` taking the inputs named in :data:`INPUT_NAMES` (as a dict; with
        ``edges``, :data:`EDGE_INPUT_NAMES`) and returning float32 [B, len(cfg.metrics)].
    """
    import tensorflow as tf
    import tf_keras as keras

    _check(cfg)
    x = keras.Input((None, cfg.n_features), name="x", dtype="float32")
    cat = keras.Input((None,), name="cat", dtype="int32")
    op = keras.Input((None,), name="op", dtype="int32")
    if edges:
        src = keras.Input((None,), name="src", dtype="int32")
        dst = keras.Input((None,), name="dst", dtype="int32")
        a = (src, dst)
    else:
        a = keras.Input((None, None), name="a", dtype="float32")
    mask = keras.Input((None,), name="mask", dtype="float32")
    mcol = keras.layers.Reshape((-1, 1), name="mask_col")(mask)

    def keep(h, name):
        return keras.layers.Multiply(name=name)([h, mcol])

    def pool_max(h):
        return keras.layers.Lambda(lambda t: tf.reduce_max(t, axis=1), name="max_readout")(h)

    def lse(u, mk):  # masked log-sum-exp over nodes: [B, N, M], [B, N, 1] -> [B, M]
        top = tf.reduce_max(u + (mk - 1.0) * 1e9, axis=1, keepdims=True)
        s = tf.reduce_sum(tf.exp(tf.minimum(u - top, 0.0)) * mk, axis=1)
        return top[:, 0, :] + tf.math.log(s)

    def pool_lse(u):
        return _soft_readout(lse, cfg.soft_readout, cfg.tau_init, cfg.prior_metrics)([u, mcol])

    out = _body(cfg, x, cat, op, a, keep, pool_max, pool_lse)
    adjacency = {"src": a[0], "dst": a[1]} if edges else {"a": a}
    return keras.Model(inputs=dict({"x": x, "cat": cat, "op": op, "mask": mask}, **adjacency),
                       outputs=out, name="perfsage")


def build_perfsage_disjoint(cfg: PerfSAGEConfig):
    """Build the disjoint-mode PerfSAGE model (sparse adjacency, no padding) for training.

    Args:
        cfg: the architecture.

    Returns:
        A ``tf_keras.Model`` taking ``{"x", "cat", "op", "a", "seg"}`` (see the module doc; ``a``
        a ``tf.SparseTensor`` [T, T]) and returning float32 [B, len(cfg.metrics)].
    """
    import tensorflow as tf
    import tf_keras as keras

    _check(cfg)
    x = keras.Input((cfg.n_features,), name="x", dtype="float32")
    cat = keras.Input((), name="cat", dtype="int32")
    op = keras.Input((), name="op", dtype="int32")
    a = keras.Input((None,), name="a", dtype="float32", sparse=True)
    seg = keras.Input((), name="seg", dtype="int32")

    def pool_max(h):
        return keras.layers.Lambda(lambda t: tf.math.segment_max(t[0], t[1]),
                                   name="max_readout")([h, seg])

    def lse(u, sg):
        top = tf.math.segment_max(u, sg)
        s = tf.math.segment_sum(tf.exp(u - tf.gather(top, sg)), sg)
        return top + tf.math.log(s)

    def pool_lse(u):
        return _soft_readout(lse, cfg.soft_readout, cfg.tau_init, cfg.prior_metrics)([u, seg])

    out = _body(cfg, x, cat, op, a, lambda h, name: h, pool_max, pool_lse, partitioned=True)
    return keras.Model(inputs={"x": x, "cat": cat, "op": op, "a": a, "seg": seg},
                       outputs=out, name="perfsage_disjoint")


def copy_weights(src, dst) -> None:
    """Copy every weight of ``src`` into the layer of the same name in ``dst`` (both modes).

    Raises:
        ValueError: a layer with weights in ``dst`` has no counterpart in ``src``.
    """
    by_name = {layer.name: layer for layer in src.layers}
    for layer in dst.layers:
        if not layer.weights:
            continue
        if layer.name not in by_name:
            raise ValueError("no layer {!r} to copy weights from".format(layer.name))
        layer.set_weights(by_name[layer.name].get_weights())
