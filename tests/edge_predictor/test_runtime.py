"""Predictor runtime and ``edge-perf predict``/``targets`` on the committed tiny bundle.

Runs without TensorFlow (numpy + any TFLite interpreter): CI runs it on a board-like env.
"""

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import FIXTURES, fixture_path

from edge_predictor import Predictor, featurize, read_model
from edge_predictor.bundle import BUNDLE_PATH_ENV
from edge_predictor.cli import main
from edge_predictor.errors import GraphTooLargeError, ModelFormatError, UnknownTargetError

TINY = os.path.join(FIXTURES, "tiny_bundle")
with open(os.path.join(FIXTURES, "tiny_bundle_expected.json")) as _f:
    EXPECTED = json.load(_f)["models"]
FITS = sorted(EXPECTED)  # fixture models with <= 16 operators


@pytest.fixture(scope="module")
def tiny():
    return Predictor.load(TINY)


def test_no_tensorflow_import():
    code = ("import sys; from edge_predictor import Predictor;"
            "from edge_predictor.interpreters import interpreter_info;"
            "p = Predictor.load({!r}); p.predict({!r});"
            "assert 'tensorflow' not in sys.modules or interpreter_info()['name'] == 'tensorflow'"
            ).format(TINY, fixture_path("conv"))
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", FITS)
def test_matches_keras(tiny, name):
    ans = tiny.predict(fixture_path(name))
    assert ans["target"] == "tiny-test"
    for metric, ref in EXPECTED[name].items():
        assert ans[metric] == pytest.approx(ref, rel=1e-4)
    assert isinstance(ans["warnings"], list)


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("name", FITS)
def test_earlier_bundle_versions_answer_the_same(tiny, name, version):
    """The same model exported one file per bucket (version 1) or with a dense adjacency input
    (version 2) still predicts, and as the edge-list one does."""
    old = Predictor.load(os.path.join(FIXTURES, "tiny_bundle_" + version))
    assert all(not b.edges for b in old.bundle.buckets)
    got = old.predict(fixture_path(name))
    for metric, ref in EXPECTED[name].items():
        assert got[metric] == pytest.approx(ref, rel=1e-4)


def test_the_edge_list_and_the_dense_adjacency_agree_in_a_batch_and_reuse():
    """Graphs of different sizes padded into one batch bucket, then smaller ones into the same
    buffers (stale edges must not survive), against the version-2 bundle's dense input."""
    new = Predictor.load(TINY)
    old = Predictor.load(os.path.join(FIXTURES, "tiny_bundle_v2"))
    feats = [new.featurize(read_model(fixture_path(n))) for n in FITS]
    assert all(b.edges == 4 * b.nodes for b in new.bundle.buckets)
    for group in (feats, feats[::-1][:2], feats[:1]):
        got = new.predict_many_features([(f, "m", []) for f in group])
        ref = old.predict_many_features([(f, "m", []) for f in group])
        for g, r in zip(got, ref):
            for metric in new.metrics:
                assert g[metric] == pytest.approx(r[metric], rel=1e-5)


def test_bytes_and_path_agree(tiny):
    data = open(fixture_path("conv"), "rb").read()
    assert tiny.predict(data)["latency_ms"] == tiny.predict(fixture_path("conv"))["latency_ms"]


def test_predict_many_equals_one_by_one(tiny):
    paths = [fixture_path(n) for n in FITS] * 3  # 15 graphs: full 8x4 batches and a remainder
    many = tiny.predict_many(paths)
    assert len(many) == len(paths)
    for path, got in zip(paths, many):
        one = tiny.predict(path)
        for m in tiny.metrics:
            assert got[m] == pytest.approx(one[m], rel=1e-5)
        assert got["warnings"] == one["warnings"]


def test_too_large_graph(tiny):
    with pytest.raises(GraphTooLargeError, match=r"attention.tflite.*23 operators.*16 nodes"):
        tiny.predict(fixture_path("attention"))
    with pytest.raises(GraphTooLargeError):
        tiny.predict_many([fixture_path("conv"), fixture_path("attention")])


def test_float_model_warns(tiny):
    ans = tiny.predict(fixture_path("float_mlp"))
    assert any("float" in w and "training distribution" in w for w in ans["warnings"])
    assert ans["latency_ms"] > 0
    assert not any("float" in w for w in tiny.predict(fixture_path("conv"))["warnings"])


