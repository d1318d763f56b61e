"""PerfSAGE's two modes (batch for export, disjoint for training) are one model."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: Spektral needs Keras 2

import numpy as np
import pytest

from edge_predictor.errors import InputError

pytestmark = pytest.mark.train


def _graphs(rng, sizes, f, n_cat, n_ops):
    """Random chain-plus-skip graphs: (x [k, F], cat [k], op [k], edges [E, 2]) per graph."""
    out = []
    for k in sizes:
        e = [(i, i + 1) for i in range(k - 1)] + [(i, i + 2) for i in range(0, k - 2, 3)]
        out.append((rng.normal(size=(k, f)).astype(np.float32),
                    rng.integers(0, n_cat, k).astype(np.int32),
                    rng.integers(0, n_ops, k).astype(np.int32),
                    np.array(e, np.int64).reshape(-1, 2)))
    return out


def _dense(graphs, n):
    b, f = len(graphs), graphs[0][0].shape[1]
    x, a = np.zeros((b, n, f), np.float32), np.zeros((b, n, n), np.float32)
    cat, op, mask = (np.zeros((b, n), np.int32), np.zeros((b, n), np.int32),
                     np.zeros((b, n), np.float32))
    for j, (xx, c, o, e) in enumerate(graphs):
        k = len(xx)
        x[j, :k], cat[j, :k], op[j, :k], mask[j, :k] = xx, c, o, 1.0
        a[j, e[:, 0], e[:, 1]] = a[j, e[:, 1], e[:, 0]] = 1.0
    return {"x": x, "cat": cat, "op": op, "a": a, "mask": mask}


def _disjoint(graphs):
    import tensorflow as tf

    offs = np.cumsum([0] + [len(g[0]) for g in graphs])
    e = np.concatenate([g[3] + o for g, o in zip(graphs, offs)])
    idx = np.unique(np.concatenate([e, e[:, ::-1]]), axis=0)
    t = int(offs[-1])
    return {"x": np.concatenate([g[0] for g in graphs]),
            "cat": np.concatenate([g[1] for g in graphs]),
            "op": np.concatenate([g[2] for g in graphs]),
            "a": tf.SparseTensor(idx, np.ones(len(idx), np.float32), [t, t]),
            "seg": np.repeat(np.arange(len(graphs)), [len(g[0]) for g in graphs]).astype(
                np.int32)}


@pytest.mark.parametrize("readout,layer_norm,cost,bounded", [("max", False, False, False),
                                                             ("max+sum", True, False, False),
                                                             ("max+sum", True, True, False),
                                                             ("max+sum", True, True, True)])
def test_batch_and_disjoint_modes_agree_and_padding_changes_nothing(readout, layer_norm, cost,
                                                                     bounded):
    pytest.importorskip("spektral")
    from trainer.model import PerfSAGEConfig, build_perfsage, build_perfsage_disjoint, \
        copy_weights

    cfg = PerfSAGEConfig(n_features=6, n_categories=4, n_ops=9, metrics=["latency_ms", "sram"],
                         hidden=8, gnn_layers=3, dense_layers=2, dense_width=16,
                         readout=readout, layer_norm=layer_norm, log_mean=[0.5, 4.0],
                         log_std=[1.5, 0.7], cost_columns=[1, 4] if cost else [],
                         cost_mean=[3.0, 5.0] if cost else [], cost_std=[2.0, 1.0] if cost else [],
                         soft_readout=cost, bounded=[1] if bounded else [],
                         bounded_columns=[2, 3] if bounded else [],
                         bounded_mean=[6.0, 4.0] if bounded else [],
                         bounded_std=[1.0, 2.0] if bounded else [])
    dense, disjoint = build_perfsage(cfg), build_perfsage_disjoint(cfg)
    rng = np.random.default_rng(3)
    for layer in dense.layers:  # non-zero everywhere (the head starts at zero otherwise)
        layer.set_weights([rng.normal(scale=0.3, size=w.shape) for w in layer.get_weights()])
    copy_weights(dense, disjoint)
    graphs = _graphs(rng, [3, 7, 5], 6, 4, 9)
    z_dense = dense(_dense(graphs, 7), training=False).numpy()
    z_pad = dense(_dense(graphs, 12), training=False).numpy()
    z_disjoint = disjoint(_disjoint(graphs), training=False).numpy()
    assert z_dense.shape == (3, 2) and np.isfinite(z_dense).all()
    np.testing.assert_allclose(z_disjoint, z_dense, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z_pad, z_dense, rtol=1e-5, atol=1e-5)
    assert np.ptp(z_dense[:, 0]) > 1e-3  # the graphs get different answers


def test_additive_readout_is_a_log_sum_over_nodes():
    """With the max path silenced, the output is (log sum_i exp(u_i) - mean) / std."""
    pytest.importorskip("spektral")
    from trainer.model import PerfSAGEConfig, build_perfsage

    cfg = PerfSAGEConfig(n_features=3, n_categories=2, n_ops=4, metrics=["latency_ms"],
                         hidden=4, gnn_layers=1, dense_layers=1, dense_width=4,
                         readout="max+sum", log_mean=[2.0], log_std=[0.5])
    model = build_perfsage(cfg)
    for layer in model.layers:
        if layer.name == "node_cost":  # every node costs exp(1.0), whatever its features
            k, _ = layer.get_weights()
            layer.set_weights([np.zeros_like(k), np.array([1.0], np.float32)])
    graphs = _graphs(np.random.default_rng(0), [2, 5], 3, 2, 4)
    z = model(_dense(graphs, 6), training=False).numpy()[:, 0]  # head starts at zero
    np.testing.assert_allclose(z, [(np.log(2 * np.e) - 2.0) / 0.5, (np.log(5 * np.e) - 2.0) / 0.5],
                               rtol=1e-5)


def test_additive_readout_needs_log_statistics():
    pytest.importorskip("spektral")
    from trainer.model import PerfSAGEConfig, build_perfsage

    with pytest.raises(ValueError, match="log_mean"):
        build_perfsage(PerfSAGEConfig(n_features=3, n_categories=2, n_ops=4, metrics=["m"],
                                      readout="max+sum"))
    with pytest.raises(ValueError, match="readout"):
        build_perfsage(PerfSAGEConfig(n_features=3, n_categories=2, n_ops=4, metrics=["m"],
                                      readout="mean"))


def test_cost_prior_is_a_log_linear_cost_in_the_node_sizes():
    """Silence everything but the prior: the graph's value is sum_i (w_mac * (1 + macs_i) + c)."""
    pytest.importorskip("spektral")
    from trainer.model import PerfSAGEConfig, build_perfsage

    cfg = PerfSAGEConfig(n_features=3, n_categories=2, n_ops=4, metrics=["latency_ms"],
                         hidden=4, gnn_layers=1, dense_layers=1, dense_width=4,
                         readout="max+sum", log_mean=[0.0], log_std=[1.0], cost_columns=[2],
                         cost_mean=[1.0], cost_std=[2.0])
    model = build_perfsage(cfg)
    w_mac, const = 0.25, 3.0
    for layer in model.layers:
        if layer.name == "node_cost":
            k, _ = layer.get_weights()
            layer.set_weights([np.zeros_like(k), np.zeros(1, np.float32)])
        elif layer.name == "cost_op":  # per op: [log w_mac, log c]
            e = np.zeros(layer.get_weights()[0].shape, np.float32)
            e[:] = [np.log(w_mac), np.log(const)]
            layer.set_weights([e])
    graphs = _graphs(np.random.default_rng(1), [4], 3, 2, 4)
    z = model(_dense(graphs, 5), training=False).numpy()[0, 0]
    log1p_macs = graphs[0][0][:, 2] * 2.0 + 1.0  # normalised column undone
    want = np.sum(w_mac * np.exp(log1p_macs) + const)
    np.testing.assert_allclose(np.exp(z), want, rtol=1e-4)


