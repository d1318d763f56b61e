"""The shipped default calibration set: weight-stripped models refilled on load."""

import gzip
import hashlib
import json
import os

import numpy as np

from conftest import fixture_path

from edge_predictor.calibration_set import (MANIFEST, SET_DIR, default_models, refill_weights,
                                            strip_weights, weight_regions)
from edge_predictor.featurize import featurize
from edge_predictor.interpreters import make_interpreter
from edge_predictor.measure import random_inputs
from edge_predictor.tflite_reader import read_model


def _manifest():
    with open(os.path.join(SET_DIR, MANIFEST)) as f:
        return json.load(f)["models"]


def test_the_set_is_twenty_models_of_the_five_spaces_as_written():
    models = _manifest()
    assert len(models) == 20
    assert {m["space"] for m in models.values()} == {"cnn-cifar10", "cnn-imagenet", "cnn-kws",
                                                      "vit-cifar100", "families"}
    for name, m in models.items():
        with open(os.path.join(SET_DIR, name + ".gz"), "rb") as f:
            stripped = gzip.decompress(f.read())
        assert hashlib.sha256(stripped).hexdigest() == m["stripped_sha256"]
        assert len(stripped) == m["original_bytes"]  # zeroed in place, not cut
        assert all(not any(stripped[s:s + n]) for s, n, _ in weight_regions(stripped))


def test_loading_refills_the_weights_the_same_way_every_time():
    first, again = default_models(), default_models()
    assert [n for n, _ in first] == list(_manifest())
    assert all(a == b for (_, a), (_, b) in zip(first, again))
    for _name, data in first[:5]:
        regions = weight_regions(data)
        assert regions and all(any(data[s:s + n]) for s, n, _ in regions)
        assert len(featurize(read_model(data)).x) > 0


def test_strip_and_refill_touch_only_filters_and_biases():
    with open(fixture_path("conv"), "rb") as f:
        original = f.read()
    stripped = strip_weights(original)
    regions = weight_regions(original)
    outside = np.ones(len(original), bool)
    for s, n, _ in regions:
        outside[s:s + n] = False
    a, b = np.frombuffer(original, np.uint8), np.frombuffer(stripped, np.uint8)
    assert regions and (a[outside] == b[outside]).all() and not b[~outside].any()
    refilled = np.frombuffer(refill_weights(stripped, 3), np.uint8)
    assert (refilled[outside] == a[outside]).all() and refilled[~outside].any()
    assert read_model(refill_weights(stripped, 3)).ops == read_model(original).ops


def test_a_refilled_model_runs():
    name, data = min(default_models(), key=lambda m: len(m[1]))  # the smallest: a keyword net
    it = make_interpreter(data)
    random_inputs(it, seed=0)
    it.invoke()
    graph = read_model(data)
    out = it.get_tensor(it.get_output_details()[0]["index"])
    assert out.shape == graph.tensors[graph.outputs[0]].shape, name
