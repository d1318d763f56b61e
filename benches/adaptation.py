"""Bench: a bundled predictor adapted to new hardware from N measurements (issue 21).

Settings that differ from the labelling setup (each a base bundle and a way to measure):

* ``npu-u55-256``, ``npu-u55-64``, ``npu-u55-32``: the ``ethos-u55-128`` bundle, labels from
  Vela for an Ethos-U55 with 256, 64 or 32 MACs (another accelerator size; latency, SRAM,
  energy), calibrated with ``--accelerator`` (its blocks and weight buffers replayed);
* ``cpu-t2``: the host-CPU bundle, measured live on this host with 2 interpreter threads;
* ``cpu-nodelegate``: the same at 1 thread with the default delegate off (the interpreter's
  reference kernels: another kernel library, as another board would have);
* ``cpu-t1``: the setup the CPU bundle was labelled with (1 thread, delegate on): on the
  labelling host a control, on any other host a new machine of its own (each setting records
  where it was measured).

For every setting the same models are measured: a **pool** of calibration candidates (fresh
models of every space, seeds :data:`POOL_SEED` on, ``--pool`` per space) and two held-out sets
never used to calibrate: fresh models (``benches.validation``'s, seeds 800000 on) and the zoo of
real architectures. For N = 5, 10, 20 the calibration set is what ``edge-perf calibrate
--count N`` picks from the pool (:func:`edge_predictor.calibration.pick_diverse`), and four
predictors are scored on the held-out sets:

* ``base``: the bundle as shipped;
* ``scale``: one factor per metric fitted on the N (the scale-only baseline);
* ``factors``: per-kernel-group factors or one factor, the better by leave-one-out (what
  ``edge-perf calibrate --labels`` writes);
* ``calibrated``: what ``edge-perf calibrate`` writes, scored through the bundle it writes: for
  a live CPU setting the N models' operators are also timed one at a time, with the fixed probe
  grid (``edge_predictor/op_probe.py``), and a host per-operator model competes with the
  factors by leave-one-out (``edge_predictor/host_ops.py``); elsewhere the factors;
* ``analytical-refit``: no network -- the analytical model's figure (NPU: the ``npu_cost``
  cycles, the ``npu_energy`` sum, the ``npu_memory`` activation peak; CPU: the host table's sum)
  with per-kernel-group factors fitted on the same N, i.e. the cheapest predictor "trained from
  scratch" on N measurements that can extrapolate at all.

Live CPU settings must run alone on the machine (timings). Measurements are cached per setting
in ``.cache/adaptation/<setting>.json`` and the pool's operator timings in
``<setting>-ops.json`` (resumable; delete both to measure again: they belong to one run). Writes
``benches/results/adaptation.{json,md}`` and ``adaptation.png``.

Run: ``python -m benches.adaptation [--settings npu-u55-256,cpu-t2,cpu-nodelegate,cpu-t1]
[--pool 6]`` (the train extra: TensorFlow builds the pool, Vela labels the NPU setting).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

os.environ.setdefault("EDGE_PERF_INTERPRETER", "litert")

from benches.results_io import read_results, write_results  # noqa: E402
from benches.validation import SPACES, build_models, zoo_models  # noqa: E402
from edge_predictor.calibration import (choose, fit_groups, fit_scale, groups_of,  # noqa: E402
                                        pick_diverse, shares_of, shares_source)
from edge_predictor.featurize import featurize, raw_columns  # noqa: E402
from edge_predictor.accelerator import AcceleratorView  # noqa: E402
from edge_predictor.npu_blocks import ACCELERATORS  # noqa: E402
from edge_predictor.runtime import Predictor  # noqa: E402
from edge_predictor.tflite_reader import read_model  # noqa: E402
from edge_predictor.validate import spearman  # noqa: E402

__all__ = ["SETTINGS", "POOL_SEED", "COUNTS", "evaluate", "render_markdown", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache", "adaptation")
RESULTS = os.path.join(ROOT, "benches", "results")
POOL_SEED = 810000
COUNTS = (5, 10, 20)
CPU_BASE = "cpu-epyc-litert-t1"
#: name -> (base bundle, metrics, how to measure)
SETTINGS = {
    "npu-u55-256": ("ethos-u55-128", ("latency_ms", "sram_kib", "energy_mj"),
                    {"vela": "ethos-u55-256"}),
    "npu-u55-64": ("ethos-u55-128", ("latency_ms", "sram_kib", "energy_mj"),
                   {"vela": "ethos-u55-64"}),
    "npu-u55-32": ("ethos-u55-128", ("latency_ms", "sram_kib", "energy_mj"),
                   {"vela": "ethos-u55-32"}),
    "cpu-t2": (CPU_BASE, ("latency_ms",), {"threads": 2, "delegates": True}),
    "cpu-nodelegate": (CPU_BASE, ("latency_ms",), {"threads": 1, "delegates": False}),
    "cpu-t1": (CPU_BASE, ("latency_ms",), {"threads": 1, "delegates": True}),
}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _measurer(how: Dict[str, Any]) -> Callable[[str], Dict[str, float]]:
    if "vela" in how:
        from benches.labelers.vela import label_vela

        def vela(path: str) -> Dict[str, float]:
            with open(path, "rb") as f:
                return dict(label_vela(f.read(), accelerator=how["vela"])["labels"])
        return vela
    from edge_predictor.measure import measure_latency

    def live(path: str) -> Dict[str, float]:
        r = measure_latency(path, threads=how["threads"], warmup=10 if how["delegates"] else 2,
                            runs=30 if how["delegates"] else 10, min_time_s=0.3,
                            default_delegates=how["delegates"])
        return {"latency_ms": float(r["median_ms"])}
    return live


def _measured_on(how: Dict[str, Any]) -> str:
    """Where a setting's labels come from: Vela's configuration, or this host's fingerprint (a
    live CPU setting is only comparable within one host)."""
    if "vela" in how:
        return "Vela, " + how["vela"]
    from edge_predictor.measure import host_fingerprint

    fp = host_fingerprint(threads=how["threads"])
    return "live on {} ({} logical cores), {} {}, {} thread(s), default delegate {}".format(
        fp.get("cpu_model"), fp.get("logical_cores"), fp.get("interpreter"),
        fp.get("interpreter_version"), how["threads"], "on" if how["delegates"] else "off")


def measure_all(setting: str, paths: List[str]) -> Dict[str, Dict[str, float]]:
    """Measure every model in ``setting`` (cached in ``.cache/adaptation``, resumable)."""
    os.makedirs(CACHE, exist_ok=True)
    cache_path = os.path.join(CACHE, setting + ".json")
    cache = json.load(open(cache_path)) if os.path.exists(cache_path) else {}
    run = _measurer(SETTINGS[setting][2])
    todo = [p for p in paths if os.path.basename(p) not in cache]
    t0 = time.time()
    for i, p in enumerate(todo):
        try:
            cache[os.path.basename(p)] = run(p)
        except Exception as err:  # one model that fails must not stop the sweep
            cache[os.path.basename(p)] = {"error": str(err)[:300]}
        if i % 5 == 4 or i == len(todo) - 1:
            with open(cache_path + ".tmp", "w") as f:
                json.dump(cache, f, sort_keys=True)
            os.replace(cache_path + ".tmp", cache_path)
            _log("{}: {}/{} measured ({:.0f} s)".format(setting, i + 1, len(todo),
                                                         time.time() - t0))
    return cache


def _written_at(setting: str) -> str:
    """When a setting's cached whole-model measurements were last written (UTC; its operator
    timings are taken right after them, in the same run)."""
    path = os.path.join(CACHE, setting + ".json")
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(os.path.getmtime(path))) \
        if os.path.exists(path) else "(not recorded)"


def profile_pool(setting: str, pool: List[str]) -> Optional[Dict[str, np.ndarray]]:
    """A live CPU setting's operator timings of every pool model and of the probe grid, as
    ``edge-perf calibrate`` takes them (cached in ``.cache/adaptation/<setting>-ops.json``);
    None for other settings."""
    from edge_predictor.calibrate import PROBES_KEY
    from edge_predictor.op_probe import time_probes
    from edge_predictor.op_profile import invoke_overhead_us, profile_ops

    how = SETTINGS[setting][2]
    if "vela" in how:
        return None
    cache_path = os.path.join(CACHE, setting + "-ops.json")
    cache = json.load(open(cache_path)) if os.path.exists(cache_path) else {}
    overhead = invoke_overhead_us(how["threads"], how["delegates"])
    todo = [p for p in pool if os.path.basename(p) not in cache]
    for i, p in enumerate(todo):
        with open(p, "rb") as f:
            t = profile_ops(f.read(), how["threads"], how["delegates"], overhead_us=overhead)
        cache[os.path.basename(p)] = [None if not np.isfinite(v) else float(v) for v in t]
        _log("{}: operators of {}/{} pool models timed".format(setting, i + 1, len(todo)))
    if PROBES_KEY not in cache:
        t = time_probes(how["threads"], how["delegates"], overhead_us=overhead)
        cache[PROBES_KEY] = [None if not np.isfinite(v) else float(v) for v in t]
        todo.append(PROBES_KEY)
    if todo:  # written only when something was timed: its time says when
        with open(cache_path + ".tmp", "w") as f:
            json.dump(cache, f)
        os.replace(cache_path + ".tmp", cache_path)
    return {k: np.array([np.nan if v is None else v for v in vals], np.float64)
            for k, vals in cache.items()}


def _analytical(feats, target: str, metric: str) -> float:
    """The analytical model's figure of ``metric`` for ``target``'s base: NPU cycles, energy
    (pJ) or activation peak (bytes: live buffers and scratch); CPU microseconds."""
    from edge_predictor.op_table import OP_VOCAB

    if target.startswith("ethos-u"):
        if metric == "sram_kib":
            live, scratch = raw_columns(feats, ("npu_live_bytes", "npu_scratch_bytes"))
            return float((live + scratch).max())
        col = "npu_energy_pj" if metric == "energy_mj" else "npu_cost_cycles"
        return float(raw_columns(feats, (col,))[0].sum())
    from edge_predictor.cpu_cost import TERM_COLUMNS, cost_of, cpu_terms, table_for

    ops = [OP_VOCAB[int(i)] for i in feats.op_ids]
    return float(cost_of(ops, cpu_terms(raw_columns(feats, TERM_COLUMNS)),
                         table_for(target)).sum())


def _stats(pred: np.ndarray, meas: np.ndarray) -> Dict[str, Any]:
    e = pred / meas - 1.0
    return {"n": int(len(e)), "mape": round(100 * float(np.mean(np.abs(e))), 2),
            "within10": round(100 * float(np.mean(np.abs(e) <= 0.10)), 1),
            "spearman": round(float(spearman(pred, meas)), 4) if len(e) > 2 else None}


def _calibrated(base: str, metric: str, chosen: List[str], paths: Dict[str, str],
                labels: Dict[str, Dict[str, float]], held: Dict[str, List[str]],
                feats_of: Dict[str, Any], profiles: Optional[Dict[str, np.ndarray]],
                accelerator: Optional[str] = None
                ) -> Tuple[Dict[str, Any], Dict[str, np.ndarray], Dict[str, Dict[str, Any]]]:
    """The bundle ``edge-perf calibrate`` writes from ``chosen``'s ``metric`` (and, for a live
    CPU setting, their operator timings and the probes'), as its user sees it; ``feats_of``
    the held-out models featurized for ``accelerator`` (``calibrate --accelerator``).

    Returns:
        (its fit: method, LOO MAPE; per held-out set its answers [n]; per held-out set the
        share of models whose measurement its p10-p90 holds, and the mean width p90 / p10).
    """
    import tempfile

    from edge_predictor.calibrate import PROBES_KEY, calibrate_bundle

    samples = [(paths[n], {metric: labels[n][metric]}) for n in chosen]
    prof = None
    if profiles is not None and metric == "latency_ms":
        prof = {paths[n]: profiles[n] for n in chosen}
        prof[PROBES_KEY] = profiles[PROBES_KEY]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "calibrated")
        meta = calibrate_bundle(base, samples, out, {"kind": "labels",
                                                     "file": "benches.adaptation"},
                                profiles=prof, accelerator=accelerator)
        calibrated = Predictor.load(out)
        preds, cover = {}, {}
        for set_name, names in held.items():
            inside, widths, values = [], [], []
            for n in names:
                ans = calibrated.predict_features(feats_of[n], n)
                lo, hi = ans["interval"][metric]
                values.append(ans[metric])
                inside.append(lo <= labels[n][metric] <= hi)
                widths.append(hi / lo if lo > 0 else float("inf"))
            preds[set_name] = np.array(values)
            cover[set_name] = {"coverage": round(100 * float(np.mean(inside)), 1),
                               "width": round(float(np.mean(widths)), 3)}
    return meta["calibration"]["metrics"][metric], preds, cover


def evaluate(setting: str, pool: List[str], held: Dict[str, List[str]],
             labels: Dict[str, Dict[str, float]],
             profiles: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, Any]:
    """Score the five predictors for every N and metric on each held-out set."""
    base, metrics, how = SETTINGS[setting]
    predictor = Predictor.load(base)
    # Vela labels of another Ethos-U configuration: the network's answer with SRAM scaled by
    # the analytical peaks ("transfer"), and on the accelerator's features ("transfer on its
    # features"), no measurement used; the held-out features carry both sets
    accelerator = how.get("vela") if how.get("vela") in ACCELERATORS else None
    transfer, on_own = Predictor.load(base), Predictor.load(base)
    if accelerator:
        transfer.view = AcceleratorView(transfer.view.trained, accelerator)
        on_own.view = AcceleratorView(transfer.view.trained, accelerator, metrics)
    feats_t: Dict[str, Any] = {}
    src = shares_source(predictor.target)
    groups = groups_of(src)
    info: Dict[str, Dict[str, Any]] = {}
    feats_of: Dict[str, Any] = {}
    pool_paths = {os.path.basename(p): p for p in pool}
    for p in pool + [q for v in held.values() for q in v]:
        name = os.path.basename(p)
        if name in info or "error" in labels.get(name, {"error": 1}):
            continue
        graph = read_model(p)
        feats = feats_of[name] = featurize(graph)
        info[name] = {"pred": predictor.predict_features(feats, p), "shares":
                      shares_of(feats, src), "analytical": {
                          m: _analytical(feats, base, m) for m in metrics}}
        if accelerator:
            feats_t[name] = on_own.featurize(graph)
            info[name]["transfer"] = transfer.predict_features(feats_t[name], p)
            info[name]["transfer_own"] = on_own.predict_features(feats_t[name], p)
    pool_n = [os.path.basename(p) for p in pool if os.path.basename(p) in info]
    out: Dict[str, Any] = {"base": base, "pool": len(pool_n), "metrics": {},
                           "accelerator": accelerator}
    for metric in metrics:
        per_n = {}
        cand = [n for n in pool_n if metric in labels[n]]
        cand_sh = np.array([info[n]["shares"] for n in cand])
        cand_pred = np.array([info[n]["pred"][metric] for n in cand])
        for count in COUNTS:
            chosen = [cand[i] for i in pick_diverse(cand_sh, cand_pred, count)]
            meas = np.array([labels[n][metric] for n in chosen])
            sh = np.array([info[n]["shares"] for n in chosen])
            ratio = meas / np.array([info[n]["pred"][metric] for n in chosen])
            fit = choose(sh, ratio, groups)
            scale = fit_scale(ratio)
            an = np.array([info[n]["analytical"][metric] for n in chosen])
            an_ratio = meas / np.maximum(an, 1e-12)
            an_fit = fit_groups(sh, an_ratio, ridge=0.1) if len(chosen) >= 3 else \
                np.full(len(groups), fit_scale(an_ratio))
            held_names = {k: [n for n in (os.path.basename(p) for p in v)
                              if n in info and metric in labels[n]] for k, v in held.items()}
            cal_fit, cal_pred, cover = _calibrated(base, metric, chosen, pool_paths, labels,
                                                   held_names, feats_t or feats_of, profiles,
                                                   accelerator)
            sets = {}
            for set_name, paths in held.items():
                names = [os.path.basename(p) for p in paths]
                names = [n for n in names if n in info and metric in labels[n]]
                y = np.array([labels[n][metric] for n in names])
                p0 = np.array([info[n]["pred"][metric] for n in names])
                shs = np.array([info[n]["shares"] for n in names])
                fac = np.array([fit["factors"][g] for g in groups])
                pa = np.array([info[n]["analytical"][metric] for n in names]) * (shs @ an_fit)
                pc = cal_pred[set_name]
                sets[set_name] = {"base": _stats(p0, y), "scale": _stats(p0 * scale, y),
                                  "factors": _stats(p0 * (shs @ fac), y),
                                  "calibrated": _stats(pc, y),
                                  "analytical-refit": _stats(pa, y)}
                if accelerator:
                    for key in ("transfer", "transfer_own"):
                        sets[set_name][key] = _stats(np.array(
                            [info[n][key][metric] for n in names]), y)
                if set_name == "fresh":  # the calibrated predictor on each space's models
                    space = np.array([n.rsplit("-", 1)[0] for n in names])
                    sets[set_name]["calibrated_per_space"] = {
                        sp: _stats(pc[space == sp], y[space == sp]) for sp in sorted(set(space))}
                    if accelerator:
                        pt = np.array([info[n]["transfer"][metric] for n in names])
                        sets[set_name]["transfer_per_space"] = {
                            sp: _stats(pt[space == sp], y[space == sp])
                            for sp in sorted(set(space))}
            for set_name, names in held_names.items():
                inside = [info[n]["pred"]["interval"][metric][0] <= labels[n][metric] <=
                          info[n]["pred"]["interval"][metric][1] for n in names]
                sets[set_name]["interval"] = dict(cover[set_name], base_coverage=round(
                    100 * float(np.mean(inside)), 1))
            per_n[str(count)] = {"chosen": chosen, "method": cal_fit["method"],
                                 "features": cal_fit.get("features"),
                                 "loo_mape": round(100 * cal_fit["loo_mape"], 2),
                                 "factors_method": fit["method"], "sets": sets}
        out["metrics"][metric] = per_n
    return out


def render_markdown(doc: Dict[str, Any]) -> str:
    lines = ["# Adapting a predictor to new hardware from N measurements", "",
             "Command: `{}`; {}. Calibration sets picked from a pool of fresh models of every "
             "space (seeds {}.., {} per space) as `edge-perf calibrate --count N` picks them; "
             "held out: fresh models (seeds 800000..) and the zoo of real architectures. MAPE %, "
             "share within ±10 %, Spearman.".format(doc["command"], doc["when"], POOL_SEED,
                                                   doc["pool_per_space"]), ""]
    for setting, res in doc["settings"].items():
        lines += ["## {} (base `{}`, pool {} models)".format(setting, res["base"], res["pool"]),
                  ""]
        if res.get("accelerator"):
            lines += ["**transfer**: the base network's answer with its SRAM scaled by the "
                      "analytical SRAM peaks of the {0} and the {1} (blocks, cycles and weight "
                      "buffers replayed for each), no measurement used; `calibrate "
                      "--accelerator {0}` fits its factors on top of that "
                      "(**calibrated**).".format(res["accelerator"], res["base"]), ""]
        lines += ["Measured: {}; measurements last written {}, scored {} (`{}`; cached "
                  "per setting in `.cache/adaptation`).".format(
                      res.get("measured_on", "not recorded"),
                      res.get("measured_at", "(not recorded)"), res.get("when", doc["when"]),
                      res.get("command", doc["command"])), ""]
        for metric, per_n in res["metrics"].items():
            lines += ["### {}".format(metric), "", "| N | calibrated: method (LOO MAPE) | "
                      "held-out set | base | transfer | scale | factors | calibrated | "
                      "analytical-refit | p10-p90 holds: base / calibrated (width) |",
                      "|---:|---|---|---|---|---|---|---|---|---|"]
            for count, r in per_n.items():
                for set_name, st in r["sets"].items():
                    cells = ["{mape} / {within10} / {spearman}".format(**st[k]) if k in st
                             else "-" for k in ("base", "transfer", "scale", "factors",
                                                "calibrated", "analytical-refit")]
                    iv = st.get("interval")
                    cells.append("{}% / {}% ({:.2f}x)".format(
                        iv["base_coverage"], iv["coverage"], iv["width"]) if iv else "-")
                    lines.append("| {} | {}{} ({}) | {} (n={}) | {} |".format(
                        count, r["method"], ", {} features".format(r["features"])
                        if r.get("features") else "", r["loo_mape"], set_name, st["base"]["n"],
                        " | ".join(cells)))
            last = per_n[max(per_n, key=int)]["sets"].get("fresh", {})
            if last.get("calibrated_per_space"):
                lines += ["", "Calibrated, N={}, fresh models per space (MAPE %): {}.".format(
                    max(per_n, key=int), ", ".join("{} {}".format(sp, st["mape"]) for sp, st in
                                                   last["calibrated_per_space"].items()))]
            own = {k: v.get("transfer_own") for k, v in
                   per_n[max(per_n, key=int)]["sets"].items()}
            if all(own.values()):
                lines += ["", "Transfer on the accelerator's features (no measurement; MAPE %): "
                          "{}.".format(", ".join("{} {}".format(k, v["mape"])
                                                 for k, v in own.items()))]
            if last.get("transfer_per_space"):
                lines += ["", "Transfer (no measurement), fresh models per space (MAPE %): "
                          "{}.".format(", ".join("{} {}".format(sp, st["mape"]) for sp, st in
                                                 last["transfer_per_space"].items()))]
            lines.append("")
    return "\n".join(lines) + "\n"


def _plot(doc: Dict[str, Any], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(s, m) for s, r in doc["settings"].items() for m in r["metrics"]]
    fig, axes = plt.subplots(1, len(rows), figsize=(4 * len(rows), 3.5), squeeze=False)
    for ax, (s, m) in zip(axes[0], rows):
        per_n = doc["settings"][s]["metrics"][m]
        ns = [int(k) for k in per_n]
        for kind, style in (("base", ":"), ("transfer", "--"), ("scale", "--"), ("factors", "-."),
                            ("calibrated", "-"), ("analytical-refit", ":")):
            if all(kind in per_n[str(n)]["sets"]["zoo"] for n in ns):
                ax.plot(ns, [per_n[str(n)]["sets"]["zoo"][kind]["mape"] for n in ns], style,
                        marker="o", label=kind)
        ax.set_title("{} {} (zoo)".format(s, m), fontsize=9)
        ax.set_xlabel("N calibration measurements")
        ax.set_ylabel("MAPE %")
        ax.set_yscale("log")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benches.adaptation",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--pool", type=int, default=6, help="calibration candidates per space")
    ap.add_argument("--out", default=RESULTS)
    ap.add_argument("--measure-only", action="store_true", help="measure and stop")
    args = ap.parse_args(argv)
    settings = [s for s in args.settings.split(",") if s]
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        ap.error("unknown settings {}; known: {}".format(unknown, ", ".join(SETTINGS)))
    pool = build_models(args.pool, os.path.join(CACHE, "pool"), seed_base=POOL_SEED)
    held = {"fresh": build_models(10), "zoo": zoo_models()}
    doc: Dict[str, Any] = {"command": "python -m benches.adaptation " + " ".join(
        argv if argv is not None else sys.argv[1:]), "when": time.strftime("%Y-%m-%d"),
        "pool_per_space": args.pool, "spaces": list(SPACES), "settings": {}}
    doc["settings"] = read_results(args.out, "adaptation").get("settings", {})  # kept
    for s in settings:
        labels = measure_all(s, pool + held["fresh"] + held["zoo"])
        profiles = profile_pool(s, pool)
        if not args.measure_only:
            doc["settings"][s] = evaluate(s, pool, held, labels, profiles)
            doc["settings"][s]["when"] = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
            doc["settings"][s]["measured_at"] = _written_at(s)
            doc["settings"][s]["measured_on"] = _measured_on(SETTINGS[s][2])
            doc["settings"][s]["command"] = doc["command"]
    if args.measure_only:
        return 0
    write_results(args.out, "adaptation", doc, render_markdown(doc))
    _plot(doc, os.path.join(args.out, "adaptation.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
