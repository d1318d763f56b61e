"""Bench: the analytical NPU cost model against Vela, per operator kind and per model.

For the test split of every space with operator-level Vela labels (:mod:`trainer.npu_cost_fit`)
and for every model of the zoo of real architectures (labelled here by Vela with
``--verbose-performance``; cached by sha256 in ``<out>/npu_cost_zoo_layers.json``), it compares

* per cost kind: operators, their share of Vela's cycles, the median and p90 relative error of
  the operators Vela gives at least ``FLOOR`` cycles, and the ratio of summed cycles;
* per model: latency from the analytical model alone (:func:`edge_predictor.npu_cost.npu_cycles`
  summed over the NPU clock), from the featurizer's old ``est_cycles`` summed the same way, and
  from the shipped ``ethos-u55-128`` predictor (PerfSAGE), all against Vela, in one run;
* per model, energy (an estimate, as the label is): the analytical energy model alone
  (:mod:`edge_predictor.npu_energy`) and the shipped predictor, against the label's estimate
  from Vela's counts, and the same leave-one-family-out for it.

Run: ``python -m benches.npu_cost [--zoo /work/zoo_cache] [--out benches/results]``; writes
``npu_cost.{json,md}``.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import sys
from typing import Any, Dict, List, Optional

import numpy as np

from benches.results_io import write_results

__all__ = ["zoo_rows", "kind_table", "model_errors", "main"]

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def zoo_rows(zoo_dir: str, cache_path: str):
    """Operator rows of every built zoo model, Vela's per-layer labels cached by sha256."""
    from benches.labelers.vela import label_vela
    from benches.labelers.vela_layers import ATTRIBUTION_VERSION
    from benches.zoo import check_built, zoo_family
    from edge_predictor.npu_cost import cost_kinds
    from edge_predictor.tflite_reader import read_model
    from trainer.npu_cost_fit import OpRows, parts_of, terms_of, trusted

    cache = json.load(open(cache_path)) if os.path.exists(cache_path) else {}
    os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
    files, skipped = check_built(zoo_dir)
    out = []
    for name, sha in files.items():
        with open(os.path.join(zoo_dir, name + ".tflite"), "rb") as f:
            content = f.read()
        graph = read_model(content)
        if (cache.get(name, {}).get("sha256") != sha or "labels" not in cache[name] or
                cache[name]["layers"].get("attribution") != ATTRIBUTION_VERSION):
            res = label_vela(content, layers=True, graph=graph)
            cache[name] = {"sha256": sha, "layers": res["raw"]["layers"],
                           "cycles_total": res["raw"]["cycles_total"],
                           "labels": res["labels"]}
            with open(cache_path, "w") as f:
                json.dump(cache, f, sort_keys=True)
        layers = cache[name]["layers"]
        rows = OpRows("zoo:" + zoo_family(name), name, "zoo", [n.op for n in graph.ops],
                      cost_kinds(graph), terms_of(graph),
                      np.asarray(layers["cycles"], np.float64),
                      parts_of(layers, len(graph.ops)), cache[name]["cycles_total"],
                      trusted(graph, layers))
        out.append((rows, os.path.join(zoo_dir, name + ".tflite"), cache[name]["labels"]))
    return out, skipped


def _live_peak_kib(path: str) -> float:
    """The largest activation memory of any operator as Vela allocates it (its order, aliases,
    in-place outputs and SOFTMAX scratch; :mod:`edge_predictor.npu_memory`), weights not
    included: a lower bound of Vela's SRAM use."""
    from edge_predictor.npu_memory import npu_live_bytes, npu_scratch_bytes
    from edge_predictor.tflite_reader import read_model

    with open(path, "rb") as f:
        graph = read_model(f.read())
    return float((npu_live_bytes(graph) + npu_scratch_bytes(graph)).max()) / 1024.0


def _predict(m, table) -> np.ndarray:
    """float64 [N] analytical cycles of one :class:`trainer.npu_cost_fit.OpRows`."""
    from edge_predictor.npu_cost import cycles_of

    return cycles_of(m.ops, m.kinds, m.terms, table)