def test_soft_readout_spans_sum_to_max():
    pytest.importorskip("spektral")
    import tensorflow as tf

    from trainer.model import _soft_readout

    def lse(u, mask):  # over axis 1, as batch mode does (mask [B, N, 1])
        return tf.reduce_logsumexp(u + (mask - 1.0) * 1e9, axis=1)

    costs = np.array([1.0, 2.0, 4.0, 3.0, 0.5, 99.0], np.float32)  # the last node is padding
    u = np.log(costs)[None, :, None]
    mask = np.array([[1, 1, 1, 1, 1, 0]], np.float32)[:, :, None]
    layer = _soft_readout(lse, True, [])
    sum_ = np.exp(layer([u, mask]).numpy()[0, 0])
    assert sum_ == pytest.approx(10.5, rel=1e-5)  # tau = 1 (initial): the sum of the costs
    assert layer.trainable_weights  # tau is learned
    layer.set_weights([np.log([0.01]).astype(np.float32)])
    assert np.exp(layer([u, mask]).numpy()[0, 0]) == pytest.approx(4.0, rel=1e-2)  # ~ the max
    fixed = _soft_readout(lse, False, [])
    fixed([u, mask])
    assert not fixed.trainable_weights  # soft_readout=False: a plain sum
    peak = _soft_readout(lse, True, [0.01])  # tau_init: a peak metric starts near the max
    assert np.exp(peak([u, mask]).numpy()[0, 0]) == pytest.approx(4.0, rel=1e-2)


