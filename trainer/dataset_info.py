"""Counts of the EdgeDLPerf store: per space x target x metric, hosts and failures."""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, Optional

from .cpu_pass import noise_floor
from .store import LABELS, MODELS, Store

__all__ = ["dataset_info"]


def dataset_info(root: Optional[str] = None) -> Dict[str, Any]:
    """Summarise the store.

    Returns:
        ``{"root", "models": {space: n}, "counts": [{"space", "target", "metric", "count"}],
        "failures": {"space/stage": n}, "hosts": [{"target", "cpu_model", ...}],
        "remeasured": {target: n}}``. A metric counts a model once, whatever the passes.
    """
    store = Store(root)
    models: Counter = Counter()
    counts: Counter = Counter()
    failures: Counter = Counter()
    for rec in store.records(MODELS):
        models[rec["space"]] += 1
        if rec.get("status") != "ok":
            failures["{}/{}".format(rec["space"], rec.get("stage"))] += 1
            continue
        for target, metrics in rec.get("labels", {}).items():
            for metric in metrics:
                counts[(rec["space"], target, metric)] += 1
    hosts: Dict[str, Dict[str, Any]] = {}
    remeasured: Counter = Counter()
    for rec in store.records(LABELS):
        if not rec.get("labels"):  # operator-level Vela records (trainer.layers_pass)
            continue
        if rec.get("pass", 1) != 1:
            remeasured[rec["target"]] += 1
            continue
        for metric in rec.get("labels", {}):
            counts[(rec["space"], rec["target"], metric)] += 1
        fp = rec.get("prov", {}).get("host", {})
        hosts.setdefault(rec["target"], dict(fp, target=rec["target"]))
    return {
        "root": store.root,
        "models": dict(sorted(models.items())),
        "counts": [{"space": s, "target": t, "metric": m, "count": n}
                   for (s, t, m), n in sorted(counts.items())],
        "failures": dict(sorted(failures.items())),
        "hosts": list(hosts.values()),
        "remeasured": dict(remeasured),
        "noise_floor": noise_floor(store) if remeasured else {},
    }
