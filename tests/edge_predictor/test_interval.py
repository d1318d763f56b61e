"""Tests of the answer intervals (edge_predictor.interval) and their use by the runtime."""

import json
import math
import os
import shutil

import numpy as np
import pytest

from edge_predictor.interval import (analytical_of, bounds, departure, fit_spec,
                                     group_coverage)
from edge_predictor.runtime import Predictor

from conftest import FIXTURES, fixture_path


def test_spec_quantiles_per_departure_bin_never_narrow_with_departure():
    rng = np.random.default_rng(0)
    dep = np.concatenate([rng.uniform(0, 0.1, 200), rng.uniform(0.2, 1.0, 200)])
    err = np.concatenate([rng.normal(0, 0.02, 200), rng.normal(0, 0.2, 200)])
    spec = fit_spec(err, dep, bins=2)
    assert len(spec["edges"]) == 1 and spec["n"] == [200, 200]
    assert spec["q90"][1] > spec["q90"][0] > 0 > spec["q10"][0] > spec["q10"][1]
    lo, hi = bounds(10.0, 0.05, spec)
    assert lo < 10.0 < hi and hi / lo < 1.2
    lo, hi = bounds(10.0, float("inf"), spec)  # no analytical figure: the widest bin
    assert hi / lo > 1.3
    # a low-departure bin wider than the high one is widened in the high one
    spec = fit_spec(np.concatenate([err[200:], err[:200]]), dep, bins=2)
    assert spec["q90"][1] >= spec["q90"][0] and spec["q10"][1] <= spec["q10"][0]


def test_leave_one_group_out_coverage_is_near_the_nominal_80_percent():
    rng = np.random.default_rng(1)
    err, dep = rng.normal(0, 0.1, 600), rng.uniform(0, 1, 600)
    groups = ["g{}".format(i % 6) for i in range(600)]
    cov = group_coverage(err, dep, groups)
    assert 0.72 < cov["coverage"] < 0.88 and cov["width"] > 1.0


def test_departure():
    assert departure(2.0, 1.0) == pytest.approx(math.log(2.0))
    assert departure(1.0, 2.0) == pytest.approx(math.log(2.0))
    assert departure(1.0, 0.0) == float("inf") and departure(1.0, None) == float("inf")


def test_the_runtime_answers_with_an_interval_and_flags_far_models(tmp_path):
    from edge_predictor.featurize import featurize
    from edge_predictor.tflite_reader import read_model

    folder = str(tmp_path / "b")
    shutil.copytree(os.path.join(FIXTURES, "tiny_bundle"), folder)
    meta_path = os.path.join(folder, "meta.json")
    meta = json.load(open(meta_path))
    meta["target"] = "ethos-u55-tiny"  # an NPU id: the NPU's analytical model applies
    spec = {"edges": [0.5], "q10": [-0.1, -0.5], "q90": [0.1, 0.5], "n": [10, 10],
            "ood_departure": 0.0}
    meta["interval"] = {"latency_ms": spec}
    json.dump(meta, open(meta_path, "w"))
    p = Predictor.load(folder)
    ans = p.predict(fixture_path("conv"))
    lo, hi = ans["interval"]["latency_ms"]
    v = ans["latency_ms"]
    an = analytical_of(featurize(read_model(fixture_path("conv"))), "ethos-u55-tiny",
                       "latency_ms")
    expect = 0.1 if departure(v, an) <= 0.5 else 0.5
    assert lo == pytest.approx(v * math.exp(-expect)) and hi == pytest.approx(v * math.exp(expect))
    assert "sram_kib" not in ans["interval"]
    assert any("outside the training distribution" in w for w in ans["warnings"])


def test_a_calibrated_bundle_widens_its_interval_to_its_leave_one_out_errors(tmp_path):
    from edge_predictor.calibrate import calibrate_bundle

    folder = str(tmp_path / "b")
    shutil.copytree(os.path.join(FIXTURES, "tiny_bundle"), folder)
    meta_path = os.path.join(folder, "meta.json")
    meta = json.load(open(meta_path))
    meta["interval"] = {"latency_ms": {"edges": [], "q10": [-0.01], "q90": [0.01], "n": [9]}}
    json.dump(meta, open(meta_path, "w"))
    base = Predictor.load(folder)
    models = ["conv", "depthwise", "transpose_conv", "custom_op"]
    # a machine 2x slower with +-30% noise: leave-one-out errors far wider than +-1%
    samples = [(fixture_path(m), {"latency_ms": base.predict(fixture_path(m))["latency_ms"] *
                                  2.0 * f}) for m, f in zip(models, (0.7, 1.3, 1.0, 1.2))]
    out = str(tmp_path / "cal")
    calibrate_bundle(folder, samples, out, {"kind": "labels"})
    ans = Predictor.load(out).predict(fixture_path("conv"))
    lo, hi = ans["interval"]["latency_ms"]
    assert hi / lo > 1.2 and lo < ans["latency_ms"] < hi


def test_widen_adds_the_calibration_error_to_the_base_interval_in_quadrature():
    from edge_predictor.interval import widen

    v = 10.0
    lo, hi = v * math.exp(-0.03), v * math.exp(0.04)
    # the calibration's leave-one-out errors: predicted 10% above and 10% below measured
    errs = [0.1, -0.1 / 1.1] * 10  # ln(1.1) and ln(1/1.1) as ln(predicted / measured)
    wlo, whi = widen(v, lo, hi, errs)
    d = math.log(1.1)
    assert wlo == pytest.approx(v * math.exp(-math.hypot(0.03, d)))
    assert whi == pytest.approx(v * math.exp(math.hypot(0.04, d)))
    # a perfect calibration leaves the base interval as it is
    assert widen(v, lo, hi, [0.0] * 5) == pytest.approx((lo, hi))
    # a calibration that only ever over-predicts widens the interval downwards only
    wlo, whi = widen(v, lo, hi, [0.2] * 5)
    assert wlo < lo and whi == pytest.approx(hi)


def test_a_calibration_widens_by_the_conformal_order_statistics_of_its_residuals():
    from edge_predictor.interval import widen

    v = 10.0
    logs = np.linspace(-0.19, 0.2, 20)  # ln(predicted / measured) of 20 left-out models
    wlo, whi = widen(v, v, v, np.expm1(logs))
    # k = floor(0.1 * 21) = 2: the 2nd largest bounds the truth below, the 2nd smallest above
    assert wlo == pytest.approx(v * math.exp(-logs[-2]))
    assert whi == pytest.approx(v * math.exp(-logs[1]))
    # fewer than 9: the extremes
    wlo, whi = widen(v, v, v, np.expm1(logs[::4]))
    assert wlo == pytest.approx(v * math.exp(-logs[::4].max()))
