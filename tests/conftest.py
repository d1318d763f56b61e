"""Shared test fixtures: the committed tiny models and their hand-written expectations."""

import json
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
sys.path.insert(0, HERE)  # for tests/flatbuild.py

with open(os.path.join(FIXTURES, "EXPECTED.json")) as _f:
    EXPECTED = {k: v for k, v in json.load(_f).items() if not k.startswith("_")}


def fixture_path(name):
    """Path of ``tests/fixtures/<name>.tflite``."""
    return os.path.join(FIXTURES, name + ".tflite")


@pytest.fixture(params=sorted(EXPECTED))
def fixture_model(request):
    """(name, path, expectations) of every committed fixture model."""
    return request.param, fixture_path(request.param), EXPECTED[request.param]


def tiny_int8_model(width, blocks, res):
    """A tiny INT8 conv net (``blocks`` 3x3 convs of ``width`` on res x res x 3) as bytes."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("tf_keras")
    inp = keras.Input((res, res, 3))
    x = inp
    for _ in range(blocks):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(10)(x))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.RandomState(0)
    conv.representative_dataset = lambda: (
        [rng.random_sample((1, res, res, 3)).astype(np.float32)] for _ in range(4))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


@pytest.fixture(params=["tables", "columns"])
def both_reader_paths(request, monkeypatch):
    """Run a test with the reader's per-table path and again with its per-column one (which
    it takes for large models only), forced for every model."""
    from edge_predictor import tflite_reader
    if request.param == "columns":
        monkeypatch.setattr(tflite_reader, "TENSOR_COLUMNS_FROM", 0)
        monkeypatch.setattr(tflite_reader, "OPERATOR_COLUMNS_FROM", 0)
    return request.param