def test_peak_tau_reaches_only_peak_metrics():
    from trainer.train import TrainConfig

    metrics = ["latency_ms", "sram_kib", "energy_mj"]
    assert TrainConfig(metrics=metrics).model_config().tau_init == []  # default: all sums
    cfg = TrainConfig(metrics=metrics, peak_tau=0.05).model_config()
    assert cfg.tau_init == [1.0, 0.05, 1.0]
    with pytest.raises(InputError):
        TrainConfig(metrics=metrics, peak_tau=0.0).check()


def test_bounded_cost_never_exceeds_twice_the_memory_a_node_keeps():
    pytest.importorskip("spektral")
    import tf_keras as keras

    from trainer.model import PerfSAGEConfig, build_perfsage

    cfg = PerfSAGEConfig(n_features=6, n_categories=4, n_ops=9, metrics=["latency_ms", "sram"],
                         hidden=8, gnn_layers=2, dense_layers=1, dense_width=8,
                         readout="max+sum", layer_norm=True, log_mean=[0.5, 4.0],
                         log_std=[1.5, 0.7], soft_readout=True, bounded=[1],
                         bounded_columns=[2, 3], bounded_mean=[6.0, 4.0], bounded_std=[1.0, 2.0],
                         bounded_unit=1024.0)
    model = build_perfsage(cfg)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # wild weights: the bound must hold anyway
        layer.set_weights([rng.normal(scale=5.0, size=w.shape) for w in layer.get_weights()])
    node = keras.Model(model.inputs, model.get_layer("bounded_cost").output)
    graphs = _graphs(rng, [5, 9], 6, 4, 9)
    inputs = _dense(graphs, 9)
    u = node(inputs, training=False).numpy()  # [B, N, 2] per-node log-costs
    live = np.exp(inputs["x"][..., 2] * 1.0 + 6.0) - 1.0
    weights = np.exp(inputs["x"][..., 3] * 2.0 + 4.0) - 1.0
    cap = np.log(2.0 * (live + weights) / 1024.0 + 2.0 * 16.0 + 1e-3)
    real = inputs["mask"] > 0
    assert np.all(u[..., 1][real] <= cap[real] + 1e-4)
    assert np.ptp(u[..., 0][real]) > 0  # the other metric keeps its free head


