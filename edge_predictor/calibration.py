"""Adapting a predictor to new hardware from a few measurements (pure numpy).

A bundled predictor is right for the machine that labelled it. On another machine each kind of
kernel changes speed by its own factor (a board's convolutions may be 3x slower and its
elementwise kernels 1.5x: ``benches/results/cpu_host_scale.md`` measured 1.8-3.9x between two
VMs of one fingerprint, depending on the kind of model). So a calibrated prediction is the base
prediction times a mix of per-kernel-group factors weighted by where the model spends its time:

    ``calibrated = predicted * sum_g share_g * s_g``

``share_g`` [G] is the share of the model's analytical cost in kernel group ``g``
(:data:`KERNEL_GROUPS`, from :mod:`edge_predictor.cpu_cost` for a CPU target; for the NPU,
:data:`NPU_GROUPS`: the compute-bound operators' cycles of :mod:`edge_predictor.npu_cost` by kernel
group, the SRAM-bound and the flash-bound ones apart, since another accelerator size scales the
compute and not the memory), ``s_g`` the group's factor fitted on the user's
measurements: least squares on relative error, shrunk towards the single factor that fits them
all (:func:`fit_scale`) with a ridge chosen by leave-one-out. With few measurements the shrinkage
wins and it is a plain rescaling; with more, groups separate. :func:`choose` compares the two
ways by their leave-one-out error and returns the better.

Python 3.7 compatible; no TensorFlow.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Sequence

import numpy as np

from .op_table import lookup

__all__ = ["KERNEL_GROUPS", "NPU_GROUPS", "CPU_GROUPS", "RIDGES", "cpu_term_shares", "group_of",
           "group_shares", "shares_source", "groups_of", "shares_of", "pick_diverse", "fit_scale",
           "fit_groups", "loo_errors", "choose", "apply"]

#: kernel groups whose speed a new machine changes by a factor each
KERNEL_GROUPS = ("conv", "depthwise", "matmul", "elementwise", "other")
_GROUP_OF_CATEGORY = {"CONV": "conv", "TRANSPOSE_CONV": "conv", "DEPTHWISE_CONV": "depthwise",
                      "FULLY_CONNECTED": "matmul", "MATMUL": "matmul",
                      "ELEMENTWISE": "elementwise", "ACTIVATION": "elementwise",
                      "NORMALIZATION": "elementwise"}
#: the NPU's groups: compute-bound operators by kernel group, then those bound by SRAM or flash
#: access (:data:`edge_predictor.npu_cost.PARTS`)
NPU_GROUPS = KERNEL_GROUPS + ("sram-bound", "flash-bound")
#: a CPU's groups: each operator's time split by the host table's terms (``cpu_cost``): the MAC
#: term by kernel group (a new vector ISA, VNNI or AMX, speeds up multiply-accumulates, and
#: more in dense convolutions than in depthwise ones), the per-byte and per-element terms
#: (memory), and the per-operator constant (interpreter overhead)
CPU_GROUPS = ("conv-macs", "depthwise-macs", "matmul-macs", "other-macs", "memory", "overhead")
#: ridge strengths tried by leave-one-out (per measurement, towards the common factor)
RIDGES = (0.01, 0.03, 0.1, 0.3, 1.0)
_FLOOR = 1e-3


def group_of(op: str) -> str:
    """The kernel group of an operator type."""
    return _GROUP_OF_CATEGORY.get(lookup(op)[0].category, "other")


def group_shares(ops: Sequence[str], cost: np.ndarray, binding=None) -> np.ndarray:
    """float64 [G] the share of ``cost`` ([N] per operator, >= 0) in each group; uniform when
    the model costs nothing analytically.

    Args:
        ops: [N] operator types.
        cost: [N] analytical cost per operator.
        binding: None: G = :data:`KERNEL_GROUPS`; else int [N], the index of the NPU cost part
            that binds each operator (0 compute, 1 SRAM, 2 flash): G = :data:`NPU_GROUPS`.
    """
    names = KERNEL_GROUPS if binding is None else NPU_GROUPS
    out = np.zeros(len(names))
    index = {g: i for i, g in enumerate(names)}
    for k, (op, c) in enumerate(zip(ops, np.asarray(cost, np.float64))):
        part = 0 if binding is None else int(binding[k])
        g = group_of(op) if part == 0 else NPU_GROUPS[len(KERNEL_GROUPS) + part - 1]
        out[index[g]] += max(float(c), 0.0)
    total = out.sum()
    return out / total if total > 0 else np.full(len(names), 1.0 / len(names))


def cpu_term_shares(ops: Sequence[str], parts: np.ndarray) -> np.ndarray:
    """float64 [len(CPU_GROUPS)] shares of a model's CPU time by :data:`CPU_GROUPS`.

    Args:
        ops: [N] operator types.
        parts: float [N, K] each operator's time in each of ``cpu_cost.CPU_TERMS`` (const,
            macs, out_elements, in_bytes, weight_bytes), >= 0.
    """
    parts = np.maximum(np.asarray(parts, np.float64), 0.0)
    out = np.zeros(len(CPU_GROUPS))
    for op, row in zip(ops, parts):
        g = group_of(op)
        mac = {"conv": 0, "depthwise": 1, "matmul": 2}.get(g, 3)
        out[mac] += row[1]
        out[4] += row[2:].sum()
        out[5] += row[0]
    total = out.sum()
    return out / total if total > 0 else np.full(len(CPU_GROUPS), 1.0 / len(CPU_GROUPS))


def shares_source(target: str) -> str:
    """What a target's shares are computed from: ``"npu_binding"`` (the analytical NPU cycles by
    kernel group and binding part, :data:`NPU_GROUPS`) for an NPU target, else
    ``"cpu_cost:<table>"``: the target's own host-CPU table, or the first fitted one (the
    reference host) for a target without one. (``"npu_cost"``, the NPU cycles by kernel group
    alone, is what calibrations before 2026-12-03 used; it is still read.)"""
    if target.startswith("ethos-u"):
        return "npu_binding"
    from .cpu_cost_table import TABLES

    return "cpu_terms:" + (target if target in TABLES else sorted(TABLES)[0])


def groups_of(source: str) -> Sequence[str]:
    """The group names of a shares ``source``, in share order."""
    if source == "npu_binding":
        return NPU_GROUPS
    return CPU_GROUPS if source.startswith("cpu_terms:") else KERNEL_GROUPS


def shares_of(feats, source: str) -> np.ndarray:
    """float64 [G] :func:`group_shares` of a featurized graph
    (:class:`~edge_predictor.featurize.GraphFeatures`) by the analytical cost ``source``
    (:func:`shares_source`).

    Raises:
        ValueError: an unknown source, or ``"npu_binding"`` for features without
            ``npu_parts`` (read back from a cache rather than featurized).
    """
    from .featurize import raw_columns
    from .op_table import OP_VOCAB

    ops = [OP_VOCAB[int(i)] for i in feats.op_ids]
    if source == "npu_binding":
        parts = getattr(feats, "npu_parts", None)
        if parts is None:
            raise ValueError("npu_binding shares need features with npu_parts (featurize the "
                             "model itself, not a cached feature table)")
        return group_shares(ops, parts.max(1), np.argmax(parts, 1))
    if source.startswith(("cpu_terms:", "cpu_cost:")):
        from .cpu_cost import TERM_COLUMNS, coefficient_rows, cpu_terms, table_for

        kind, target = source.split(":", 1)
        # each operator's time in each term of the host table: [N, K] microseconds
        parts = cpu_terms(raw_columns(feats, TERM_COLUMNS)) * coefficient_rows(
            ops, table_for(target))
        if kind == "cpu_terms":
            return cpu_term_shares(ops, parts)
        cost = np.maximum(parts.sum(1), 0.0)  # cpu_cost.cost_of
    elif source == "npu_cost":
        cost = raw_columns(feats, ("npu_cost_cycles",))[0]
    else:
        raise ValueError("unknown shares source {!r}".format(source))
    return group_shares(ops, cost)


def pick_diverse(shares: np.ndarray, predicted: np.ndarray, count: int) -> List[int]:
    """Which ``count`` of M candidate models to measure: the ones that span the kernel mixes
    and the predictor's range. Greedy farthest-point (k-center) selection in the space of the
    kernel-group shares [M, G] and the log of the predicted value [M] (one decade weighs as much
    as moving all the time from one group to another), starting from the candidate nearest the
    median prediction; deterministic (ties: the lower index).

    Returns:
        [min(count, M)] candidate indices, in the order picked.
    """
    p = np.log10(np.maximum(np.asarray(predicted, np.float64), 1e-12))
    pts = np.concatenate([np.asarray(shares, np.float64), p[:, None]], 1)
    if not len(pts):
        return []
    first = int(np.argmin(np.abs(p - np.median(p))))
    picked = [first]
    dist = np.linalg.norm(pts - pts[first], axis=1)
    while len(picked) < min(count, len(pts)):
        nxt = int(np.argmax(dist))
        picked.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(pts - pts[nxt], axis=1))
    return picked


def fit_scale(ratio: np.ndarray) -> float:
    """The one factor that fits measured / predicted ``ratio`` [N] best in relative error: the
    minimiser of ``sum (s / r - 1)^2``, ``sum(1/r) / sum(1/r^2)``."""
    r = np.asarray(ratio, np.float64)
    return float(np.sum(1.0 / r) / np.sum(1.0 / r ** 2))


def fit_groups(shares: np.ndarray, ratio: np.ndarray, ridge: float) -> np.ndarray:
    """Per-group factors [G]: minimise ``sum_i (shares_i . s / r_i - 1)^2 + ridge * N *
    sum_g (s_g - s0)^2`` (``s0`` = :func:`fit_scale`), floored at a thousandth.

    The shrinkage is in the ratio's units: it fades where ratios are far below 1 (an analytical
    energy in pJ against labels in mJ, ~1e-9), and a group no model has then leaves the system
    singular; the least-squares solution is taken there. (Shrinking relative to ``s0`` instead
    was tried in session 7: the Ethos-U55-256's fresh families latency 9.8 -> 10.3%, the zoo
    13.4 -> 14.0%, as leave-one-out picks its ridge from the same grid.)

    Args:
        shares: float [N, G] each model's :func:`group_shares`.
        ratio: float [N] measured / predicted.
        ridge: shrinkage towards the common factor, per measurement.
    """
    r = np.asarray(ratio, np.float64)
    a = np.asarray(shares, np.float64) / r[:, None]
    s0 = fit_scale(r)
    lam = float(ridge) * len(r)
    g = a.shape[1]
    lhs, rhs = a.T @ a + lam * np.eye(g), a.T @ np.ones(len(r)) + lam * s0
    try:
        s = np.linalg.solve(lhs, rhs)
    except np.linalg.LinAlgError:
        s = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    return np.maximum(s, _FLOOR * s0)


def loo_errors(shares: np.ndarray, ratio: np.ndarray, ridge=None) -> np.ndarray:
    """float64 [N] leave-one-out relative errors of the calibrated prediction: each model
    predicted by factors fitted on the others (``ridge`` None: the single factor)."""
    shares, r = np.asarray(shares, np.float64), np.asarray(ratio, np.float64)
    out = np.zeros(len(r))
    for i in range(len(r)):
        rest = np.arange(len(r)) != i
        if ridge is None:
            factor = fit_scale(r[rest])
        else:
            factor = float(shares[i] @ fit_groups(shares[rest], r[rest], ridge))
        out[i] = factor / r[i] - 1.0
    return out


def choose(shares: np.ndarray, ratio: np.ndarray,
           groups: Sequence[str] = KERNEL_GROUPS) -> Dict[str, object]:
    """Fit every way (none: the base as it is; the single factor; per group at each of
    :data:`RIDGES`) and keep the one with the lowest leave-one-out MAPE (the base's own error
    on the measurements, for "none": a metric the new hardware does not change, such as SRAM
    on a larger MAC array, is left alone rather than refitted to noise).

    Returns:
        ``{"method": "none" | "scale" | "groups", "ridge", "factors": {group: s}, "loo_mape"
        (fraction), "loo_errors": [N], "tried": {name: loo MAPE}}``; the scale method's factors
        are its one factor for every group, none's are 1.
    """
    shares, r = np.asarray(shares, np.float64), np.asarray(ratio, np.float64)
    if len(r) < 2:
        raise ValueError("calibration needs at least 2 measurements, got {}".format(len(r)))
    tried = {"none": 1.0 / r - 1.0, "scale": loo_errors(shares, r)}
    if len(r) >= 3:
        for ridge in RIDGES:
            tried["groups@{:g}".format(ridge)] = loo_errors(shares, r, ridge)
    mape = {k: float(np.mean(np.abs(e))) for k, e in tried.items()}
    order = {"none": 0, "scale": 1}
    best = min(mape, key=lambda k: (mape[k], order.get(k, 2)))  # ties: the simpler way
    if best in ("none", "scale"):
        s = np.full(len(groups), 1.0 if best == "none" else fit_scale(r))
        ridge = None
    else:
        ridge = float(best.split("@")[1])
        s = fit_groups(shares, r, ridge)
    return {"method": best.split("@")[0], "ridge": ridge,
            "factors": {g: float(v) for g, v in zip(groups, s)},
            "loo_mape": mape[best], "loo_errors": tried[best].tolist(), "tried": mape}


def apply(predicted: float, shares: np.ndarray, factors: Mapping[str, float],
          groups: Sequence[str] = KERNEL_GROUPS) -> float:
    """The calibrated prediction of one model: ``predicted * shares . factors`` with the
    factors taken in ``groups`` order (the order of ``shares``)."""
    s = np.array([float(factors[g]) for g in groups])
    return float(predicted) * float(np.asarray(shares, np.float64) @ s)
