"""Dataset generation: sample -> INT8 TFLite -> graph + Vela labels, in a resumable worker pool.

One model is one ``(space, seed)``. A worker rebuilds it from the seed
(:func:`converters.quantize.build_tflite`), reads its graph with the runtime's reader, labels it
with Vela for ``ethos-u55-128`` and returns one record; the parent process alone writes records
to the store, so a kill at any moment loses at most the models in flight. Failures (conversion,
reading, Vela) are records too, with the stage and a one-line reason, and are not retried.
With ``ray=ADDRESS`` the records come from tasks on a Ray cluster instead of local workers
(:mod:`trainer.ray_backend`, imported only then); the parent still writes them.

Live CPU latency is a separate, serial pass (:mod:`trainer.cpu_pass`): it must not share the
machine with conversions.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

from edge_predictor.errors import InputError

from .store import MODELS, Store

__all__ = ["make_record", "generate", "model_cache_path", "NPU_TARGET"]

NPU_TARGET = "ethos-u55-128"


def model_cache_path(space: str, seed: int) -> str:
    """Where a built ``.tflite`` is cached locally (untracked), for later labelling passes."""
    root = os.environ.get("EDGE_PERF_CACHE") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "models")
    return os.path.join(root, space, "{}-{}.tflite".format(space, seed))


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return "{}: {}".format(type(err).__name__, text[-1][:200] if text else "")


def _init_worker() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialised in this process (workers=1, tests)
        pass
    tf.get_logger().setLevel("ERROR")


def make_record(space: str, seed: int, cache: bool = True) -> Dict[str, Any]:
    """Build, read and Vela-label one model; never raises for a model-specific failure.

    Returns:
        ``{"space", "seed", "status": "ok"|"failed", "stage", "reason", "sha256", "size",
        "graph", "labels": {target: {metric: value}}, "raw", "prov", "times"}``.
    """
    from benches.labelers.vela import label_vela
    from converters.quantize import build_tflite
    from edge_predictor.graph import graph_to_record
    from edge_predictor.tflite_reader import read_model

    rec: Dict[str, Any] = {"space": space, "seed": seed, "status": "failed", "time": time.time()}
    t0 = time.perf_counter()
    try:
        content = build_tflite(space, seed)
    except Exception as err:  # TF conversion can fail in many ways; record and go on
        rec.update(stage="convert", reason=_short(err))
        return rec
    t1 = time.perf_counter()
    rec["sha256"] = hashlib.sha256(content).hexdigest()
    rec["size"] = len(content)
    if cache:
        path = model_cache_path(space, seed)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = "{}.{}.tmp".format(path, os.getpid())  # workers may build the same model
        with open(tmp, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    try:
        graph = read_model(content, name="{}-{}".format(space, seed))
    except Exception as err:
        rec.update(stage="read", reason=_short(err))
        return rec
    rec["graph"] = graph_to_record(graph)
    t2 = time.perf_counter()
    try:
        res = label_vela(content, layers=True, graph=graph)
    except Exception as err:
        rec.update(stage="vela", reason=_short(err))
        return rec
    t3 = time.perf_counter()
    rec.update(status="ok", stage="done", reason="",
               labels={NPU_TARGET: res["labels"]}, raw={NPU_TARGET: res["raw"]},
               prov={NPU_TARGET: res["provenance"]},
               times={"convert_s": round(t1 - t0, 3), "read_s": round(t2 - t1, 4),
                      "vela_s": round(t3 - t2, 3)})
    return rec


def _job(args):
    factory, space, seed = args
    return factory(space, seed)


def generate(space: str, count: int, seed_from: int = 0, workers: int = 1,
             store: Optional[Store] = None,
             progress: Optional[Callable[[int, int, Dict[str, Any]], None]] = None,
             shard_size: int = 50,
             factory: Callable[[str, int], Dict[str, Any]] = make_record,
             ray: Optional[str] = None) -> Dict[str, Any]:
    """Make the store hold models ``seed_from .. seed_from+count-1`` of ``space``.

    Seeds already in the store are skipped, so running it again after an interruption goes on
    where it stopped.

    Args:
        space: a design space name.
        count: how many seeds the range holds (> 0).
        seed_from: first seed.
        workers: worker processes (each converts with one thread).
        store: the dataset store (default: the repository's).
        progress: called after each model with (done, total, record).
        shard_size: records per sealed shard.
        factory: ``(space, seed) -> record``; a module-level function (workers pickle it).
        ray: a Ray cluster's address (``auto``, ``ray://host:port``): build on every CPU of
            the cluster instead of local workers (:mod:`trainer.ray_backend`); ``progress``
            then gets a fourth argument, the records so far per node.

    Returns:
        ``{"todo", "ok", "failed"}`` counts of this run; with ``ray`` also ``"lost"`` (tasks
        that died with their node beyond Ray's retries; the next run does them) and
        ``"nodes"`` (records per node).
    """
    from .spaces import SPACES

    if space not in SPACES:
        raise InputError("unknown design space '{}'; known: {}".format(space, ", ".join(SPACES)))
    if count <= 0:
        raise InputError("--count must be positive, got {}".format(count))
    if workers <= 0:
        raise InputError("--workers must be positive, got {}".format(workers))
    store = store or Store()
    writer = store.writer(MODELS, space, shard_size=shard_size)
    done = store.done_seeds(space)
    todo = [s for s in range(seed_from, seed_from + count) if s not in done]
    stats = {"todo": len(todo), "ok": 0, "failed": 0}
    if not todo:
        return stats
    jobs: Iterable = ((factory, space, s) for s in todo)
    with writer:
        if ray is not None:
            from . import ray_backend
            stats.update(lost=0, nodes={})
            _consume(ray_backend.model_records(ray, factory, space, todo, stats), writer,
                     stats, len(todo), progress)
        elif workers == 1:
            if factory is make_record:
                _init_worker()
            _consume(((r, None) for r in map(_job, jobs)), writer, stats, len(todo), progress)
        else:
            ctx = mp.get_context("spawn")
            init = _init_worker if factory is make_record else None
            with ctx.Pool(workers, initializer=init, maxtasksperchild=40) as pool:
                results = ((r, None) for r in pool.imap_unordered(_job, jobs))
                _consume(results, writer, stats, len(todo), progress)
    return stats


def _consume(results, writer, stats: Dict[str, Any], total: int, progress) -> None:
    """Write ``(record, node)`` pairs as they come, once per seed; count them per node when
    ``stats`` has ``"nodes"``."""
    n = 0
    seen = set()
    nodes = stats.get("nodes")
    for rec, node in results:
        if rec["seed"] in seen:  # a task re-run after its node died can deliver twice
            continue
        seen.add(rec["seed"])
        writer.append(rec)
        stats["ok" if rec["status"] == "ok" else "failed"] += 1
        n += 1
        if nodes is not None:
            nodes[node] = nodes.get(node, 0) + 1
        if progress:
            progress(n, total, rec) if nodes is None else progress(n, total, rec, nodes)


def failures(store: Store, space: Optional[str] = None) -> List[Dict[str, Any]]:
    """Failed model records (space, seed, stage, reason)."""
    return [{k: r.get(k) for k in ("space", "seed", "stage", "reason")}
            for r in store.records(MODELS, space) if r.get("status") != "ok"]