def kind_table(models, table) -> List[Dict[str, Any]]:
    """Per cost kind: operators, cycle share, median/p90 |relative error|, summed ratio."""
    from trainer.npu_cost_fit import FLOOR

    acc: Dict[str, List] = collections.defaultdict(lambda: [[], [], 0.0, 0.0])
    total = 0.0
    for m in models:
        pred = _predict(m, table)
        for kind, p, y, ok in zip(m.kinds, pred, m.cycles, m.valid):
            if not ok:
                continue
            a = acc[kind]
            a[0].append(p)
            a[1].append(y)
            a[2] += p
            a[3] += y
            total += y
    rows = []
    for kind, (p, y, sp, sy) in sorted(acc.items(), key=lambda t: -t[1][3]):
        p, y = np.array(p), np.array(y)
        big = y >= FLOOR
        err = np.abs(p[big] / y[big] - 1) * 100 if big.any() else np.array([])
        rows.append({"kind": kind, "operators": int(len(y)),
                     "share_pct": round(100 * sy / max(total, 1), 2),
                     "median_abs_err_pct": round(float(np.median(err)), 1) if len(err) else None,
                     "p90_abs_err_pct": round(float(np.percentile(err, 90)), 1)
                     if len(err) else None,
                     "sum_ratio": round(sp / sy, 3) if sy > 0 else None})
    return rows


def model_errors(models, table, est_col: int = 1) -> List[Dict[str, Any]]:
    """Per model: Vela's cycles, the analytical sum and the old est_cycles sum."""
    out = []
    for m in models:
        pred = float(_predict(m, table).sum())
        out.append({"space": m.space, "model": m.seed, "vela_cycles": m.total,
                    "analytical_err_pct": round(100 * (pred / m.total - 1), 2),
                    "est_cycles_err_pct": round(100 * (m.terms[:, est_col].sum() / m.total - 1),
                                                2)})
    return out


def energy_errors(models, labels: Dict[Any, float], table=None) -> List[float]:
    """Per model with an ``energy_mj`` label (``labels[(space, seed)]``): the analytical energy
    model's error in %."""
    from edge_predictor.npu_energy import energy_of

    out = []
    for m in models:
        label = labels.get((m.space, m.seed))
        if label:
            pred = float(energy_of(m.ops, m.kinds, m.terms, table).sum()) * 1e-9
            out.append(round(100 * (pred / label - 1), 2))
    return out


def energy_lofo(models, labels, zoo_models, zoo_labels, families) -> List[Dict[str, Any]]:
    """Per family: refit the energy table without the ``families`` space's models of that
    family and score the zoo's models of it."""
    from trainer.npu_energy_fit import fit_energy_table
    from trainer.spaces import sample_config

    fam = {(m.space, m.seed): sample_config(m.space, m.seed)["family"]
           for m in models if m.space == "families"}
    train = [m for m in models if m.split == "train" and (m.space, m.seed) in labels]
    out = []
    for family in families:
        zoo = [z for z in zoo_models if z.space == "zoo:" + family]
        if not zoo:
            continue
        kept = [m for m in train if fam.get((m.space, m.seed)) != family]
        table, _ = fit_energy_table(kept, np.array([labels[(m.space, m.seed)] for m in kept]))
        errs = energy_errors(zoo, zoo_labels, table)
        out.append({"family": family, "zoo_models": len(zoo), "mape": _mape(errs),
                    "errors_pct": errs})
    return out


def leave_one_family_out(models, zoo_models, families) -> List[Dict[str, Any]]:
    """Per family: refit the table without the ``families`` space's models of that family and
    score the zoo's models of it: the analytical model's error on a family nobody sampled."""
    from trainer.npu_cost_fit import fit_table
    from trainer.spaces import sample_config

    fam = {(m.space, m.seed): sample_config(m.space, m.seed)["family"]
           for m in models if m.space == "families"}
    out = []
    for family in families:
        zoo = [z for z in zoo_models if z.space == "zoo:" + family]
        if not zoo:
            continue
        kept = [m for m in models if fam.get((m.space, m.seed)) != family]
        table, _ = fit_table(kept)
        errs = [r["analytical_err_pct"] for r in model_errors(zoo, table)]
        out.append({"family": family, "zoo_models": len(zoo),
                    "held_out_models": len(models) - len(kept), "mape": _mape(errs),
                    "errors_pct": errs})
    return out


def _fitted_on() -> str:
    """What the shipped cost table was fitted on, as its generated docstring says (the store
    may have grown since)."""
    import edge_predictor.npu_cost_table as mod

    text = " ".join((mod.__doc__ or "").split())
    start = text.find("train split only; ")
    return text[start + len("train split only; "):text.find(".", start)] if start >= 0 else "?"


def _mape(errs) -> Optional[float]:
    return round(float(np.mean(np.abs(errs))), 2) if len(errs) else None


