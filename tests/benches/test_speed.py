"""Smoke test of ``benches.speed``: its timing functions on two fixture models, tiny bundle.

Speed is not checked (the tiny bundle's weights and sizes say nothing about the real one); only
that every timing is positive and the JSON and markdown have their keys and sections.
"""

import json
import os

import pytest

from conftest import FIXTURES, fixture_path

pytestmark = [pytest.mark.train, pytest.mark.slow]

TINY = os.path.join(FIXTURES, "tiny_bundle")
MODELS = [{"name": n, "family": "fixture", "path": fixture_path(n), "space": None, "seed": None}
          for n in ("conv", "depthwise")]
#: measure_latency kept short for a test; the bench itself uses its defaults.
CPU_KWARGS = {"warmup": 1, "runs": 3, "min_time_s": 0.0}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("ethosu.vela")
    from benches import speed

    out = tmp_path_factory.mktemp("speed")
    pool = [fixture_path("conv"), fixture_path("depthwise")] * 4
    rep = speed.run(MODELS, pool, TINY, reps=2, vela_reps=1, cpu_kwargs=CPU_KWARGS,
                    many_repeats=1, out_dir=str(out), stem="speed", command="pytest",
                    log=lambda _msg: None)
    return rep, out


def test_json_has_every_key_and_positive_times(report):
    rep, out = report
    with open(os.path.join(str(out), "speed.json")) as f:
        data = json.load(f)
    assert data == json.loads(json.dumps(rep))
    for key in ("command", "host", "loadavg_start", "bundle", "models", "summary",
                "predict_many", "targets"):
        assert key in data
    assert [r["model"] for r in data["models"]] == ["conv", "depthwise"]
    for row in data["models"]:
        for key in ("read_ms", "featurize_ms", "featurize_cold_ms", "invoke_ms",
                    "read_featurize_ms", "predictor_ms", "total_ms", "total_warm_ms", "vela_ms",
                    "cpu_measure_ms", "vela_speedup", "cpu_speedup", "cpu_latency_ms"):
            assert row[key] > 0, key
        assert row["operators"] <= row["bucket_nodes"] <= 16
        assert set(row["predicted"]) == {"latency_ms", "sram_kib", "energy_mj"}
    many = data["predict_many"]
    assert many["candidates"] == 8 and many["distinct"] == 2
    assert many["many_per_s"] > 0 and many["loop_per_s"] > 0
    assert data["summary"]["vela_speedup"] > 0
    assert set(data["targets"]) == {"bundle_mb", "zoo_vela_speedup", "small_total_ms",
                                    "many_per_s", "vit1000_total_ms", "cli_rss_mb"}
    assert 0.1 < data["bundle_mb"] < 1.0  # the tiny bundle: one 0.14 MB file and meta.json
    shipped = data["shipped_bundles_mb"]  # and every shipped target, the largest checked
    assert set(shipped) >= {"ethos-u55-128", "cpu-epyc-litert-t1"}
    largest = max([data["bundle_mb"]] + list(shipped.values()))
    assert data["targets"]["bundle_mb"]["value"] == largest
    assert data["targets"]["bundle_mb"]["met"] is True
    assert 10 < data["cli_rss_mb"] < 2000 and data["cli_rss_model"] == "conv.tflite"
    assert data["targets"]["zoo_vela_speedup"]["met"] is None  # no zoo model among fixtures
    assert data["targets"]["vit1000_total_ms"]["met"] is None  # no ViT-1000 among fixtures
    assert isinstance(data["targets"]["many_per_s"]["met"], bool)


def test_markdown_names_command_models_and_targets(report):
    _, out = report
    with open(os.path.join(str(out), "speed.md")) as f:
        md = f.read()
    assert md.startswith("# ")
    assert "Command: `pytest`" in md
    assert "| conv | fixture |" in md and "| depthwise | fixture |" in md
    assert "predict_many" in md and "| target | limit | value | met |" in md


def test_model_set_and_targets_without_building():
    from benches import speed

    models, pool = speed.model_set(quick=True, cache="/nonexistent", zoo_dir="/nonexistent")
    assert [m["family"] for m in models].count("cnn-cifar10") == 2
    assert models[-1]["name"] == "vit1000" and len(pool) == 320 and len(set(pool)) == 16
    rows = [{"family": "cnn-kws", "total_ms": 0.8, "operators": 20, "vela_speedup": 150.0},
            {"family": "zoo", "total_ms": 2.0, "operators": 65, "vela_speedup": 120.0},
            {"family": "zoo", "total_ms": 3.0, "operators": 120, "vela_speedup": 60.0},
            {"family": "vit-1000", "total_ms": 70.0, "operators": 1078, "vela_speedup": 20.0}]
    t = speed.check_targets(rows, {"many_per_s": 400.0}, size_mb=2.1, rss_mb=95.0)
    assert t["bundle_mb"]["met"] and not t["vit1000_total_ms"]["met"]
    assert t["zoo_vela_speedup"]["value"] == 90.0 and not t["zoo_vela_speedup"]["met"]
    assert t["small_total_ms"]["value"] == 1.4 and not t["small_total_ms"]["met"]
    assert not t["many_per_s"]["met"] and not t["cli_rss_mb"]["met"]
