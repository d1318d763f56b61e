"""Tests for the out-of-space zoo (``benches/zoo.py``) and its committed manifest."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = []

MANIFEST = Path(__file__).resolve().parents[2] / "benches" / "zoo_manifest.json"

DESIGN_SPACE_FAMILIES = {"mobilenet_v1", "mobilenet_v2", "mobilenet_v3", "efficientnet",
                         "efficientnet_v2", "resnet", "regnet", "densenet", "unet", "inception",
                         "vit", "kws", "dense", "conv1d"}


def _zoo():
    """``benches.zoo`` (the registry imports no TensorFlow: this works without the train extra)."""
    from benches import zoo

    return zoo


def test_registry_has_at_least_40_models_from_12_families():
    zoo = _zoo()
    assert len(zoo.ZOO) >= 40
    assert len(set(zoo.FAMILIES.values())) >= 12
    assert len(set(zoo.ZOO)) == len(list(zoo.ZOO))  # names unique (an OrderedDict of names)


def test_every_model_has_a_family_and_a_calibration_range():
    zoo = _zoo()
    assert set(zoo.FAMILIES) == set(zoo.ZOO)
    for name, entry in zoo.ZOO.items():
        assert isinstance(entry.family, str) and entry.family, name
        assert entry.family == zoo.FAMILIES[name] == zoo.zoo_family(name)
        assert zoo.zoo_family("/some/dir/{}.tflite".format(name)) == entry.family
        low, high = entry.input_range
        assert low < high, name
        assert callable(entry.build) and entry.build.__doc__, name
    with pytest.raises(KeyError):
        zoo.zoo_family("not_a_zoo_model")


def test_most_families_are_design_space_families():
    """Most of the zoo is tagged with the design space's family names (leave-one-family-out)."""
    families = set(_zoo().FAMILIES.values())
    assert len(families & DESIGN_SPACE_FAMILIES) >= 12
    assert all(f == f.lower() and " " not in f for f in families)


def test_manifest_models_carry_their_registry_family():
    zoo = _zoo()
    models = json.loads(MANIFEST.read_text())["models"]
    for name, entry in models.items():
        if name in zoo.ZOO:
            assert entry.get("family") == zoo.FAMILIES[name], name


@pytest.mark.train
@pytest.mark.slow
def test_zoo_build_is_reproducible():
    """The same seed gives byte-identical INT8 flatbuffers (weights and calibration)."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf_keras")
    zoo = _zoo()
    first = zoo.build_zoo_tflite("ds_cnn", seed=0)
    second = zoo.build_zoo_tflite("ds_cnn", seed=0)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    manifest = json.loads(MANIFEST.read_text())
    from importlib.metadata import version

    if manifest["tensorflow"] == version("tensorflow"):  # same converter: the committed file
        assert hashlib.sha256(first).hexdigest() == manifest["models"]["ds_cnn"]["sha256"]
    stats = zoo.model_stats(first)
    assert stats["io_dtypes"] == ["int8", "int8"]
    assert stats["input"] == [1, 49, 10, 1]
    assert stats["op_types"].get("DEPTHWISE_CONV_2D") == 4


def test_manifest_lists_enough_models():
    """The committed manifest records at least 40 converted models of 12 families, all in
    ``ZOO``, each checked by Vela."""
    manifest = json.loads(MANIFEST.read_text())
    built = {name: entry for name, entry in manifest["models"].items() if "sha256" in entry}
    assert len(built) >= 40
    assert len({entry["family"] for entry in built.values()}) >= 12
    for name, entry in built.items():
        assert entry["ops"] > 0 and entry["size_mb"] > 0, name
        assert entry["io_dtypes"] == ["int8", "int8"], name
        assert entry["vela"]["ok"], name
        assert entry["vela"]["inference_time_ms"] > 0 and entry["vela"]["cpu_ops"] >= 0, name
    assert set(built) <= set(_zoo().ZOO)


def test_check_built_keeps_only_files_matching_the_manifest(tmp_path):
    from benches.zoo import check_built

    (tmp_path / "good.tflite").write_bytes(b"good")
    (tmp_path / "changed.tflite").write_bytes(b"rebuilt differently")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": {
        name: {"sha256": hashlib.sha256(name.encode()).hexdigest()}
        for name in ("good", "changed", "missing")}}))
    ok, skipped = check_built(str(tmp_path), manifest)
    assert ok == {"good": hashlib.sha256(b"good").hexdigest()}
    assert skipped == ["changed: sha256 differs from the manifest",
                       "missing: not built (python -m benches.zoo --out {})".format(tmp_path)]


@pytest.mark.train
@pytest.mark.slow
def test_a_tiny_zoo_model_converts_and_runs_on_the_npu(tmp_path):
    """``dnn_kws`` (4 fully-connected layers) converts to INT8 and Vela maps all of it."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf_keras")
    pytest.importorskip("ethosu.vela")
    zoo = _zoo()
    data = zoo.build_zoo_tflite("dnn_kws", seed=0)
    stats = zoo.model_stats(data)
    assert stats["op_types"]["FULLY_CONNECTED"] == 4 and stats["input"] == [1, 49, 10, 1]
    path = tmp_path / "dnn_kws.tflite"
    path.write_bytes(data)
    vela = zoo.vela_check(path)
    assert vela["ok"] and vela["cpu_ops"] == 0 and vela["inference_time_ms"] > 0


def test_registry_import_does_not_load_tensorflow():
    """Listing the zoo (names, families) needs no TensorFlow."""
    code = "import sys, benches.zoo; print('tensorflow' in sys.modules, 'tf_keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(MANIFEST.parents[1]), check=True).stdout.split()
    assert out == ["False", "False"]
