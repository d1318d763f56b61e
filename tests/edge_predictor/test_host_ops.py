"""Tests of a host's per-operator model (edge_predictor.host_ops; pure numpy, synthetic rows),
of timing operators one at a time (op_profile) and of the probe grid (op_probe)."""

import numpy as np
import pytest

from conftest import fixture_path

from edge_predictor import op_probe
from edge_predictor.featurize import featurize
from edge_predictor.host_ops import (CLASS_COLUMNS, SIZE_COLUMNS, HostOps, fit_ops, loo_errors,
                                     op_rows)
from edge_predictor.op_profile import invoke_overhead_us, profile_ops
from edge_predictor.op_writer import WRITABLE, write_op
from edge_predictor.tflite_reader import read_model

S = len(SIZE_COLUMNS)


def _rows(keys, sizes, ref):
    return list(keys), np.array(sizes, np.float64).reshape(len(keys), S), np.array(ref, float)


def test_an_operator_is_timed_like_its_nearest_neighbours_of_its_class_scaled_by_work():
    near, far = np.zeros(S), np.full(S, 5.0)
    ops = HostOps(["CONV_2D/3/3/1/0/1"] * 4 + ["CONV_2D/1/1/1/0/1"],
                  np.stack([near, near + 0.1, near + 0.2, far, near]),
                  np.array([10.0, 10.0, 10.0, 10.0, 10.0]),
                  np.array([20.0, 20.0, 20.0, 900.0, 1.0]))
    # three nearest of the class: 2x their reference each; the query does 3x the reference work
    got = ops.predict_ops(_rows(["CONV_2D/3/3/1/0/1"], [near], [30.0]))
    assert got == pytest.approx([60.0])
    # a class never timed: the type's operators; a type never timed: the pooled ratio
    assert ops.predict_ops(_rows(["CONV_2D/5/5/1/0/1"], [near], [10.0]))[0] == pytest.approx(
        (2 * 2 * 0.1) ** (1 / 3) * 10.0, rel=1e-6)
    pooled = (60.0 + 900.0 + 1.0) / 50.0
    assert ops.predict_ops(_rows(["SOFTMAX/0/0/0/0/0"], [near], [4.0]))[0] == pytest.approx(
        4.0 * pooled)


def test_a_model_is_its_operators_sum_times_the_in_model_factor():
    ops = HostOps(["ADD/0/0/0/0/0"], np.zeros((1, S)), np.array([1.0]), np.array([3.0]),
                  scale=1.5)
    rows = _rows(["ADD/0/0/0/0/0"] * 4, np.zeros((4, S)), [1.0, 2.0, 3.0, 4.0])
    assert ops.predict_ms(rows) == pytest.approx(1.5 * 3.0 * 10.0 * 1e-3)


def _synthetic_models(rng, n=6, ratio=2.5):
    models, whole = [], []
    for _ in range(n):
        m = int(rng.randint(3, 9))
        keys = [rng.choice(["CONV_2D/3/3/1/0/1", "ADD/0/0/0/0/0", "MEAN/0/0/0/0/0"])
                for _ in range(m)]
        ref = rng.uniform(1, 100, m)
        models.append((_rows(keys, rng.normal(size=(m, S)), ref), ratio * ref))
        whole.append(1.2 * ratio * ref.sum() * 1e-3)
    return models, whole


def test_fit_learns_the_in_model_factor_and_leave_one_out_is_exact_on_a_linear_host():
    models, whole = _synthetic_models(np.random.RandomState(0))
    ops = fit_ops(models, whole)
    assert ops.scale == pytest.approx(1.2)
    assert np.abs(loo_errors(models, whole)).max() < 1e-9
    # untimed operators (NaN) are left out of the rows, not counted as zero
    (keys, sizes, ref), t = models[0]
    t = t.copy()
    t[0] = np.nan
    assert len(fit_ops([((keys, sizes, ref), t)], [whole[0]]).keys) == len(keys) - 1


