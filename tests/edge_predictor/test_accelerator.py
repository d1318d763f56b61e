"""AcceleratorView: which Ethos-U configuration a bundle's features describe, per metric (pure
Python; the end-to-end calibration is in test_calibrate.py)."""

import numpy as np
import pytest

from edge_predictor.accelerator import ACCELERATOR, TRAINED, AcceleratorView
from edge_predictor.errors import BundleError, InputError
from edge_predictor.featurize import GraphFeatures


def _feats(peaks=None, alt=None):
    return GraphFeatures(x=np.zeros((1, 1), np.float32), categories=np.zeros(1, np.int32),
                         op_ids=np.zeros(1, np.int32), edges=np.zeros((0, 2), np.int32),
                         sram_peaks=peaks, alt=alt)


def test_a_bundle_reads_its_view_from_the_calibration():
    plain = AcceleratorView.of_bundle("b", "ethos-u55-128", None)
    assert (plain.trained, plain.accelerator, plain.from_accelerator) == (
        "ethos-u55-128", "ethos-u55-128", frozenset())
    cpu = AcceleratorView.of_bundle("b", "cpu-epyc-litert-t1", None)
    assert cpu.trained == cpu.accelerator == "ethos-u55-128"  # the featurizer's default
    cal = {"base": {"target": "ethos-u55-128"}, "accelerator": "ethos-u55-64",
           "metrics": {"latency_ms": {"features": ACCELERATOR},
                       "sram_kib": {"features": TRAINED}, "energy_mj": {}}}
    view = AcceleratorView.of_bundle("b", "my-u55-64", cal)
    assert (view.trained, view.accelerator) == ("ethos-u55-128", "ethos-u55-64")
    assert view.from_accelerator == {"latency_ms"}
    assert view.key != plain.key
    with pytest.raises(BundleError, match="ethos-u65-512"):
        AcceleratorView.of_bundle("b", "x", dict(cal, accelerator="ethos-u65-512"))


def test_sram_moves_by_the_peaks_and_nothing_else_does():
    view = AcceleratorView("ethos-u55-128", "ethos-u55-256")
    feats = _feats({"ethos-u55-128": 200.0, "ethos-u55-256": 150.0})
    assert view.sram("sram_kib", 100.0, feats) == pytest.approx(75.0)
    assert view.sram("latency_ms", 100.0, feats) == 100.0
    assert view.sram("sram_kib", 100.0, _feats({"ethos-u55-128": 0.0})) == 100.0  # no peak
    same = AcceleratorView("ethos-u55-128")
    assert same.sram("sram_kib", 100.0, feats) == 100.0 and not same.from_accelerator


def test_metrics_from_the_accelerator_take_its_features_or_say_they_are_missing():
    view = AcceleratorView("ethos-u55-128", "ethos-u55-64", ["latency_ms"])
    alt = _feats()
    feats = _feats(alt=alt)
    assert view.features("latency_ms", feats) is alt
    assert view.features("sram_kib", feats) is feats
    assert view.merge(["latency_ms", "sram_kib"], [1.0, 2.0], [3.0, 4.0]) == [3.0, 2.0]
    with pytest.raises(InputError, match="latency_ms from features replayed for the "
                                         "ethos-u55-64"):
        view.features("latency_ms", _feats())
    # the same configuration: nothing comes from elsewhere, whatever is asked
    assert not AcceleratorView("ethos-u55-128", "ethos-u55-128", ["latency_ms"]).from_accelerator
