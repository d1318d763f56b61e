"""Bench: the local worker pool against Ray on one machine, the same work in one run.

Three questions about ``edge-perf dataset generate --ray``:

1. *identity*: are the records Ray builds the records the local pool builds (tflite sha256 and
   size, graph, Vela labels and raw figures, per seed)?
2. *throughput*: models per minute of the local pool (``--workers``) against a Ray head with as
   many CPUs on the same machine, for the same seeds;
3. *overhead per task*: a factory that does nothing (``noop_record``) over ``--noop`` seeds,
   through both, so that the time is the machinery's (scheduling, transfer, the store's fsync).

Without ``--address`` it starts a Ray head here (``ray start --head --block``, ``--workers``
CPUs, this checkout first on the workers' path) and ends it by its process id. Run it on an
otherwise idle machine: ``python -m benches.cluster [--space cnn-kws] [--count 16]
[--workers 2] [--noop 200]``; writes ``cluster.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

from benches.results_io import read_results, write_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benches", "results")
SAME = ("sha256", "size", "graph", "labels", "raw")  # what must not depend on where it ran

__all__ = ["noop_record", "compare", "main"]


def noop_record(space: str, seed: int) -> Dict[str, Any]:
    """A model record that costs nothing to make."""
    return {"space": space, "seed": seed, "status": "ok"}


def compare(a: List[Dict[str, Any]], b: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Per seed, whether two stores' records agree on :data:`SAME`."""
    by_seed = {r["seed"]: r for r in b}
    differ = [r["seed"] for r in a if any(r.get(k) != by_seed.get(r["seed"], {}).get(k)
                                          for k in SAME)]
    return {"seeds": len(a), "identical": len(a) - len(differ), "differ": differ,
            "only_in_second": sorted(set(by_seed) - {r["seed"] for r in a}),
            "compared": list(SAME)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_head(cpus: int, env: Dict[str, str]):
    """A Ray head on this machine: ``(process, address)``; end it with ``process.terminate()``."""
    from trainer.ray_backend import connected

    port = _free_port()
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    proc = subprocess.Popen([ray_cli, "start", "--head", "--block", "--port={}".format(port),
                             "--num-cpus={}".format(cpus), "--include-dashboard=false",
                             "--disable-usage-stats"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    address = "127.0.0.1:{}".format(port)
    deadline = time.time() + 120
    while True:
        try:
            with connected(address):
                return proc, address
        except Exception:
            if time.time() > deadline or proc.poll() is not None:
                proc.terminate()
                raise
            time.sleep(1.0)


def _timed_generate(space: str, count: int, seed_from: int, root: str, **kw) -> Dict[str, Any]:
    from trainer.generate import generate
    from trainer.store import Store

    stamps: List[float] = []
    t0 = time.perf_counter()
    stats = generate(space, count, seed_from=seed_from, store=Store(root),
                     progress=lambda *a: stamps.append(time.perf_counter()), **kw)
    wall = time.perf_counter() - t0
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else None
    return {"wall_s": round(wall, 3), "per_model_s": round(wall / count, 4),
            "models_per_min": round(60.0 * count / wall, 2),
            "first_record_s": round(stamps[0] - t0, 3) if stamps else None,
            "steady_per_min": round(60.0 * steady, 2) if steady else None,
            "stats": {k: v for k, v in stats.items() if k != "nodes"},
            "nodes": len(stats.get("nodes", {})) or None}


def run(space: str, count: int, seed_from: int, workers: int, noop: int,
        address: Optional[str]) -> Dict[str, Any]:
    """The three measurements; see the module docstring."""
    from trainer.generate import make_record
    from trainer.ray_backend import connected
    from trainer.store import MODELS, Store

    tmp = tempfile.mkdtemp(prefix="edge-perf-cluster-")
    env = dict(os.environ, EDGE_PERF_CACHE=os.path.join(tmp, "cache"),
               PYTHONPATH=os.pathsep.join([REPO] + [p for p in [os.environ.get("PYTHONPATH")]
                                                    if p]))
    os.environ["EDGE_PERF_CACHE"] = env["EDGE_PERF_CACHE"]
    head = None
    try:
        if address is None:
            head, address = _start_head(workers, env)
        t0 = time.perf_counter()
        with connected(address):
            connect_s = time.perf_counter() - t0
        doc: Dict[str, Any] = {"space": space, "count": count, "seed_from": seed_from,
                               "workers": workers, "noop_tasks": noop,
                               "connect_s": round(connect_s, 3)}
        paths = {"local": dict(workers=workers), "ray": dict(ray=address)}
        for i, order in enumerate((("local", "ray"), ("ray", "local"))):  # both go first once
            for path in order:
                doc["{}_{}".format(path, i + 1)] = _timed_generate(
                    space, count, seed_from, os.path.join(tmp, "{}{}".format(path, i + 1)),
                    factory=make_record, **paths[path])

        def records(name):
            return sorted(Store(os.path.join(tmp, name)).records(MODELS),
                          key=lambda r: r["seed"])

        doc["identity"] = compare(records("local1"), records("ray1"))
        doc["identity_reruns"] = compare(records("local1"), records("local2"))["identical"] + \
            compare(records("ray1"), records("ray2"))["identical"]
        doc["noop_local"] = _timed_generate(space, noop, 0, os.path.join(tmp, "noop-local"),
                                            workers=workers, factory=noop_record)
        doc["noop_ray"] = _timed_generate(space, noop, 0, os.path.join(tmp, "noop-ray"),
                                          ray=address, factory=noop_record)
        return doc
    finally:
        if head is not None:
            head.terminate()
            head.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def render(doc: Dict[str, Any]) -> str:
    """The markdown table of a result document."""
    ident = doc["identity"]
    nl, nr = doc["noop_local"], doc["noop_ray"]
    lines = [
        "# Local pool against Ray on one machine",
        "",
        "Written by `python -m benches.cluster --space {space} --count {count} --workers "
        "{workers} --noop {noop_tasks}` on {cpu} ({host_cores} cores, shared), {when}, Ray "
        "{ray_version}. The same seeds through `generate(workers={workers})` (a fresh spawn "
        "pool) and through a Ray head with {workers} CPUs on this machine "
        "(`generate(ray=ADDRESS)`, fresh workers per run), one run, each path going first "
        "once. Wall time includes starting the workers (TensorFlow's import); *steady* is the "
        "rate between the first and the last record. Connecting to the head took {connect_s} s "
        "(counted in each Ray row).".format(**doc),
        "",
        "| work | path | round | tasks | wall s | first record s | s per task | per minute "
        "| steady per minute |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [(k, doc["space"], k.split("_")[0], k.split("_")[1], doc["count"])
            for k in ("local_1", "ray_1", "ray_2", "local_2")]
    rows += [("noop_local", "no-op factory", "local", "1", doc["noop_tasks"]),
             ("noop_ray", "no-op factory", "ray", "1", doc["noop_tasks"])]
    for key, work, path, rnd, n in rows:
        r = doc[key]
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            work, "local pool" if path == "local" else "Ray", rnd, n, r["wall_s"],
            r["first_record_s"], r["per_model_s"], r["models_per_min"], r["steady_per_min"]))
    lines += [
        "",
        "Identity: {} of {} seeds have the same {} in the local and the Ray store of round 1"
        "{} (and {} of {} between the rounds of each path).".format(
            ident["identical"], ident["seeds"], ", ".join(ident["compared"]),
            "" if not ident["differ"] else " (differ: {})".format(ident["differ"]),
            doc["identity_reruns"], 2 * ident["seeds"]),
        "",
        "Overhead per task (no-op factory, wall-clock at {w} CPUs, the store's fsync "
        "included): local pool {:.1f} ms, Ray {:.1f} ms over the whole run; {:.1f} and "
        "{:.1f} ms between the first and the last record, after a start of {} s and {} s "
        "(first record).".format(
            1000 * nl["per_model_s"], 1000 * nr["per_model_s"],
            60000.0 / nl["steady_per_min"], 60000.0 / nr["steady_per_min"],
            nl["first_record_s"], nr["first_record_s"], w=doc["workers"]),
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="cnn-kws")
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--seed-from", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="local workers = Ray head CPUs")
    ap.add_argument("--noop", type=int, default=200, help="no-op tasks for the overhead")
    ap.add_argument("--address", default=None, help="a running cluster (default: start one)")
    ap.add_argument("--out", default=RESULTS)
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json")
    args = ap.parse_args(argv)
    if args.render:
        doc = read_results(args.out, "cluster")
        write_results(args.out, "cluster", doc, render(doc))
        return 0
    from edge_predictor.measure import cpu_model

    doc = run(args.space, args.count, args.seed_from, args.workers, args.noop, args.address)
    import ray
    doc.update(cpu=cpu_model(), host_cores=os.cpu_count(), python=platform.python_version(),
               when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               ray_version=ray.__version__)
    paths = write_results(args.out, "cluster", doc, render(doc))
    print("\n".join(paths))
    ident = doc["identity"]
    return 0 if not (ident["differ"] or ident["only_in_second"]) else 1


if __name__ == "__main__":
    sys.exit(main())
