"""AutoML example: regularised evolution in ``cnn-cifar10`` under a *predicted* NPU latency budget.

The only cost model in the loop is the edge-perf runtime (``Predictor.predict``, no TensorFlow,
no Vela): each candidate's ethos-u55-128 latency is predicted from its INT8 ``.tflite`` bytes.
The objective is an **accuracy proxy**, not accuracy: log(MACs) of the candidate (more compute
is taken to mean more capacity). A candidate over the budget ranks below every one within it,
by how far over it is.

What is timed, honestly:

* building candidates (Keras -> INT8 TFLite, ~1 s each) is *not* part of the search: a pool of
  ``--pool`` sampled architectures is built once, by a child process with TensorFlow, and cached
  in ``.cache/automl/``;
* the search is regularised evolution (Real et al. 2019) over that pool: a mutation edits one
  architecture choice of the parent (op, channels, kernel, expansion or a block's residual), and
  the child is the not-yet-evaluated pool member nearest to the edited architecture (Hamming
  distance over the choices), so the search walks the space through the pool;
* "candidates/s" is evaluations divided by the time spent in ``Predictor.predict`` (reader +
  featurizer + interpreter on in-memory bytes); proxy and search bookkeeping are timed apart;
* at the end, Vela runs once, on the final pick, to show the predicted latency next to Vela's.

Run from the repository root::

    python examples/automl_search.py --budget-ms 2.0 [--pool 200] [--cycles 150]
        [--target ethos-u55-128 | --bundle PATH]
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

__all__ = ["SPACE", "SEED_BASE", "genotype", "build_pool", "load_pool", "mutate", "nearest",
           "macs_proxy", "fitness", "evolve", "main"]

SPACE = "cnn-cifar10"
SEED_BASE = 950000  #: pool seeds SEED_BASE .. SEED_BASE + pool - 1 (outside the dataset)
CACHE = os.path.join(ROOT, ".cache", "automl")

Candidate = collections.namedtuple("Candidate", "seed content geno")


def genotype(config):
    """The architecture choices of a cnn-cifar10 config as a flat tuple.

    Per block: residual, then per node op, channels, kernel, expansion.
    """
    out = []
    for block in config["blocks"]:
        out.append(bool(block["residual"]))
        for node in block["nodes"]:
            out += [node["op"], node["channels"], node["kernel"], node["expansion"]]
    return tuple(out)


def _path(seed, cache=CACHE):
    return os.path.join(cache, "{}_s{}.tflite".format(SPACE, seed))


def build_pool(n, cache=CACHE):
    """Build the missing pool models (needs TensorFlow; run in a child process by :func:`main`)."""
    from converters.quantize import build_tflite

    os.makedirs(cache, exist_ok=True)
    for seed in range(SEED_BASE, SEED_BASE + n):
        path = _path(seed, cache)
        if not os.path.exists(path):
            tmp = path + ".part"
            with open(tmp, "wb") as f:
                f.write(build_tflite(SPACE, seed))
            os.replace(tmp, path)


def load_pool(n, cache=CACHE):
    """The pool as :class:`Candidate` (seed, ``.tflite`` bytes, :func:`genotype`)."""
    from trainer.spaces import sample_config  # numpy only, no TensorFlow

    pool = []
    for seed in range(SEED_BASE, SEED_BASE + n):
        with open(_path(seed, cache), "rb") as f:
            pool.append(Candidate(seed, f.read(), genotype(sample_config(SPACE, seed))))
    return pool


def mutate(geno, options, rng):
    """Change one choice of ``geno`` to another value from ``options`` (per-position values)."""
    geno = list(geno)
    while True:
        i = int(rng.integers(len(geno)))
        others = [v for v in options[i] if v != geno[i]]
        if others:
            geno[i] = others[int(rng.integers(len(others)))]
            return tuple(geno)


def nearest(geno, pool, candidates, rng):
    """Index (into ``pool``) of the candidate nearest to ``geno``; ties broken at random."""
    dist = [sum(a != b for a, b in zip(geno, pool[i].geno)) for i in candidates]
    best = min(dist)
    ties = [i for i, d in zip(candidates, dist) if d == best]
    return ties[int(rng.integers(len(ties)))]


def macs_proxy(content):
    """Accuracy PROXY: log10 of the model's MACs (from the edge-perf reader). Not accuracy."""
    from edge_predictor.summary import summarize
    from edge_predictor.tflite_reader import read_model

    return math.log10(max(1, summarize(read_model(content))["macs"]))


def fitness(proxy, latency_ms, budget_ms):
    """Proxy within the budget; over it, below every feasible candidate (by how far over)."""
    return proxy if latency_ms <= budget_ms else -latency_ms / budget_ms


