"""Tests for the out-of-space zoo (``benches/zoo.py``) and its committed manifest."""

import hashlib
import json
from pathlib import Path

import pytest

__all__ = []

MANIFEST = Path(__file__).resolve().parents[2] / "benches" / "zoo_manifest.json"

pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_zoo_build_is_reproducible():
    """The same seed gives byte-identical INT8 flatbuffers (weights and calibration)."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf_keras")
    from benches import zoo

    first = zoo.build_zoo_tflite("ds_cnn", seed=0)
    second = zoo.build_zoo_tflite("ds_cnn", seed=0)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    stats = zoo.model_stats(first)
    assert stats["io_dtypes"] == ["int8", "int8"]
    assert stats["input"] == [1, 49, 10, 1]
    assert stats["op_types"].get("DEPTHWISE_CONV_2D") == 4


def test_manifest_lists_enough_models():
    """The committed manifest records at least 12 converted models, all in ``ZOO``."""
    manifest = json.loads(MANIFEST.read_text())
    built = {name: entry for name, entry in manifest["models"].items() if "sha256" in entry}
    assert len(built) >= 12
    for name, entry in built.items():
        assert entry["ops"] > 0 and entry["size_mb"] > 0, name
        assert entry["io_dtypes"] == ["int8", "int8"], name
    pytest.importorskip("tf_keras")
    from benches import zoo

    assert set(built) <= set(zoo.ZOO)


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
