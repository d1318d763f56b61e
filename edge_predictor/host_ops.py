"""A host's per-operator latency model, fitted on operators timed one at a time (pure numpy).

A CPU unlike the one that labelled a bundle does not change its speed by a few factors: an Intel
Xeon with AMX runs a dense 3x3 convolution of 256 channels 10x faster than the AMD EPYC that
labelled the CPU bundle, a 7x7 stride-2 depthwise convolution about as slowly, and a 1x1
convolution of 16 channels somewhere between (``docs/calibration.md``). What a few whole-model
latencies cannot say, the models' operators timed one at a time (:mod:`edge_predictor.op_profile`)
can: twenty models hold about a thousand operators.

:class:`HostOps` predicts an operator's time on the new host from the timed operators nearest to
it: among those of the same type, kernel size, stride, data type and broadcast or row pattern
(else the same type), the ``k`` nearest in the log of its sizes (:data:`SIZE_COLUMNS`), each
neighbour's time scaled by how much more work the query does by the reference host's table
(``cpu_cost``; grouped convolutions by groups x output positions; by output
elements for a type the table prices at zero), geometric mean.
A model's time is the sum over its operators, each at least its weights' bytes at the host's
bandwidth for cold weights once the model's weights outgrow the cache
(:mod:`edge_predictor.host_memory`: the bandwidth measured on the probes), times one factor
fitted on the whole-model latencies. Operator types never timed fall back to the reference
table times the timed operators' pooled ratio. Operators of a class or type never timed widen
the answer's interval by how far off such operators are here (:meth:`HostOps.answer`). The
class keys and sizes are :mod:`edge_predictor.host_keys`'s.

Python 3.7 compatible; no TensorFlow.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .calibration import fit_scale
from .host_keys import (BINARY_ELEMENTWISE, CLASS_COLUMNS, PATTERNS, SIZE_COLUMNS, OpRows,
                        describe, is_one_row, kernel_family, merge_single_channel, op_rows,
                        type_pattern, weight_bytes, work_ratio)
from .host_memory import DEFAULT_CACHE_BYTES, NONE, in_model_us, stream_bandwidth

_ELEMENTS = SIZE_COLUMNS.index("out_elements")

__all__ = ["SIZE_COLUMNS", "CLASS_COLUMNS", "PATTERNS", "BINARY_ELEMENTWISE", "NEIGHBOURS",
           "UNTIMED_SHARE", "OWN_CLASS", "OTHER_CLASS", "UNTIMED", "op_rows", "weight_bytes",
           "HostOps", "fit_ops", "loo_errors"]

#: neighbours averaged
NEIGHBOURS = 3
#: the share of a model's time in operators of never-timed classes or types above which an
#: answer warns
UNTIMED_SHARE = 0.1
#: where an operator's time comes from (:meth:`HostOps.predict_sources`)
OWN_CLASS, OTHER_CLASS, UNTIMED = 0, 1, 2

class HostOps:
    """Timed operators of one host, and the per-operator prediction from them.

    Args:
        keys: [M] class keys (:func:`op_rows`) of the timed operators.
        sizes: float [M, S] their log sizes.
        ref_us: float [M] their reference-table microseconds.
        time_us: float [M] their measured microseconds on this host.
        scale: the whole-model factor (in-model time / sum of operators in the model).
        memory: (bandwidth GB/s, cache bytes) of cold weights (:mod:`~edge_predictor.host_memory`;
            default: none, the plain sum).
        patterns: whether ``keys`` end with the :data:`PATTERNS` field (False: written by
            edge-perf before it, keys of the class columns only; queries are matched the same
            way).
    """

    def __init__(self, keys: Sequence[str], sizes: np.ndarray, ref_us: np.ndarray,
                 time_us: np.ndarray, scale: float = 1.0, patterns: bool = True,
                 memory: Tuple[float, float] = NONE):
        self.patterns = bool(patterns)
        self.memory = (float(memory[0]), float(memory[1]))
        self.keys = list(keys)
        self.sizes = np.asarray(sizes, np.float64).reshape(len(self.keys), len(SIZE_COLUMNS))
        self.ref = np.asarray(ref_us, np.float64)
        self.time = np.maximum(np.asarray(time_us, np.float64), 0.0)
        self.scale = float(scale)
        total_ref = float(self.ref.sum())
        self.pooled_ratio = float(self.time.sum()) / total_ref if total_ref > 0 else 1.0
        self._by_key: Dict[str, np.ndarray] = {}
        self._by_type: Dict[str, np.ndarray] = {}
        for i, k in enumerate(self.keys):
            self._by_key.setdefault(k, []).append(i)
            self._by_type.setdefault(k.split("/", 1)[0], []).append(i)
            if self.patterns:  # type and pattern: "TYPE//pattern"
                self._by_type.setdefault(type_pattern(k), []).append(i)
        self._by_key = {k: np.array(v) for k, v in self._by_key.items()}
        self._by_type = {k: np.array(v) for k, v in self._by_type.items()}
        #: id of a class's row indices -> its sizes [m, S], log times [m], reference us [m]
        self._cache: Dict[int, Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        #: the log error of an operator whose class, and whose type, was never timed here
        #: (:meth:`measure_unseen_error`; 0: not measured)
        self.unseen_error = (0.0, 0.0)
        #: whether single-channel convolutions are keyed apart (:data:`~edge_predictor.host_keys.
        #: PATTERNS`); False: timed before they were, queries are matched as then
        self.single_channel = True
        #: kernel family -> whether its work measure (:func:`host_keys.work_ratio
        #: <edge_predictor.host_keys.work_ratio>`) replaces the table's (:meth:`choose_rules`;
        #: True: what calibrations written before the choice assumed)
        self.rules = {"grouped": True}

    def predict_ops(self, rows: OpRows) -> np.ndarray:
        """float64 [N] microseconds of each operator alone on this host."""
        return self.predict_detail(rows)[0]

    def predict_detail(self, rows: OpRows) -> Tuple[np.ndarray, np.ndarray]:
        """(float64 [N] microseconds of each operator alone on this host, bool [N] whether it
        is of a type never timed here: the reference table times the pooled ratio)."""
        us, source = self.predict_sources(rows)
        return us, source == UNTIMED

    def predict_sources(self, rows: OpRows) -> Tuple[np.ndarray, np.ndarray]:
        """(float64 [N] microseconds of each operator alone on this host, int8 [N] where each
        comes from: :data:`OWN_CLASS`, :data:`OTHER_CLASS` (its class never timed: its type's
        operators) or :data:`UNTIMED` (its type never timed))."""
        keys, sizes, ref = rows
        if not self.patterns:
            keys = [k.rsplit("/", 1)[0] for k in keys]
        elif not self.single_channel:
            keys = [merge_single_channel(k) for k in keys]
        out = np.zeros(len(keys))
        source = np.full(len(keys), OWN_CLASS, np.int8)
        groups: Dict[str, List[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        for k, idx in groups.items():
            idx = np.array(idx)
            cand = self._by_key.get(k)
            if cand is None:
                source[idx] = OTHER_CLASS
                if self.patterns:
                    cand = self._by_type.get(type_pattern(k))
                if cand is None:
                    cand = self._by_type.get(k.split("/", 1)[0])
            if cand is None:  # never timed: the reference table, pooled ratio
                out[idx] = ref[idx] * self.pooled_ratio
                source[idx] = UNTIMED
                continue
            out[idx] = self._from_neighbours(k, sizes[idx], ref[idx], cand)
        return out, source

    def _from_neighbours(self, key: str, q_sizes: np.ndarray, q_ref: np.ndarray,
                         cand: np.ndarray, by_positions: Optional[bool] = None,
                         cached: bool = True) -> np.ndarray:
        """float64 [n] microseconds of n queries of class ``key`` (log sizes [n, S], reference
        us [n]) from the timed rows ``cand`` [m]: the geometric mean of the
        :data:`NEIGHBOURS` nearest, each scaled by the work ratio (``cached``: ``cand`` is one
        of this object's class arrays, whose sizes and times are kept by its id)."""
        c_sizes, c_log_t, c_ref = self._class_arrays(cand) if cached else (
            self.sizes[cand], np.log(np.maximum(self.time[cand], 1e-3)), self.ref[cand])
        d = ((q_sizes[:, None, :] - c_sizes[None, :, :]) ** 2).sum(2)
        near = np.argsort(d, axis=1, kind="stable")[:, :NEIGHBOURS]  # [n, k] into cand
        log_t, r = c_log_t[near], c_ref[near]
        q = q_ref[:, None]
        # the work ratio: by the reference table, else (a type the table prices at zero) by
        # output elements
        q_el, r_el = q_sizes[:, None, _ELEMENTS], c_sizes[near][:, :, _ELEMENTS]
        by_elements = np.where((q_el > 0) & (r_el > 0), np.log(np.expm1(
            np.maximum(q_el, 1e-12))) - np.log(np.expm1(np.maximum(r_el, 1e-12))), 0.0)
        if by_positions is None:
            by_positions = self.rules.get(kernel_family(key) or "", False)
        ratio = work_ratio(key, q_sizes, c_sizes[near]) if by_positions else None
        if ratio is None:
            ratio = np.where((r > 0) & (q > 0), np.log(np.maximum(q, 1e-12)) -
                             np.log(np.maximum(r, 1e-12)), by_elements)
        return np.exp((log_t + ratio).mean(1))

    def choose_rules(self) -> Dict[str, bool]:
        """Per kernel family (:func:`~edge_predictor.host_keys.kernel_family`), whether its own
        work measure predicts this host's timed operators of it better than the reference
        table's MACs: lower leave-one-out error (each timed one from the others of its class;
        True when fewer than two of a class were timed); sets and returns :attr:`rules`."""
        err: Dict[str, Dict[bool, List[float]]] = {}
        for k, idx in self._by_key.items():
            family = kernel_family(k)
            if family is None or len(idx) < 2:
                continue
            for j in range(len(idx)):
                rest = np.delete(idx, j)
                for rule in (True, False):
                    p = self._from_neighbours(k, self.sizes[idx[j:j + 1]], self.ref[idx[j:j + 1]],
                                              rest, rule, cached=False)
                    err.setdefault(family, {True: [], False: []})[rule].append(abs(
                        np.log(max(p[0], 1e-3)) - np.log(max(self.time[idx[j]], 1e-3))))
        for family, e in err.items():
            self.rules[family] = float(np.mean(e[True])) <= float(np.mean(e[False]))
        return self.rules

    def measure_unseen_error(self, quantile: float = 0.8, min_us: float = 1.0
                             ) -> Tuple[float, float]:
        """How far off an operator of a class (a type) never timed is, measured by hiding each
        timed class (type) in turn: the ``quantile`` over classes (types) of the median
        |ln(predicted / timed)| of their operators of at least ``min_us``."""
        ok = self.time >= min_us
        by_class, by_type = [], []
        for k, idx in self._by_key.items():
            idx = idx[ok[idx]]
            if not len(idx):
                continue
            t = k.split("/", 1)[0]
            for pool in ([type_pattern(k)] if self.patterns else []) + [t]:
                rest = np.setdiff1d(self._by_type.get(pool, idx), self._by_key[k])
                if len(rest):
                    p = self._from_neighbours(k, self.sizes[idx], self.ref[idx], rest,
                                              cached=False)
                    by_class.append(np.median(np.abs(np.log(p / self.time[idx]))))
                    break
        for t, idx in self._by_type.items():
            if "//" in t:
                continue
            rest_ref = self.ref.sum() - self.ref[idx].sum()
            idx = idx[ok[idx] & (self.ref[idx] > 0)]
            if not len(idx) or rest_ref <= 0:
                continue
            ratio = (self.time.sum() - self.time[self._by_type[t]].sum()) / rest_ref
            by_type.append(np.median(np.abs(np.log(self.ref[idx] * max(ratio, 1e-9) /
                                                   self.time[idx]))))
        self.unseen_error = tuple(float(np.quantile(e, quantile)) if e else 0.0
                                  for e in (by_class, by_type))
        return self.unseen_error

    def _class_arrays(self, cand: np.ndarray):
        got = self._cache.get(id(cand))
        if got is None:
            got = self._cache[id(cand)] = (self.sizes[cand],
                                           np.log(np.maximum(self.time[cand], 1e-3)),
                                           self.ref[cand])
        return got

    def in_model(self, rows: OpRows, alone_us: np.ndarray) -> np.ndarray:
        """float64 [N] each operator's microseconds inside its model, from [N] alone."""
        return in_model_us(alone_us, weight_bytes(rows), *self.memory)

    def predict_ms(self, rows: OpRows) -> float:
        """A model's milliseconds: its operators' in-model sum times :attr:`scale`."""
        return float(self.in_model(rows, self.predict_ops(rows)).sum()) * 1e-3 * self.scale

    def answer(self, rows: OpRows, share: float = UNTIMED_SHARE) -> Tuple[float, str, float]:
        """A model's answer in one pass.

        Returns:
            (milliseconds as :meth:`predict_ms`; a warning when operators of a class or type
            never timed on this host carry more than ``share`` of it, else ''; the log
            half-width those operators add to its interval: their shares times
            :attr:`unseen_error`).
        """
        us, source = self.predict_sources(rows)
        us = self.in_model(rows, us)
        total = float(us.sum())
        ms = total * 1e-3 * self.scale
        if total <= 0:
            return ms, "", 0.0
        shares = [float(us[source == s].sum()) / total for s in (OTHER_CLASS, UNTIMED)]
        spread = float(np.dot(shares, self.unseen_error))
        if sum(shares) <= share:
            return ms, "", spread
        names = sorted(set(describe(k) for k, s in zip(rows[0], source) if s != OWN_CLASS))
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        return ms, ("operators unlike any this host's calibration timed ({}) make {:.0%} of the "
                    "answer: their kernels may run faster or slower here, see its "
                    "interval".format(shown, sum(shares))), spread

    def to_json(self) -> Dict[str, object]:
        """A JSON-able dict for a bundle's meta.json: one text row per timed operator, ``"KEY
        size... ref_us time_us"`` (4 significant digits)."""
        rows = ["{} {}".format(k, " ".join("%.4g" % v for v in list(sz) + [r, t]))
                for k, sz, r, t in zip(self.keys, self.sizes, self.ref, self.time)]
        return {"columns": ["key"] + list(SIZE_COLUMNS) + ["ref_us", "time_us"],
                "class_columns": list(CLASS_COLUMNS) + ([PATTERNS] if self.patterns else []),
                "neighbours": NEIGHBOURS, "scale": self.scale,
                "memory": {"bandwidth_gbps": self.memory[0] if np.isfinite(self.memory[0])
                           else None, "cache_bytes": self.memory[1]},
                "unseen_log_error": list(self.unseen_error), "rules": dict(self.rules),
                "single_channel": self.single_channel, "rows": rows}

    @classmethod
    def from_json(cls, doc: Mapping[str, object]) -> "HostOps":
        """The inverse of :meth:`to_json`.

        Raises:
            ValueError: written with other columns, or a malformed row.
        """
        columns = ["key"] + list(SIZE_COLUMNS) + ["ref_us", "time_us"]
        class_columns = list(doc.get("class_columns", []))
        if list(doc.get("columns", [])) != columns or class_columns not in (
                list(CLASS_COLUMNS), list(CLASS_COLUMNS) + [PATTERNS]):
            raise ValueError("timed operators written with other columns")
        keys, values = [], []
        for row in doc["rows"]:
            parts = str(row).split()
            if len(parts) != len(columns):
                raise ValueError("a timed-operator row has {} fields, not {}".format(
                    len(parts), len(columns)))
            keys.append(parts[0])
            values.append([float(v) for v in parts[1:]])
        v = np.array(values, np.float64).reshape(len(keys), len(columns) - 1)
        mem = doc.get("memory") or {}  # absent: written before the term, the plain sum
        bw = mem.get("bandwidth_gbps")
        memory = (float(bw), float(mem.get("cache_bytes", 0.0))) if bw is not None else NONE
        ops = cls(keys, v[:, :-2], v[:, -2], v[:, -1], float(doc["scale"]),
                  patterns=PATTERNS in class_columns, memory=memory)
        ops.single_channel = bool(doc.get("single_channel", False))  # absent: timed before
        unseen = doc.get("unseen_log_error")  # absent: written before it, no widening
        if unseen is not None:
            ops.unseen_error = (float(unseen[0]), float(unseen[1]))
        ops.rules.update({k: bool(v) for k, v in (doc.get("rules") or {}).items()
                          if k in ops.rules})  # as fitted (the rows here are rounded)
        return ops


def _stack(models: Sequence[Tuple[OpRows, np.ndarray]]) -> Tuple[List[str], np.ndarray,
                                                                 np.ndarray, np.ndarray]:
    keys: List[str] = []
    sizes, ref, times = [], [], []
    for (k, s, r), t in models:
        ok = np.isfinite(np.asarray(t, np.float64))
        keys += [kk for kk, o in zip(k, ok) if o]
        sizes.append(s[ok])
        ref.append(r[ok])
        times.append(np.asarray(t, np.float64)[ok])
    width = len(SIZE_COLUMNS)
    sizes_ = np.concatenate(sizes) if sizes else np.zeros((0, width))
    ref_ = np.concatenate(ref) if ref else np.zeros(0)
    times_ = np.concatenate(times) if times else np.zeros(0)
    # one row per distinct operator (repeated blocks time the same operator many times): the
    # median of its timings
    seen: Dict[Tuple, List[int]] = {}
    for i, k in enumerate(keys):
        seen.setdefault((k,) + tuple(np.round(sizes_[i], 4)), []).append(i)
    first = [v[0] for v in seen.values()]
    med = np.array([np.median(times_[v]) for v in seen.values()])
    return [keys[i] for i in first], sizes_[first], ref_[first], med


def fit_ops(models: Sequence[Tuple[OpRows, np.ndarray]], measured_ms: Sequence[float],
            probes: Optional[Tuple[OpRows, np.ndarray]] = None,
            cache: float = DEFAULT_CACHE_BYTES, unseen: bool = True) -> HostOps:
    """The host model of timed models: its work measures (:meth:`HostOps.choose_rules`), cold
    weights, in-model factor and (``unseen``) :meth:`HostOps.measure_unseen_error`.

    Args:
        models: per model, its :func:`op_rows` and float [N] microseconds per operator alone
            (:func:`edge_predictor.op_profile.profile_ops`; NaN: not timed).
        measured_ms: [len(models)] each model's whole latency.
        probes: more timed operators of no model (:func:`edge_predictor.op_probe.probe_models`);
            its one-row layers beyond the cache give the bandwidth of cold weights
            (:func:`~edge_predictor.host_memory.stream_bandwidth`).
        cache: the host's weight bytes a model may keep cached
            (:func:`~edge_predictor.host_memory.cache_bytes`).
        unseen: False leaves :attr:`HostOps.unseen_error` unmeasured (leave-one-out fits,
            which only predict).
    """
    ops = HostOps(*_stack(list(models) + ([probes] if probes is not None else [])))
    ops.choose_rules()
    ops.memory = (stream_bandwidth(weight_bytes((ops.keys, ops.sizes, ops.ref)), ops.time,
                                   [is_one_row(k) for k in ops.keys]), float(cache))
    sums = []  # each model's operators in the model: timed alone, else predicted
    for rows, t in models:
        t = np.asarray(t, np.float64)
        sums.append(float(ops.in_model(rows, np.where(np.isfinite(t), t,
                                                      ops.predict_ops(rows))).sum()) * 1e-3)
    ops.scale = fit_scale(np.asarray(measured_ms, np.float64) / np.maximum(np.array(sums),
                                                                           1e-12))
    if unseen:
        ops.measure_unseen_error()
    return ops


def loo_errors(models: Sequence[Tuple[OpRows, np.ndarray]], measured_ms: Sequence[float],
               probes: Optional[Tuple[OpRows, np.ndarray]] = None,
               cache: float = DEFAULT_CACHE_BYTES) -> np.ndarray:
    """float64 [N] leave-one-out relative errors: each model predicted by the host model of the
    others' operators and latencies (and the probes)."""
    y = np.asarray(measured_ms, np.float64)
    out = np.zeros(len(y))
    for i in range(len(y)):
        rest = [j for j in range(len(y)) if j != i]
        ops = fit_ops([models[j] for j in rest], y[rest], probes, cache, unseen=False)
        out[i] = ops.predict_ms(models[i][0]) / y[i] - 1.0
    return out
