"""The bundled predictors answer the same on the example models in every environment."""

import json
import os

import pytest

from edge_predictor.bundle import list_bundles
from edge_predictor.runtime import Predictor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPECTED = os.path.join(ROOT, "examples", "models", "expected_predictions.json")


def test_bundled_targets_exist_and_predictions_were_recorded():
    assert list_bundles(), "no bundled predictor in edge_predictor/bundles/"
    assert os.path.exists(EXPECTED), "run python -m examples.record_predictions"


@pytest.mark.skipif(not os.path.exists(EXPECTED), reason="no recorded predictions")
def test_predictions_match_the_recorded_ones_within_1e4():
    with open(EXPECTED) as f:
        expected = json.load(f)["predictions"]
    assert set(t for per in expected.values() for t in per) == set(list_bundles())
    for name, per_target in expected.items():
        path = os.path.join(ROOT, "examples", "models", name)
        for target, metrics in per_target.items():
            got = Predictor.load(target).predict(path)
            for metric, value in metrics.items():
                assert got[metric] == pytest.approx(value, rel=1e-4), (name, target, metric)
