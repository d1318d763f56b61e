"""Tests of the EdgeDLPerf design spaces (trainer.spaces).

The sampling tests need only numpy; the ones that build Keras models are marked ``train``.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from edge_predictor.errors import InputError  # noqa: E402
from trainer import spaces  # noqa: E402
from trainer.spaces import cnn, kws, vit  # noqa: E402
from trainer.spaces import SPACES, calibration_batches, derive_seed, sample_config  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_spaces_and_public_api():
    assert SPACES == ("cnn-cifar10", "cnn-imagenet", "cnn-kws", "vit-cifar100", "families")
    for name in ("SPACES", "sample_config", "build_keras", "calibration_batches"):
        assert name in spaces.__all__


@pytest.mark.parametrize("space", SPACES)
def test_sample_config_is_deterministic_and_json(space):
    a = sample_config(space, 7)
    b = sample_config(space, 7)
    assert a == b
    assert json.loads(json.dumps(a)) == a
    assert a["space"] == space and a["seed"] == 7
    configs = {json.dumps(sample_config(space, s), sort_keys=True) for s in range(20)}
    assert len(configs) > 15


def test_seed_derivation_is_stable():
    # SHA-256 based, so this value must never change between Python runs or versions.
    assert derive_seed("cnn-kws", 0, "arch") == int.from_bytes(
        __import__("hashlib").sha256(b"cnn-kws:0:arch").digest()[:8], "big"
    )
    assert derive_seed("cnn-kws", 0, "arch") != derive_seed("cnn-kws", 0, "weights")
    assert sample_config("cnn-cifar10", 3)["blocks"] != sample_config("cnn-imagenet", 3)["blocks"]


def test_unknown_space_and_bad_seed():
    with pytest.raises(InputError, match="unknown design space 'x'; known: cnn-cifar10"):
        sample_config("x", 0)
    for seed in (-1, 1.5, "3", True):
        with pytest.raises(InputError):
            sample_config("cnn-kws", seed)
    with pytest.raises(InputError):
        calibration_batches("cnn-kws", 0, 0)


def test_import_does_not_load_tensorflow():
    code = (
        "import sys; from trainer.spaces import sample_config, SPACES; "
        "[sample_config(s, 1) for s in SPACES]; "
        "assert 'tensorflow' not in sys.modules and 'tf_keras' not in sys.modules"
    )
    env = dict(os.environ, PYTHONPATH=REPO)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env)


@pytest.mark.parametrize("space,blocks", [("cnn-imagenet", 6), ("cnn-cifar10", 3)])
def test_cnn_configs(space, blocks):
    seen_ops, seen_kernels = set(), set()
    for seed in range(100):
        config = sample_config(space, seed)
        assert len(config["blocks"]) == blocks
        for b, block in enumerate(config["blocks"]):
            assert len(block["nodes"]) == cnn.NODES_PER_BLOCK
            assert isinstance(block["residual"], bool)
            for node in block["nodes"]:
                assert node["op"] in cnn.OPS
                assert node["kernel"] in cnn.KERNELS
                assert node["expansion"] in cnn.EXPANSIONS
                assert node["channels"] in cnn._SETTINGS[space]["channels"][b]
                seen_ops.add(node["op"])
                seen_kernels.add(node["kernel"])
    assert seen_ops == set(cnn.OPS) and seen_kernels == set(cnn.KERNELS)
    assert all(len(set(c)) == 6 for c in cnn._SETTINGS[space]["channels"])


def test_cifar_channels_are_a_third_of_imagenet():
    cifar = cnn._SETTINGS["cnn-cifar10"]["channels"]
    imagenet = cnn._SETTINGS["cnn-imagenet"]["channels"]
    for small, big in zip(cifar, (imagenet[1], imagenet[3], imagenet[5])):
        assert all(abs(s - b / 3.0) <= 1 for s, b in zip(small, big))


def test_kws_configs():
    depths = set()
    for seed in range(200):
        config = sample_config("cnn-kws", seed)
        assert config["input_shape"] == [49, 10, 1] and config["num_classes"] == 12
        assert tuple(config["first"]["kernel"]) in kws.FIRST_KERNELS
        depths.add(len(config["blocks"]))
        for block in config["blocks"]:
            assert tuple(block["kernel"]) in kws.DW_KERNELS
            assert block["channels"] in kws.CHANNELS
    assert depths == set(kws.DEPTHS)


def test_vit_configs():
    depths, heads, modes = set(), set(), set()
    for seed in range(200):
        config = sample_config("vit-cifar100", seed)
        assert config["patch_size"] in vit.PATCH_SIZES
        assert config["embed_dim"] in vit.EMBED_DIMS
        modes.add(config["attention"])
        depths.add(len(config["layers"]))
        for layer in config["layers"]:
            heads.add(layer["num_heads"])
            assert layer["head_dim"] in vit.HEAD_DIMS
            assert layer["mlp_ratio"] in vit.MLP_RATIOS
    assert depths == set(vit.DEPTHS)
    assert heads == set(vit.NUM_HEADS)
    assert modes == set(vit.ATTENTION)


@pytest.mark.parametrize("space", SPACES)
def test_calibration_batches(space):
    gen = calibration_batches(space, 2, 3)
    first = [b[0] for b in gen()]
    again = [b[0] for b in gen()]
    shape = (1,) + tuple(sample_config(space, 2)["input_shape"])
    assert len(first) == 3
    for a, b in zip(first, again):
        assert a.shape == shape and a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    other = next(calibration_batches(space, 3, 1)())[0]
    assert not np.array_equal(first[0], other)


@pytest.mark.train
@pytest.mark.parametrize("space", ["cnn-kws", "cnn-cifar10"])
def test_build_keras_deterministic(space):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf_keras")
    from trainer.spaces import build_keras

    a = build_keras(space, 4)
    b = build_keras(space, 4)
    config = sample_config(space, 4)
    assert tuple(a.inputs[0].shape) == (1,) + tuple(config["input_shape"])
    assert tuple(a.outputs[0].shape) == (1, config["num_classes"])
    assert [w.name for w in a.weights] == [w.name for w in b.weights]
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    x = next(calibration_batches(space, 4, 1)())[0]
    out = a(x).numpy()
    assert np.all(np.isfinite(out)) and np.std(out) > 0


@pytest.mark.train
def test_identity_only_blocks_still_build():
    pytest.importorskip("tf_keras")
    config = sample_config("cnn-cifar10", 0)
    for block in config["blocks"]:
        block["residual"] = True
        for i, node in enumerate(block["nodes"]):
            node["op"] = "identity"
            node["channels"] = block["nodes"][0]["channels"] if i else node["channels"]
    model = cnn.build(config)
    # Every block changes stride or channels, so its first identity became a projection.
    assert tuple(model.outputs[0].shape) == (1, 10)
    names = [layer.name for layer in model.layers]
    assert "b1n0_proj" in names and "b2n0_proj" in names
    assert not any(name.endswith("_add") for name in names)  # nothing to add a skip around
