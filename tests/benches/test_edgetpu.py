"""Tests of the Edge TPU labeler on a recorded (hand-made) compiler log and fakes.

No Edge TPU, compiler or real pycoral exists here: the compiler is replaced by a script that
prints the sample log, pycoral by a module object. ``data/edgetpu_compiler_sample.log`` is a
HAND-MADE sample of the documented ``edgetpu_compiler -s`` output format, not a real capture.
"""

import os
import stat
import sys
import types

import numpy as np
import pytest

from benches.labelers import edgetpu
from edge_predictor.errors import LabelError, UnavailableError

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SAMPLE = os.path.join(DATA, "edgetpu_compiler_sample.log")


def _sample():
    with open(SAMPLE) as f:
        return f.read()


def test_parse_size():
    assert edgetpu.parse_size("0.00B") == 0
    assert edgetpu.parse_size("97.25KiB") == 99584
    assert edgetpu.parse_size("3.75MiB") == int(3.75 * 1024 ** 2)
    with pytest.raises(ValueError):
        edgetpu.parse_size("lots")


def test_parse_sample_log():
    info = edgetpu.parse_compiler_log(_sample())
    assert info["compiler_version"] == "16.0.384591198"
    assert info["compile_ms"] == 1136
    assert info["total_ops"] == 11 and info["n_subgraphs"] == 1
    assert info["ops_on_tpu"] == 9 and info["ops_on_cpu"] == 2
    assert info["on_chip_memory_bytes"] == 99584
    assert info["on_chip_memory_remaining_bytes"] == int(round(7.66 * 1024 ** 2))
    assert info["off_chip_memory_bytes"] == 0
    assert info["output_model"] == "tiny_cnn_edgetpu.tflite"
    ops = {o["op"]: o for o in info["operators"]}
    assert len(ops) == 6 and ops["CONV_2D"]["count"] == 6 and ops["CONV_2D"]["mapped"]
    assert not ops["SOFTMAX"]["mapped"] and "subgraph" in ops["SOFTMAX"]["status"]
    assert sum(o["count"] for o in info["operators"] if o["mapped"]) == info["ops_on_tpu"]
    assert info["success"] is True


def test_parse_fully_mapped_log_without_counts():
    # everything mapped: the compiler prints neither per-device counts nor (without -s) a table
    text = _sample().split("Model successfully compiled but")[0]
    info = edgetpu.parse_compiler_log(text)
    assert info["operators"] == []
    assert info["ops_on_tpu"] == 11 and info["ops_on_cpu"] == 0
    failed = edgetpu.parse_compiler_log("Edge TPU Compiler version 16.0\nERROR: bad model\n")
    assert failed["success"] is False and "ops_on_tpu" not in failed


def test_is_compiled():
    assert edgetpu.is_compiled(b"TFL3....edgetpu-custom-op....")
    assert not edgetpu.is_compiled(b"TFL3....CONV_2D")


