"""The accuracy bench's report: the paper's figures, the Table-6-shaped rows, markdown, PNG.

:mod:`benches.accuracy` runs the experiments and hands this module one JSON document; nothing
here trains or reads the store. The paper's numbers (:data:`PAPER`) are copied from the paper's
Tables 4-7 and are always shown as *the paper's*, never mixed with ours.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from trainer.targets import aggregate

__all__ = ["PAPER", "CITATION", "ROWS", "rows_for", "paper_column", "paper_value",
           "experiment_name", "table_rows", "learning_curves", "zoo_result", "markdown",
           "plot_learning_curve"]

CITATION = ("Y. Chai, D. Tripathy, C. Zhou, D. Gope, I. Fedorov, R. Matas, D. Brooks, G.-Y. Wei, "
            "P. Whatmough, \"PerfSAGE: Generalized Inference Performance Predictor for Arbitrary "
            "Deep Learning Models on Edge Devices\", arXiv:2301.10999, 2023")

_COLS = ("Latency (CPU)", "Energy (CPU)", "Latency (NPU)", "Memory (NPU)", "Latency (TPU)")
_SP = ("cnn-cifar10", "cnn-imagenet", "cnn-kws", "vit-cifar100")
_N = None  # "-" in the paper: ViT on the NPU, not characterised (no Vela support then)


def _t6(rows: List[List[Optional[float]]]) -> Dict[str, Dict[str, Optional[float]]]:
    return {sp: dict(zip(_COLS, r)) for sp, r in zip(_SP, rows)}


def _lat_cpu(values: List[Optional[float]]) -> Dict[str, Dict[str, Optional[float]]]:
    return {sp: {"Latency (CPU)": v} for sp, v in zip(_SP, values)}


#: The paper's test MAPE in percent: source table -> row -> space -> paper column.
PAPER: Dict[str, Any] = {
    "citation": CITATION,
    "note": "Test MAPE in percent, from the paper's Tables 4-7 (Table 6's and 7's captions say "
            "'Mean Square Percentage Error' but define and report MAPE). The paper's NPU had no "
            "ViT support, its CPU energy was measured, and its models were trained on 40K-80K "
            "models per space on an A100 for up to 8 hours.",
    "table6": {
        "perfsage-spec": _t6([[2.314, 3.164, 2.103, 2.758, 2.757],
                              [1.098, 1.131, 1.352, 3.599, 2.360],
                              [3.722, 4.455, 3.574, 3.248, 3.055],
                              [4.451, 4.633, _N, 0.701, 4.730]]),
        "perfsage-gen": _t6([[2.617, 3.694, 3.157, 3.625, 2.816],
                             [1.263, 1.474, 2.115, 3.423, 1.345],
                             [5.847, 4.259, 6.390, 4.952, 5.115],
                             [4.798, 5.901, _N, 1.580, 4.830]]),
        "eagle-spec": _t6([[41.138, 38.482, 36.388, 39.625, 85.079],
                           [18.080, 16.745, 15.412, 21.908, 96.921],
                           [36.142, 39.464, 35.131, 24.575, 57.823],
                           [46.203, 52.256, _N, 50.503, 91.550]]),
    },
    "table4": {"nocfe-spec": _lat_cpu([4.800, 1.439, 7.043, 11.471]),
               "perfsage-spec": _lat_cpu([2.314, 1.098, 3.722, 4.451]),
               "nocfe-gen": _lat_cpu([4.136, 4.342, 5.969, 6.505]),
               "perfsage-gen": _lat_cpu([2.617, 1.263, 5.847, 4.798])},
    "table5": {"noups-gen": _lat_cpu([3.080, 1.592, 8.475, 6.710]),
               "perfsage-gen": _lat_cpu([2.617, 1.263, 5.847, 4.798])},
    "table7": {"kernel-sum-spec": _lat_cpu([4.371, 3.219, 452.694, _N])},
}
_PAPER_NAMES = {"table6": "Table 6", "table4": "Table 4", "table5": "Table 5",
                "table7": "Table 7 (nn-Meter)"}

#: Report rows: (row kind, label, "spec" (one experiment per space) or "gen").
ROWS: Tuple[Tuple[str, str, str], ...] = (
    ("perfsage-spec", "PerfSAGE (specialized)", "spec"),
    ("perfsage-gen", "PerfSAGE (generalized)", "gen"),
    ("peak-gen", "Variant: PerfSAGE, SRAM read out near a max of per-node costs bounded by "
     "memory (peak_tau 0.05, bounded_peak; generalized)", "gen"),
    ("phased-gen", "Variant: as above, the bound the larger of two phases, running and "
     "hand-over to the next operator (phased_peak; generalized)", "gen"),
    ("replayed-gen", "Variant: peak-gen, the bound two phases over the replayed weight buffers "
     "(replayed_peak; generalized)", "gen"),
    ("prior-gen", "Variant: replayed-gen, latency over the analytical NPU cost model (npu_prior: "
     "per-operator cycles x a bounded learned correction; generalized)", "gen"),
    ("kernel-sum-spec", "Kernel sum, nn-Meter style (specialized)", "spec"),
    ("kernel-sum-gen", "Kernel sum, nn-Meter style (generalized)", "gen"),
    ("totals-linear-spec", "Totals, log-log linear (specialized)", "spec"),
    ("totals-linear-gen", "Totals, log-log linear (generalized)", "gen"),
    ("totals-gbr-spec", "Totals, boosted trees (specialized)", "spec"),
    ("totals-gbr-gen", "Totals, boosted trees (generalized)", "gen"),
    ("eagle-spec", "Eagle GCN (specialized)", "spec"),
    ("paper-gen", "Ablation: the paper's PerfSAGE (max readout, no layer norm; generalized)",
     "gen"),
    ("maxro-gen", "Ablation: PerfSAGE, the paper's max readout only (generalized)", "gen"),
    ("nocfe-spec", "Ablation: PerfSAGE w/o CFE (specialized)", "spec"),
    ("nocfe-gen", "Ablation: PerfSAGE w/o CFE (generalized)", "gen"),
    ("mape-gen", "Ablation: PerfSAGE, MAPE-only loss (generalized)", "gen"),
    ("noups-gen", "Ablation: PerfSAGE w/o upsampling (generalized)", "gen"),
)


def paper_column(target: str, metric: str) -> Optional[str]:
    """The paper's column for one of our targets and metrics, or None (no counterpart)."""
    if target.startswith("ethos-u"):
        return {"latency_ms": "Latency (NPU)", "sram_kib": "Memory (NPU)"}.get(metric)
    if target.startswith("cpu"):
        return {"latency_ms": "Latency (CPU)", "energy_mj": "Energy (CPU)"}.get(metric)
    if target.startswith("edgetpu"):
        return {"latency_ms": "Latency (TPU)"}.get(metric)
    return None


