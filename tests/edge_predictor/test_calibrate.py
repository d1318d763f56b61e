"""``edge-perf calibrate --labels`` on the committed tiny bundle: the calibrated bundle is a
normal bundle, its answers are the base's times the fitted factors, bad input exits 2."""

import json
import os
import shutil

import numpy as np
import pytest

from edge_predictor.calibrate import calibrate_bundle, read_labels
from edge_predictor.cli import main
from edge_predictor.errors import InputError
from edge_predictor.runtime import Predictor

from conftest import FIXTURES, fixture_path

TINY = os.path.join(FIXTURES, "tiny_bundle")
MODELS = ("conv", "depthwise", "transpose_conv", "custom_op")


def _csv(tmp_path, rows, header="model,latency_ms"):
    for name in MODELS:
        shutil.copyfile(fixture_path(name), str(tmp_path / (name + ".tflite")))
    path = tmp_path / "labels.csv"
    path.write_text("\n".join([header] + rows) + "\n")
    return str(path)


def _base_latency():
    p = Predictor.load(TINY)
    return {m: p.predict(fixture_path(m))["latency_ms"] for m in MODELS}


def test_a_uniformly_slower_machine_is_learned_exactly(tmp_path, capsys):
    base = _base_latency()
    labels = _csv(tmp_path, ["{}.tflite,{}".format(m, 3.0 * v) for m, v in base.items()])
    out = str(tmp_path / "cal")
    assert main(["calibrate", "--from", TINY, "--out", out, "--labels", labels,
                 "--name", "tiny-board"]) == 0
    assert "leave-one-out MAPE 0.0%" in capsys.readouterr().out
    cal = Predictor.load(out)
    assert cal.target == "tiny-board" and cal.calibration["metrics"]["latency_ms"]["n"] == 4
    for m, v in base.items():
        assert cal.predict(fixture_path(m))["latency_ms"] == pytest.approx(3.0 * v, rel=1e-6)
    # the other metric was not measured: unchanged
    other = [k for k in cal.metrics if k != "latency_ms"][0]
    assert cal.predict(fixture_path("conv"))[other] == pytest.approx(
        Predictor.load(TINY).predict(fixture_path("conv"))[other])
    meta = json.load(open(os.path.join(out, "meta.json")))
    assert meta["calibration"]["base"]["target"] == "tiny-test"
    assert meta["calibration"]["source"]["kind"] == "labels"


def test_bad_calibration_input_names_the_file_and_exits_2(tmp_path, capsys):
    labels = _csv(tmp_path, ["conv.tflite,abc", "depthwise.tflite,1.0"])
    assert main(["calibrate", "--from", TINY, "--out", str(tmp_path / "x"),
                 "--labels", labels]) == 2
    err = capsys.readouterr().err
    assert "labels.csv:2" in err and "positive number" in err and "Traceback" not in err
    labels = _csv(tmp_path, ["missing.tflite,1.0"])
    with pytest.raises(InputError, match="not found"):
        read_labels(labels, ["latency_ms"])
    labels = _csv(tmp_path, ["conv.tflite,1.0"], header="model,speed")
    with pytest.raises(InputError, match="no metric column"):
        read_labels(labels, ["latency_ms"])


def test_an_existing_folder_is_never_overwritten_and_one_model_is_too_few(tmp_path):
    base = _base_latency()
    labels = _csv(tmp_path, ["{}.tflite,{}".format(m, v) for m, v in base.items()])
    samples = read_labels(labels, ["latency_ms"])
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="already exists"):
        calibrate_bundle(TINY, samples, str(tmp_path / "taken"), {"kind": "labels"})
    with pytest.raises(InputError, match="at least 2"):
        calibrate_bundle(TINY, samples[:1], str(tmp_path / "one"), {"kind": "labels"})
    assert not (tmp_path / "one").exists()
    calibrate_bundle(TINY, samples, str(tmp_path / "cal"), {"kind": "labels"})
    with pytest.raises(InputError, match="already calibrated"):
        calibrate_bundle(str(tmp_path / "cal"), samples, str(tmp_path / "cal2"),
                         {"kind": "labels"})


