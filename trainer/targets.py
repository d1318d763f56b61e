"""Metric transforms between units and PerfSAGE's model space, as plain JSON numbers.

Every metric is positive and spans an order of magnitude or more, so the network predicts
``z = (log(value) - mean) / std`` with ``mean``/``std`` of ``log(value)`` over the training
labels; the inverse is ``value = exp(z * std + mean)``. A metric not in :data:`METRICS` that may
be zero or negative can use the ``"identity"`` transform (``value = z * std + mean``). The
converter bakes the inverse into the exported predictor from ``targets.json``
(:meth:`Targets.to_json`), so nothing here is more than a formula and two numbers per metric.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

__all__ = ["METRICS", "Targets", "unit", "default_metrics", "TRANSFORMS", "AGGREGATES",
           "aggregate"]

#: metric -> (unit, transform)
METRICS: Dict[str, Tuple[str, str]] = {
    "latency_ms": ("ms", "log"),
    "sram_kib": ("KiB", "log"),
    "energy_mj": ("mJ", "log"),
}
TRANSFORMS = ("log", "identity")
#: metric -> how per-operator costs make the model's value: ``"sum"`` over the schedule (time,
#: energy) or ``"peak"`` (memory in use: the largest set of buffers alive at one time).
AGGREGATES: Dict[str, str] = {"latency_ms": "sum", "sram_kib": "peak", "energy_mj": "sum"}
_NPU_ESTIMATED = ("ethos-u55-128",)  # NPU energy is an estimate (no meter), DESIGN.md


def unit(target: str, metric: str) -> str:
    """The unit of a metric on a target, e.g. ``"mJ (estimate)"`` for NPU energy."""
    u = METRICS.get(metric, ("", "identity"))[0]
    if metric == "energy_mj" and target in _NPU_ESTIMATED:
        return u + " (estimate)"
    return u


def aggregate(metric: str) -> str:
    """``"sum"`` or ``"peak"`` (see :data:`AGGREGATES`); unknown metrics are sums."""
    return AGGREGATES.get(metric, "sum")


def default_metrics(target: str) -> Tuple[str, ...]:
    """The metrics a target's labels have: Vela gives three, live targets latency."""
    if target.startswith("ethos-u"):
        return ("latency_ms", "sram_kib", "energy_mj")
    return ("latency_ms",)


@dataclass
class Targets:
    """The transforms of one target's metrics (columns of the model output, in order).

    Attributes:
        target: target name, e.g. ``"ethos-u55-128"``.
        metrics: metric names, length M.
        transforms: ``"log"`` or ``"identity"`` per metric.
        mean: per metric, the mean of the transformed training labels.
        std: per metric, their standard deviation (floored at 1e-6).
    """

    target: str
    metrics: List[str]
    transforms: List[str]
    mean: List[float]
    std: List[float]

    @classmethod
    def fit(cls, target: str, metrics: Sequence[str], y: np.ndarray) -> "Targets":
        """Fit on training labels.

        Args:
            target: the target name.
            metrics: M metric names.
            y: float [G, M] labels in units (positive for ``log`` metrics).

        Raises:
            ValueError: a ``log`` metric has a label <= 0.
        """
        y = np.asarray(y, dtype=np.float64).reshape(len(y), len(metrics))
        transforms = [METRICS.get(m, ("", "identity"))[1] for m in metrics]
        cols = []
        for j, (m, tr) in enumerate(zip(metrics, transforms)):
            if tr == "log" and (y[:, j] <= 0).any():
                raise ValueError("metric {} has labels <= 0: no log transform".format(m))
            cols.append(np.log(y[:, j]) if tr == "log" else y[:, j])
        t = np.stack(cols, axis=1) if cols else np.zeros((0, 0))
        return cls(target, list(metrics), transforms, [float(v) for v in t.mean(axis=0)],
                   [float(max(v, 1e-6)) for v in t.std(axis=0)])

    def _arrays(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.asarray(self.mean), np.asarray(self.std),
                np.array([tr == "log" for tr in self.transforms]))

    def to_model(self, y: np.ndarray) -> np.ndarray:
        """float32 [G, M] model-space values of labels ``y`` float [G, M] in units."""
        mean, std, is_log = self._arrays()
        y = np.asarray(y, dtype=np.float64)
        t = np.where(is_log, np.log(np.where(is_log, y, 1.0)), y)
        return ((t - mean) / std).astype(np.float32)

    def from_model(self, z: np.ndarray) -> np.ndarray:
        """float64 [G, M] values in units of model outputs ``z`` float [G, M]."""
        mean, std, is_log = self._arrays()
        t = np.asarray(z, dtype=np.float64) * std + mean
        return np.where(is_log, np.exp(np.clip(t, -700.0, 700.0)), t)

    def from_model_tf(self, z):
        """The same as :meth:`from_model` on a float32 tensor [B, M] (for losses and export).

        The log exponent is clipped at +-80 so that a wild early prediction gives a large, finite
        value instead of inf.
        """
        import tensorflow as tf

        mean, std, is_log = self._arrays()
        t = z * tf.constant(std, tf.float32) + tf.constant(mean, tf.float32)
        return tf.where(tf.constant(is_log), tf.exp(tf.clip_by_value(t, -80.0, 80.0)), t)

    def units(self) -> List[str]:
        """The unit of every metric."""
        return [unit(self.target, m) for m in self.metrics]

    def to_json(self) -> Dict[str, Any]:
        """``{"target", "metrics": [{"name", "unit", "transform", "mean", "std", "inverse"}]}``."""
        return {"target": self.target, "metrics": [
            {"name": m, "unit": unit(self.target, m), "transform": tr, "mean": mu, "std": sd,
             "inverse": "exp(z * std + mean)" if tr == "log" else "z * std + mean"}
            for m, tr, mu, sd in zip(self.metrics, self.transforms, self.mean, self.std)]}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Targets":
        """Inverse of :meth:`to_json`."""
        ms = data["metrics"]
        for m in ms:
            if m["transform"] not in TRANSFORMS:
                raise ValueError("unknown transform {!r} for {}".format(m["transform"],
                                                                        m["name"]))
        return cls(data["target"], [m["name"] for m in ms], [m["transform"] for m in ms],
                   [float(m["mean"]) for m in ms], [float(m["std"]) for m in ms])

    def save(self, path: str) -> None:
        """Write :meth:`to_json` to ``path``."""
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=2)

    @classmethod
    def load(cls, path: str) -> "Targets":
        """Read a file written by :meth:`save`."""
        with open(path) as f:
            return cls.from_json(json.load(f))
