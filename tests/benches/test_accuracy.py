"""benches/accuracy.py: the result cache, and --report-only running nothing."""

import argparse
import json
import os

import numpy as np
import pytest

from benches import accuracy as A


def _bench(tmp_path, **args):
    b = A.Bench.__new__(A.Bench)  # no store: only the cache logic of Bench.run is exercised
    b.args = argparse.Namespace(**dict(dict(only=None, report_only=False, rerun_stale=False),
                                       **args))
    b.runs, b.models = str(tmp_path / "runs"), str(tmp_path / "models")
    b.doc, b.t0, b.ran, b.reused = {"experiments": {}}, 0.0, 0, 0
    b.write = lambda plot=True: None
    return b


def test_report_only_runs_nothing_and_reuses_finished_runs(tmp_path):
    spec = {"kind": "totals-gbr-gen", "data": "abc"}
    calls = []

    def fit(spec, model_dir):
        calls.append(model_dir)
        return {"per_space": {"s": 1}}

    assert _bench(tmp_path, report_only=True).run("t__totals-gbr-gen", spec, fit) is None
    assert calls == []  # nothing cached, nothing run

    b = _bench(tmp_path)
    assert b.run("t__totals-gbr-gen", spec, fit) == {"per_space": {"s": 1}}
    assert len(calls) == 1 and b.ran == 1
    with open(tmp_path / "runs" / "t__totals-gbr-gen.json") as f:
        assert json.load(f)["status"] == "ok"

    r = _bench(tmp_path, report_only=True)
    assert r.run("t__totals-gbr-gen", spec, fit) == {"per_space": {"s": 1}}
    assert len(calls) == 1 and r.reused == 1  # reused, not rerun
    other = dict(spec, data="another store")
    assert r.run("t__totals-gbr-gen", other, fit) is None and len(calls) == 1


def test_peak_variant_only_for_targets_with_a_peak_metric():
    from benches import accuracy_report as R

    variants = {"peak-gen", "phased-gen", "replayed-gen"}
    assert variants <= {r[0] for r in R.rows_for(["latency_ms", "sram_kib"])}
    cpu = {r[0] for r in R.rows_for(["latency_ms"])}
    assert not variants & cpu and "perfsage-gen" in cpu


class _Split:
    """The part of trainer.dataset.Dataset that upsampling reads."""

    def __init__(self, spaces):
        self.spaces = np.array(spaces)

    def __len__(self):
        return len(self.spaces)

    def subset(self, rows):
        return _Split(self.spaces[rows])

    def counts(self):
        names, n = np.unique(self.spaces, return_counts=True)
        return {str(a): int(b) for a, b in zip(names, n)}


def test_no_upsampling_is_the_generalized_run_when_upsampling_adds_nothing(tmp_path):
    b = _bench(tmp_path)
    b.parts = {"t": {"*": {"train": _Split(["kws"] * 17 + ["cifar"] * 83)}},
               "u": {"*": {"train": _Split(["kws"] * 5 + ["cifar"] * 95)}}}
    assert b._upsampling_adds_nothing("t")
    assert not b._upsampling_adds_nothing("u")  # kws at 5% would be repeated: train for real
    base = {"name": "t__perfsage-gen", "key": "k1", "status": "ok",
            "result": {"per_space": {"kws": {"latency_ms": {"mape": 0.02}}}}}
    spec = {"kind": "noups-gen", "target": "t", "identical_to": "k1"}
    got = b.run("t__noups-gen", spec, b._identical_run(base))
    assert got["per_space"] == base["result"]["per_space"]
    assert got["identical_to"] == "t__perfsage-gen"
    assert "kws" in got["why"] and "17.0%" in got["why"]


