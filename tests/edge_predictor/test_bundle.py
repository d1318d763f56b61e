"""Bundle format: checksums, schema version, op vocabulary, target resolution (no TensorFlow)."""

import json
import os
import shutil

import pytest
from conftest import FIXTURES

from edge_predictor import bundle as B
from edge_predictor.errors import BundleError, UnknownTargetError
from edge_predictor.featurize import FEATURE_SCHEMA_VERSION
from edge_predictor.op_table import OP_VOCAB

TINY = os.path.join(FIXTURES, "tiny_bundle")


@pytest.fixture
def tiny_copy(tmp_path):
    dst = tmp_path / "tiny"
    shutil.copytree(TINY, str(dst))
    return dst


def _edit_meta(folder, fn):
    p = folder / B.META_FILE
    meta = json.loads(p.read_text())
    fn(meta)
    p.write_text(json.dumps(meta))


def test_load_tiny_bundle():
    b = B.load_bundle(TINY)
    assert b.target == "tiny-test"
    assert b.metrics == ["latency_ms", "sram_kib", "energy_mj"]
    assert b.estimates == ["energy_mj"]
    assert b.units["sram_kib"] == "KiB"
    assert [(k.nodes, k.batch) for k in b.buckets] == [(8, 1), (8, 4), (16, 1)]
    assert all(k.content for k in b.buckets)
    assert b.max_nodes == 16
    assert b.bucket_for(3).nodes == 8 and b.bucket_for(3).batch == 1
    assert b.bucket_for(3, batched=True).batch == 4
    assert b.bucket_for(9).nodes == 16
    assert b.bucket_for(17) is None
    assert b.meta["feature_schema_version"] == FEATURE_SCHEMA_VERSION
    assert b.ops_seen and OP_VOCAB.index("CONV_2D") in b.ops_seen


def test_meta_lists_sha256_of_every_bucket():
    meta = json.load(open(os.path.join(TINY, B.META_FILE)))
    for k in ("normalization", "metrics", "training_data", "test_accuracy", "op_vocab"):
        assert k in meta
    for entry in meta["buckets"]:
        assert len(entry["sha256"]) == 64
        assert os.path.isfile(os.path.join(TINY, entry["file"]))


def test_wrong_checksum_names_the_file(tiny_copy):
    victim = tiny_copy / "perfsage_n8_b4.tflite"
    data = bytearray(victim.read_bytes())
    data[-10] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="perfsage_n8_b4.tflite.*sha256"):
        B.load_bundle(str(tiny_copy))
    B.load_bundle(str(tiny_copy), verify=False)  # metadata-only load does not read files


def test_missing_bucket_file_names_it(tiny_copy):
    (tiny_copy / "perfsage_n16_b1.tflite").unlink()
    with pytest.raises(BundleError, match="perfsage_n16_b1.tflite"):
        B.load_bundle(str(tiny_copy))


def test_bundle_of_another_npu_cost_table_is_refused(tiny_copy):
    _edit_meta(tiny_copy, lambda m: m.update(npu_cost_table_sha256="0" * 64))
    with pytest.raises(BundleError, match="NPU cost table"):
        B.load_bundle(str(tiny_copy))


def test_bundle_of_another_npu_energy_table_is_refused(tiny_copy):
    _edit_meta(tiny_copy, lambda m: m.update(npu_energy_table_sha256="0" * 64))
    with pytest.raises(BundleError, match="NPU energy table"):
        B.load_bundle(str(tiny_copy))


def test_wrong_schema_version(tiny_copy):
    _edit_meta(tiny_copy, lambda m: m.update(feature_schema_version=FEATURE_SCHEMA_VERSION + 1))
    with pytest.raises(BundleError, match="schema version"):
        B.load_bundle(str(tiny_copy))


@pytest.mark.parametrize("version", [3, 7])
def test_schemas_outside_the_compatible_ones_are_refused(tiny_copy, version):
    # 3: before the append-only rule; 7: its replay columns mean something else in schema 8
    from edge_predictor.featurize import COMPATIBLE_SCHEMAS

    assert version not in COMPATIBLE_SCHEMAS
    _edit_meta(tiny_copy, lambda m: m.update(feature_schema_version=version))
    with pytest.raises(BundleError, match="meta.json: feature schema version {} .*reads {}"
                       .format(version, ", ".join(map(str, COMPATIBLE_SCHEMAS)))):
        B.load_bundle(str(tiny_copy))


def test_older_compatible_schema_must_name_a_prefix_of_our_features(tiny_copy):
    from edge_predictor.featurize import FEATURE_NAMES, OLDEST_COMPATIBLE_SCHEMA

    n_old = FEATURE_NAMES.index("next_npu_weight_bytes") + 1  # schema 4's last column
    _edit_meta(tiny_copy, lambda m: m.update(feature_schema_version=OLDEST_COMPATIBLE_SCHEMA,
                                             features=list(FEATURE_NAMES[:n_old])))
    b = B.load_bundle(str(tiny_copy))  # a schema-4 bundle: the first n_old columns
    assert len(b.meta["features"]) == n_old < len(FEATURE_NAMES)
    _edit_meta(tiny_copy, lambda m: m.update(features=list(FEATURE_NAMES[1:n_old + 1])))
    with pytest.raises(BundleError, match="its features differ"):
        B.load_bundle(str(tiny_copy))


def test_wrong_op_vocabulary(tiny_copy):
    _edit_meta(tiny_copy, lambda m: m.update(op_vocab=m["op_vocab"][:-1]))
    with pytest.raises(BundleError, match="op_vocab.*meta.json|meta.json.*op_vocab"):
        B.load_bundle(str(tiny_copy))


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no meta.json"):
        B.load_bundle(str(tmp_path))
    (tmp_path / B.META_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="unreadable"):
        B.load_bundle(str(tmp_path))


def test_resolve_and_list(monkeypatch, tiny_copy):
    assert B.resolve(TINY) == TINY
    monkeypatch.setenv(B.BUNDLE_PATH_ENV, str(tiny_copy.parent))
    assert B.list_bundles()["tiny-test"] == str(tiny_copy)
    assert B.resolve("tiny-test") == str(tiny_copy)
    with pytest.raises(UnknownTargetError, match="'nope'.*tiny-test"):
        B.resolve("nope")


def test_describe():
    d = B.describe(B.load_bundle(TINY))
    assert d["target"] == "tiny-test"
    assert {"name": "energy_mj", "unit": "mJ", "estimate": True} in d["metrics"]
    json.dumps(d)
