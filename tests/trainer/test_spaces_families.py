"""Tests of the ``families`` design space (trainer.spaces.families).

Sampling tests need only numpy; the conversion tests are marked ``train`` and use, for each
family, the smallest of its first seeds (by input size and config length) so they stay fast.
"""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from trainer.spaces import SPACES, calibration_batches, sample_config  # noqa: E402
from trainer.spaces import families  # noqa: E402
from trainer.spaces.families import common, segmentation, transformers  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = range(400)
EXPECTED = (
    "mobilenet_v1", "mobilenet_v2", "mobilenet_v3", "efficientnet", "efficientnet_v2",
    "resnet", "regnet", "densenet", "unet", "inception", "vit", "kws", "dense", "conv1d",
)


@pytest.fixture(scope="module")
def configs():
    return [sample_config("families", s) for s in SEEDS]


def test_registered_with_14_families():
    assert "families" in SPACES
    assert SPACES[:4] == ("cnn-cifar10", "cnn-imagenet", "cnn-kws", "vit-cifar100")
    assert families.FAMILIES == EXPECTED


def test_sampling_is_deterministic_json_and_covers_every_family(configs):
    assert sample_config("families", 11) == sample_config("families", 11)
    seen = {}
    for config in configs:
        assert json.loads(json.dumps(config)) == config
        assert config["space"] == "families"
        assert config["input_kind"] in families.INPUT_KINDS
        assert all(isinstance(d, int) and d > 0 for d in config["input_shape"])
        assert isinstance(config["num_classes"], int) and config["num_classes"] >= 1
        seen[config["family"]] = seen.get(config["family"], 0) + 1
    assert set(seen) == set(EXPECTED)
    assert min(seen.values()) >= 10  # uniform over 14: about 29 each


def test_sampling_does_not_import_tensorflow():
    code = ("import sys; from trainer.spaces import sample_config; "
            "[sample_config('families', s) for s in range(200)]; "
            "assert 'tensorflow' not in sys.modules and 'tf_keras' not in sys.modules")
    env = dict(os.environ, PYTHONPATH=REPO)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env)


