"""Tests of the adaptation bench's scoring and report (benches.adaptation), synthetic data."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from benches import adaptation as A  # noqa: E402


def test_stats_are_mape_share_within_10_and_spearman():
    s = A._stats(np.array([1.0, 2.1, 2.85]), np.array([1.0, 2.0, 3.0]))
    assert s == {"n": 3, "mape": round(100 * (0 + 0.05 + 0.05) / 3, 2), "within10": 100.0,
                 "spearman": 1.0}
    assert A._stats(np.array([2.0, 1.0, 3.0]), np.array([1.0, 2.0, 3.0]))["within10"] == \
        pytest.approx(33.3)


def test_report_has_a_row_per_n_and_held_out_set(tmp_path):
    st = {"n": 4, "mape": 5.0, "within10": 75.0, "spearman": 0.9}
    sets = {k: {m: st for m in ("base", "scale", "factors", "calibrated", "analytical-refit")}
            for k in ("fresh", "zoo")}
    doc = {"command": "python -m benches.adaptation", "when": "2026-12-03", "pool_per_space": 6,
           "settings": {"cpu-t2": {"base": "cpu-x", "pool": 30, "metrics": {"latency_ms": {
               str(n): {"chosen": [], "method": "groups", "loo_mape": 3.0, "sets": sets}
               for n in A.COUNTS}}}}}
    md = A.render_markdown(doc)
    assert md.count("| zoo (n=4) |") == len(A.COUNTS) and "## cpu-t2" in md
    A._plot(doc, str(tmp_path / "a.png"))
    assert (tmp_path / "a.png").stat().st_size > 1000


def test_calibrated_scores_and_coverage_are_those_of_the_written_bundle(tmp_path):
    import json
    import os
    import shutil

    from conftest import FIXTURES, fixture_path

    from edge_predictor.featurize import featurize
    from edge_predictor.runtime import Predictor
    from edge_predictor.tflite_reader import read_model

    folder = str(tmp_path / "b")
    shutil.copytree(os.path.join(FIXTURES, "tiny_bundle"), folder)
    meta = json.load(open(os.path.join(folder, "meta.json")))
    meta["interval"] = {"latency_ms": {"edges": [], "q10": [-0.05], "q90": [0.05], "n": [9]}}
    json.dump(meta, open(os.path.join(folder, "meta.json"), "w"))
    names = ["conv", "depthwise", "transpose_conv", "float_mlp"]
    paths = {n: fixture_path(n) for n in names}
    feats = {n: featurize(read_model(paths[n])) for n in names}
    base = Predictor.load(folder)
    pred = {n: base.predict_features(feats[n], n)["latency_ms"] for n in names}
    held = {"zoo": names}
    # the measurements are the base's answers: calibration leaves it alone, every one inside
    right = {n: {"latency_ms": pred[n]} for n in names}
    fit, preds, cov = A._calibrated(folder, "latency_ms", names[:3], paths, right, held, feats,
                                    None)
    assert cov["zoo"]["coverage"] == 100.0 and cov["zoo"]["width"] == pytest.approx(
        np.exp(0.1), rel=1e-3)
    assert fit["method"] == "none"  # and its answers are the bundle's
    assert preds["zoo"] == pytest.approx([pred[n] for n in names])
    # a machine 3x slower on the held-out models only: outside every interval
    off = dict(right, **{n: {"latency_ms": 3.0 * pred[n]} for n in names[3:]})
    _, _, cov = A._calibrated(folder, "latency_ms", names[:3], paths, off, held, feats, None)
    assert cov["zoo"]["coverage"] == 75.0