def test_repeated_operators_are_stored_once_with_their_median_time():
    rows = _rows(["ADD/0/0/0/0/0"] * 3, np.zeros((3, S)), [1.0, 1.0, 1.0])
    ops = fit_ops([(rows, np.array([1.0, 2.0, 9.0]))], [0.003])
    assert ops.keys == ["ADD/0/0/0/0/0"] and ops.time.tolist() == [2.0]


def test_json_round_trip_keeps_four_digits_and_refuses_other_columns():
    models, whole = _synthetic_models(np.random.RandomState(1))
    ops = fit_ops(models, whole)
    doc = ops.to_json()
    back = HostOps.from_json(doc)
    assert back.keys == ops.keys and back.scale == ops.scale
    assert back.time == pytest.approx(ops.time, rel=1e-3)
    assert back.predict_ms(models[0][0]) == pytest.approx(ops.predict_ms(models[0][0]), rel=1e-2)
    with pytest.raises(ValueError, match="other columns"):
        HostOps.from_json(dict(doc, columns=doc["columns"][:-1]))
    with pytest.raises(ValueError, match="fields"):
        HostOps.from_json(dict(doc, rows=["ADD/0/0/0/0/0 1 2"]))


def test_op_rows_key_operators_by_type_and_kernel_class():
    keys, sizes, ref = op_rows(featurize(read_model(write_op(
        {"op": "CONV_2D", "hw": 8, "cin": 16, "cout": 16, "kernel": 3, "groups": 4}))),
        "cpu-epyc-litert-t1")
    assert keys == ["CONV_2D/3/3/1/0/2/0"]  # kernel 3x3, stride 1, int8, grouped; pattern 0
    assert sizes.shape == (1, S) and ref[0] > 0
    assert len(CLASS_COLUMNS) + 1 == keys[0].count("/")


def _key(spec):
    return op_rows(featurize(read_model(write_op(spec))), "cpu-epyc-litert-t1")[0][0]


def test_the_pattern_field_tells_broadcasts_and_matrix_vector_products_apart():
    assert _key({"op": "ADD", "hw": 4, "cin": 8}).endswith("/0")  # operands of one size
    assert _key({"op": "SUB", "hw": 4, "cin": 8, "broadcast": True}).endswith("/1")  # x - mean
    assert _key({"op": "MUL", "hw": 4, "cin": 8, "broadcast": "channels"}).endswith("/2")
    assert _key({"op": "SUB", "hw": 4, "cin": 8, "broadcast": "first"}).endswith("/2")
    assert _key({"op": "FULLY_CONNECTED", "cin": 16, "cout": 8}).endswith("/1")  # one row
    assert _key({"op": "CONV_2D", "hw": 4, "cin": 8, "cout": 8, "kernel": 1}).endswith("/0")


def test_a_single_channel_convolution_is_keyed_apart_and_probed():
    spec = {"op": "CONV_2D", "hw": 8, "cin": 1, "cout": 16, "kernel": 3}
    assert _key(spec) == "CONV_2D/3/3/1/0/1/1"
    assert _key(dict(spec, cin=2)) == "CONV_2D/3/3/1/0/1/0"
    assert _key({"op": "DEPTHWISE_CONV_2D", "hw": 8, "cin": 1, "kernel": 3}).endswith("/0")
    probed = [s for s in op_probe.PROBES if s["op"] == "CONV_2D" and s["cin"] == 1]
    assert {s["kernel"] for s in probed} == {3, 5, 7} and {s["stride"] for s in probed} == {1, 2}
    assert {s["cout"] for s in probed} == {16, 64, 256}


