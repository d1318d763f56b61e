"""A p10-p90 interval on every answer, from held-out errors (pure numpy).

How sure the predictor is depends on how far the model is from what it trained on. A usable
signal of that, which needs nothing but the featurized graph, is how far the network's answer
departs from the analytical model under it: on models like its training data the network's
learned correction is small and known; on an architecture it never saw, a large correction is a
guess. So a bundle's ``interval`` spec holds, per metric, quantiles of the held-out log error
``ln(measured / predicted)`` in bins of that *departure* ``|ln(predicted / analytical)|``
(:func:`fit_spec`), fitted by ``python -m benches.intervals`` on fresh models and the zoo of
real architectures, with its coverage measured leave-one-family-out. :func:`bounds` turns an
answer into ``[p10, p90]``.

Python 3.7 compatible; no TensorFlow.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["LOW", "HIGH", "analytical_of", "departure", "fit_spec", "bounds", "widen",
           "group_coverage"]

LOW, HIGH = 0.10, 0.90


def analytical_of(feats, target: str, metric: str) -> Optional[float]:
    """The analytical model's figure of ``metric`` for a featurized graph, in the metric's unit
    (NPU: cycles at the clock, the activation peak, the energy sum; a CPU target: the host
    table's sum), or None where there is none."""
    from .featurize import raw_columns

    if target.startswith("ethos-u"):
        from .npu_cost import NPU_CLOCK_HZ

        if metric == "latency_ms":
            return float(raw_columns(feats, ("npu_cost_cycles",))[0].sum() / NPU_CLOCK_HZ * 1e3)
        if metric == "sram_kib":
            live, scratch = raw_columns(feats, ("npu_live_bytes", "npu_scratch_bytes"))
            return float((live + scratch).max() / 1024.0) if len(live) else 0.0
        if metric == "energy_mj":
            return float(raw_columns(feats, ("npu_energy_pj",))[0].sum() * 1e-9)
        return None
    if target.startswith("cpu") and metric == "latency_ms":
        from .calibration import shares_source
        from .cpu_cost import TERM_COLUMNS, cost_of, cpu_terms, table_for
        from .op_table import OP_VOCAB

        table = table_for(shares_source(target).split(":", 1)[1])
        ops = [OP_VOCAB[int(i)] for i in feats.op_ids]
        return float(cost_of(ops, cpu_terms(raw_columns(feats, TERM_COLUMNS)), table).sum()
                     * 1e-3)
    return None


def departure(predicted: float, analytical: Optional[float]) -> float:
    """``|ln(predicted / analytical)|``; infinite where the analytical figure is 0 or missing
    (the widest bin)."""
    if analytical is None or not analytical > 0 or not predicted > 0:
        return float("inf")
    return abs(float(np.log(predicted / analytical)))


def fit_spec(log_err: Sequence[float], dep: Sequence[float], bins: int = 2,
             levels: Tuple[float, float] = (LOW, HIGH)) -> Dict[str, List]:
    """Quantiles of the log error per departure bin.

    Args:
        log_err: [M] ``ln(measured / predicted)`` of held-out models.
        dep: [M] their :func:`departure`.
        bins: how many bins (edges at the departure's quantiles).
        levels: the empirical quantiles taken as the bounds: (0.1, 0.9) on a pool that is like
            the models to come; wider where a new family's errors are wider than the pool's
            (:func:`group_coverage` tells which levels cover 80% of a held-out family).

    Returns:
        ``{"edges": [bins - 1], "q10": [bins], "q90": [bins], "n": [bins]}``; a bin's interval
        is at least as wide on each side as the bins below it (more departure, no more
        certainty).
    """
    e, d = np.asarray(log_err, np.float64), np.asarray(dep, np.float64)
    finite = d[np.isfinite(d)]
    edges = [float(np.quantile(finite, k / bins)) for k in range(1, bins)] if len(finite) else []
    idx = np.searchsorted(edges, d, side="right")
    q10, q90, n = [], [], []
    for b in range(bins):
        sel = e[idx == b]
        lo, hi = (float(np.quantile(sel, levels[0])), float(np.quantile(sel, levels[1]))) \
            if len(sel) \
            else (q10[-1] if q10 else 0.0, q90[-1] if q90 else 0.0)
        if q10:
            lo, hi = min(lo, q10[-1]), max(hi, q90[-1])
        q10.append(round(lo, 5))
        q90.append(round(hi, 5))
        n.append(int(len(sel)))
    return {"edges": [round(x, 5) for x in edges], "q10": q10, "q90": q90, "n": n,
            "levels": [float(levels[0]), float(levels[1])]}


def bounds(predicted: float, dep: float, spec: Mapping[str, Sequence[float]]
           ) -> Tuple[float, float]:
    """``(p10, p90)`` of an answer with departure ``dep`` under ``spec``."""
    b = int(np.searchsorted(np.asarray(spec["edges"], np.float64), dep, side="right"))
    return (float(predicted * np.exp(spec["q10"][b])), float(predicted * np.exp(spec["q90"][b])))


def group_coverage(log_err: Sequence[float], dep: Sequence[float], groups: Sequence[str],
                   bins: int = 2, levels: Tuple[float, float] = (LOW, HIGH)
                   ) -> Dict[str, float]:
    """Leave-one-group-out: each group's models scored by a spec fitted on the other groups.

    Returns:
        ``{"coverage": share of models inside their p10-p90, "width": mean p90/p10 ratio}``.
    """
    e, d, g = np.asarray(log_err, np.float64), np.asarray(dep, np.float64), np.asarray(groups)
    inside, width = [], []
    for grp in sorted(set(g.tolist())):
        rest = g != grp
        spec = fit_spec(e[rest], d[rest], bins, levels)
        for i in np.flatnonzero(~rest):
            lo, hi = bounds(1.0, d[i], spec)
            inside.append(lo <= np.exp(e[i]) <= hi)
            width.append(hi / lo)
    return {"coverage": float(np.mean(inside)), "width": float(np.mean(width))}


def widen(value: float, lo: float, hi: float, loo_errors: Sequence[float]) -> Tuple[float, float]:
    """The p10-p90 of a calibrated answer: the base interval ``[lo, hi]`` around ``value`` and
    the calibration's own errors, added in quadrature in log space (two independent errors: the
    network's on this model, the calibration factors' on the new hardware).

    Args:
        value: the calibrated answer.
        lo, hi: the base interval (:func:`bounds`) around ``value``.
        loo_errors: [N] the calibration's leave-one-out relative errors, predicted / measured
            - 1 (:func:`edge_predictor.calibration.choose`).

    Returns:
        ``(p10, p90)``.
    """
    err = np.sort(np.log1p(np.asarray(loo_errors, np.float64)))  # ln(predicted / measured)
    # the conformal order statistics of n leave-one-out residuals: the k-th from each end,
    # k = floor(0.1 (n + 1)), holds a new exchangeable model's error with probability
    # (n + 1 - 2k) / (n + 1) (17/21 for n = 20; the interpolated 10th/90th percentiles hold
    # ~72%); fewer than 9 residuals: the extremes
    k = max(int(np.floor(LOW * (len(err) + 1))), 1)
    below = max(float(err[len(err) - k]), 0.0)  # predicted above measured: truth lower
    above = max(-float(err[k - 1]), 0.0)
    d_lo = float(np.hypot(max(np.log(value / lo), 0.0), below)) if lo > 0 else float("inf")
    d_hi = float(np.hypot(max(np.log(hi / value), 0.0), above)) if value > 0 else float("inf")
    return value * float(np.exp(-d_lo)), value * float(np.exp(d_hi))