def paper_value(kind: str, space: str, target: str, metric: str
                ) -> Tuple[Optional[float], Optional[str]]:
    """(the paper's MAPE in percent, its source) for a row, or (None, None)."""
    col = paper_column(target, metric)
    if col is None:
        return None, None
    for table in ("table6", "table4", "table5", "table7"):
        v = PAPER[table].get(kind, {}).get(space, {}).get(col)
        if v is not None:
            return v, _PAPER_NAMES[table]
    return None, None


def experiment_name(target: str, kind: str, space: Optional[str] = None,
                    fraction: Optional[float] = None) -> str:
    """``<target>__<kind>[__<space>][__f<fraction>]`` (also the cached result's file name)."""
    name = "{}__{}".format(target, kind)
    if space:
        name += "__" + space
    if fraction is not None and fraction < 1.0:
        name += "__f{:g}".format(fraction)
    return name


def rows_for(metrics: List[str]) -> List[Tuple[str, str, str]]:
    """:data:`ROWS` that apply to a target with these metrics (the peak variant needs a peak
    metric: without one it is the generalized model again)."""
    peak = any(aggregate(m) == "peak" for m in metrics)
    return [r for r in ROWS if peak or not r[0].startswith(("peak-", "phased-", "replayed-",
                                                             "prior-"))]