def test_a_single_channel_class_never_timed_takes_single_channel_neighbours():
    def sizes(macs, cin):
        s = np.zeros(S)
        s[SIZE_COLUMNS.index("macs")] = np.log1p(macs)
        s[SIZE_COLUMNS.index("in0_c")] = np.log1p(cin)
        return s

    # a 3x3 on one channel runs 100 us where a 3x3 of 64 channels and 64x the MACs runs 10
    ops = HostOps(["CONV_2D/3/3/1/0/1/1", "CONV_2D/3/3/1/0/1/0", "CONV_2D/10/4/1/0/1/0"],
                  [sizes(1e6, 1), sizes(64e6, 64), sizes(40e6, 64)], np.array([10.0, 640, 400]),
                  np.array([100.0, 10, 6]))
    query = _rows(["CONV_2D/10/4/1/0/1/1"], [sizes(2e6, 1)], [20.0])  # never timed
    assert ops.predict_ops(query) == pytest.approx([200.0])  # its pattern's, by the table
    # timed before single-channel convolutions were keyed apart: as then, its own class
    old = HostOps.from_json({k: v for k, v in ops.to_json().items() if k != "single_channel"})
    assert not old.single_channel
    assert old.predict_ops(query)[0] == pytest.approx(6.0 / 400 * 20, rel=2e-3)


def test_an_operator_the_delegate_refuses_for_its_scales_is_keyed_apart():
    # a per-channel constant at scale 1e-8 against an output at 0.1: ratio 1e-7 < 2^-10
    spec = {"op": "SUB", "hw": 4, "cin": 8, "broadcast": "first", "const_scale": 1e-8}
    assert _key(spec).endswith("/6")  # pattern 2 + OFF_DELEGATE
    assert _key(dict(spec, const_scale=0.05)).endswith("/2")
    assert any(s.get("const_scale") for s in op_probe.PROBES)  # and the probes time such ones


def test_a_grouped_convolution_scales_by_groups_times_positions_not_the_table():
    def sizes(groups, positions, channels):
        s = np.zeros(S)
        s[SIZE_COLUMNS.index("groups")] = np.log1p(groups)
        s[SIZE_COLUMNS.index("out_c")] = np.log1p(channels)
        s[SIZE_COLUMNS.index("out_elements")] = np.log1p(positions * channels)
        return s

    key = "CONV_2D/3/3/1/0/2/0"
    ops = HostOps([key], [sizes(16, 784, 64)], np.array([50.0]), np.array([430.0]))
    # 4x the groups on a quarter of the positions: the same work, whatever the table says
    got = ops.predict_ops(_rows([key], [sizes(64, 196, 256)], [500.0]))
    assert got == pytest.approx([430.0], rel=1e-6)
    dense = HostOps(["CONV_2D/3/3/1/0/1/0"], [sizes(0, 784, 64)], np.array([50.0]),
                    np.array([430.0]))  # not grouped: the table's ratio
    assert dense.predict_ops(_rows(["CONV_2D/3/3/1/0/1/0"], [sizes(0, 196, 256)], [500.0])) == \
        pytest.approx([4300.0], rel=1e-6)


def test_timed_operators_written_before_the_pattern_field_still_match():
    models, whole = _synthetic_models(np.random.RandomState(2))
    doc = fit_ops(models, whole).to_json()
    legacy = dict(doc, class_columns=list(CLASS_COLUMNS))  # keys of the class columns only
    old = HostOps.from_json(legacy)
    assert not old.patterns and old.to_json()["class_columns"] == list(CLASS_COLUMNS)
    (keys, sizes, ref), _ = models[0]
    query = ([k + "/0" for k in keys], sizes, ref)  # what op_rows writes now
    assert old.predict_ms(query) == pytest.approx(HostOps.from_json(doc).predict_ms(
        (keys, sizes, ref)))


def test_profile_times_every_operator_of_a_model():
    with open(fixture_path("conv"), "rb") as f:
        buf = f.read()
    t = profile_ops(buf)
    assert len(t) == len(read_model(buf).ops)
    assert np.all(np.isfinite(t)) and np.all(t >= 0)
    assert invoke_overhead_us() > 0


def test_probe_grid_is_fixed_writable_and_bounded():
    assert op_probe.PROBES == tuple(op_probe.probe_specs())
    assert {p["op"] for p in op_probe.PROBES} == set(WRITABLE)
    assert all(op_probe._macs(p) <= op_probe.MAX_MACS for p in op_probe.PROBES)
    assert len(op_probe.PROBES) > 300