def _markdown(doc: Dict[str, Any]) -> str:
    lines = ["# Analytical NPU cost model vs Vela (ethos-u55-128)", "",
             "Written by `{}`. Fitted on {} (train split only); test split of each space and "
             "the zoo of real architectures never fitted on.".format(doc["command"],
                                                                    doc["fitted_on"]), "",
             "## Latency per model (MAPE %, against Vela; one run)", "",
             "| set | models | analytical | est_cycles sum (old) | shipped PerfSAGE | "
             "analytical within ±10% |", "|---|---:|---:|---:|---:|---:|"]
    for row in doc["per_set"]:
        lines.append("| {set} | {models} | {analytical} | {est_cycles} | {perfsage} | "
                     "{within10} |".format(**row))
    lines += ["", "## The shipped ethos-u55-128 predictor on the zoo (every metric, vs Vela)", "",
              "Bundle: {}".format(doc["shipped_bundle"]), "",
              "| metric | MAPE % | median abs error % | within ±10% |", "|---|---:|---:|---:|"]
    for metric, r in doc["shipped_on_zoo"].items():
        lines.append("| {} | {} | {} | {} |".format(metric, r["mape"], r["median_abs_pct"],
                                                   r["within10"]))
    lines += ["", "## Zoo models (latency; energy)", "", "| model | family | Vela ms | analytical "
              "| est_cycles | PerfSAGE | energy mJ (estimate) | analytical energy | PerfSAGE "
              "energy |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in doc["zoo"]:
        lines.append("| {model} | {space} | {vela_ms:.3f} | {analytical_err_pct:+.1f}% | "
                     "{est_cycles_err_pct:+.1f}% | {perfsage_err_pct} | {energy_mj:.3f} | "
                     "{energy_analytical_err_pct:+.1f}% | {energy_perfsage_err_pct:+.1f}% |"
                     "".format(**row))
    sl = np.array([r["sram_live_err_pct"] for r in doc["zoo"]])
    lines += ["", "## Zoo models (SRAM)", "", "Activation peak: the largest live activation "
              "memory as Vela allocates it (`edge_predictor/npu_memory.py`; no weight buffers: "
              "a lower bound), untrained; PerfSAGE: the shipped bundle. Activation peak MAPE "
              "{}, median {}, {}/{} within ±10%.".format(
                  _mape(sl), round(float(np.median(np.abs(sl))), 2) if len(sl) else "-",
                  int((np.abs(sl) <= 10).sum()), len(sl)), "",
              "| model | family | Vela KiB | activation peak | PerfSAGE |",
              "|---|---|---:|---:|---:|"]
    for row in doc["zoo"]:
        lines.append("| {model} | {space} | {sram_kib:.1f} | {sram_live_err_pct:+.1f}% | "
                     "{sram_perfsage_err_pct:+.1f}% |".format(**row))
    lines += ["", "## Energy per model (MAPE %, against the label's estimate from Vela's counts; "
              "energy is an ESTIMATE, see `benches/labelers/energy.py`)", "",
              "Analytical energy table: `edge_predictor/npu_energy_table.py` "
              "(`python -m trainer.npu_energy_fit`).", "",
              "| set | models | analytical | analytical within ±10% | shipped PerfSAGE |",
              "|---|---:|---:|---:|---:|"]
    for row in doc["energy_per_set"]:
        lines.append("| {set} | {models} | {analytical} | {within10} | {perfsage} |".format(
            **row))
    lines += ["", "Leave one family out (energy table refitted without the family): " + ", ".join(
        "{} {}".format(r["family"], r["mape"]) for r in doc["energy_lofo"]) + "; pooled "
        "{}.".format(_mape([e for r in doc["energy_lofo"] for e in r["errors_pct"]]))]
    lines += ["", "## Leave one family out (zoo models of a family the fit never saw)", "",
              "| family | zoo models | families-space models held out | MAPE % |",
              "|---|---:|---:|---:|"]
    for r in doc["lofo"]:
        lines.append("| {family} | {zoo_models} | {held_out_models} | {mape} |".format(**r))
    for title, key in (("Per operator kind, test split of the spaces", "kinds_test"),
                       ("Per operator kind, zoo", "kinds_zoo")):
        lines += ["", "## " + title, "", "| kind | operators | share of Vela cycles % | "
                  "median abs err % | p90 abs err % | sum ratio |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in doc[key]:
            lines.append("| {kind} | {operators} | {share_pct} | {median_abs_err_pct} | "
                         "{p90_abs_err_pct} | {sum_ratio} |".format(**r))
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", default=os.path.join(REPO, ".cache", "zoo"))
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    from edge_predictor.npu_cost_table import COEFFICIENTS as table
    from edge_predictor.runtime import Predictor
    from trainer.npu_cost_fit import operator_rows
    from trainer.npu_energy_fit import energy_labels
    from trainer.spaces.families import FAMILIES

    models = list(operator_rows())
    test = [m for m in models if m.split == "test"]
    zoo, skipped = zoo_rows(args.zoo, os.path.join(args.out, "npu_cost_zoo_layers.json"))
    zoo_models = [z[0] for z in zoo]
    predictor = Predictor.load("ethos-u55-128")
    zoo_err = model_errors(zoo_models, table)
    shipped: Dict[str, List[float]] = collections.defaultdict(list)
    for row, (_, path, labels) in zip(zoo_err, zoo):
        vela_ms = row["vela_cycles"] / 500e3
        pred = predictor.predict(path)
        row.update(vela_ms=vela_ms,
                   perfsage_err_pct=round(100 * (pred["latency_ms"] / vela_ms - 1), 2))
        for metric in predictor.metrics:
            shipped[metric].append(100 * (pred[metric] / labels[metric] - 1))
        row.update(energy_mj=labels["energy_mj"], energy_perfsage_err_pct=round(
            100 * (pred["energy_mj"] / labels["energy_mj"] - 1), 2))
        live_kib = _live_peak_kib(path)
        row.update(sram_kib=labels["sram_kib"], sram_live_err_pct=round(
            100 * (live_kib / labels["sram_kib"] - 1), 2), sram_perfsage_err_pct=round(
            100 * (pred["sram_kib"] / labels["sram_kib"] - 1), 2))
    zoo_labels = {(m.space, m.seed): lab["energy_mj"] for m, (_, _, lab) in zip(zoo_models, zoo)}
    for row, err in zip(zoo_err, energy_errors(zoo_models, zoo_labels)):
        row["energy_analytical_err_pct"] = err
    labels_e = energy_labels()
    energy_per_set = []
    for name in sorted({m.space for m in test}):
        e = np.array(energy_errors([m for m in test if m.space == name], labels_e))
        energy_per_set.append({"set": name, "models": len(e), "analytical": _mape(e),
                               "within10": "{}/{}".format(int((np.abs(e) <= 10).sum()), len(e)),
                               "perfsage": "-"})
    e = np.array([r["energy_analytical_err_pct"] for r in zoo_err])
    energy_per_set.append({"set": "zoo (real architectures)", "models": len(e),
                           "analytical": _mape(e),
                           "within10": "{}/{}".format(int((np.abs(e) <= 10).sum()), len(e)),
                           "perfsage": _mape(shipped["energy_mj"])})
    test_err = model_errors(test, table)
    per_set = []
    for name, rows in sorted(collections.defaultdict(list, {
            s: [r for r in test_err if r["space"] == s] for s in {r["space"] for r in test_err}
    }).items()) + [("zoo (real architectures)", zoo_err)]:
        a = np.array([r["analytical_err_pct"] for r in rows])
        per_set.append({"set": name, "models": len(rows), "analytical": _mape(a),
                        "est_cycles": _mape([r["est_cycles_err_pct"] for r in rows]),
                        "perfsage": _mape([r["perfsage_err_pct"] for r in rows])
                        if rows and "perfsage_err_pct" in rows[0] else "-",
                        "within10": "{}/{}".format(int((np.abs(a) <= 10).sum()), len(rows))})
    doc = {"command": "python -m benches.npu_cost " + " ".join(argv or sys.argv[1:]),
           "fitted_on": _fitted_on(),
           "per_set": per_set, "zoo": zoo_err, "zoo_skipped": skipped,
           "kinds_test": kind_table(test, table), "kinds_zoo": kind_table(zoo_models, table),
           "spaces_test": test_err,
           "lofo": leave_one_family_out(models, zoo_models, FAMILIES),
           "energy_per_set": energy_per_set,
           "energy_lofo": energy_lofo(models, labels_e, zoo_models, zoo_labels, FAMILIES),
           "shipped_on_zoo": {m: {"mape": _mape(e), "median_abs_pct": round(float(
               np.median(np.abs(e))), 2), "within10": "{}/{}".format(
               int((np.abs(e) <= 10).sum()), len(e))} for m, e in
               ((m, np.array(v)) for m, v in shipped.items())},
           "shipped_bundle": {k: predictor.bundle.meta.get(k) for k in (
               "description", "created", "feature_schema_version")}}
    from edge_predictor.npu_energy import table_digest as energy_digest
    doc["sha256_energy_table"] = energy_digest()
    doc["sha256_table"] = hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()
    paths = write_results(args.out, "npu_cost", doc, _markdown(doc))
    print("wrote", *paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
