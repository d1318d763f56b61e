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
#: the same random-weight model exported as a version-1 bundle (one file per bucket)
TINY_V1 = os.path.join(FIXTURES, "tiny_bundle_v1")


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


def test_one_file_holds_every_bucket():
    meta = json.load(open(os.path.join(TINY, B.META_FILE)))
    for k in ("normalization", "metrics", "training_data", "test_accuracy", "op_vocab"):
        assert k in meta
    assert meta["bundle_version"] == B.BUNDLE_VERSION == 3
    assert len(meta["file"]["sha256"]) == 64
    assert sorted(os.listdir(TINY)) == sorted([B.META_FILE, meta["file"]["name"]])
    b = B.load_bundle(TINY)
    assert [k.signature for k in b.buckets] == ["n8_b1", "n8_b4", "n16_b1"]
    assert len({id(k.content) for k in b.buckets}) == 1  # read once, shared


def test_version_1_bundle_loads():
    b = B.load_bundle(TINY_V1)
    assert b.meta["bundle_version"] == 1
    assert [(k.nodes, k.batch, k.signature) for k in b.buckets] == \
        [(8, 1, None), (8, 4, None), (16, 1, None)]
    assert [k.file for k in b.buckets] == ["perfsage_n8_b1.tflite", "perfsage_n8_b4.tflite",
                                           "perfsage_n16_b1.tflite"]
    # checked at load, held only once a bucket is used
    assert all(k.content is None for k in b.buckets)
    assert b.buckets[1].read()[4:8] == b"TFL3" and b.buckets[1].content is not None


def test_a_version_1_bucket_changed_after_loading_is_refused_when_used(tmp_path):
    dst = tmp_path / "v1"
    shutil.copytree(TINY_V1, str(dst))
    b = B.load_bundle(str(dst))
    (dst / "perfsage_n16_b1.tflite").write_bytes(b"swapped")
    with pytest.raises(BundleError, match="perfsage_n16_b1.tflite.*sha256"):
        b.buckets[2].read()


def test_unknown_bundle_version_is_refused(tiny_copy):
    _edit_meta(tiny_copy, lambda m: m.update(bundle_version=4))
    with pytest.raises(BundleError, match="v4 not supported.*reads .* v1/2/3"):
        B.load_bundle(str(tiny_copy))


def test_version_2_without_its_file_entry_is_refused(tiny_copy):
    _edit_meta(tiny_copy, lambda m: m.pop("file"))
    with pytest.raises(BundleError, match="meta.json: missing fields file"):
        B.load_bundle(str(tiny_copy))


@pytest.mark.parametrize("source, victim", [(TINY, "perfsage.tflite"),
                                            (TINY_V1, "perfsage_n8_b4.tflite")])
def test_wrong_checksum_names_the_file(tmp_path, source, victim):
    dst = tmp_path / "b"
    shutil.copytree(source, str(dst))
    data = bytearray((dst / victim).read_bytes())
    data[-10] ^= 0xFF
    (dst / victim).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=victim.replace(".", r"\.") + ".*sha256"):
        B.load_bundle(str(dst))
    B.load_bundle(str(dst), verify=False)  # metadata-only load does not read files


def test_missing_model_file_names_it(tiny_copy):
    (tiny_copy / "perfsage.tflite").unlink()
    with pytest.raises(BundleError, match="perfsage.tflite.*cannot read"):
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


@pytest.mark.parametrize("version", [4, 9, FEATURE_SCHEMA_VERSION + 1])
def test_only_the_current_feature_schema_is_read(tiny_copy, version):
    _edit_meta(tiny_copy, lambda m: m.update(feature_schema_version=version))
    with pytest.raises(BundleError, match="meta.json: feature schema version {} but this "
                       "edge-perf featurizes with version {}".format(
                           version, FEATURE_SCHEMA_VERSION)):
        B.load_bundle(str(tiny_copy))


def test_features_must_be_ours(tiny_copy):
    _edit_meta(tiny_copy, lambda m: m.update(features=m["features"][:-1]))
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
