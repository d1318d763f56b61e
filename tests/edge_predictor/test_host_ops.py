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
    assert keys == ["CONV_2D/3/3/1/0/2"]  # kernel 3x3, stride 1, int8, grouped
    assert sizes.shape == (1, S) and ref[0] > 0
    assert len(CLASS_COLUMNS) == keys[0].count("/")


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


def test_an_answer_mostly_from_untimed_operator_types_says_so():
    ops = HostOps(["ADD/0/0/0/0/0"], np.zeros((1, S)), np.array([1.0]), np.array([2.0]))
    timed = _rows(["ADD/0/0/0/0/0"] * 2, np.zeros((2, S)), [1.0, 1.0])
    assert ops.answer(timed) == (pytest.approx(4.0 * 1e-3), "")
    mixed = _rows(["ADD/0/0/0/0/0", "SOFTMAX/0/0/0/0/0"], np.zeros((2, S)), [1.0, 1.0])
    us, untimed = ops.predict_detail(mixed)
    assert untimed.tolist() == [False, True] and us.tolist() == [2.0, 2.0]
    ms, note = ops.answer(mixed)
    assert "SOFTMAX" in note and "50%" in note
    # below the share: quiet
    assert ops.answer(_rows(["ADD/0/0/0/0/0", "SOFTMAX/0/0/0/0/0"],
                            np.zeros((2, S)), [20.0, 1.0]))[1] == ""
