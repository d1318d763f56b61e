"""Tests of INT8 conversion of design-space models (converters.quantize).

Everything here needs TensorFlow (``train`` extra). Only the small spaces are converted
(a KWS model in ~1 s, a CIFAR CNN in ~1 s, two hand-made one-layer ViTs in ~2 s each).
"""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

pytestmark = pytest.mark.train
tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf_keras")

from converters.quantize import build_tflite, to_int8_tflite  # noqa: E402
from trainer.spaces import calibration_batches, sample_config, set_weights  # noqa: E402
from trainer.spaces import vit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Operator sets of the paper's Table 2 (TFLite names), plus what TF 2.21 emits for LayerNorm
# and GELU in the ViT space.
CNN_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "PAD", "ADD", "RESHAPE"}
VIT_OPS = {
    "FULLY_CONNECTED", "CONV_2D", "ADD", "MUL", "SUB", "MEAN", "RSQRT", "GELU", "SOFTMAX",
    "RESHAPE", "TRANSPOSE", "STRIDED_SLICE", "CONCATENATION", "BATCH_MATMUL",
}


def _interpreter(model_bytes):
    return tf.lite.Interpreter(
        model_content=model_bytes,
        experimental_op_resolver_type=(
            tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        ),
    )


def _op_names(model_bytes):
    return {op["op_name"] for op in _interpreter(model_bytes)._get_ops_details()}


def _check_int8_io(model_bytes, input_shape, classes):
    interp = _interpreter(model_bytes)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    (out,) = interp.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert tuple(inp["shape"]) == (1,) + tuple(input_shape)
    assert tuple(out["shape"]) == (1, classes)
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], np.int8))
    interp.invoke()
    # Full-integer: no float32 tensor anywhere in the graph.
    assert all(t["dtype"] != np.float32 for t in interp.get_tensor_details())


@pytest.fixture(scope="module")
def kws_bytes():
    return build_tflite("cnn-kws", 3)


def test_kws_is_full_int8(kws_bytes):
    config = sample_config("cnn-kws", 3)
    _check_int8_io(kws_bytes, config["input_shape"], 12)
    ops = _op_names(kws_bytes)
    assert ops <= CNN_OPS - {"PAD", "ADD"}
    assert len(_interpreter(kws_bytes)._get_ops_details()) == 4 + 2 * len(config["blocks"])


def test_reproducible_in_process(kws_bytes):
    assert build_tflite("cnn-kws", 3) == kws_bytes
    assert build_tflite("cnn-kws", 4) != kws_bytes


def test_reproducible_across_processes(kws_bytes):
    code = (
        "import hashlib; from converters.quantize import build_tflite; "
        "print(hashlib.sha256(build_tflite('cnn-kws', 3)).hexdigest())"
    )
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
    ).stdout
    assert out.strip().splitlines()[-1] == hashlib.sha256(kws_bytes).hexdigest()


def test_cifar_cnn_ops_match_table2():
    model_bytes = build_tflite("cnn-cifar10", 1)
    _check_int8_io(model_bytes, (32, 32, 3), 10)
    ops = _op_names(model_bytes)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "PAD", "AVERAGE_POOL_2D", "RESHAPE"} <= ops
    assert ops <= CNN_OPS


@pytest.mark.parametrize("attention", vit.ATTENTION)
def test_small_vit_converts(attention):
    config = sample_config("vit-cifar100", 0)
    config.update(patch_size=4, embed_dim=64, attention=attention)
    config["layers"] = [{"num_heads": 2, "head_dim": 16, "mlp_ratio": 2}]
    model = set_weights(vit.build(config), "vit-cifar100", 0)
    model_bytes = to_int8_tflite(model, calibration_batches("vit-cifar100", 0, 2))
    _check_int8_io(model_bytes, (32, 32, 3), 100)
    ops = _op_names(model_bytes)
    assert ops <= VIT_OPS
    assert {"FULLY_CONNECTED", "BATCH_MATMUL", "SOFTMAX", "CONCATENATION"} <= ops
    if attention == "split":
        assert "STRIDED_SLICE" in ops
    else:
        assert "TRANSPOSE" in ops


def test_calibration_may_be_a_list_of_arrays():
    config = sample_config("cnn-kws", 1)
    from trainer.spaces import build_keras

    model = build_keras("cnn-kws", 1)
    arrays = [b[0] for b in calibration_batches("cnn-kws", 1, 2)()]
    from_list = to_int8_tflite(model, arrays)
    from_gen = to_int8_tflite(model, calibration_batches("cnn-kws", 1, 2))
    assert from_list == from_gen
    _check_int8_io(from_list, config["input_shape"], 12)
