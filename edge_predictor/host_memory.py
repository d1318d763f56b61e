"""How an operator's time inside a model differs from its time alone: weights that went cold.

An operator timed alone (:mod:`edge_predictor.op_profile`) is invoked again and again, so its
weights stay in the core's cache between runs. Inside a model every other operator's weights and
activations pass through the cache between two runs of it: once a model's weights outgrow the
cache, an operator must stream its weights from further out, and one bound by them (a
matrix-vector product, a 1x1 convolution of few positions) runs at that bandwidth, not at its
cached speed. On an Intel Xeon (2 MiB of L2 per core) a model of 3 MB of fully-connected
weights ran 3.2x its operators' sum alone, a ResNet-34 1.33x, a MobileNetV2 1.12x
(``docs/calibration.md``).

The model here is a roofline per operator::

    in_model_us = max(alone_us, cold * weight_bytes / bandwidth)
    cold        = max(0, 1 - cache_bytes / model_weight_bytes)

Both numbers are the host's, measured, not fitted to the calibration models: ``bandwidth`` from
the probe grid's one-row FULLY_CONNECTED layers whose weights no core cache holds
(:data:`STREAM_BYTES`; alone they stream their weights on every run), ``cache_bytes`` half the
core's L2 cache (the other half holds the activations), :data:`DEFAULT_CACHE_BYTES` where the
host does not say.

Pure numpy; Python 3.7 compatible.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

import numpy as np

__all__ = ["NONE", "STREAM_BYTES", "DEFAULT_CACHE_BYTES", "in_model_us", "stream_bandwidth",
           "cache_bytes"]

#: the (bandwidth GB/s, cache bytes) of no term: the plain sum
NONE = (float("inf"), 0.0)
#: weights of a one-row layer beyond any core's cache: its time alone is a stream from memory
STREAM_BYTES = 8e6
#: the cache for weights where the host does not report its L2
DEFAULT_CACHE_BYTES = 1 << 20


def in_model_us(alone_us: np.ndarray, weight_bytes: np.ndarray, bandwidth_gbps: float,
                cache: float) -> np.ndarray:
    """Each operator's microseconds inside its model.

    Args:
        alone_us: float [N] each operator's time alone.
        weight_bytes: float [N] its constant inputs' bytes.
        bandwidth_gbps: the host's bandwidth for cold weights, GB/s (inf: none).
        cache: the weight bytes a model may hold without any going cold.

    Returns:
        float [N] ``max(alone_us, cold * weight_bytes / bandwidth)``.
    """
    alone_us = np.asarray(alone_us, np.float64)
    if not np.isfinite(bandwidth_gbps) or bandwidth_gbps <= 0:
        return alone_us
    wb = np.maximum(np.asarray(weight_bytes, np.float64), 0.0)
    total = float(wb.sum())
    cold = max(0.0, 1.0 - cache / total) if total > 0 else 0.0
    return np.maximum(alone_us, cold * wb / (bandwidth_gbps * 1e3))


def stream_bandwidth(weight_bytes: np.ndarray, time_us: np.ndarray,
                     one_row: np.ndarray) -> float:
    """GB/s of streaming weights: the median over timed one-row layers of at least
    :data:`STREAM_BYTES` of bytes / time; inf (no term) when there is none.

    Args:
        weight_bytes: float [M] timed operators' constant bytes.
        time_us: float [M] their times alone (NaN: not timed).
        one_row: bool [M] one-row FULLY_CONNECTED layers.
    """
    wb, t = np.asarray(weight_bytes, np.float64), np.asarray(time_us, np.float64)
    ok = np.asarray(one_row, bool) & (wb >= STREAM_BYTES) & np.isfinite(t) & (t > 0)
    if not ok.any():
        return float("inf")
    return float(np.median(wb[ok] / t[ok])) * 1e-3


def cache_bytes(path: str = "/sys/devices/system/cpu/cpu0/cache") -> Tuple[float, Optional[int]]:
    """(the weight bytes a model may keep cached: half the core's L2, the L2 bytes or None when
    the host does not report it; then :data:`DEFAULT_CACHE_BYTES`)."""
    try:
        for entry in sorted(os.listdir(path)):
            d = os.path.join(path, entry)
            with open(os.path.join(d, "level")) as f:
                if f.read().strip() != "2":
                    continue
            with open(os.path.join(d, "size")) as f:
                text = f.read().strip().upper()
            mult = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
            l2 = int(text.rstrip("KM")) * mult
            return l2 / 2.0, l2
    except (OSError, ValueError):
        pass
    return float(DEFAULT_CACHE_BYTES), None