def test_both_sources_is_an_error(tmp_path, capsys):
    csv = tmp_path / "m.csv"
    csv.write_text("model,latency_ms\n")
    assert main(["calibrate", fixture_path("conv"), "--from", TINY, "--out",
                 str(tmp_path / "x"), "--labels", str(csv)]) == 2
    assert "not both" in capsys.readouterr().err
    np.testing.assert_equal(os.path.exists(str(tmp_path / "x")), False)


def test_live_calibration_measures_here_and_records_the_host(tmp_path):
    out = str(tmp_path / "live")
    assert main(["calibrate", fixture_path("conv"), fixture_path("depthwise"), "--from", TINY,
                 "--out", out, "--runs", "3", "--warmup", "1", "--min-time", "0",
                 "--no-op-profile"]) == 0
    meta = json.load(open(os.path.join(out, "meta.json")))
    src = meta["calibration"]["source"]
    assert src["kind"] == "live" and src["host"]["threads"] == 1
    assert meta["calibration"]["metrics"]["latency_ms"]["n"] == 2
    # the canary operator was timed before the first model and after each
    assert len(src["canary_us"]) == 3 and all(t > 0 for t in src["canary_us"])
    assert src["drift"] >= 0


def test_a_host_whose_speed_moved_while_calibrating_is_warned(tmp_path, capsys, monkeypatch):
    import edge_predictor.op_probe as op_probe

    speeds = iter([30.0, 45.0, 60.0])
    monkeypatch.setattr(op_probe.Canary, "time", lambda self: next(speeds))
    assert main(["calibrate", fixture_path("conv"), fixture_path("depthwise"), "--from", TINY,
                 "--out", str(tmp_path / "moved"), "--runs", "2", "--warmup", "0",
                 "--min-time", "0", "--no-op-profile"]) == 0
    err = capsys.readouterr().err
    assert "speed moved by" in err and "30.0-60.0 us" in err


def test_without_models_the_default_set_is_measured(tmp_path, capsys):
    from edge_predictor.calibration_set import default_models

    out = str(tmp_path / "default")
    assert main(["calibrate", "--from", "cpu-epyc-litert-t1", "--out", out, "--count", "2",
                 "--runs", "2", "--warmup", "0", "--min-time", "0", "--no-op-profile"]) == 0
    assert "default calibration set (20 models" in capsys.readouterr().err
    cal = json.load(open(os.path.join(out, "meta.json")))["calibration"]
    assert cal["source"]["models"] == "the default calibration set"
    fit = cal["metrics"]["latency_ms"]
    assert fit["n"] == 2 and set(fit["models"]) <= {name for name, _ in default_models()}
    assert sorted(os.listdir(out)) == ["meta.json", "perfsage.tflite"]  # no set models kept


def test_live_calibration_measures_only_count_models(tmp_path):
    from edge_predictor.calibrate import pick_models

    models = [fixture_path(m) for m in MODELS]
    picked = pick_models(TINY, models, 2)
    assert len(picked) == 2 and set(picked) <= set(models)
    assert pick_models(TINY, models, 2) == picked
    out = str(tmp_path / "live2")
    assert main(["calibrate"] + models + ["--from", TINY, "--out", out, "--count", "2",
                                          "--runs", "2", "--warmup", "0", "--min-time", "0",
                                          "--no-op-profile"]) == 0
    fit = json.load(open(os.path.join(out, "meta.json")))["calibration"]["metrics"]["latency_ms"]
    assert sorted(fit["models"]) == sorted(os.path.basename(p) for p in picked)


