"""The hybrid loss (paper Eq. 3-4) against hand-computed values, and the target transforms."""

import json
import math
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: Spektral needs Keras 2

import numpy as np
import pytest

from trainer.losses import hybrid_loss, hybrid_loss_np, mape_np
from trainer.targets import Targets, default_metrics, unit

UNIT = Targets("ethos-u55-128", ["latency_ms"], ["log"], [0.0], [1.0])
TWO = Targets("ethos-u55-128", ["latency_ms", "sram_kib"], ["log", "log"], [1.0, 0.0],
              [0.5, 2.0])
Z_TRUE = np.zeros((2, 2), np.float32)
Z_PRED = np.array([[0.2, 0.0], [-0.2, 0.1]], np.float32)
# metric 1 (std 0.5): log ratios +-0.1 -> APE e^0.1 - 1 = 0.105171, 1 - e^-0.1 = 0.095163,
#   mean 0.100167; MSE (0.04 + 0.04) / 2 = 0.04
# metric 2 (std 2): log ratios 0, 0.2 -> APE 0, 0.221403, mean 0.110701; MSE 0.01 / 2 = 0.005
HYBRID_TWO = ((0.100167 + 10 * 0.04) + (0.110701 + 10 * 0.005)) / 2  # 0.330434
MAPE_TWO = (0.100167 + 0.110701) / 2  # 0.105434


def test_single_value_by_hand():
    z_true = np.log([[2.0]])
    z_pred = np.log([[2.2]])
    # MAPE 0.2 / 2 = 0.1; MSE log(1.1)^2 = 0.0090840
    assert hybrid_loss_np(UNIT, z_true, z_pred) == pytest.approx(0.1 + 10 * 0.0090840, abs=1e-6)
    assert hybrid_loss_np(UNIT, z_true, z_pred, kind="mape") == pytest.approx(0.1)
    assert hybrid_loss_np(UNIT, z_true, z_pred, alpha=1.0) == pytest.approx(0.1090840, abs=1e-6)


def test_two_metrics_mean_over_metrics_numpy():
    assert hybrid_loss_np(TWO, Z_TRUE, Z_PRED) == pytest.approx(HYBRID_TWO, abs=1e-5)
    assert hybrid_loss_np(TWO, Z_TRUE, Z_PRED, kind="mape") == pytest.approx(MAPE_TWO, abs=1e-5)


@pytest.mark.train
def test_tensorflow_loss_matches_hand_values():
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    hyb = hybrid_loss(TWO)
    mape = hybrid_loss(TWO, kind="mape")
    assert float(hyb(tf.constant(Z_TRUE), tf.constant(Z_PRED))) == pytest.approx(HYBRID_TWO,
                                                                                 abs=1e-5)
    assert float(mape(tf.constant(Z_TRUE), tf.constant(Z_PRED))) == pytest.approx(MAPE_TWO,
                                                                                  abs=1e-5)
    ident = Targets("t", ["count"], ["identity"], [10.0], [2.0])
    # y_true 10, y_pred 0.5 * 2 + 10 = 11: APE 0.1; MSE 0.25
    got = float(hybrid_loss(ident)(tf.constant([[0.0]]), tf.constant([[0.5]])))
    assert got == pytest.approx(0.1 + 10 * 0.25, abs=1e-6)
    wild = float(hyb(tf.constant(Z_TRUE), tf.constant([[1e4, -1e4], [0.0, 0.0]])))
    assert math.isfinite(wild)
    z = tf.Variable(Z_PRED)
    with tf.GradientTape() as tape:
        value = hyb(tf.constant(Z_TRUE), z)
    assert np.isfinite(tape.gradient(value, z).numpy()).all()
    with pytest.raises(ValueError):
        hybrid_loss(TWO, kind="mse")


def test_mape_np():
    got = mape_np([[2.0, 100.0], [4.0, 50.0]], [[2.2, 90.0], [3.0, 50.0]])
    np.testing.assert_allclose(got, [(0.1 + 0.25) / 2, 0.05])


def test_targets_fit_round_trip_and_json():
    y = np.array([[1.0, 100.0], [2.0, 300.0], [8.0, 200.0]])
    t = Targets.fit("ethos-u55-128", ["latency_ms", "sram_kib"], y)
    z = t.to_model(y)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(t.from_model(z), y, rtol=1e-5)
    data = json.loads(json.dumps(t.to_json()))
    assert Targets.from_json(data) == t
    assert [m["unit"] for m in data["metrics"]] == ["ms", "KiB"]
    assert data["metrics"][0]["inverse"] == "exp(z * std + mean)"
    assert t.mean[0] == pytest.approx(np.log([1.0, 2.0, 8.0]).mean())
    with pytest.raises(ValueError):
        Targets.fit("x", ["latency_ms"], np.array([[0.0]]))


def test_units_and_default_metrics():
    assert unit("ethos-u55-128", "energy_mj") == "mJ (estimate)"
    assert unit("cpu-x", "energy_mj") == "mJ"
    assert unit("ethos-u55-128", "latency_ms") == "ms"
    assert default_metrics("ethos-u55-128") == ("latency_ms", "sram_kib", "energy_mj")
    assert default_metrics("cpu-intel") == ("latency_ms",)