def test_zoo_results_of_each_predictor_merge_into_one_table():
    from benches import accuracy_report as R

    def part(kind, value):
        return {"metrics": ["sram_kib"], "summary": {kind: {"sram_kib": {"mape": value}}},
                "models": [{"name": "resnet18", "ops": 30, "labels": {"sram_kib": 100.0},
                            "predictions": {kind: {"sram_kib": 100.0 * (1 + value)}}}]}

    z = R.merge_zoo([part("peak-gen", 0.3), part("phased-gen", 0.1)])
    assert list(z["summary"]) == ["peak-gen", "phased-gen"]
    assert len(z["models"]) == 1
    got = z["models"][0]["predictions"]
    assert sorted(got) == ["peak-gen", "phased-gen"]
    assert got["peak-gen"]["sram_kib"] == pytest.approx(130.0)
    assert got["phased-gen"]["sram_kib"] == pytest.approx(110.0)


def test_a_run_on_an_older_compatible_schema_is_reused_marked_until_rerun(tmp_path):
    from benches.accuracy import APPEND_ONLY_SCHEMAS
    from edge_predictor.featurize import FEATURE_SCHEMA_VERSION

    OLDEST_COMPATIBLE_SCHEMA = APPEND_ONLY_SCHEMAS[0]

    spec = {"kind": "totals-gbr-gen", "data": "abc", "feature_schema": OLDEST_COMPATIBLE_SCHEMA}
    calls = []

    def fit(spec, model_dir):
        calls.append(spec["feature_schema"])
        return {"per_space": {"s": len(calls)}}

    _bench(tmp_path).run("t__x", spec, fit)  # a finished run on the older schema
    now = dict(spec, feature_schema=FEATURE_SCHEMA_VERSION)
    r = _bench(tmp_path, report_only=True)
    assert r.run("t__x", now, fit) == {"per_space": {"s": 1}} and calls == [4]
    assert r.doc["experiments"]["t__x"]["older_schema"] == OLDEST_COMPATIBLE_SCHEMA
    # other settings, or a schema older than the compatible range: not this experiment
    assert _bench(tmp_path, report_only=True).run("t__x", dict(now, data="x"), fit) is None
    for name, schema in (("t__y", OLDEST_COMPATIBLE_SCHEMA - 1), ("t__z", 7)):
        # 7: schema 8 recomputed its replay columns, its runs are not comparable either
        _bench(tmp_path).run(name, dict(spec, feature_schema=schema), fit)
        assert _bench(tmp_path, report_only=True).run(name, now, fit) is None
    # selected, it is rerun on today's schema and loses the mark
    s = _bench(tmp_path, only=["t__x"])
    assert s.run("t__x", now, fit) == {"per_space": {"s": 4}}
    assert calls == [4, 3, 7, FEATURE_SCHEMA_VERSION]
    assert "older_schema" not in s.doc["experiments"]["t__x"]


def test_report_marks_cells_of_an_older_schema():
    from benches.accuracy_report import _cell

    r = {"mape": 0.0123, "within_5": 0.9, "within_10": 1.0, "spearman": 0.99}
    assert _cell(r) == "1.23% · 90% · 100% · 0.990"
    assert _cell(dict(r, feature_schema=4)) == "1.23% · 90% · 100% · 0.990 (schema 4)"


def test_every_perfsage_variant_is_a_valid_config_and_new_settings_are_keyed():
    from benches.accuracy import _KEYED, _PERFSAGE
    from trainer.train import TrainConfig

    # settings the kind's name implied before _KEYED existed; any other must enter the key,
    # or two variants would share cached results
    implied = {"cfe", "loss", "upsampling", "readout", "layer_norm", "peak_tau", "bounded_peak"}
    for name, settings in _PERFSAGE.items():
        TrainConfig(metrics=["latency_ms", "sram_kib"], mode="generalized",
                    **settings).check()  # raises if inconsistent
        assert set(settings) - implied <= set(_KEYED), name
    assert _PERFSAGE["replayed"]["replayed_peak"] and "replayed_peak" in _KEYED


def test_trained_models_stay_under_what_the_user_named(tmp_path):
    out, cache = str(tmp_path / "o"), str(tmp_path / "c")
    assert A.models_dir(A.parse_args(["--out", out])) == os.path.join(out, "cache")
    assert A.models_dir(A.parse_args(["--out", out, "--cache", cache])) == cache
    assert A.models_dir(A.parse_args([])) == A.MODELS
