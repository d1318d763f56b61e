"""``edge-perf dataset``: bad input, info contract, sample and verify on real rebuilt models."""

import hashlib
import json

import pytest

from edge_predictor.cli import main
from trainer.store import MODELS, Store


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize("argv, fragment", [
    (["dataset", "generate", "--space", "cnn-mars", "--count", "3"], "unknown design space"),
    (["dataset", "generate", "--space", "cnn-kws", "--count", "0"], "--count must be positive"),
    (["dataset", "generate", "--space", "cnn-kws", "--count", "-4"], "--count must be positive"),
    (["dataset", "sample", "--space", "vit-mars", "--count", "1", "--out", "x"],
     "unknown design space"),
    (["dataset", "sample", "--space", "cnn-kws", "--count", "0", "--out", "x"],
     "--count must be positive"),
])
def test_bad_arguments_exit_2_with_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    assert fragment in _one_error_line(capsys)


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = str(blocker / "models")
    assert main(["dataset", "sample", "--space", "cnn-kws", "--count", "1", "--out", out]) == 2
    line = _one_error_line(capsys)
    assert out in line and "not writable" in line


def test_info_json_contract(tmp_path, capsys):
    store = Store(str(tmp_path))
    with store.writer(MODELS, "cnn-kws") as w:
        for seed in range(3):
            w.append({"space": "cnn-kws", "seed": seed, "status": "ok", "sha256": "0" * 64,
                      "labels": {"ethos-u55-128": {"latency_ms": 1.0, "sram_kib": 2.0}}})
        w.append({"space": "cnn-kws", "seed": 3, "status": "failed", "stage": "vela",
                  "reason": "x"})
    assert main(["dataset", "info", "--json", "--data", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {(c["space"], c["target"], c["metric"]): c["count"] for c in out["counts"]}
    assert rows == {("cnn-kws", "ethos-u55-128", "latency_ms"): 3,
                    ("cnn-kws", "ethos-u55-128", "sram_kib"): 3}
    assert out["failures"] == {"cnn-kws/vela": 1}


def test_info_on_an_empty_folder_says_where_it_looked(tmp_path, capsys):
    assert main(["dataset", "info", "--data", str(tmp_path)]) == 2
    line = _one_error_line(capsys)
    assert str(tmp_path) in line and "EDGE_PERF_DATA" in line


def test_default_root_falls_back_to_the_working_directory(tmp_path, monkeypatch):
    import trainer.store as store_mod

    monkeypatch.delenv("EDGE_PERF_DATA", raising=False)
    assert store_mod.default_root().endswith("data/edgedlperf")  # the checkout's own data
    monkeypatch.setattr(store_mod.os.path, "isdir", lambda p: False)  # as from site-packages
    monkeypatch.chdir(tmp_path)
    assert store_mod.default_root() == str(tmp_path / "data" / "edgedlperf")


@pytest.mark.train
@pytest.mark.slow
def test_sample_and_verify_rebuild_real_models(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from edge_predictor.tflite_reader import read_model

    out = tmp_path / "models"
    assert main(["dataset", "sample", "--space", "cnn-kws", "--seed-from", "7", "--count", "2",
                 "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["cnn-kws-7.tflite", "cnn-kws-8.tflite"]
    content = (out / "cnn-kws-7.tflite").read_bytes()
    assert 5 <= len(read_model(content).ops) <= 25

    data = tmp_path / "store"
    store = Store(str(data))
    with store.writer(MODELS, "cnn-kws") as w:
        w.append({"space": "cnn-kws", "seed": 7, "status": "ok",
                  "sha256": hashlib.sha256(content).hexdigest()})
    capsys.readouterr()
    assert main(["dataset", "verify", "--sample", "1", "--data", str(data)]) == 0
    assert "1 of 1 rebuilt models match" in capsys.readouterr().out

    with store.writer(MODELS, "cnn-kws") as w:  # a record whose sha256 is wrong
        w.append({"space": "cnn-kws", "seed": 8, "status": "ok", "sha256": "f" * 64})
    assert main(["dataset", "verify", "--sample", "2", "--data", str(data)]) == 1
    assert "cnn-kws-8" in capsys.readouterr().err


@pytest.mark.parametrize("verb", [["generate", "--space", "cnn-kws", "--count", "2"],
                                  ["label-cpu"]])
def test_ray_without_the_extra_names_it(verb, tmp_path, monkeypatch, capsys):
    import sys

    import trainer

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    monkeypatch.delitem(sys.modules, "trainer.ray_backend", raising=False)
    monkeypatch.delattr(trainer, "ray_backend", raising=False)  # imported by an earlier test
    argv = ["dataset"] + verb + ["--data", str(tmp_path), "--ray", "auto"]
    assert main(argv) == 2
    assert "edge-perf[cluster]" in _one_error_line(capsys)


@pytest.mark.parametrize("verb", [["generate", "--space", "cnn-kws", "--count", "2"],
                                  ["label-cpu"]])
def test_an_unreachable_ray_address_is_one_line(verb, tmp_path, capsys):
    pytest.importorskip("ray")
    argv = ["dataset"] + verb + ["--data", str(tmp_path), "--ray", "ray://127.0.0.1:1"]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "cannot reach a Ray cluster at 'ray://127.0.0.1:1'" in line


def test_target_without_ray_is_an_input_error(tmp_path, capsys):
    assert main(["dataset", "label-cpu", "--target", "cpu-x", "--data", str(tmp_path)]) == 2
    assert "--target needs --ray" in _one_error_line(capsys)