def test_unavailable_says_what_is_missing(monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(sys.modules, "pycoral", None)  # import fails
    with pytest.raises(UnavailableError) as info:
        edgetpu.label_edgetpu(b"TFL3 uncompiled model")
    msg = str(info.value)
    assert "edgetpu_compiler" in msg and "apt-get install edgetpu-compiler" in msg
    assert "python3-pycoral" in msg and "unrelated" in msg
    with pytest.raises(UnavailableError):
        edgetpu.compile_edgetpu(b"TFL3")


def test_pypi_pycoral_is_not_real_pycoral(monkeypatch):
    fake = types.ModuleType("pycoral")  # the unrelated PyPI project: no pycoral.utils.edgetpu
    fake.__path__ = []
    monkeypatch.setitem(sys.modules, "pycoral", fake)
    monkeypatch.delitem(sys.modules, "pycoral.utils", raising=False)
    monkeypatch.delitem(sys.modules, "pycoral.utils.edgetpu", raising=False)
    with pytest.raises(UnavailableError, match="python3-pycoral"):
        edgetpu.load_pycoral_edgetpu()


@pytest.fixture
def fake_compiler(tmp_path, monkeypatch):
    script = tmp_path / "bin" / "edgetpu_compiler"
    script.parent.mkdir()
    # invoked as: edgetpu_compiler -s -o OUT_DIR SRC
    script.write_text(
        "#!/bin/sh\n"
        "out=\"$3\"; src=\"$4\"; base=$(basename \"$src\" .tflite)\n"
        "grep -v '^#' '{}'\n"
        "{{ cat \"$src\"; printf 'edgetpu-custom-op'; }} > \"$out/${{base}}_edgetpu.tflite\"\n"
        .format(SAMPLE)
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(script.parent) + os.pathsep + os.environ.get("PATH", ""))
    return script


def test_compile_with_fake_compiler(fake_compiler):
    compiled, info = edgetpu.compile_edgetpu(b"TFL3 model bytes")
    assert compiled.startswith(b"TFL3 model bytes") and edgetpu.is_compiled(compiled)
    assert info["ops_on_tpu"] == 9 and info["ops_on_cpu"] == 2


class _FakeTpuInterpreter:
    def __init__(self):
        self.invokes = 0

    def allocate_tensors(self):
        pass

    def get_input_details(self):
        return [{"index": 0, "dtype": np.uint8, "shape": np.array([1, 8, 8, 3]),
                 "shape_signature": np.array([1, 8, 8, 3])}]

    def set_tensor(self, index, value):
        assert value.dtype == np.uint8 and value.shape == (1, 8, 8, 3)

    def invoke(self):
        self.invokes += 1


@pytest.fixture
def fake_pycoral(monkeypatch):
    made = []
    mod = types.ModuleType("pycoral.utils.edgetpu")
    mod.list_edge_tpus = lambda: [{"type": "usb", "path": "/sys/bus/usb/devices/2-1"}]
    mod.get_runtime_version = lambda: "BuildLabel(COMPILER=fake), RuntimeVersion(14)"

    def make_interpreter(content, device=None):
        assert edgetpu.is_compiled(content)
        made.append(device)
        return _FakeTpuInterpreter()

    mod.make_interpreter = make_interpreter
    pkg, utils = types.ModuleType("pycoral"), types.ModuleType("pycoral.utils")
    pkg.__path__, utils.__path__ = [], []
    pkg.utils, utils.edgetpu = utils, mod
    monkeypatch.setitem(sys.modules, "pycoral", pkg)
    monkeypatch.setitem(sys.modules, "pycoral.utils", utils)
    monkeypatch.setitem(sys.modules, "pycoral.utils.edgetpu", mod)
    return made


def test_label_end_to_end_with_fakes(fake_compiler, fake_pycoral):
    r = edgetpu.label_edgetpu(b"TFL3 uncompiled", device="usb", runs=30, min_time_s=0.0)
    assert r["target"] == "edgetpu" and fake_pycoral == ["usb"]
    assert r["labels"]["latency_ms"] == r["raw"]["median_ms"] >= 0
    assert r["raw"]["n_runs"] == 30 and r["raw"]["ops_on_cpu"] == 2
    assert r["provenance"]["labeler_version"] == "16.0.384591198"
    assert "RuntimeVersion" in r["provenance"]["runtime_version"]


def test_precompiled_needs_no_compiler(fake_pycoral, monkeypatch):
    monkeypatch.setenv("PATH", "")
    r = edgetpu.label_edgetpu(b"TFL3 edgetpu-custom-op", runs=5, min_time_s=0.0)
    assert r["provenance"]["labeler_version"] == "precompiled"
    with pytest.raises(LabelError):
        edgetpu.label_edgetpu(b"TFL3 plain", compile=False)


def test_no_device(fake_pycoral, monkeypatch):
    monkeypatch.setattr(sys.modules["pycoral.utils.edgetpu"], "list_edge_tpus", lambda: [])
    with pytest.raises(UnavailableError, match="no Edge TPU device"):
        edgetpu.label_edgetpu(b"TFL3 edgetpu-custom-op")