def test_phased_bound_is_the_largest_phase_of_gated_sizes():
    pytest.importorskip("spektral")
    import tf_keras as keras

    from trainer.model import PerfSAGEConfig, build_perfsage

    phases = [[1.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]  # running; hand-over (+ next weights)
    cfg = PerfSAGEConfig(n_features=6, n_categories=4, n_ops=9, metrics=["sram"],
                         hidden=8, gnn_layers=2, dense_layers=1, dense_width=8,
                         readout="max+sum", layer_norm=True, log_mean=[4.0], log_std=[0.7],
                         soft_readout=True, bounded=[0], bounded_columns=[2, 3, 4],
                         bounded_mean=[6.0, 4.0, 4.0], bounded_std=[1.0, 2.0, 2.0],
                         bounded_phases=phases)
    model = build_perfsage(cfg)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        layer.set_weights([rng.normal(scale=2.0, size=w.shape) for w in layer.get_weights()])
    probe = keras.Model(model.inputs, [model.get_layer("bounded_gates").output,
                                       model.get_layer("bounded_cost").output])
    inputs = _dense(_graphs(rng, [5, 9], 6, 4, 9), 9)
    gates, u = (t.numpy() for t in probe(inputs, training=False))
    x = inputs["x"]
    sizes = np.stack([np.exp(x[..., 2] + 6.0) - 1.0, np.exp(x[..., 3] * 2.0 + 4.0) - 1.0,
                      np.exp(x[..., 4] * 2.0 + 4.0) - 1.0], -1) / 1024.0
    sizes = np.concatenate([np.maximum(sizes, 0.0), np.full(sizes[..., :1].shape, 16.0)], -1)
    share = 1.0 + np.tanh(gates.reshape(gates.shape[:-1] + (2, 4)) / 2.0)  # 2 sigmoid(g)
    held = (share * np.array(phases) * sizes[..., None, :]).sum(-1)  # [B, N, 2]
    assert held.shape[-1] == 2
    want = np.log(held.max(-1) + 1e-3)
    real = inputs["mask"] > 0
    np.testing.assert_allclose(u[..., 0][real], want[real], rtol=1e-4, atol=1e-4)
    assert np.any(held[..., 0][real] > held[..., 1][real])  # both phases win somewhere:
    assert np.any(held[..., 1][real] > held[..., 0][real])  # the max is not one fixed phase


class _Norm:
    """A normaliser of every feature column: mean 0, std 1 (what model_config reads)."""

    def __init__(self):
        from edge_predictor.featurize import FEATURE_NAMES

        self.mean = np.zeros(len(FEATURE_NAMES))
        self.std = np.ones(len(FEATURE_NAMES))


def test_phased_peak_config_masks_the_next_weights_out_of_the_running_phase():
    from trainer.train import BOUNDED_FEATURES, TrainConfig

    cfg = TrainConfig(metrics=["latency_ms", "sram_kib"], bounded_peak=True, phased_peak=True,
                      peak_tau=0.05).model_config(norm=_Norm())
    nxt = BOUNDED_FEATURES.index("next_sram_weight_bytes")
    assert [p[nxt] for p in cfg.bounded_phases] == [0.0, 1.0]
    assert all(p[-1] == 1.0 for p in cfg.bounded_phases)  # fixed buffers in both
    assert TrainConfig(metrics=["sram_kib"], bounded_peak=True).model_config(
        norm=_Norm()).bounded_phases == []


def test_replayed_peak_bounds_by_the_replayed_buffers_in_two_phases():
    from edge_predictor.featurize import FEATURE_NAMES
    from trainer.train import REPLAYED_FEATURES, TrainConfig

    cfg = TrainConfig(metrics=["latency_ms", "sram_kib"], bounded_peak=True, replayed_peak=True,
                      peak_tau=0.05).model_config(norm=_Norm())
    assert cfg.bounded_columns == [FEATURE_NAMES.index(n) for n in REPLAYED_FEATURES]
    whole, kept, first = (REPLAYED_FEATURES.index(n) for n in (
        "est_weight_buffer_bytes", "est_kept_buffer_bytes", "next_est_first_buffer_bytes"))
    running, handover = cfg.bounded_phases
    assert (running[whole], running[kept], running[first]) == (1.0, 0.0, 0.0)
    assert (handover[whole], handover[kept], handover[first]) == (0.0, 1.0, 1.0)
    with pytest.raises(InputError, match="bounded_peak"):
        TrainConfig(metrics=["sram_kib"], mode="generalized", replayed_peak=True).check()


def test_npu_prior_keeps_every_graph_within_its_bounded_correction_of_the_prior():
    """With wild weights, the latency of every graph stays within exp(+-(B + B_g)) of the sum
    of its nodes' prior, and the modes agree (the prior path is in both)."""
    pytest.importorskip("spektral")
    from trainer.model import PerfSAGEConfig, build_perfsage, build_perfsage_disjoint, \
        copy_weights

    cfg = PerfSAGEConfig(n_features=6, n_categories=4, n_ops=9, metrics=["latency_ms", "sram"],
                         hidden=8, gnn_layers=2, dense_layers=1, dense_width=8,
                         readout="max+sum", layer_norm=True, log_mean=[0.5, 4.0],
                         log_std=[1.5, 0.7], prior_metrics=[0], prior_column=2, prior_mean=8.0,
                         prior_std=2.0, prior_scale=1e-3 / 0.5, prior_bound=1.5,
                         prior_graph_bound=0.5)
    model, disjoint = build_perfsage(cfg), build_perfsage_disjoint(cfg)
    rng = np.random.default_rng(1)
    s = 5.0  # wild weights: the corrections saturate at their bounds
    for layer in model.layers:
        layer.set_weights([rng.normal(scale=s, size=w.shape) for w in layer.get_weights()])
    copy_weights(model, disjoint)
    graphs = _graphs(rng, [4, 9, 6], 6, 4, 9)
    inputs = _dense(graphs, 9)
    z = model(inputs, training=False).numpy()
    np.testing.assert_allclose(disjoint(_disjoint(graphs), training=False).numpy(), z,
                               rtol=1e-4, atol=1e-4)
    cycles = np.exp(inputs["x"][..., 2] * 2.0 + 8.0) - 1.0
    prior_ms = (cycles * 1e-3 / 0.5 * inputs["mask"]).sum(1)
    log_ms = z[:, 0] * 1.5 + 0.5
    assert np.all(np.abs(log_ms - np.log(prior_ms)) <= 1.5 + 0.5 + 1e-3)
    assert np.abs(log_ms - np.log(prior_ms)).max() > 1.0  # the bounds are reached, not passed


def test_npu_prior_config_checks():
    pytest.importorskip("spektral")
    from trainer.model import PerfSAGEConfig, build_perfsage
    from trainer.train import TrainConfig

    with pytest.raises(ValueError, match="prior"):
        build_perfsage(PerfSAGEConfig(n_features=3, n_categories=2, n_ops=4,
                                      metrics=["latency_ms"], readout="max", prior_metrics=[0],
                                      prior_column=1))
    with pytest.raises(InputError, match="npu_prior"):
        TrainConfig(target="cpu-x", mode="generalized", npu_prior=True).check()


def test_table_prior_and_a_second_column_prior_stay_within_their_bounds():
    """Latency over an analytical table (per operator: c0 + c1 * size, the size undone from the
    normalised x) and energy over a column prior: every graph within exp(+-(B + B_g)) of each
    prior's sum, the modes agreeing."""
    pytest.importorskip("spektral")
    from trainer.model import PerfSAGEConfig, build_perfsage, build_perfsage_disjoint, \
        copy_weights

    n_ops = 9
    table = [[0.01 * (i + 1), 1e-4 * (i % 3)] for i in range(n_ops)]  # ms, ms per unit
    cfg = PerfSAGEConfig(n_features=6, n_categories=4, n_ops=n_ops,
                         metrics=["latency_ms", "energy_mj"], hidden=8, gnn_layers=2,
                         dense_layers=1, dense_width=8, readout="max+sum", layer_norm=True,
                         log_mean=[0.5, -2.0], log_std=[1.5, 1.0], prior_metrics=[0, 1],
                         prior_columns=[-1, 3], prior_means=[0.0, 9.0], prior_stds=[1.0, 2.0],
                         prior_scales=[1.0, 1e-9], prior_table=table, prior_table_columns=[2],
                         prior_table_mean=[8.0], prior_table_std=[2.0], prior_bound=1.5,
                         prior_graph_bound=0.5)
    model, disjoint = build_perfsage(cfg), build_perfsage_disjoint(cfg)
    rng = np.random.default_rng(2)
    for layer in model.layers:
        layer.set_weights([rng.normal(scale=5.0, size=w.shape) for w in layer.get_weights()])
    copy_weights(model, disjoint)
    graphs = _graphs(rng, [4, 9, 6], 6, 4, n_ops)
    inputs = _dense(graphs, 9)
    z = model(inputs, training=False).numpy()
    np.testing.assert_allclose(disjoint(_disjoint(graphs), training=False).numpy(), z,
                               rtol=1e-4, atol=1e-4)
    size = np.exp(inputs["x"][..., 2] * 2.0 + 8.0) - 1.0
    rows = np.array(table)[inputs["op"]]
    prior_ms = ((rows[..., 0] + rows[..., 1] * size) * inputs["mask"]).sum(1)
    prior_mj = ((np.exp(inputs["x"][..., 3] * 2.0 + 9.0) - 1.0) * 1e-9 * inputs["mask"]).sum(1)
    for j, prior in ((0, prior_ms), (1, prior_mj)):
        log_v = z[:, j] * cfg.log_std[j] + cfg.log_mean[j]
        assert np.all(np.abs(log_v - np.log(prior)) <= 1.5 + 0.5 + 1e-3)
    with pytest.raises(ValueError, match="table prior"):
        build_perfsage(PerfSAGEConfig(n_features=6, n_categories=4, n_ops=n_ops,
                                      metrics=["latency_ms"], readout="max+sum",
                                      log_mean=[0.0], log_std=[1.0],
                                      prior_metrics=[0], prior_columns=[-1],
                                      prior_table=table[:3], prior_table_columns=[2]))


def test_cpu_prior_bakes_the_targets_table_into_the_config():
    from edge_predictor.cpu_cost import TERM_COLUMNS, coefficient_rows, table_for
    from edge_predictor.featurize import FEATURE_NAMES
    from edge_predictor.op_table import OP_VOCAB
    from trainer.train import TrainConfig

    target = "cpu-epyc-litert-t1"
    cfg = TrainConfig(target=target, metrics=["latency_ms"], mode="specialized",
                      space="families", cpu_prior=True)
    cfg.check()
    mcfg = cfg.model_config(norm=_Norm())
    assert mcfg.prior_metrics == [0] and mcfg.prior_columns == [-1]
    np.testing.assert_allclose(mcfg.prior_table,
                               coefficient_rows(OP_VOCAB, table_for(target)) * 1e-3)
    assert mcfg.prior_table_columns == [FEATURE_NAMES.index(n) for n in TERM_COLUMNS]
    with pytest.raises(InputError, match="cpu_prior"):
        TrainConfig(target="ethos-u55-128", mode="generalized", cpu_prior=True).check()
