"""Operator-level Vela labels for stored models generated before they were recorded.

Since the ``families`` space, generation stores Vela's per-layer report summed per TFLite
operator in every model record (``raw["ethos-u55-128"]["layers"]``,
:mod:`benches.labelers.vela_layers`). Models generated earlier have only the whole-model
summary. This pass rebuilds a deterministic sample of them from ``(space, seed)`` (checked
against the stored sha256), reruns Vela with ``--verbose-performance`` and appends one label
record per model to ``labels/ethos-u55-128-layers/``: the operator-level data the analytical
cost model (:mod:`edge_predictor.npu_cost`) is fitted and checked on. Resumable (models already
labelled are skipped) and parallel (workers rebuild and run Vela; the parent alone writes).

Usage::

    python -m trainer.layers_pass --space cnn-kws --count 200 --workers 2
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import sys
import time
from typing import Any, Dict, List, Optional

from .generate import _init_worker, _short
from .store import LABELS, MODELS, Store

__all__ = ["GROUP", "sample_seeds", "layer_record", "layers_pass", "main"]

#: label group (folder under ``labels/``) and ``target`` of the records this pass writes
GROUP = "ethos-u55-128-layers"


def sample_seeds(store: Store, space: str, count: int) -> List[int]:
    """``count`` seeds of ``space``'s successful models, spread evenly over the stored ones
    (a fixed choice: the same store gives the same seeds)."""
    seeds = sorted(r["seed"] for r in store.records(MODELS, space) if r.get("status") == "ok")
    if count >= len(seeds):
        return seeds
    step = len(seeds) / float(count)
    return [seeds[int(i * step)] for i in range(count)]


def layer_record(space: str, seed: int, sha256: str) -> Dict[str, Any]:
    """Rebuild one model, run Vela with per-layer output; never raises for a model failure."""
    from benches.labelers.vela import label_vela
    from converters.quantize import build_tflite
    from edge_predictor.tflite_reader import read_model

    rec: Dict[str, Any] = {"target": GROUP, "space": space, "seed": seed, "pass": 1,
                           "status": "failed", "time": time.time()}
    try:
        content = build_tflite(space, seed)
        if hashlib.sha256(content).hexdigest() != sha256:
            raise RuntimeError("rebuilt model does not match its stored sha256")
        res = label_vela(content, layers=True, graph=read_model(content))
    except Exception as err:  # conversion, reading or Vela: a record, not a crash
        rec["reason"] = _short(err)
        return rec
    rec.update(status="ok", sha256=sha256, layers=res["raw"].get("layers"),
               cycles_total=res["raw"].get("cycles_total"))
    return rec


def _job(args):
    return layer_record(*args)


def layers_pass(space: str, count: int, workers: int = 1, store: Optional[Store] = None,
                progress=None) -> Dict[str, int]:
    """Label ``count`` evenly spread models of ``space`` with per-operator Vela cycles.

    Returns:
        ``{"todo", "ok", "failed"}`` of this run.
    """
    store = store or Store()
    sha = {r["seed"]: r["sha256"] for r in store.records(MODELS, space) if r.get("status") == "ok"}
    done = {r["seed"] for r in store.records(LABELS, GROUP) if r.get("space") == space}
    todo = [(space, s, sha[s]) for s in sample_seeds(store, space, count) if s not in done]
    stats = {"todo": len(todo), "ok": 0, "failed": 0}
    if not todo:
        return stats
    with store.writer(LABELS, GROUP) as writer:
        if workers == 1:
            _init_worker()
            results = map(_job, todo)
            pool = None
        else:
            pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker,
                                                maxtasksperchild=40)
            results = pool.imap_unordered(_job, todo)
        try:
            for n, rec in enumerate(results, 1):
                writer.append(rec)
                stats["ok" if rec["status"] == "ok" else "failed"] += 1
                if progress:
                    progress(n, len(todo), rec)
        finally:
            if pool is not None:
                pool.terminate()
    return stats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    t0 = time.time()

    def progress(n, total, rec):
        sys.stderr.write("\r{} layers: {}/{} ({:.0f} s){}".format(
            args.space, n, total, time.time() - t0, " " * 8))
        sys.stderr.flush()

    stats = layers_pass(args.space, args.count, args.workers, progress=progress)
    sys.stderr.write("\n")
    print("{space}: {ok} ok, {failed} failed of {todo}".format(space=args.space, **stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
