"""Bench: how fast and how light the predictor is, next to Vela and a live CPU measurement
(issues 5 and 22).

For a varied model set -- every design space (seeds from :data:`SEED_BASE`, outside the
dataset's range), a >1,000-operator ViT (:func:`build_vit1000`) and the zoo's real architectures
(every model built in ``.cache/zoo``; ``--quick``: :data:`ZOO_MODELS`) -- it times, on one core
with one interpreter thread, the median of ``reps`` calls of:

* ``read_ms``, ``featurize_ms``: :func:`read_model` and :func:`featurize` on the model bytes (in
  memory); ``read_featurize_ms`` both;
* ``predictor_ms``: :meth:`Predictor.predict_features` (pad into the bucket, invoke, answer);
  ``invoke_ms`` the interpreter call alone on already padded inputs;
* ``total_ms``: :meth:`Predictor.predict` on the bytes (all of it, what a search loop pays) on
  a model the process sees for the first time: the featurizer's operator cache and block
  searches are cleared (:func:`edge_predictor.featurize.clear_cache`) before every call, so a
  model only gains from operators it repeats itself; ``featurize_ms`` and ``total_warm_ms``:
  the same on a model seen before (what a search loop pays for operators its candidates share);
* ``vela_ms``: the wall time of :func:`benches.labelers.vela.label_vela` (median of
  ``vela_reps``);
* ``cpu_measure_ms``: the wall time of one default :func:`measure_latency` (interpreter build,
  10 warm-up runs, >= 30 runs and >= 1 s timed);

their ratios to ``total_ms`` and the medians over models, the ``predict_many`` throughput on
320 distinct cnn-cifar10 candidates (caches cleared before each pass: only what the candidates
share is reused), the bundle's size on disk and the peak RSS of one ``edge-perf
predict`` process. Writes ``<out>/<stem>.{json,md}`` (``speed``, or ``speed_quick``
with ``--quick``). Models are built once into ``.cache/speed_models/`` by a child process
(``--build-only``, needs the train extra), so the timing process never imports TensorFlow.

Run: ``python -m benches.speed [--quick] [--target ethos-u55-128] [--bundle PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

__all__ = ["SEED_BASE", "POOL_SEED_BASE", "TARGETS", "VIT1000_CONFIG", "VIT1000_FILE", "model_set",
           "build_models", "build_vit1000", "pin_to_core", "median_ms", "time_model",
           "time_predict_many", "bundle_mb", "cli_peak_rss_mb", "check_targets", "render_markdown",
           "run", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache", "speed_models")
RESULTS = os.path.join(ROOT, "benches", "results")
SPACES = ("cnn-cifar10", "cnn-imagenet", "cnn-kws", "vit-cifar100")
SEED_BASE = 900000  #: per-space bench models: seeds SEED_BASE, SEED_BASE + 1, ...
POOL_SEED_BASE = 910000  #: cnn-cifar10 candidates for the predict_many throughput
ZOO_MODELS = ("ds_cnn", "mobilenet_v2", "vit_tiny")  #: the zoo models of ``--quick``

#: Issue 22's targets (one core): name -> (limit, "<=" or ">=", what is compared).
TARGETS = {
    "bundle_mb": (5.0, "<=", "largest bundle on disk, every bucket: the benched one and each "
                  "shipped target (MB)"),
    "zoo_vela_speedup": (100.0, ">=", "median over the zoo's real models of Vela time / total"),
    "small_total_ms": (1.0, "<=", "median total of models of <= 100 operators (ms)"),
    "many_per_s": (1000.0, ">=", "predict_many cnn-cifar10 candidates per second"),
    "vit1000_total_ms": (30.0, "<=", "1,000+-operator ViT's median total (ms)"),
    "cli_rss_mb": (80.0, "<=", "peak RSS of `edge-perf predict` on one model (MB)"),
}

#: vit-cifar100's building blocks (:func:`trainer.spaces.vit.build`) with per-head ("split")
#: attention and 8 heads (the space's maximum) in 14 layers, two more than the space's maximum
#: depth: after conversion a layer is 16 + 7 x heads = 72 operators, so the space itself tops out
#: at 879 (depth 12, 8 heads everywhere); this model has 15 + 14 x 72 = 1,023.
VIT1000_CONFIG = {
    "input_shape": [32, 32, 3], "num_classes": 100, "patch_size": 4, "embed_dim": 192,
    "attention": "split", "layers": [{"num_heads": 8, "head_dim": 32, "mlp_ratio": 2}] * 14,
}
VIT1000_FILE = "vit1000_d{}h8.tflite".format(len(VIT1000_CONFIG["layers"]))


def model_set(quick: bool, cache: str = CACHE, zoo_dir: str = os.path.join(ROOT, ".cache", "zoo")):
    """The bench models and the predict_many pool.

    Returns:
        ``(models, pool)``: models are dicts ``{name, family, path, space, seed}`` (space None
        for the ViT-1000 and zoo models; zoo models only where already cached); the pool is a
        list of paths, 320 long (``--quick``: 40 distinct files repeated 8 times).
    """
    per_space = 2 if quick else 5
    models = []
    for space in SPACES:
        for seed in range(SEED_BASE, SEED_BASE + per_space):
            name = "{}_s{}".format(space, seed)
            models.append({"name": name, "family": space, "space": space, "seed": seed,
                           "path": os.path.join(cache, name + ".tflite")})
    models.append({"name": "vit1000", "family": "vit-1000", "space": None, "seed": None,
                   "path": os.path.join(cache, VIT1000_FILE)})
    names = ZOO_MODELS[:1] if quick else sorted(
        f[:-7] for f in (os.listdir(zoo_dir) if os.path.isdir(zoo_dir) else [])
        if f.endswith(".tflite"))
    for name in names:
        path = os.path.join(zoo_dir, name + ".tflite")
        if os.path.exists(path):
            models.append({"name": name, "family": "zoo", "space": None, "seed": None,
                           "path": path})
    distinct = 16 if quick else 320
    pool = [os.path.join(cache, "pool", "cnn-cifar10_s{}.tflite".format(POOL_SEED_BASE + i))
            for i in range(distinct)]
    return models, (pool * (320 // distinct))[:320]


def _write_atomic(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".part{}".format(os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def build_vit1000() -> bytes:
    """INT8 bytes of the :data:`VIT1000_CONFIG` transformer (random weights; needs TensorFlow)."""
    from converters.quantize import to_int8_tflite
    from trainer.spaces import calibration_batches, set_weights
    from trainer.spaces.vit import build

    model = set_weights(build(VIT1000_CONFIG, name="vit1000"), "vit-cifar100", SEED_BASE)
    return to_int8_tflite(model, calibration_batches("vit-cifar100", SEED_BASE))


def build_models(models: List[Dict[str, Any]], pool: List[str]) -> int:
    """Build every missing design-space, ViT-1000 and pool model; returns how many were built."""
    from converters.quantize import build_tflite

    todo = [(m["path"], m["space"], m["seed"]) for m in models if m["family"] != "zoo"]
    todo += [(p, "cnn-cifar10", int(p.rsplit("_s", 1)[1][:-7])) for p in sorted(set(pool))]
    built = 0
    for path, space, seed in todo:
        if os.path.exists(path):
            continue
        t0 = time.perf_counter()
        data = build_vit1000() if space is None else build_tflite(space, seed)
        _write_atomic(path, data)
        built += 1
        print("built {} ({:.1f} s)".format(os.path.relpath(path, ROOT), time.perf_counter() - t0),
              file=sys.stderr, flush=True)
    return built


def pin_to_core(core: int = 0) -> Optional[List[int]]:
    """Pin this process to one CPU core (``taskset -c core``); the new affinity or None."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    os.sched_setaffinity(0, {int(core)})
    return sorted(os.sched_getaffinity(0))