def evolve(predictor, pool, budget_ms, cycles=150, population=20, sample=5, seed=0):
    """Regularised evolution over ``pool``; returns (history, timings).

    ``history`` holds one dict per evaluation (index, seed, predicted metrics, proxy, fitness);
    ``timings`` the seconds spent predicting, computing proxies and in search bookkeeping.
    """
    rng = np.random.default_rng(seed)
    options = [sorted(set(c.geno[i] for c in pool)) for i in range(len(pool[0].geno))]
    left = list(range(len(pool)))
    history, timer = [], {"predict_s": 0.0, "proxy_s": 0.0, "search_s": 0.0}

    def evaluate(i):
        left.remove(i)
        t0 = time.perf_counter()
        pred = predictor.predict(pool[i].content, name="s{}".format(pool[i].seed))
        t1 = time.perf_counter()
        proxy = macs_proxy(pool[i].content)
        timer["predict_s"] += t1 - t0
        timer["proxy_s"] += time.perf_counter() - t1
        h = {"index": i, "seed": pool[i].seed, "pred": pred, "proxy": proxy,
             "fitness": fitness(proxy, pred["latency_ms"], budget_ms)}
        history.append(h)
        return h

    pop = collections.deque(evaluate(int(i)) for i in
                            rng.choice(left, min(population, len(left)), replace=False))
    for _ in range(cycles):
        if not left:
            break
        t0 = time.perf_counter()
        picks = rng.choice(len(pop), min(sample, len(pop)), replace=False)
        parent = max((pop[int(k)] for k in picks), key=lambda h: h["fitness"])
        child = nearest(mutate(pool[parent["index"]].geno, options, rng), pool, left, rng)
        timer["search_s"] += time.perf_counter() - t0
        pop.append(evaluate(child))
        pop.popleft()
    return history, timer


def main(argv=None):
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget-ms", type=float, default=2.0, help="predicted latency budget (ms)")
    ap.add_argument("--pool", type=int, default=200, help="pre-built candidates to search over")
    ap.add_argument("--cycles", type=int, default=150, help="evolution cycles")
    ap.add_argument("--population", type=int, default=20)
    ap.add_argument("--sample", type=int, default=5, help="tournament size")
    ap.add_argument("--seed", type=int, default=0, help="search seed")
    ap.add_argument("--target", default="ethos-u55-128")
    ap.add_argument("--bundle", default=None, help="bundle folder (overrides --target)")
    ap.add_argument("--build-pool", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.build_pool:
        build_pool(args.pool)
        return 0
    missing = sum(not os.path.exists(_path(s)) for s in range(SEED_BASE, SEED_BASE + args.pool))
    if missing:
        print("building {} pool models into {} (TensorFlow, child process; not timed as "
              "search)...".format(missing, CACHE), flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, os.path.abspath(__file__), "--build-pool", "--pool",
                        str(args.pool)], check=True, cwd=ROOT,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        print("  built in {:.0f} s ({:.2f} s per model)".format(
            time.perf_counter() - t0, (time.perf_counter() - t0) / missing))

    from edge_predictor import Predictor

    predictor = Predictor.load(args.bundle or args.target, threads=1)
    desc = predictor.bundle.meta.get("description", "")
    print("predictor: {} bundle {} ({})".format(predictor.target, predictor.bundle.path, desc))
    if "random" in desc.lower():
        print("  WARNING: random-weight bundle: its predictions are meaningless (speed only)")
    pool = load_pool(args.pool)
    predictor.predict_many([c.content for c in pool[:16]])  # warm-up: creates interpreters
    t0 = time.perf_counter()
    predictor.predict_many([c.content for c in pool])
    many = time.perf_counter() - t0
    print("predict_many over the whole pool (batched, warm): {} candidates in {:.2f} s = {:.0f} "
          "candidates/s".format(len(pool), many, len(pool) / many))

    history, timer = evolve(predictor, pool, args.budget_ms, args.cycles, args.population,
                            args.sample, args.seed)
    n = len(history)
    print("search: regularised evolution, {} evaluations over a pool of {}".format(n, len(pool)))
    print("  prediction (Predictor.predict, reader+featurizer+interpreter): {:.2f} s = "
          "{:.0f} candidates/s".format(timer["predict_s"], n / timer["predict_s"]))
    print("  proxy (MACs from the reader): {:.2f} s; search bookkeeping: {:.2f} s".format(
        timer["proxy_s"], timer["search_s"]))
    feasible = [h for h in history if h["pred"]["latency_ms"] <= args.budget_ms]
    if feasible:
        best = max(feasible, key=lambda h: h["proxy"])
        print("  {} of {} evaluated candidates fit the predicted budget of {} ms".format(
            len(feasible), n, args.budget_ms))
    else:
        best = min(history, key=lambda h: h["pred"]["latency_ms"])
        print("  no evaluated candidate fits {} ms: showing the fastest predicted".format(
            args.budget_ms))

    from benches.labelers.vela import label_vela

    t0 = time.perf_counter()
    vela = label_vela(pool[best["index"]].content)
    vela_s = time.perf_counter() - t0
    v, p = vela["labels"], best["pred"]
    print("final pick: {} seed {}  accuracy PROXY log10(MACs) = {:.2f} ({:,.0f} MACs)".format(
        SPACE, best["seed"], best["proxy"], 10 ** best["proxy"]))
    print("  {:<12s} {:>12s} {:>12s}".format("metric", "predicted", "Vela"))
    for k in ("latency_ms", "sram_kib", "energy_mj"):
        if k in p and k in v:
            print("  {:<12s} {:>12.4g} {:>12.4g}".format(k, p[k], v[k]))
    print("  within budget by Vela: {}; Vela took {:.2f} s for this one model (x{} evaluations "
          "~ {:.0f} s if Vela were the cost model, extrapolated)".format(
              v["latency_ms"] <= args.budget_ms, vela_s, n, vela_s * n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
