"""benches/validation.py: model families, the per-family summary with its noise floor, the table."""

import json
import os

import pytest

from benches import validation as V
from edge_predictor.validate import ResultStore


def test_family_of():
    assert V.family_of("/x/cnn-kws-800003.tflite") == "cnn-kws"
    assert V.family_of("vit-cifar100-800000.tflite") == "vit-cifar100"
    assert V.family_of("/zoo/mobilenet_v2.tflite") == V.OUT_OF_SPACE
    assert V.family_of("cnn-kws-final.tflite") == V.OUT_OF_SPACE  # not a (space, seed) name


def _db(path, rows):
    store = ResultStore(str(path))
    for i, (name, pred, meas) in enumerate(rows):
        store.record("sha{}".format(i), name, "cpu-x-t1", [("latency_ms", pred, meas)], {})
    store.close()
    return str(path)


def test_summary_groups_families_and_reports_the_noise_floor(tmp_path):
    first = _db(tmp_path / "a.sqlite", [("m/cnn-kws-800000.tflite", 1.1, 1.0),
                                        ("m/cnn-kws-800001.tflite", 1.8, 2.0),
                                        ("m/vit-cifar100-800000.tflite", 4.0, 4.0),
                                        ("zoo/resnet18.tflite", 15.0, 10.0)])
    again = _db(tmp_path / "b.sqlite", [("m/cnn-kws-800000.tflite", 1.1, 1.02),
                                        ("m/cnn-kws-800001.tflite", 1.8, 2.0),
                                        ("m/vit-cifar100-800000.tflite", 4.0, 3.8),
                                        ("zoo/resnet18.tflite", 15.0, 10.0)])
    st = V.summarize("cpu-x-t1", {"db": first, "repeat_db": again})["latency_ms"]
    assert list(st) == ["cnn-kws", "vit-cifar100", "in-space", V.OUT_OF_SPACE]
    assert st["cnn-kws"]["n"] == 2 and st["cnn-kws"]["mape"] == pytest.approx(10.0)
    assert st["in-space"]["n"] == 3 and st["in-space"]["mape"] == pytest.approx(20.0 / 3)
    assert st[V.OUT_OF_SPACE]["mape"] == pytest.approx(50.0)
    # noise floor: the second measurement against the first
    assert st["cnn-kws"]["noise_floor"]["mape"] == pytest.approx(1.0)
    assert st["vit-cifar100"]["noise_floor"]["mape"] == pytest.approx(5.0)
    assert st[V.OUT_OF_SPACE]["noise_floor"]["mape"] == pytest.approx(0.0)
    no_repeat = V.summarize("cpu-x-t1", {"db": first, "repeat_db": None})["latency_ms"]
    assert "noise_floor" not in no_repeat["cnn-kws"]

    doc = {"command": "python -m benches.validation", "date": "d", "host": "h", "per_space": 2,
           "n_zoo": 1, "targets": {"cpu-x-t1": {
               "measured_by": "live", "bundle": "b", "bundle_tag": "t", "models": 4,
               "failed": 0, "failures": [], "plot": "p.png", "command": "edge-perf validate x",
               "stats": {"latency_ms": st}}}}
    md = V.render_markdown(doc)
    assert "| latency_ms | cnn-kws | 2 | 10.00% |" in md
    assert "noise floor MAPE" in md and "| 1.00% |" in md and "10.0x" in md
    assert "    edge-perf validate x" in md and os.linesep in md


def test_targets_not_rerun_are_kept_with_their_own_date(tmp_path):
    assert V._earlier(str(tmp_path)) == {}
    old = {"command": "c", "date": "2026-11-27", "host": "h1", "per_space": 25, "n_zoo": 14,
           "targets": {"cpu-x-t1": {"measured_by": "live", "stats": {}}}}
    (tmp_path / "validation.json").write_text(json.dumps(old))
    kept = V._earlier(str(tmp_path))
    assert kept == {"cpu-x-t1": {"measured_by": "live", "stats": {}, "date": "2026-11-27",
                                 "host": "h1", "per_space": 25, "n_zoo": 14}}
    doc = {"command": "python -m benches.validation --targets ethos", "date": "2026-12-01",
           "host": "h2", "per_space": 25, "n_zoo": 0, "targets": {"cpu-x-t1": dict(
               kept["cpu-x-t1"], bundle="b", bundle_tag="t", models=1, failed=0, failures=[],
               plot=None, command="edge-perf validate x")}}
    md = V.render_markdown(doc)
    assert "Run 2026-11-27 on h1: 25 fresh models per space and 14 zoo models" in md
