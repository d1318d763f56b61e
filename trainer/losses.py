"""PerfSAGE's hybrid loss (paper Eq. 3-4): MAPE + alpha x MSE, and the MAPE-only ablation.

Both tensors are in the *model space* of :mod:`trainer.targets` (float32 [B, M]).

**MAPE term** -- on the de-transformed values, as the paper and its users measure error:
``|y_pred - y_true| / |y_true|`` in units, as a fraction (0.05 = 5%). For ``log`` metrics it is
computed as ``|exp(std * (z_pred - z_true)) - 1|``, which is the same number without forming two
exponentials; the log ratio is clipped to +-10 so a wild early prediction stays finite.

**MSE term** -- on the *standardised log* scale, ``(z_pred - z_true) ** 2``. Why not in units,
as Eq. 3 literally reads: in units the term's size depends on the metric's unit and magnitude
(a 200 KiB SRAM label would swamp a 2 ms latency, and the paper's alpha = 10 would mean
something else for every target and metric), so one alpha could not serve every metric of a
multi-metric head. On the standardised log scale alpha is unit-free and comparable across metrics
and targets, and the term still does what §4.3 asks of it: it is quadratic, so it restrains the
large errors (the tail the MAPE term penalises only linearly) and it is symmetric in the ratio,
which counters MAPE's well-known pull towards under-prediction. Eq. 3's "MSE" is really a root
(an absolute error); the squared form is the conventional MSE and is smooth at zero.

Multi-metric: the per-metric loss ``MAPE_m + alpha * MSE_m`` is averaged over the M metrics (and
over the batch). :func:`hybrid_loss_np` is the NumPy twin used by tests and reports.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from .targets import Targets

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before any TensorFlow import

__all__ = ["hybrid_loss", "hybrid_loss_np", "mape_np", "DEFAULT_ALPHA", "LOSSES"]

DEFAULT_ALPHA = 10.0
LOSSES = ("hybrid", "mape")
_MAX_LOG_RATIO = 10.0


def hybrid_loss(targets: Targets, alpha: float = DEFAULT_ALPHA, kind: str = "hybrid"
                ) -> Callable:
    """The loss function ``loss(z_true, z_pred) -> scalar`` for TensorFlow.

    Args:
        targets: the metric transforms (gives std and the transform per metric).
        alpha: weight of the MSE term (paper: 10).
        kind: ``"hybrid"`` (MAPE + alpha x MSE) or ``"mape"`` (the ablation: MAPE only).

    Returns:
        A function of two float32 tensors [B, M] (model space) returning a float32 scalar.
    """
    import tensorflow as tf

    if kind not in LOSSES:
        raise ValueError("unknown loss {!r}; known: {}".format(kind, ", ".join(LOSSES)))
    std = tf.constant(np.asarray(targets.std), tf.float32)
    is_log = tf.constant(np.array([tr == "log" for tr in targets.transforms]))
    w = 0.0 if kind == "mape" else float(alpha)

    def loss(z_true, z_pred):
        z_true = tf.cast(z_true, tf.float32)
        z_pred = tf.cast(z_pred, tf.float32)
        d = z_pred - z_true
        ratio = tf.exp(tf.clip_by_value(d * std, -_MAX_LOG_RATIO, _MAX_LOG_RATIO)) - 1.0
        y_true = targets.from_model_tf(z_true)
        ape = tf.where(is_log, tf.abs(ratio),
                       tf.abs(d * std) / tf.maximum(tf.abs(y_true), 1e-12))
        per_metric = tf.reduce_mean(ape, axis=0) + w * tf.reduce_mean(tf.square(d), axis=0)
        return tf.reduce_mean(per_metric)

    return loss


def mape_np(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """float64 [M] mean absolute percentage error (fraction) per metric of [G, M] unit arrays."""
    y_true = np.asarray(y_true, np.float64)
    y_pred = np.asarray(y_pred, np.float64)
    return np.mean(np.abs(y_pred - y_true) / np.maximum(np.abs(y_true), 1e-12), axis=0)


def hybrid_loss_np(targets: Targets, z_true: np.ndarray, z_pred: np.ndarray,
                   alpha: float = DEFAULT_ALPHA, kind: str = "hybrid") -> float:
    """NumPy twin of :func:`hybrid_loss` on [G, M] model-space arrays (no clipping)."""
    if kind not in LOSSES:
        raise ValueError("unknown loss {!r}; known: {}".format(kind, ", ".join(LOSSES)))
    z_true = np.asarray(z_true, np.float64)
    z_pred = np.asarray(z_pred, np.float64)
    ape = mape_np(targets.from_model(z_true), targets.from_model(z_pred))
    mse = np.mean((z_pred - z_true) ** 2, axis=0)
    return float(np.mean(ape + (0.0 if kind == "mape" else alpha) * mse))