def table_rows(doc: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Flat rows (target, space, kind, label, metric, n, mape, within_5, within_10, spearman,
    paper_mape, paper_source) from the experiments of ``doc``; missing ones have None values."""
    out = []
    for target, info in doc["data"].items():
        for space in list(info["spaces"]) + ["all"]:
            for kind, label, mode in rows_for(info["metrics"]):
                if space == "all" and mode == "spec":
                    continue
                name = experiment_name(target, kind, space if mode == "spec" else None)
                rec = doc["experiments"].get(name, {})
                per = (rec.get("result") or {}).get("per_space", {}).get(space, {})
                for metric in info["metrics"]:
                    s = per.get(metric, {})
                    pv, src = paper_value(kind, space, target, metric)
                    out.append({"target": target, "space": space, "kind": kind, "label": label,
                                "experiment": name, "metric": metric, "n": s.get("n"),
                                "mape": s.get("mape"), "within_5": s.get("within_5"),
                                "within_10": s.get("within_10"), "spearman": s.get("spearman"),
                                "paper_mape_percent": pv, "paper_source": src,
                                "feature_schema": rec.get("older_schema")})
    return out


def learning_curves(doc: Dict[str, Any]) -> Dict[str, Dict[str, List[Dict[str, Any]]]]:
    """``{target: {kind: [{"fraction", "n_train", "per_space"}]}}`` for the generalized
    PerfSAGE and kernel-sum experiments at the fractions of ``doc["settings"]``."""
    out: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    for target in doc["data"]:
        for kind in ("perfsage-gen", "kernel-sum-gen"):
            for f in doc["settings"]["fractions"]:
                rec = doc["experiments"].get(experiment_name(target, kind, None, f), {})
                res = rec.get("result") or {}
                out.setdefault(target, {}).setdefault(kind, []).append(
                    {"fraction": f, "n_train": res.get("n_train"),
                     "per_space": res.get("per_space")})
    return out


def zoo_result(names: List[str], ops: List[int], labelled: Dict[str, Any], metrics: List[str],
               y: Any, preds: Dict[str, Any]) -> Dict[str, Any]:
    """The zoo's JSON: per model its labels and every predictor's values, and per predictor
    :func:`trainer.metrics.summary` (y: float [n, M] labels; preds: kind -> float [n, M])."""
    from trainer.metrics import summary

    models = [{"name": n, "ops": int(k), "cpu_ops": labelled[n].get("cpu_ops"),
               "labels": {m: float(y[i, j]) for j, m in enumerate(metrics)},
               "predictions": {p: {m: float(v[i, j]) for j, m in enumerate(metrics)}
                               for p, v in preds.items()}}
              for i, (n, k) in enumerate(zip(names, ops))]
    return {"metrics": list(metrics), "models": models,
            "summary": {p: summary(y, v, metrics) for p, v in preds.items()}}


def merge_zoo(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One zoo JSON from several :func:`zoo_result` of the same labels, one per predictor."""
    out: Dict[str, Any] = {"metrics": parts[0]["metrics"], "models": [], "summary": {}}
    rows: Dict[str, Dict[str, Any]] = {}
    for part in parts:
        out["summary"].update(part["summary"])
        for row in part["models"]:
            have = rows.setdefault(row["name"], dict(row, predictions={}))
            have["predictions"].update(row["predictions"])
    out["models"] = list(rows.values())
    return out


def _pct(v: Optional[float], digits: int = 1) -> str:
    return "-" if v is None or not math.isfinite(v) else "{:.{}f}%".format(100 * v, digits)


def _cell(r: Dict[str, Any]) -> str:
    if r["mape"] is None:
        return "not run"
    rho = "-" if r["spearman"] is None else "{:.3f}".format(r["spearman"])
    older = " (schema {})".format(r["feature_schema"]) if r.get("feature_schema") else ""
    return "{} · {} · {} · {}{}".format(_pct(r["mape"], 2), _pct(r["within_5"], 0),
                                        _pct(r["within_10"], 0), rho, older)


def _main_tables(doc: Dict[str, Any], rows: List[Dict[str, Any]]) -> List[str]:
    lines = []
    for target, info in doc["data"].items():
        metrics = info["metrics"]
        head = ["space", "predictor"]
        for m in metrics:
            head.append("{} (ours)".format(m))
            if paper_column(target, m):
                head.append("paper: {}".format(paper_column(target, m)))
        lines += ["", "### {} -- test split".format(target), "",
                  "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        by = {(r["space"], r["kind"], r["metric"]): r for r in rows if r["target"] == target}
        for space in list(info["spaces"]) + ["all"]:
            n = info["counts"].get(space, {}).get("test") if space != "all" else sum(
                c["test"] for c in info["counts"].values())
            for i, (kind, label, _) in enumerate(r for r in rows_for(info["metrics"])
                                                    if space != "all" or r[2] == "gen"):
                cells = ["**{}** (n={})".format(space, n) if i == 0 else "", label]
                for m in metrics:
                    r = by[(space, kind, m)]
                    cells.append(_cell(r))
                    if paper_column(target, m):
                        pv = r["paper_mape_percent"]
                        cells.append("" if pv is None else "{:.2f}% ({})".format(
                            pv, r["paper_source"]))
                lines.append("| " + " | ".join(cells) + " |")
    return lines


def _learning_curve(doc: Dict[str, Any]) -> List[str]:
    lines = []
    for target, curves in doc.get("learning_curve", {}).items():
        metrics = doc["data"][target]["metrics"]
        for kind, points in curves.items():
            spaces = sorted({s for p in points for s in (p.get("per_space") or {})})
            head = ["fraction", "train models"] + ["{} {}".format(s, m) for s in spaces
                                                   for m in metrics]
            lines += ["", "{} -- {} (test MAPE)".format(target, kind), "",
                      "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
            for p in points:
                per = p.get("per_space") or {}
                lines.append("| " + " | ".join(
                    ["{:g}".format(p["fraction"]), str(p.get("n_train") or "-")] +
                    [_pct(per.get(s, {}).get(m, {}).get("mape"), 2) for s in spaces
                     for m in metrics]) + " |")
    return lines


def _zoo(doc: Dict[str, Any]) -> List[str]:
    lines = []
    for target, z in doc.get("zoo", {}).items():
        preds = list(z.get("summary", {}))
        metrics = z.get("metrics", [])
        lines += ["", "### {} -- zoo (never trained on)".format(target), ""]
        if z.get("skipped"):
            lines.append("Skipped: " + "; ".join(z["skipped"]))
        head = ["model", "ops"] + ["{} {}".format(m, w) for m in metrics
                                   for w in ["label"] + preds]
        lines += ["", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for row in z.get("models", []):
            cells = [row["name"], str(row.get("ops", "-"))]
            for m in metrics:
                cells.append("{:.4g}".format(row["labels"][m]))
                for p in preds:
                    v = row["predictions"].get(p, {}).get(m)
                    cells.append("-" if v is None else "{:.4g} ({:+.0f}%)".format(
                        v, 100 * (v / row["labels"][m] - 1)))
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "| predictor | " + " | ".join(
            "{} MAPE · ≤10% · rho".format(m) for m in metrics) + " |",
            "|" + " --- |" * (1 + len(metrics))]
        for p, per in z.get("summary", {}).items():
            lines.append("| {} | ".format(p) + " | ".join(
                "{} · {} · {}".format(_pct(per[m]["mape"]), _pct(per[m]["within_10"], 0),
                                      "-" if per[m]["spearman"] is None else
                                      "{:.2f}".format(per[m]["spearman"])) for m in metrics)
                + " |")
    return lines


def _paper_section() -> List[str]:
    lines = ["", "## The paper's figures (not ours)", "",
             "From " + CITATION + ". " + PAPER["note"], "",
             "| source | row | space | " + " | ".join(_COLS) + " |", "|" + " --- |" * 8]
    for table in ("table6", "table4", "table5", "table7"):
        for kind, per in PAPER[table].items():
            for sp, vals in per.items():
                lines.append("| {} | {} | {} | ".format(_PAPER_NAMES[table], kind, sp) + " | ".join(
                    "-" if vals.get(c) is None else "{:.3f}%".format(vals[c]) for c in _COLS)
                    + " |")
    return lines


def markdown(doc: Dict[str, Any]) -> str:
    """The whole ``accuracy.md`` text of a bench document."""
    lines = ["# Accuracy bench: PerfSAGE, baselines and ablations", ""]
    if doc.get("quick"):
        lines += ["> **QUICK SMOKE RUN** (`--quick`): tiny models, a few epochs, whatever the "
                  "store held at the time. These numbers test the bench, they are not results.",
                  ""]
    lines += ["Reproduce with:", "", "```", doc["command"], "```", "",
              "Generated {} on {} in {:.0f} s (experiments run now: {}, reused from cache: {})."
              .format(doc["generated"], doc["host"], doc["wall_s"], doc["ran"], doc["reused"]),
              ""]
    if doc.get("report_only"):
        lines += ["Composed from finished runs (`--report-only`): a cell reading \"not run\" "
                  "has not been run on this data yet; the command above runs it and reuses the "
                  "rest. A cell ending \"(schema N)\" is a finished run on an older feature "
                  "schema whose columns are a prefix of today's (what a bundle of that schema "
                  "still predicts with); rerun it with `--only` to train on today's.", ""]
    lines += ["Cells: test MAPE · share within ±5% · within ±10% · Spearman's rho. The "
              "paper's columns are the paper's figures for the nearest target and metric "
              "(source table in brackets); blank = the paper has no such figure (no counterpart "
              "of the metric, e.g. our NPU energy is an estimate; or, for ViT on the NPU, no "
              "Vela support at the time). Every predictor is fitted on the train split only; the "
              "validation split serves PerfSAGE's and Eagle's early stopping.", "",
              "## Data (fixed 80/20 split by hash of (space, seed); 10% of the 80% validates)", "",
              "| target | space | train | val | test |", "| --- | --- | --- | --- | --- |"]
    for target, info in doc["data"].items():
        for sp, c in info["counts"].items():
            lines.append("| {} | {} | {} | {} | {} |".format(target, sp, c["train"], c["val"],
                                                            c["test"]))
    lines += ["", "## Results"] + _main_tables(doc, doc["table"])
    lines += ["", "## Learning curve (generalized models, nested hash-chosen fractions of the "
              "training split)", "", "![learning curve](accuracy_learning_curve.png)"]
    lines += _learning_curve(doc)
    lines += ["", "## Out-of-space: the zoo"] + _zoo(doc) + _paper_section()
    failed = [n for n, r in doc["experiments"].items() if r.get("status") != "ok"]
    lines += ["", "## Experiments", "", "| experiment | status | time s | notes |",
              "| --- | --- | --- | --- |"]
    for name, rec in sorted(doc["experiments"].items()):
        res = rec.get("result") or {}
        note = rec.get("error") or ", ".join("{} {}".format(k, res[k]) for k in (
            "epochs_run", "best_epoch", "n_train") if k in res) + (
            "; the store grew while it ran" if res.get("store_changed") else "") + (
            "; = {}, not retrained: {}".format(res["identical_to"], res["why"])
            if res.get("identical_to") else "") + (
            "; STALE: its code changed since" if rec.get("stale_code") else "") + (
            "; feature schema {}: trained before the newer columns were appended".format(
                rec["older_schema"]) if rec.get("older_schema") else "")
        lines.append("| {} | {} | {:.0f} | {} |".format(name, rec.get("status"),
                                                        rec.get("time_s", 0.0), note))
    if failed:
        lines += ["", "Failed: " + ", ".join(failed)]
    return "\n".join(lines) + "\n"


def plot_learning_curve(doc: Dict[str, Any], path: str) -> bool:
    """Test MAPE against training models, per target and metric; False when there is no data."""
    curves = doc.get("learning_curve", {})
    panels = [(t, m) for t in curves for m in doc["data"][t]["metrics"]]
    if not panels:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, (target, metric) in zip(axes[0], panels):
        for kind, points in curves[target].items():
            style = "-o" if kind.startswith("perfsage") else "--x"
            spaces = sorted({s for p in points for s in (p.get("per_space") or {})})
            for k, space in enumerate(spaces):
                xs, ys = [], []
                for p in points:
                    v = (p.get("per_space") or {}).get(space, {}).get(metric, {}).get("mape")
                    if v is not None and p.get("n_train"):
                        xs.append(p["n_train"])
                        ys.append(100 * v)
                if xs:
                    ax.plot(xs, ys, style, color="C{}".format(k), label="{} {}".format(
                        kind, space), alpha=1.0 if kind.startswith("perfsage") else 0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training models")
        ax.set_ylabel("test MAPE (%)")
        ax.set_title("{} {}".format(target, metric), fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=6, loc="best")
    fig.suptitle(("QUICK SMOKE RUN -- " if doc.get("quick") else "") + "learning curve",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