def test_unseen_operator_warns(tiny):
    ans = tiny.predict(fixture_path("transpose_conv"))
    assert any("TRANSPOSE_CONV" in w and "never seen" in w for w in ans["warnings"])


def test_bad_model(tiny, tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all" * 4)
    with pytest.raises(ModelFormatError, match="bad.tflite"):
        tiny.predict(str(bad))


def test_unknown_target_lists_targets(monkeypatch):
    monkeypatch.setenv(BUNDLE_PATH_ENV, FIXTURES)
    with pytest.raises(UnknownTargetError, match="tiny-test"):
        Predictor.load("no-such-board")
    assert Predictor.load("tiny-test").target == "tiny-test"


def test_padding_reuse_does_not_leak(tiny):
    g_big = featurize(read_model(fixture_path("conv")))
    g_small = featurize(read_model(fixture_path("float_mlp")))
    first = tiny.predict_features(g_small)["latency_ms"]
    tiny.predict_features(g_big)
    tiny.predict_many_features([(g_big, "a", []), (g_big, "b", []), (g_small, "c", [])])
    assert tiny.predict_features(g_small)["latency_ms"] == first


def test_threads_share_one_predictor(tiny):
    g = featurize(read_model(fixture_path("conv")))
    ref = tiny.predict_features(g)["latency_ms"]
    out = []

    def work():
        out.extend(tiny.predict_features(g)["latency_ms"] for _ in range(20))

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert np.allclose(out, ref, rtol=0) and len(out) == 80


def test_cli_predict_json(capsys):
    code = main(["predict", fixture_path("conv"), fixture_path("float_mlp"), "--bundle", TINY,
                 "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == [fixture_path("conv"), fixture_path("float_mlp")]
    for r in rows:
        assert r["target"] == "tiny-test"
        assert set(r) >= {"latency_ms", "sram_kib", "energy_mj", "estimates", "warnings"}
        assert r["estimates"] == ["energy_mj"]
    assert rows[0]["latency_ms"] == pytest.approx(EXPECTED["conv"]["latency_ms"], rel=1e-4)
    assert rows[1]["warnings"]


def test_cli_predict_table_labels_estimates(capsys):
    assert main(["predict", fixture_path("conv"), "--bundle", TINY]) == 0
    out = capsys.readouterr().out
    assert "energy_mj [mJ] (estimate)" in out and "tiny-test" in out


@pytest.mark.parametrize("args, needle", [
    (["predict", "ATTN", "--bundle", TINY], "23 operators"),
    (["predict", "MISSING", "--bundle", TINY], "MISSING"),
    (["predict", "CONV", "--target", "no-such-board"], "available targets"),
    (["predict", "CONV", "--bundle", FIXTURES], "no meta.json"),
])
def test_cli_predict_bad_input_exit_2(capsys, tmp_path, args, needle):
    subst = {"ATTN": fixture_path("attention"), "CONV": fixture_path("conv"),
             "MISSING": str(tmp_path / "MISSING.tflite")}
    assert main([subst.get(a, a) for a in args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_targets(monkeypatch, capsys):
    monkeypatch.setenv(BUNDLE_PATH_ENV, FIXTURES)
    assert main(["targets", "--json"]) == 0
    infos = json.loads(capsys.readouterr().out)
    tiny = [d for d in infos if d["target"] == "tiny-test"][0]
    assert tiny["training_data"]["quantized"] is True
    assert "test_accuracy" in tiny
    assert main(["targets"]) == 0
    assert "energy_mj [mJ] (estimate)" in capsys.readouterr().out


def test_cli_targets_lists_good_bundles_and_names_a_refused_one(monkeypatch, capsys, tmp_path):
    import shutil

    good = tmp_path / "tiny"
    shutil.copytree(os.path.join(FIXTURES, "tiny_bundle"), str(good))
    old = tmp_path / "old"
    shutil.copytree(os.path.join(FIXTURES, "tiny_bundle"), str(old))
    meta = json.loads((old / "meta.json").read_text())
    meta.update(target="old-board", feature_schema_version=1)
    (old / "meta.json").write_text(json.dumps(meta))
    monkeypatch.setenv(BUNDLE_PATH_ENV, str(tmp_path))
    assert main(["targets"]) == 2
    cap = capsys.readouterr()
    assert "tiny-test" in cap.out and "old-board  (refused" in cap.out
    assert len(cap.err.strip().splitlines()) == 1 and str(old) in cap.err
    assert "Traceback" not in cap.err
    assert main(["targets", "--json"]) == 2
    rows = {d["target"]: d for d in json.loads(capsys.readouterr().out)}
    assert "error" in rows["old-board"] and "error" not in rows["tiny-test"]


def test_a_model_without_operators_is_a_one_line_error(tmp_path, capsys):
    # the fuzzer's crash (../shared/fuzz-crashes): a main subgraph with an input and no
    # operators crashed live_bytes with an IndexError instead of a clean exit 2
    from flatbuild import build_model

    from edge_predictor.featurize import featurize, live_bytes
    from edge_predictor.tflite_reader import read_model

    path = tmp_path / "empty.tflite"
    path.write_bytes(build_model([]))
    graph = read_model(str(path))
    assert len(graph.ops) == 0 and graph.inputs  # an input tensor and nothing reading it
    assert live_bytes(graph).shape == (0,)
    assert featurize(graph).n_nodes == 0
    assert main(["predict", str(path), "--bundle", TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no operators" in err[0] and "empty.tflite" in err[0]


def test_cli_predict_runs_lean_for_a_few_models_and_with_xnnpack_for_many(monkeypatch, capsys):
    from edge_predictor import cli

    seen = []
    real = Predictor.load

    def spy(name, threads=1, delegates=True):
        seen.append(delegates)
        return real(name, threads=threads, delegates=delegates)

    monkeypatch.setattr(Predictor, "load", staticmethod(spy))
    assert main(["predict", fixture_path("conv"), "--bundle", TINY]) == 0
    many = [fixture_path("conv")] * (cli.LEAN_MODELS + 1)
    assert main(["predict"] + many + ["--bundle", TINY]) == 0
    assert seen == [False, True]
    capsys.readouterr()


def test_a_lean_predictor_answers_as_the_delegated_one(tiny):
    lean = Predictor.load(TINY, delegates=False)
    for name in FITS:
        a, b = lean.predict(fixture_path(name)), tiny.predict(fixture_path(name))
        for m in tiny.metrics:
            assert a[m] == pytest.approx(b[m], rel=1e-5)


def test_a_bucket_whose_signature_is_missing_is_a_one_line_error(tmp_path, capsys):
    import shutil

    folder = tmp_path / "b"
    shutil.copytree(TINY, str(folder))
    meta = json.loads((folder / "meta.json").read_text())
    for b in meta["buckets"]:  # every bucket names a signature the file does not have
        b["signature"] = "n999_b1"
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="no signature 'n999_b1'"):
        Predictor.load(str(folder)).predict(fixture_path("conv"))
    assert main(["predict", fixture_path("conv"), "--bundle", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "n999_b1" in err[0] and "Traceback" not in err[0]


def _dense_dag(feats, n):
    """``feats`` cut or tiled to n nodes, every node feeding every later one."""
    import dataclasses

    idx = np.arange(n) % feats.n_nodes
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)], np.int32)
    return dataclasses.replace(feats, x=feats.x[idx], categories=feats.categories[idx],
                               op_ids=feats.op_ids[idx], edges=pairs, npu_parts=None,
                               sram_peaks=None, off_delegate=None)


def test_a_graph_with_more_edges_than_a_buckets_slots_goes_to_a_larger_one(tiny):
    base = tiny.featurize(read_model(fixture_path("conv")))
    old = Predictor.load(os.path.join(FIXTURES, "tiny_bundle_v2"))  # dense: no edge limit
    g = _dense_dag(base, 8)  # 28 edges: 56 entries, the 8-node bucket has 32 slots
    assert tiny._bucket(g, "g").nodes == 16 and old._bucket(g, "g").nodes == 8
    got, ref = tiny.predict_features(g, "g"), old.predict_features(g, "g")
    for metric in tiny.metrics:
        assert got[metric] == pytest.approx(ref[metric], rel=1e-5)
    with pytest.raises(GraphTooLargeError, match=r"g: 12 operators with 66 edges"):
        tiny.predict_features(_dense_dag(base, 12), "g")  # 132 entries > 64 slots
