"""A bundle answering for another Ethos-U configuration than its network was trained on.

The NPU bundle's network learnt Vela's ``ethos-u55-128`` from features that replay that
configuration's OFM blocks, cycles and weight buffers (:mod:`edge_predictor.npu_blocks`,
:mod:`edge_predictor.npu_schedule`). A bundle calibrated for another configuration
(``edge-perf calibrate --accelerator ethos-u55-64``) answers each metric one of two ways, the
one whose leave-one-out error on the calibration's labels is lower
(:func:`edge_predictor.calibrate.calibrate_bundle`):

* ``"trained"``: the network on the features it was trained on;
* ``"accelerator"``: the network on the features replayed for the other configuration (its
  cycles carry twice or half the MACs into the latency).

Either way the SRAM answer is scaled by the two configurations' analytical SRAM peaks
(:func:`edge_predictor.npu_schedule.sram_peak`): weight slices double-buffered in another size
move the peak as no factor can. The calibration's factors then apply on top. Measured in
``docs/npu-accelerators.md``. Pure Python; Python 3.7 compatible.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from .errors import BundleError, InputError
from .featurize import GraphFeatures, featurize
from .npu_blocks import ACCELERATORS, DEFAULT_ARCH

__all__ = ["SRAM_METRIC", "TRAINED", "ACCELERATOR", "AcceleratorView", "check_accelerator"]

#: the metric scaled by the analytical SRAM peaks
SRAM_METRIC = "sram_kib"
#: a calibrated metric's ``features``: the trained configuration's, or the accelerator's
TRAINED, ACCELERATOR = "trained", "accelerator"


def check_accelerator(base_target: str, accelerator: str) -> None:
    """Raise unless a base of ``base_target`` can be calibrated for ``accelerator``.

    Raises:
        InputError: the base is not an Ethos-U target, or no block model knows the accelerator.
    """
    if base_target not in ACCELERATORS:
        raise InputError("--accelerator applies to an Ethos-U base ({}), not {}".format(
            ", ".join(sorted(ACCELERATORS)), base_target))
    if accelerator not in ACCELERATORS:
        raise InputError("no block model for accelerator {!r} (known: {})".format(
            accelerator, ", ".join(sorted(ACCELERATORS))))


class AcceleratorView:
    """Which configuration a bundle's features describe, per metric.

    Args:
        trained: the configuration the network was trained on.
        accelerator: the one the bundle answers for (the same: nothing changes).
        from_accelerator: metrics answered from the accelerator's features.
    """

    def __init__(self, trained: str, accelerator: Optional[str] = None,
                 from_accelerator: Iterable[str] = ()):
        self.trained = trained
        self.accelerator = accelerator or trained
        self.from_accelerator = (frozenset(from_accelerator) if self.accelerator != trained
                                 else frozenset())

    @classmethod
    def of_bundle(cls, path: str, target: str, calibration: Optional[dict]) -> "AcceleratorView":
        """The view a bundle's meta asks for (a calibration's ``accelerator`` and its metrics'
        ``features``).

        Raises:
            BundleError: an accelerator this edge-perf has no block model for.
        """
        cal = calibration or {}
        base = cal.get("base", {}).get("target", target)
        trained = base if base in ACCELERATORS else DEFAULT_ARCH.name
        accelerator = cal.get("accelerator") or trained
        if accelerator not in ACCELERATORS:
            raise BundleError("{}: calibrated for accelerator {!r}, which this edge-perf has no "
                              "block model for".format(path, accelerator))
        return cls(trained, accelerator, [m for m, fit in (cal.get("metrics") or {}).items()
                                          if fit.get("features") == ACCELERATOR])

    @property
    def key(self):
        """What the features depend on (predictors with one key can share them)."""
        return self.trained, self.accelerator, bool(self.from_accelerator)

    def featurize(self, graph) -> GraphFeatures:
        """The trained configuration's features with both SRAM peaks and, when a metric
        answers from them, the accelerator's features in ``alt``."""
        if self.accelerator == self.trained:
            return featurize(graph, self.trained)
        if not self.from_accelerator:
            return featurize(graph, self.trained, (self.accelerator,))
        feats, alt = featurize(graph, self.trained), featurize(graph, self.accelerator)
        feats.sram_peaks[self.accelerator] = alt.sram_peaks[self.accelerator]
        feats.alt = alt
        return feats

    def accelerated(self, feats: GraphFeatures) -> GraphFeatures:
        """The accelerator's features that :meth:`featurize` put in ``feats.alt``.

        Raises:
            InputError: ``feats`` has none (featurized without :meth:`featurize`).
        """
        if feats.alt is None:
            raise InputError("this bundle answers {} from features replayed for the {}: "
                             "featurize with Predictor.featurize".format(
                                 ", ".join(sorted(self.from_accelerator)), self.accelerator))
        return feats.alt

    def features(self, metric: str, feats: GraphFeatures) -> GraphFeatures:
        """The features ``metric`` is answered from (:meth:`accelerated` for those in
        ``from_accelerator``)."""
        return self.accelerated(feats) if metric in self.from_accelerator else feats

    def merge(self, metrics: Sequence[str], row, alt_row):
        """One answer row [M] from the trained features' ``row`` and the accelerator's."""
        return [a if m in self.from_accelerator else v
                for m, v, a in zip(metrics, row, alt_row)]

    def sram(self, metric: str, value: float, feats: GraphFeatures) -> float:
        """``value`` moved to the accelerator: SRAM times the ratio of the two analytical
        peaks (read from the trained features' ``sram_peaks``); other metrics unchanged."""
        if metric != SRAM_METRIC or self.accelerator == self.trained:
            return value
        peaks = feats.sram_peaks or {}
        to, of = peaks.get(self.accelerator, 0.0), peaks.get(self.trained, 0.0)
        return value * to / of if to > 0 and of > 0 else value