def median_ms(fn: Callable[[], Any], reps: int,
              before: Optional[Callable[[], Any]] = None) -> float:
    """Median wall time of ``reps`` calls of ``fn``, in milliseconds (``before``: called, not
    timed, before each)."""
    times = []
    for _ in range(max(1, int(reps))):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


def time_model(predictor, content: bytes, name: str, family: str, reps: int = 20,
               vela_reps: int = 3, cpu: bool = True, vela: bool = True,
               cpu_kwargs: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Time the predictor, Vela and a live CPU measurement on one model (see module doc)."""
    from edge_predictor.bucket_runner import adjacency_entries
    from edge_predictor.featurize import clear_cache, featurize
    from edge_predictor.measure import measure_latency
    from edge_predictor.tflite_reader import read_model

    graph = read_model(content, name=name)
    feats = featurize(graph)
    first = predictor.predict(content, name=name)  # creates the bucket's interpreter
    bucket = predictor.bundle.bucket_for(feats.n_nodes, n_entries=adjacency_entries(feats))
    runner = predictor.runner(bucket)
    runner.run([feats])  # leaves the padded inputs in the runner's buffers
    padded = runner.padded()
    row: Dict[str, Any] = {
        "model": name, "family": family, "operators": feats.n_nodes, "bytes": len(content),
        "bucket_nodes": bucket.nodes,
        "predicted": {k: first[k] for k in predictor.metrics},
        "read_ms": median_ms(lambda: read_model(content, name=name), reps),
        "featurize_ms": median_ms(lambda: featurize(graph), reps),
        "featurize_cold_ms": median_ms(lambda: featurize(graph), reps, clear_cache),
        "read_featurize_ms": median_ms(lambda: featurize(read_model(content, name=name)), reps,
                                       clear_cache),
        "invoke_ms": median_ms(lambda: runner.invoke(padded), reps),
        "predictor_ms": median_ms(lambda: predictor.predict_features(feats, name), reps),
        "total_warm_ms": median_ms(lambda: predictor.predict(content, name=name), reps),
        "total_ms": median_ms(lambda: predictor.predict(content, name=name), reps, clear_cache),
    }
    if vela:
        from benches.labelers.vela import label_vela
        from edge_predictor.errors import LabelError

        try:
            walls = []
            for _ in range(max(1, int(vela_reps))):
                t0 = time.perf_counter()
                res = label_vela(content)
                walls.append(time.perf_counter() - t0)
            row["vela_ms"] = statistics.median(walls) * 1000.0
            row["vela_latency_ms"] = res["labels"]["latency_ms"]
            row["vela_speedup"] = row["vela_ms"] / row["total_ms"]
        except LabelError as err:
            row["vela_error"] = str(err)
    if cpu:
        t0 = time.perf_counter()
        stats = measure_latency(content, threads=1, **(cpu_kwargs or {}))
        row["cpu_measure_ms"] = (time.perf_counter() - t0) * 1000.0
        row["cpu_latency_ms"] = stats["median_ms"]
        row["cpu_runs"] = stats["n_runs"]
        row["cpu_speedup"] = row["cpu_measure_ms"] / row["total_ms"]
    return row


def bundle_mb(bundle) -> float:
    """Megabytes on disk of a loaded bundle's model files and meta.json."""
    from edge_predictor.bundle import META_FILE, bundle_files

    names = list(bundle_files(bundle.meta)) + [META_FILE]
    return sum(os.path.getsize(os.path.join(bundle.path, n)) for n in names) / 1e6


def cli_peak_rss_mb(model: str, bundle: str) -> Optional[float]:
    """Peak resident memory (MB) of one ``edge-perf predict MODEL --bundle BUNDLE`` process, or
    None where ``resource`` is missing (the child runs in a fresh helper process, so the
    maximum is that command's alone)."""
    try:
        import resource  # noqa: F401 - POSIX only
    except ImportError:
        return None
    code = ("import resource, subprocess, sys; subprocess.run([sys.executable, '-m', "
            "'edge_predictor.cli', 'predict', sys.argv[1], '--bundle', sys.argv[2], '--json'], "
            "check=True, stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, model, bundle], check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    return int(out.strip().splitlines()[-1]) / 1024.0  # Linux: KiB


def time_predict_many(predictor, contents: List[bytes], repeats: int = 3) -> Dict[str, Any]:
    """Throughput of ``predict_many`` (read + featurize + batched invoke) and of a predict loop,
    each pass starting with empty featurizer caches (a search loop's first pass over these
    candidates)."""
    from edge_predictor.featurize import clear_cache

    predictor.predict_many(contents[:32])  # warm: creates the batched buckets' interpreters
    many = median_ms(lambda: predictor.predict_many(contents), repeats, clear_cache) / 1000.0
    loop = median_ms(lambda: [predictor.predict(c) for c in contents], 1, clear_cache) / 1000.0
    return {"candidates": len(contents), "distinct": len(set(contents)), "repeats": repeats,
            "predict_many_s": many, "many_per_s": len(contents) / many,
            "predict_loop_s": loop, "loop_per_s": len(contents) / loop}


def _median(rows, key, family=None):
    vals = [r[key] for r in rows if key in r and (family is None or r["family"] == family)]
    return statistics.median(vals) if vals else None


def check_targets(rows: List[Dict[str, Any]], many: Dict[str, Any],
                  size_mb: Optional[float] = None,
                  rss_mb: Optional[float] = None) -> Dict[str, Dict]:
    """Issue 22's targets: ``{name: {"value", "limit", "op", "what", "met"}}`` (met None: n/a)."""
    small = [r["total_ms"] for r in rows if r["operators"] <= 100]
    vit = [r["total_ms"] for r in rows if r["family"] == "vit-1000" and r["operators"] >= 1000]
    values = {"bundle_mb": size_mb,
              "zoo_vela_speedup": _median(rows, "vela_speedup", "zoo"),
              "small_total_ms": statistics.median(small) if small else None,
              "many_per_s": many.get("many_per_s"),
              "vit1000_total_ms": max(vit) if vit else None,
              "cli_rss_mb": rss_mb}
    out = {}
    for name, (limit, op, what) in TARGETS.items():
        v = values[name]
        met = None if v is None else (v <= limit if op == "<=" else v >= limit)
        out[name] = {"value": v, "limit": limit, "op": op, "what": what, "met": met}
    return out


def _f(v, fmt="{:.2f}"):
    return "-" if v is None else fmt.format(v)


def render_markdown(report: Dict[str, Any]) -> str:
    """The readable table of a :func:`run` report."""
    h, b = report["host"], report["bundle"]
    lines = ["# Predictor speed vs Vela and live CPU measurement", "",
             "Command: `{}`".format(report["command"]), "",
             "Host: {} ({} logical cores), {} {}, Python {}; affinity {}, interpreter threads 1. "
             "Load average at start {} / end {}.".format(
                 h["cpu_model"], h["logical_cores"], h["interpreter"], h["interpreter_version"],
                 h["python"], report["affinity"], report["loadavg_start"],
                 report["loadavg_end"]),
             "Bundle: `{}` ({}; {}; buckets {}).".format(
                 b["path"], b["target"], b["description"] or "no description", ", ".join(
                     "{nodes}x{batch}".format(**x) for x in b["buckets"])), ""]
    if report["loadavg_start"] and report["loadavg_start"][0] > 0.5 * h["logical_cores"]:
        lines += ["**The machine was loaded during this run: times are inflated.**", ""]
    lines += ["Medians of {} calls on the model bytes: read, featurize (first sight: the "
              "featurizer's operator cache and block searches cleared before each call; seen: "
              "called again), invoke (the interpreter alone on padded inputs), predictor = pad "
              "+ invoke + answer, total = `Predictor.predict` (first sight; seen); Vela = "
              "`label_vela` wall, median of {}, over the first-sight total; CPU = wall of one "
              "default `measure_latency`.".format(report["reps"], report["vela_reps"]), "",
              "| model | family | ops | bucket | read ms | featurize ms first / seen | "
              "invoke ms | predictor ms | total ms first / seen | Vela ms | Vela/total | "
              "CPU measure ms | CPU/total |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["models"]:
        lines.append("| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} / {} | {} | {} | {} | "
                     "{} |".format(
            r["model"], r["family"], r["operators"], r["bucket_nodes"],
            _f(r.get("read_ms")), _f(r.get("featurize_cold_ms")), _f(r.get("featurize_ms")),
            _f(r.get("invoke_ms"), "{:.3f}"), _f(r["predictor_ms"]), _f(r["total_ms"]),
            _f(r.get("total_warm_ms")),
            _f(r.get("vela_ms"), "{:.1f}"), _f(r.get("vela_speedup"), "{:.0f}x"),
            _f(r.get("cpu_measure_ms"), "{:.0f}"), _f(r.get("cpu_speedup"), "{:.0f}x")))
    s, m = report["summary"], report["predict_many"]
    lines += ["", "Median over models: read {} ms, featurize {} ms (first sight; seen {} ms), "
              "invoke {} ms, total {} ms (seen {} ms); "
              "Vela/total {} (zoo: {}; median Vela / median total {}), CPU measure/total {}. "
              "Bundle on disk {} MB (shipped: {}); peak RSS of `edge-perf predict` on one model {} "
              "MB.".format(
                  _f(s.get("read_ms")), _f(s.get("featurize_cold_ms")), _f(s.get("featurize_ms")),
                  _f(s.get("invoke_ms"), "{:.3f}"), _f(s["total_ms"]), _f(s.get("total_warm_ms")),
                  _f(s["vela_speedup"], "{:.0f}x"),
                  _f(s.get("zoo_vela_speedup"), "{:.0f}x"),
                  _f(s.get("vela_speedup_of_medians"), "{:.0f}x"),
                  _f(s["cpu_speedup"], "{:.0f}x"), _f(report.get("bundle_mb")),
                  ", ".join("{} {:.2f} MB".format(t, v) for t, v in sorted(
                      report.get("shipped_bundles_mb", {}).items())) or "none",
                  _f(report.get("cli_rss_mb"), "{:.0f}")),
        "", "`predict_many` on {candidates} cnn-cifar10 candidates ({distinct} distinct, the "
        "featurizer's caches emptied before each pass): {many_per_s:.0f}/s; a `predict` loop: "
        "{loop_per_s:.0f}/s.".format(**m), "",
        "| target | limit | value | met |", "| --- | --- | --- | --- |"]
    for t in report["targets"].values():
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append("| {} | {} {} | {} | {} |".format(t["what"], t["op"], t["limit"],
                                                      _f(t["value"]), met))
    return "\n".join(lines) + "\n"


def run(models: List[Dict[str, Any]], pool: List[str], bundle: str, reps: int = 20,
        vela_reps: int = 3, cpu: bool = True, vela: bool = True,
        cpu_kwargs: Optional[Dict[str, Any]] = None, many_repeats: int = 3,
        out_dir: str = RESULTS, stem: str = "speed", command: str = "",
        affinity: Optional[List[int]] = None, log: Callable[[str], None] = print,
        rss: bool = True):
    """Time every model and the pool, write ``<out_dir>/<stem>.{json,md}``, return the report."""
    from edge_predictor.bundle import describe
    from edge_predictor.measure import host_fingerprint
    from edge_predictor.runtime import Predictor

    load0 = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    predictor = Predictor.load(bundle, threads=1)
    rows = []
    for m in models:
        with open(m["path"], "rb") as f:
            content = f.read()
        try:
            row = time_model(predictor, content, m["name"], m["family"], reps, vela_reps,
                             cpu=cpu, vela=vela, cpu_kwargs=cpu_kwargs)
        except Exception as err:  # noqa: BLE001 - one failing model is reported, not fatal
            log("{}: {}".format(m["name"], err))
            continue
        rows.append(row)
        log("{model:28s} {operators:5d} ops  total {total_ms:7.2f} ms  vela {v}  cpu {c}".format(
            v=_f(row.get("vela_ms"), "{:.0f} ms"), c=_f(row.get("cpu_measure_ms"), "{:.0f} ms"),
            **row))
    contents = []
    for p in pool:
        with open(p, "rb") as f:
            contents.append(f.read())
    many = time_predict_many(predictor, contents, many_repeats) if contents else {}
    summary = {k: _median(rows, k) for k in ("read_ms", "featurize_ms", "featurize_cold_ms",
                                             "read_featurize_ms", "invoke_ms", "predictor_ms",
                                             "total_ms", "total_warm_ms",
                                             "vela_ms", "cpu_measure_ms", "vela_speedup",
                                             "cpu_speedup")}
    summary["zoo_vela_speedup"] = _median(rows, "vela_speedup", "zoo")
    from edge_predictor.bundle import list_bundles, load_bundle

    size = bundle_mb(predictor.bundle)
    shipped = {t: bundle_mb(load_bundle(d, verify=False)) for t, d in list_bundles().items()}
    # the CLI's memory on a mid-sized real model (MobileNetV2 when the zoo is built)
    rss_path = next((m["path"] for m in models if m["name"] == "mobilenet_v2"),
                    models[0]["path"] if models else None)
    rss = cli_peak_rss_mb(rss_path, predictor.bundle.path) if rss_path and rss else None
    summary["total_ms_by_family"] = {f: _median(rows, "total_ms", f)
                                     for f in sorted(set(r["family"] for r in rows))}
    if summary["vela_ms"] and summary["total_ms"]:  # the other reading of "the median model"
        summary["vela_speedup_of_medians"] = summary["vela_ms"] / summary["total_ms"]
    report = {
        "command": command, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": host_fingerprint(threads=1), "platform": platform.platform(),
        "affinity": affinity, "loadavg_start": load0,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()] if load0 else None,
        "bundle": describe(predictor.bundle), "reps": reps, "vela_reps": vela_reps,
        "cpu_kwargs": cpu_kwargs or "measure_latency defaults", "models": rows,
        "summary": summary, "predict_many": many, "bundle_mb": size,
        "shipped_bundles_mb": shipped, "cli_rss_mb": rss,
        "cli_rss_model": os.path.basename(rss_path) if rss else None,
        "targets": check_targets(rows, many, max([size] + list(shipped.values())), rss),
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, stem + ".json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out_dir, stem + ".md"), "w") as f:
        f.write(render_markdown(report))
    return report


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m benches.speed [--quick] [--target T] [--bundle PATH] [--core 0]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m benches.speed", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 models per space, 5 reps, 1 Vela run, 16 distinct pool models")
    ap.add_argument("--target", default="ethos-u55-128", help="bundled target id")
    ap.add_argument("--bundle", default=None, help="bundle folder (overrides --target)")
    ap.add_argument("--core", type=int, default=0, help="CPU core to pin to (-1: no pinning)")
    ap.add_argument("--out-dir", default=RESULTS)
    ap.add_argument("--no-vela", action="store_true")
    ap.add_argument("--no-cpu", action="store_true")
    ap.add_argument("--build-only", action="store_true", help="build missing models and exit")
    args = ap.parse_args(argv)
    models, pool = model_set(args.quick)
    if args.build_only:
        if hasattr(os, "nice"):
            os.nice(10)  # building is background work; the timing process is not niced
        build_models(models, pool)
        return 0
    missing = [m for m in models if not os.path.exists(m["path"])]
    if missing or not all(os.path.exists(p) for p in pool):
        print("building missing models into {} (TensorFlow, in a child process)".format(CACHE),
              file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "benches.speed", "--build-only"] + argv,
                       cwd=ROOT, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    affinity = pin_to_core(args.core) if args.core >= 0 else None
    command = " ".join(["python -m benches.speed"] + argv)
    stem = "speed_quick" if args.quick else "speed"
    report = run(models, pool, args.bundle or args.target, reps=5 if args.quick else 20,
                 vela_reps=1 if args.quick else 3, cpu=not args.no_cpu, vela=not args.no_vela,
                 out_dir=args.out_dir, stem=stem, command=command, affinity=affinity)
    print(render_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