def test_probes_are_timed_in_grid_order(monkeypatch):
    few = (op_probe.PROBES[0], {"op": "RELU", "hw": 4, "cin": 8})
    monkeypatch.setattr(op_probe, "PROBES", few)
    t = op_probe.time_probes()
    keys, sizes, ref = op_probe.probe_rows("cpu-epyc-litert-t1")
    assert t.shape == (2,) and np.all(t >= 0) and len(keys) == 2 and keys[1].startswith("RELU/")


def test_an_answer_mostly_from_operators_never_timed_says_so_and_widens():
    ops = HostOps(["ADD/0/0/0/0/0"], np.zeros((1, S)), np.array([1.0]), np.array([2.0]))
    ops.unseen_error = (0.3, 0.6)
    timed = _rows(["ADD/0/0/0/0/0"] * 2, np.zeros((2, S)), [1.0, 1.0])
    assert ops.answer(timed) == (pytest.approx(4.0 * 1e-3), "", 0.0)
    mixed = _rows(["ADD/0/0/0/0/0", "SOFTMAX/0/0/0/0/0"], np.zeros((2, S)), [1.0, 1.0])
    us, untimed = ops.predict_detail(mixed)
    assert untimed.tolist() == [False, True] and us.tolist() == [2.0, 2.0]
    ms, note, spread = ops.answer(mixed)
    assert "SOFTMAX" in note and "50%" in note and spread == pytest.approx(0.5 * 0.6)
    # a class never timed of a timed type: its type's operators, named with its kernel
    other = _rows(["ADD/0/0/0/0/0", "ADD/1/80/1/0/0"], np.zeros((2, S)), [1.0, 1.0])
    assert ops.predict_sources(other)[1].tolist() == [0, 1]
    ms, note, spread = ops.answer(other)
    assert "ADD 1x80/1" in note and spread == pytest.approx(0.5 * 0.3)
    # below the share: quiet, and a little wider
    ms, note, spread = ops.answer(_rows(["ADD/0/0/0/0/0", "SOFTMAX/0/0/0/0/0"],
                                        np.zeros((2, S)), [20.0, 1.0]))
    assert note == "" and 0 < spread < 0.1 * 0.6


def test_the_error_of_operators_never_timed_is_measured_by_hiding_each_class():
    def sizes(macs):
        s = np.zeros(S)
        s[SIZE_COLUMNS.index("macs")] = np.log1p(macs)
        return s

    keys = ["CONV_2D/3/3/1/0/1/0"] * 3 + ["CONV_2D/1/1/1/0/1/0"] * 3 + ["ADD/0/0/0/0/0/0"] * 2
    macs = np.array([1e6, 2e6, 4e6] * 2 + [0, 0])
    ref = np.array([10.0, 20, 40, 10, 20, 40, 5, 5])
    # 3x3 run at 2 us per reference us, 1x1 at 3: hiding either predicts it 1.5x off
    time = np.array([20.0, 40, 80, 30, 60, 120, 5, 5])
    ops = HostOps(keys, np.stack([sizes(m) for m in macs]), ref, time)
    other, untimed = ops.measure_unseen_error(quantile=0.5)
    assert other == pytest.approx(np.log(1.5))
    # hiding ADD: the others' pooled ratio (2.5) against its 1; hiding a conv class keeps it
    assert untimed > 0
    back = HostOps.from_json(dict(ops.to_json()))
    assert back.unseen_error == pytest.approx(ops.unseen_error)


def test_drift_is_the_spread_of_a_canary_without_its_strays():
    assert op_probe.drift([]) == 0.0 and op_probe.drift([5.0]) == 0.0
    steady = [32.4] * 20 + [29.7, 35.5]  # two strays among 22
    assert op_probe.drift(steady) < 0.05
    assert op_probe.drift(list(np.linspace(30.0, 36.0, 20))) == pytest.approx(
        np.quantile(np.linspace(30.0, 36.0, 20), 0.9) / np.quantile(
            np.linspace(30.0, 36.0, 20), 0.1) - 1)