def test_timed_operators_win_when_they_explain_the_host_and_the_bundle_applies_them(tmp_path):
    from edge_predictor.calibrate import PROBES_KEY
    from edge_predictor.featurize import featurize
    from edge_predictor.host_ops import op_rows
    from edge_predictor.tflite_reader import read_model

    # a host whose every operator takes 4x the reference table, and 1.1x that inside a model
    names = ("conv", "depthwise", "transpose_conv")
    ref = {m: op_rows(featurize(read_model(fixture_path(m))), "cpu-epyc-litert-t1")[2]
           for m in names + ("float_mlp",)}
    samples = [(fixture_path(m), {"latency_ms": 1.1 * 4.0 * ref[m].sum() * 1e-3})
               for m in names]
    profiles = {fixture_path(m): 4.0 * ref[m] for m in names}
    out = str(tmp_path / "ops")
    meta = calibrate_bundle(TINY, samples, out, {"kind": "live"}, profiles=profiles)
    fit = meta["calibration"]["metrics"]["latency_ms"]
    assert fit["method"] == "ops" and fit["loo_mape"] < 1e-6 and "ops" in fit["tried"]
    cal = Predictor.load(out)
    # a model it never saw: its operators' reference times, 4x, 1.1x
    got = cal.predict(fixture_path("float_mlp"))
    assert got["latency_ms"] == pytest.approx(1.1 * 4.0 * ref["float_mlp"].sum() * 1e-3,
                                              rel=2e-3)
    # the probes' timings join the timed operators (their rows placed by the base's table)
    from edge_predictor.op_probe import probe_rows

    profiles[PROBES_KEY] = 4.0 * probe_rows("cpu-epyc-litert-t1")[2]
    meta = calibrate_bundle(TINY, samples, str(tmp_path / "ops2"), {"kind": "live"},
                            profiles=profiles)
    fit2 = meta["calibration"]["metrics"]["latency_ms"]
    assert fit2["method"] == "ops" and len(fit2["ops"]["rows"]) > len(fit["ops"]["rows"]) + 300


def test_a_corrupt_timed_operator_table_is_a_bundle_error(tmp_path):
    from edge_predictor.errors import BundleError

    out = str(tmp_path / "cal")
    names = ("conv", "depthwise", "transpose_conv")
    from edge_predictor.featurize import featurize
    from edge_predictor.host_ops import op_rows
    from edge_predictor.tflite_reader import read_model

    ref = {m: op_rows(featurize(read_model(fixture_path(m))), "cpu-epyc-litert-t1")[2]
           for m in names}
    calibrate_bundle(TINY, [(fixture_path(m), {"latency_ms": 4.0 * ref[m].sum() * 1e-3})
                            for m in names], out, {"kind": "live"},
                     profiles={fixture_path(m): 4.0 * ref[m] for m in names})
    path = os.path.join(out, "meta.json")
    meta = json.load(open(path))
    meta["calibration"]["metrics"]["latency_ms"]["ops"]["rows"][0] = "ADD 1 2"
    json.dump(meta, open(path, "w"))
    with pytest.raises(BundleError, match="timed operators"):
        Predictor.load(out)


@pytest.mark.slow
def test_live_calibration_times_operators_and_probes(tmp_path):
    out = str(tmp_path / "live3")
    models = [fixture_path(m) for m in ("conv", "depthwise", "transpose_conv")]
    assert main(["calibrate"] + models + ["--from", TINY, "--out", out, "--runs", "2",
                                          "--warmup", "0", "--min-time", "0"]) == 0
    cal = json.load(open(os.path.join(out, "meta.json")))["calibration"]
    assert "every operator timed alone" in cal["source"]["method"]
    assert "ops" in cal["metrics"]["latency_ms"]["tried"]


EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples", "models")


