"""Tests of the calibration core (edge_predictor.calibration): pure numpy, synthetic data."""

import numpy as np
import pytest

from edge_predictor.calibration import (KERNEL_GROUPS, apply, choose, fit_groups, fit_scale,
                                        group_of, group_shares, loo_errors)


def test_groups_and_shares():
    assert group_of("CONV_2D") == "conv" and group_of("DEPTHWISE_CONV_2D") == "depthwise"
    assert group_of("BATCH_MATMUL") == "matmul" and group_of("ADD") == "elementwise"
    assert group_of("CUSTOM:x") == "other"
    sh = group_shares(["CONV_2D", "ADD", "CONV_2D", "RESHAPE"], np.array([3.0, 1.0, 4.0, 0.0]))
    assert sh.sum() == pytest.approx(1.0)
    assert sh[KERNEL_GROUPS.index("conv")] == pytest.approx(7 / 8)
    np.testing.assert_allclose(group_shares(["ADD"], np.zeros(1)), 1.0 / len(KERNEL_GROUPS))


def test_one_factor_minimises_relative_error():
    r = np.array([2.0, 2.5, 3.0])
    s = fit_scale(r)
    loss = lambda v: np.sum((v / r - 1) ** 2)  # noqa: E731
    assert loss(s) <= min(loss(s * 1.01), loss(s * 0.99))
    assert fit_scale(np.full(4, 3.0)) == pytest.approx(3.0)


def _machine(n, rng, truth=(3.0, 1.5, 2.0, 1.2, 1.0), noise=0.0):
    """Models with random kernel mixes on a machine where each group runs truth[g] x slower."""
    shares = rng.dirichlet(np.ones(len(KERNEL_GROUPS)) * 0.5, size=n)
    ratio = shares @ np.array(truth) * np.exp(rng.normal(scale=noise, size=n))
    return shares, ratio


def test_per_group_factors_are_recovered_from_enough_measurements():
    shares, ratio = _machine(40, np.random.default_rng(0))
    s = fit_groups(shares, ratio, ridge=1e-6)
    np.testing.assert_allclose(s, [3.0, 1.5, 2.0, 1.2, 1.0], rtol=1e-3)


def test_per_group_factors_survive_ratios_in_other_units_and_fewer_models_than_groups():
    # an analytical energy in pJ against labels in mJ (ratios ~1e-9): the shrinkage vanishes
    # beside a.T a, and 5 models cannot pin 7 groups; with this draw the system is singular
    rng = np.random.default_rng(2)
    shares = rng.uniform(0, 1, (5, 7))
    shares[:, 2] = 0
    shares /= shares.sum(1, keepdims=True)
    ratio = 1e-9 * rng.uniform(0.5, 2, 5)
    s = fit_groups(shares, ratio, ridge=0.1)
    assert s.shape == (7,) and np.all(np.isfinite(s)) and np.all(s > 0)


def test_choose_prefers_groups_when_kernels_differ_and_scale_when_they_do_not():
    rng = np.random.default_rng(1)
    shares, ratio = _machine(20, rng, noise=0.02)
    picked = choose(shares, ratio)
    assert picked["method"] == "groups"
    assert picked["loo_mape"] < picked["tried"]["scale"] / 2
    shares, ratio = _machine(20, rng, truth=(2.0,) * 5, noise=0.02)
    picked = choose(shares, ratio)
    assert picked["tried"]["scale"] <= min(picked["tried"].values()) + 0.005
    assert all(v == pytest.approx(2.0, rel=0.05) for v in picked["factors"].values())


def test_leave_one_out_does_not_see_the_model_it_predicts():
    shares = np.eye(len(KERNEL_GROUPS))[[0, 0, 0, 1]]
    ratio = np.array([2.0, 2.0, 2.0, 8.0])
    # the one model dominated by group 1 cannot learn its factor from the others
    e = loo_errors(shares, ratio, ridge=1e-6)
    assert abs(e[3]) > 0.5 and np.abs(e[:3]).max() < 1e-6
    with pytest.raises(ValueError, match="at least 2"):
        choose(shares[:1], ratio[:1])


def test_apply_weights_the_factors_by_the_models_shares():
    factors = {g: 1.0 for g in KERNEL_GROUPS}
    factors["conv"] = 3.0
    sh = np.zeros(len(KERNEL_GROUPS))
    sh[KERNEL_GROUPS.index("conv")], sh[KERNEL_GROUPS.index("other")] = 0.5, 0.5
    assert apply(10.0, sh, factors) == pytest.approx(20.0)


def test_pick_diverse_spans_mixes_and_range_deterministically():
    from edge_predictor.calibration import pick_diverse

    g = len(KERNEL_GROUPS)
    conv, other = np.eye(g)[0], np.eye(g)[-1]
    shares = np.array([conv, conv, conv, other, conv])
    pred = np.array([1.0, 1.1, 100.0, 1.0, 0.9])
    picked = pick_diverse(shares, pred, 3)
    assert picked[0] == 0  # nearest the median prediction
    assert set(picked[1:]) == {2, 3}  # the far end of the range, the other kernel mix
    assert pick_diverse(shares, pred, 3) == picked
    assert sorted(pick_diverse(shares, pred, 10)) == [0, 1, 2, 3, 4]


