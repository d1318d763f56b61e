"""Tests of edge_predictor.interpreters: backend choice, forcing, delegates, lazy imports."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edge_predictor import interpreters
from edge_predictor.errors import ModelFormatError, UnavailableError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.delenv(interpreters.ENV_VAR, raising=False)
    interpreters.reset_cache()
    yield
    interpreters.reset_cache()


def _has_working_backend():
    try:
        interpreters.interpreter_info()
        return True
    except UnavailableError:
        return False


def test_aliases():
    assert interpreters.resolve_backend_name("litert") == "ai_edge_litert"
    assert interpreters.resolve_backend_name(" TF ") == "tensorflow"
    assert interpreters.resolve_backend_name("tflite-runtime") == "tflite_runtime"
    with pytest.raises(UnavailableError, match="not a TFLite interpreter"):
        interpreters.resolve_backend_name("onnxruntime")


def test_import_is_lazy():
    code = ("import sys, edge_predictor.interpreters, edge_predictor.measure; "
            "bad = [m for m in ('tensorflow', 'ai_edge_litert', 'tflite_runtime') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True)
    assert proc.returncode == 0, proc.stdout


def test_first_working_backend_in_order():
    if not _has_working_backend():
        pytest.skip("no TFLite interpreter installed")
    info = interpreters.interpreter_info()
    assert info["name"] in interpreters.BACKENDS and info["version"]
    # nothing earlier in the preference order works here
    for name in interpreters.BACKENDS[: interpreters.BACKENDS.index(info["name"])]:
        with pytest.raises(ImportError):
            interpreters._load(name)


def test_forced_backend(monkeypatch):
    pytest.importorskip("ai_edge_litert")
    monkeypatch.setenv(interpreters.ENV_VAR, "litert")
    assert interpreters.interpreter_info()["name"] == "ai_edge_litert"
    interpreters.reset_cache()
    monkeypatch.setenv(interpreters.ENV_VAR, "no-such-thing")
    with pytest.raises(UnavailableError):
        interpreters.interpreter_info()


def test_forced_broken_backend_does_not_fall_back(monkeypatch):
    import numpy
    try:
        import tflite_runtime  # noqa: F401
        if int(numpy.__version__.split(".")[0]) < 2:
            pytest.skip("tflite_runtime works here")
    except ImportError:
        pass
    monkeypatch.setenv(interpreters.ENV_VAR, "tflite_runtime")
    with pytest.raises(UnavailableError, match="does not load"):
        interpreters.make_interpreter(b"\x00" * 16)


def test_garbage_model_is_model_format_error():
    if not _has_working_backend():
        pytest.skip("no TFLite interpreter installed")
    with pytest.raises(ModelFormatError, match="<bytes>"):
        interpreters.make_interpreter(b"this is not a flatbuffer")


def test_vermin_python37():
    vermin = shutil.which("vermin") or os.path.join(os.path.dirname(sys.executable), "vermin")
    if not os.path.exists(vermin):
        pytest.skip("vermin not installed")
    files = [os.path.join(REPO, "edge_predictor", f) for f in ("interpreters.py", "measure.py")]
    proc = subprocess.run([vermin, "-t=3.7-", "--violations", "--no-tips"] + files,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def tiny_model():
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("tf_keras")
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.RandomState(0)
    conv.representative_dataset = lambda: (
        [rng.random_sample((1, 8, 8, 3)).astype(np.float32)] for _ in range(4))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


@pytest.mark.train
def test_make_interpreter_runs_and_delegates(tiny_model):
    interp = interpreters.make_interpreter(tiny_model, threads=1, default_delegates=False)
    d = interp.get_input_details()[0]
    assert d["dtype"] == np.int8
    interp.set_tensor(d["index"], np.zeros(d["shape"], np.int8))
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert out.shape == (1, 2) and out.dtype == np.int8
    mod = interpreters.backend_module()
    if hasattr(getattr(mod, "OpResolverType", None), "BUILTIN_WITHOUT_DEFAULT_DELEGATES"):
        ops = [o["op_name"] for o in interp._get_ops_details()]
        assert "DELEGATE" not in ops and "CONV_2D" in ops