def test_family_specific_choices(configs):
    by = {}
    for config in configs:
        by.setdefault(config["family"], []).append(config)
    for config in by["regnet"]:
        assert all(w % config["group_width"] == 0 for w in config["widths"])
        assert config["widths"][-1] // config["group_width"] >= 3  # grouped in the last stage
    for config in by["vit"]:
        grid = config["input_shape"][0] // 2 ** config["stem_convs"]
        assert grid % config["patch_size"] == 0
        assert 4 <= (grid // config["patch_size"]) ** 2 <= transformers.MAX_TOKENS
        assert config["embed_dim"] % config["num_heads"] == 0
        assert 1 <= config["depth"] <= 8
    assert {c["attention"] for c in by["vit"]} == set(transformers.ATTENTION)
    assert {c["up"] for c in by["unet"]} == {"transpose", "nearest", "bilinear"}
    assert {c["merge"] for c in by["unet"]} == {"concat", "add"}
    assert all(c["num_classes"] in segmentation.SEG_CLASSES for c in by["unet"])
    assert {c["style"] for c in by["inception"]} == {"inception", "nasnet", "squeezenet"}
    assert {c["style"] for c in by["conv1d"]} == {"m5", "tcn", "resnet1d"}
    assert {c["style"] for c in by["dense"]} == {"autoencoder", "mlp"}
    assert {c["input_kind"] for c in by["kws"]} == {"mfcc"}
    sizes = [c["input_shape"][0] for c in configs if c["input_kind"] == "image"]
    assert min(sizes) >= 32 and max(sizes) <= 224
    assert np.mean([s <= 160 for s in sizes]) > 0.7


def test_make_divisible_matches_keras():
    assert common.make_divisible(32 * 0.35) == 16
    assert common.make_divisible(1280 * 1.3) == 1664
    assert common.make_divisible(24 * 0.75) == 24


def test_calibration_by_input_kind():
    for kind in families.INPUT_KINDS:
        seed = next(s for s in SEEDS if sample_config("families", s)["input_kind"] == kind)
        config = sample_config("families", seed)
        batches = [b[0] for b in calibration_batches("families", seed, 2)()]
        assert batches[0].shape == (1,) + tuple(config["input_shape"])
        assert batches[0].dtype == np.float32
        np.testing.assert_array_equal(batches[0], next(calibration_batches("families", seed)())[0])
        outside = np.abs(batches[0]).max() > 1.0
        assert outside == (kind != "image")  # images uniform in [-1, 1], the rest normal


def test_calibration_of_the_four_spaces_is_unchanged():
    digests = {
        "cnn-cifar10": "0f8802242968436c920bd276d83704b3decb89d23b96c0a8fa8dacf74fbf0944",
        "cnn-imagenet": "e85798e015749d468f26605ed8433a86cabc04bf5d49522a99a53fc6df4a8d7d",
        "cnn-kws": "b416a62383c55dc1b3776a5cdaba6f90ac78a6ab6d59fe88b41e84a614e15d8a",
        "vit-cifar100": "9499fd3baf6a762fe79d5c3041325a3c304254bc0294967843f778c1042aec54",
    }
    for space, digest in digests.items():
        data = b"".join(b[0].tobytes() for b in calibration_batches(space, 2, 3)())
        assert hashlib.sha256(data).hexdigest() == digest


def _tiny_seed(family, accept=lambda config: True):
    """The cheapest-looking seed of ``family`` among the first 600."""
    candidates = [sample_config("families", s) for s in range(600)]
    candidates = [c for c in candidates if c["family"] == family and accept(c)]
    best = min(candidates, key=lambda c: (int(np.prod(c["input_shape"])), len(json.dumps(c))))
    return best["seed"]


def _grouped_conv(graph):
    for op in graph.ops:
        if op.op == "CONV_2D":
            data, weights = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
            if weights.shape[-1] < data.shape[-1]:
                return True
    return False


CHARACTERISTIC = {
    "mobilenet_v1": ({"DEPTHWISE_CONV_2D"}, None),
    "mobilenet_v2": ({"DEPTHWISE_CONV_2D"}, None),
    "mobilenet_v3": ({"HARD_SWISH", "MEAN", "MUL"}, lambda c: not c["minimalistic"]),
    "efficientnet": ({"LOGISTIC", "MUL"}, lambda c: c["variant"] == "b"),
    "efficientnet_v2": ({"LOGISTIC", "MUL"}, None),
    "resnet": ({"ADD"}, None),
    "regnet": ({"CONV_2D"}, None),
    "densenet": ({"CONCATENATION"}, None),
    "unet": ({"TRANSPOSE_CONV"}, lambda c: c["up"] == "transpose"),
    "inception": ({"CONCATENATION"}, None),
    "vit": ({"BATCH_MATMUL", "SOFTMAX", "GELU", "RSQRT"}, lambda c: c["attention"] == "keras"),
    "kws": ({"CONV_2D"}, None),
    "dense": ({"FULLY_CONNECTED"}, None),
    "conv1d": ({"CONV_2D", "RESHAPE"}, None),
}


@pytest.mark.train
@pytest.mark.parametrize("family", EXPECTED)
def test_each_family_converts_with_its_operators(family):
    pytest.importorskip("tensorflow")
    from converters.quantize import build_tflite
    from edge_predictor.tflite_reader import read_model

    ops, accept = CHARACTERISTIC[family]
    seed = _tiny_seed(family, accept or (lambda c: True))
    graph = read_model(build_tflite("families", seed))
    names = {op.op for op in graph.ops}
    assert ops <= names, (seed, sorted(names))
    if family == "regnet":
        assert _grouped_conv(graph)
    if family == "unet":
        assert len(graph.tensors[graph.outputs[0]].shape) == 4  # per-pixel output


@pytest.mark.train
def test_unet_resize_upsampling():
    pytest.importorskip("tensorflow")
    from converters.quantize import build_tflite
    from edge_predictor.tflite_reader import read_model

    seed = _tiny_seed("unet", lambda c: c["up"] == "bilinear")
    assert "RESIZE_BILINEAR" in {op.op for op in read_model(build_tflite("families", seed)).ops}


@pytest.mark.train
def test_conversion_is_byte_reproducible():
    pytest.importorskip("tensorflow")
    from converters.quantize import build_tflite

    vit_seed = _tiny_seed("vit", lambda c: c["attention"] == "keras")
    v3_seed = _tiny_seed("mobilenet_v3", lambda c: not c["minimalistic"])
    first = build_tflite("families", vit_seed)
    build_tflite("families", v3_seed)  # another model in between must not change the names
    assert build_tflite("families", vit_seed) == first
