"""Live host-CPU labelling pass over the stored models, serial by design.

Conversion and Vela run in parallel workers (:mod:`trainer.generate`); live latency must not
share the machine with them, so it is a separate pass that measures one model at a time. The
``.tflite`` comes from the local cache that generation fills (checked against the stored
sha256) or is rebuilt from ``(space, seed)``.

Pass 1 labels every model once. Pass 2 re-measures a fixed random 5% of them later: the MAPE
between the passes is the target's noise floor, the best any predictor can do on it.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, Callable, Dict, List, Optional

from .generate import model_cache_path
from .store import LABELS, MODELS, Store

__all__ = ["cpu_pass", "in_noise_sample", "noise_floor", "todo_models", "label_record",
           "cached_model_bytes"]


def in_noise_sample(space: str, seed: int, fraction: float = 0.05) -> bool:
    """Whether ``(space, seed)`` belongs to the fixed re-measurement sample."""
    h = hashlib.sha256("noise:{}:{}".format(space, seed).encode()).digest()
    return int.from_bytes(h[:4], "big") / 2 ** 32 < fraction


def cached_model_bytes(rec: Dict[str, Any]) -> Optional[bytes]:
    """The model's ``.tflite`` from this host's cache if it is there and matches the record's
    sha256, else ``None``."""
    path = model_cache_path(rec["space"], rec["seed"])
    if os.path.exists(path):
        with open(path, "rb") as f:
            content = f.read()
        if hashlib.sha256(content).hexdigest() == rec["sha256"]:
            return content
    return None


def _model_bytes(rec: Dict[str, Any]) -> bytes:
    content = cached_model_bytes(rec)
    if content is not None:
        return content
    from converters.quantize import build_tflite
    content = build_tflite(rec["space"], rec["seed"])
    if hashlib.sha256(content).hexdigest() != rec["sha256"]:
        raise RuntimeError("{}-{}: rebuilt model does not match its stored sha256".format(
            rec["space"], rec["seed"]))
    return content


def cpu_pass(store: Optional[Store] = None, space: Optional[str] = None, pass_no: int = 1,
             fraction: float = 0.05, limit: Optional[int] = None, min_time_s: float = 0.5,
             progress: Optional[Callable[[int, int, str], None]] = None) -> Dict[str, Any]:
    """Measure stored models on this host's CPU (1 thread, default delegate).

    Args:
        store: the dataset store.
        space: only this space (default all).
        pass_no: 1 labels every model; 2 re-measures the noise sample (``fraction``).
        fraction: share of models in the noise sample.
        limit: stop after this many models (for a time-boxed run; resumable anyway).
        min_time_s: minimum timed seconds per model (at least 30 runs, 10 warm-up runs).
        progress: called with (done, total, note) after each model.

    Returns:
        ``{"target", "todo", "measured", "failed"}``.
    """
    from benches.labelers.cpu import cpu_target, label_cpu

    store = store or Store()
    target = cpu_target(threads=1)
    todo = todo_models(store, target, space, pass_no, fraction, limit)
    stats = {"target": target, "todo": len(todo), "measured": 0, "failed": 0}
    with store.writer(LABELS, target, shard_size=100) as writer:
        for i, rec in enumerate(todo):
            try:
                res = label_cpu(_model_bytes(rec), threads=1, warmup=10, runs=30,
                                min_time_s=min_time_s)
            except Exception as err:  # one bad model must not stop a long pass
                stats["failed"] += 1
                note = "{}-{} failed: {}".format(rec["space"], rec["seed"], err)
            else:
                writer.append(label_record(rec, target, pass_no, res))
                stats["measured"] += 1
                note = "{}-{} {:.3f} ms".format(rec["space"], rec["seed"],
                                                res["labels"]["latency_ms"])
            if progress:
                progress(i + 1, len(todo), note)
    return stats


def todo_models(store: Store, target: str, space: Optional[str] = None, pass_no: int = 1,
                fraction: float = 0.05, limit: Optional[int] = None) -> List[Dict[str, Any]]:
    """The stored ok models that ``pass_no`` still has to measure on ``target``, in
    (space, seed) order, at most ``limit`` of them."""
    done = {(r["space"], r["seed"]) for r in store.records(LABELS, target)
            if r.get("pass", 1) == pass_no}
    have_pass1 = None
    if pass_no == 2:
        have_pass1 = {(r["space"], r["seed"]) for r in store.records(LABELS, target)
                      if r.get("pass", 1) == 1}
    todo: List[Dict[str, Any]] = []
    for rec in store.records(MODELS, space):
        key = (rec["space"], rec["seed"])
        if rec.get("status") != "ok" or key in done:
            continue
        if pass_no == 2 and (key not in have_pass1 or not in_noise_sample(*key, fraction)):
            continue
        todo.append(rec)
    todo.sort(key=lambda r: (r["space"], r["seed"]))
    return todo if limit is None else todo[:limit]


def label_record(rec: Dict[str, Any], target: str, pass_no: int,
                 res: Dict[str, Any]) -> Dict[str, Any]:
    """The stored label of model ``rec`` from a CPU labeler result ``res`` (whose provenance
    holds the fingerprint of the host that measured it)."""
    return {"space": rec["space"], "seed": rec["seed"], "sha256": rec["sha256"],
            "target": target, "pass": pass_no, "labels": res["labels"], "raw": res["raw"],
            "prov": res["provenance"], "time": time.time()}


def noise_floor(store: Optional[Store] = None, target: Optional[str] = None) -> Dict[str, Any]:
    """MAPE between pass 1 and pass 2 of the re-measured models, per space and overall.

    Returns:
        ``{target: {"n", "mape", "per_space": {space: {"n", "mape"}}}}`` in percent.
    """
    store = store or Store()
    first: Dict[Any, float] = {}
    second: Dict[Any, float] = {}
    for r in store.records(LABELS, target):
        if "latency_ms" not in r.get("labels", {}):  # operator-level Vela records
            continue
        key = (r["target"], r["space"], r["seed"])
        (first if r.get("pass", 1) == 1 else second)[key] = r["labels"]["latency_ms"]
    out: Dict[str, Any] = {}
    for key, v2 in second.items():
        if key not in first:
            continue
        t, space, _ = key
        err = abs(v2 - first[key]) / first[key] * 100.0
        entry = out.setdefault(t, {"errs": [], "per_space": {}})
        entry["errs"].append(err)
        entry["per_space"].setdefault(space, []).append(err)
    result = {}
    for t, e in out.items():
        result[t] = {"n": len(e["errs"]), "mape": sum(e["errs"]) / len(e["errs"]),
                     "per_space": {s: {"n": len(v), "mape": sum(v) / len(v)}
                                   for s, v in sorted(e["per_space"].items())}}
    return result