def test_npu_shares_split_compute_from_memory_bound_operators():
    from edge_predictor.calibration import NPU_GROUPS, groups_of

    ops = ["CONV_2D", "CONV_2D", "ADD", "FULLY_CONNECTED"]
    cost = np.array([4.0, 2.0, 1.0, 3.0])
    binding = np.array([0, 1, 1, 2])  # compute, SRAM, SRAM, flash
    sh = group_shares(ops, cost, binding)
    assert sh.shape == (len(NPU_GROUPS),) and groups_of("npu_binding") == NPU_GROUPS
    expect = dict(zip(NPU_GROUPS, sh))
    assert expect["conv"] == pytest.approx(0.4)  # only the compute-bound convolution
    assert expect["sram-bound"] == pytest.approx(0.3) and expect["flash-bound"] == \
        pytest.approx(0.3)
    assert expect["elementwise"] == expect["matmul"] == 0.0
    # an accelerator twice as fast on compute: only the compute-bound share halves
    factors = dict.fromkeys(NPU_GROUPS, 1.0)
    factors.update(conv=0.5)
    assert apply(10.0, sh, factors, NPU_GROUPS) == pytest.approx(10.0 * (0.2 + 0.6))


def test_npu_binding_shares_come_from_the_featurizers_parts():
    from conftest import fixture_path

    from edge_predictor.calibration import shares_of, shares_source
    from edge_predictor.featurize import FEATURE_NAMES, featurize
    from edge_predictor.tflite_reader import read_model

    feats = featurize(read_model(fixture_path("conv")))
    assert shares_source("ethos-u55-256") == "npu_binding"
    col = np.expm1(feats.x[:, FEATURE_NAMES.index("npu_cost_cycles")].astype(np.float64))
    np.testing.assert_allclose(feats.npu_parts.max(1), col, rtol=1e-5)
    sh = shares_of(feats, "npu_binding")
    assert sh.sum() == pytest.approx(1.0) and len(sh) == 7
    cached = type(feats)(x=feats.x, categories=feats.categories, op_ids=feats.op_ids,
                         edges=feats.edges)  # as read back from a feature cache
    with pytest.raises(ValueError, match="npu_parts"):
        shares_of(cached, "npu_binding")
    assert len(shares_of(cached, "npu_cost")) == len(KERNEL_GROUPS)  # older calibrations


def test_choose_leaves_a_right_base_alone():
    rng = np.random.default_rng(3)
    shares = rng.dirichlet(np.ones(len(KERNEL_GROUPS)), 20)
    ratio = np.exp(rng.normal(0.0, 0.02, 20))  # the base is right up to 2% noise
    fit = choose(shares, ratio)
    assert fit["method"] == "none" and set(fit["factors"].values()) == {1.0}
    assert fit["loo_mape"] == pytest.approx(np.mean(np.abs(1.0 / ratio - 1.0)))
    fit = choose(shares, ratio * 1.5)  # a uniformly slower machine is not left alone
    assert fit["method"] in ("scale", "groups") and fit["factors"]["conv"] == \
        pytest.approx(1.5, rel=0.05)


def test_cpu_time_splits_by_term_and_kernel_group():
    from edge_predictor.calibration import CPU_GROUPS, cpu_term_shares

    ops = ["CONV_2D", "DEPTHWISE_CONV_2D", "ADD"]
    # per operator: const, macs, out_elements, in_bytes, weight_bytes (microseconds each)
    parts = np.array([[1.0, 6.0, 1.0, 0.0, 0.0],
                      [1.0, 2.0, 0.5, 0.5, 0.0],
                      [1.0, 0.0, 2.0, 1.0, 0.0]])
    sh = dict(zip(CPU_GROUPS, cpu_term_shares(ops, parts)))
    total = parts.sum()
    assert sh["conv-macs"] == pytest.approx(6.0 / total)
    assert sh["depthwise-macs"] == pytest.approx(2.0 / total)
    assert sh["memory"] == pytest.approx(5.0 / total) and sh["overhead"] == \
        pytest.approx(3.0 / total)
    assert sh["matmul-macs"] == sh["other-macs"] == 0.0


def test_older_cpu_calibrations_keep_their_kernel_group_shares():
    from conftest import fixture_path

    from edge_predictor.calibration import shares_of
    from edge_predictor.cpu_cost import TERM_COLUMNS, cost_of, cpu_terms, table_for
    from edge_predictor.cpu_cost_table import TABLES
    from edge_predictor.featurize import featurize, raw_columns
    from edge_predictor.op_table import OP_VOCAB
    from edge_predictor.tflite_reader import read_model

    target = sorted(TABLES)[0]
    feats = featurize(read_model(fixture_path("attention")))
    ops = [OP_VOCAB[int(i)] for i in feats.op_ids]
    cost = cost_of(ops, cpu_terms(raw_columns(feats, TERM_COLUMNS)), table_for(target))
    np.testing.assert_allclose(shares_of(feats, "cpu_cost:" + target), group_shares(ops, cost))
    assert len(shares_of(feats, "cpu_terms:" + target)) == 6