def test_labels_of_another_accelerator_scale_sram_by_the_analytical_peaks(tmp_path, capsys,
                                                                          monkeypatch):
    from edge_predictor.featurize import featurize
    from edge_predictor.tflite_reader import read_model

    base = Predictor.load("ethos-u55-128")
    models = [os.path.join(EXAMPLES, m) for m in ("cnn-kws-900000.tflite", "ds_cnn.tflite")]
    models += [fixture_path(m) for m in ("conv", "depthwise")]
    expect = {}
    for m in models:  # Vela's u55-256 labels as this physics would have them
        peaks = featurize(read_model(m), also=("ethos-u55-256",)).sram_peaks
        expect[m] = (base.predict(m)["sram_kib"] * peaks["ethos-u55-256"] /
                     peaks["ethos-u55-128"])
    labels = tmp_path / "vela256.csv"
    labels.write_text("model,sram_kib\n" + "".join(
        "{},{!r}\n".format(m, v) for m, v in expect.items()))
    out = str(tmp_path / "u55-256")
    assert main(["calibrate", "--from", "ethos-u55-128", "--labels", str(labels), "--out", out,
                 "--accelerator", "ethos-u55-256", "--name", "ethos-u55-256-cal"]) == 0
    assert "sram_kib: 4 models" in capsys.readouterr().out
    cal = Predictor.load(out)
    assert cal.accelerator == "ethos-u55-256" and cal.trained_accelerator == "ethos-u55-128"
    assert cal.calibration["metrics"]["sram_kib"]["loo_mape"] == pytest.approx(0.0, abs=1e-9)
    for m, v in expect.items():
        assert cal.predict(m)["sram_kib"] == pytest.approx(v, rel=1e-6)
    kws = models[0]  # smaller weight slices on the 256: its peak drops
    assert cal.predict(kws)["sram_kib"] < 0.9 * base.predict(kws)["sram_kib"]
    meta = json.load(open(os.path.join(out, "meta.json")))
    assert meta["calibration"]["accelerator"] == "ethos-u55-256"
    assert "ethos-u55-256" in meta["description"]
    monkeypatch.setenv("EDGE_PERF_BUNDLE_PATH", out)
    assert main(["targets"]) == 0
    assert "calibrated from ethos-u55-128 on labels, for the ethos-u55-256" in \
        capsys.readouterr().out
    # predict on the command line answers with the same figure
    assert main(["predict", kws, "--bundle", out, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["sram_kib"] == pytest.approx(expect[kws], rel=1e-6)


def test_an_accelerator_needs_an_ethos_base_and_a_known_configuration(tmp_path, capsys):
    base = _base_latency()
    labels = _csv(tmp_path, ["{}.tflite,{}".format(m, v) for m, v in base.items()])
    assert main(["calibrate", "--from", TINY, "--out", str(tmp_path / "a"), "--labels", labels,
                 "--accelerator", "ethos-u55-256"]) == 2
    assert "applies to an Ethos-U base" in capsys.readouterr().err
    assert main(["calibrate", "--from", "ethos-u55-128", "--out", str(tmp_path / "b"),
                 "--labels", labels, "--accelerator", "ethos-u65-512"]) == 2
    err = capsys.readouterr().err
    assert "no block model for accelerator 'ethos-u65-512'" in err and "Traceback" not in err
    assert not os.path.exists(str(tmp_path / "a")) and not os.path.exists(str(tmp_path / "b"))


def test_a_bundle_calibrated_for_an_unknown_accelerator_is_refused(tmp_path):
    from edge_predictor.errors import BundleError

    base = _base_latency()
    out = str(tmp_path / "cal")
    calibrate_bundle(TINY, [(fixture_path(m), {"latency_ms": 2.0 * v}) for m, v in base.items()],
                     out, {"kind": "labels"})
    meta_path = os.path.join(out, "meta.json")
    meta = json.load(open(meta_path))
    meta["calibration"]["accelerator"] = "ethos-u85-2048"
    json.dump(meta, open(meta_path, "w"))
    with pytest.raises(BundleError, match="ethos-u85-2048"):
        Predictor.load(out)


def test_each_metric_answers_from_the_features_leave_one_out_prefers(tmp_path):
    from edge_predictor.accelerator import AcceleratorView

    base = Predictor.load("ethos-u55-128")
    on_256 = Predictor.load("ethos-u55-128")
    on_256.view = AcceleratorView("ethos-u55-128", "ethos-u55-256", on_256.metrics)
    models = [os.path.join(EXAMPLES, m) for m in ("cnn-kws-900000.tflite", "ds_cnn.tflite")]
    models += [fixture_path(m) for m in ("conv", "depthwise")]
    # latency as the 256's features answer it, SRAM as the trained ones do (scaled by peaks)
    samples = [(m, {"latency_ms": on_256.predict(m)["latency_ms"],
                    "sram_kib": base.predict(m)["sram_kib"]}) for m in models]
    assert any(abs(on_256.predict(m)["latency_ms"] / base.predict(m)["latency_ms"] - 1) > 0.05
               for m in models)  # the two feature sets do answer differently
    out = str(tmp_path / "cal")
    meta = calibrate_bundle("ethos-u55-128", samples, out, {"kind": "labels"},
                            accelerator="ethos-u55-256")
    fits = meta["calibration"]["metrics"]
    assert fits["latency_ms"]["features"] == "accelerator"
    assert fits["latency_ms"]["features_loo_mape"]["accelerator"] == pytest.approx(0, abs=1e-9)
    assert fits["latency_ms"]["features_loo_mape"]["trained"] > 0
    cal = Predictor.load(out)
    assert cal.view.from_accelerator == {"latency_ms"}
    for m, labels in samples:
        assert cal.predict(m)["latency_ms"] == pytest.approx(labels["latency_ms"], rel=1e-6)
    # features made without the accelerator's set cannot answer the latency: a clear error
    from edge_predictor.featurize import featurize
    from edge_predictor.tflite_reader import read_model

    with pytest.raises(InputError, match="replayed for the ethos-u55-256"):
        cal.predict_features(featurize(read_model(models[0])))
    many = cal.predict_many(models)
    assert [a["latency_ms"] for a in many] == pytest.approx(
        [lab["latency_ms"] for _, lab in samples], rel=1e-6)


@pytest.mark.train
def test_an_npu_base_without_labels_is_calibrated_by_vela_here(tmp_path, capsys):
    pytest.importorskip("ethosu.vela")
    from edge_predictor.validate import make_measurer

    models = [fixture_path(m) for m in ("conv", "depthwise", "transpose_conv")]
    out = str(tmp_path / "u55-64")
    assert main(["calibrate", *models, "--from", "ethos-u55-128", "--accelerator",
                 "ethos-u55-64", "--out", out]) == 0
    captured = capsys.readouterr()
    assert "compiling with Vela for the ethos-u55-64" in captured.err
    cal = Predictor.load(out)
    assert cal.accelerator == "ethos-u55-64"
    source = cal.calibration["source"]
    assert source["kind"] == "vela" and source["accelerator"] == "ethos-u55-64"
    assert source["labeler"]["accelerator"] == "ethos-u55-64"
    assert source["labeler"]["labeler_version"]
    vela64 = make_measurer("ethos-u55-64")
    for metric in ("latency_ms", "sram_kib", "energy_mj"):
        assert cal.calibration["metrics"][metric]["n"] == 3
    # the labels it fitted are Vela's for the 64, not the 128's
    labels = {m: vela64(m)[0] for m in models}
    assert labels[models[0]]["latency_ms"] != make_measurer("ethos-u55-128")(
        models[0])[0]["latency_ms"]
    base = Predictor.load("ethos-u55-128")

    def error(p):
        return np.mean([abs(p.predict(m)["latency_ms"] / labels[m]["latency_ms"] - 1)
                        for m in models])
    assert error(cal) < 0.5 * error(base)  # the 128's answers are far from the 64's
