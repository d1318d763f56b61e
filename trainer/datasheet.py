"""Write the dataset's datasheet: ``data/edgedlperf/README.md`` and its histograms.

``python -m trainer.datasheet [--data DIR]`` reads the store and writes, from what is there:
how the data was generated, per-space ranges next to the paper's Table 2, label counts,
failures, the CPU noise floor, the generation throughput, the NPU energy constants with their
sources, and one histogram PNG per target and metric under ``plots/``.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter, defaultdict
from typing import Any, Dict, List, Optional

import numpy as np

from .cpu_pass import noise_floor
from .dataset_info import dataset_info
from .store import LABELS, MODELS, Store

__all__ = ["collect", "write_datasheet", "PAPER_TABLE2"]

#: The paper's Table 2 (operators, tensors, size in MB, samples), for side-by-side ranges.
PAPER_TABLE2 = {
    "cnn-cifar10": {"samples": 39997, "operators": "13-70", "tensors": "28-145",
                    "size_mb": "0.09-18.25"},
    "cnn-imagenet": {"samples": 79998, "operators": "16-77", "tensors": "39-182",
                     "size_mb": "1.65-20.54"},
    "cnn-kws": {"samples": 4917, "operators": "7-21", "tensors": "16-51", "size_mb": "0.04-5.05"},
    "vit-cifar100": {"samples": 10000, "operators": "59-994", "tensors": "97-1264",
                     "size_mb": "1.86-53.98"},
}
UNITS = {"latency_ms": "ms", "sram_kib": "KiB", "energy_mj": "mJ (estimate)"}


def collect(store: Store) -> Dict[str, Any]:
    """Per-space ranges, label values per target/metric, throughput and provenance."""
    ranges: Dict[str, Dict[str, List[float]]] = defaultdict(lambda: defaultdict(list))
    values: Dict[tuple, List[float]] = defaultdict(list)
    provenance: Dict[str, Dict[str, Any]] = {}
    op_counts: Dict[str, Counter] = defaultdict(Counter)
    families: Counter = Counter()
    for rec in store.records(MODELS):
        sp = rec["space"]
        t = rec.get("times") or {}
        if t:
            ranges[sp]["seconds"].append(sum(t.values()))
        if rec.get("status") != "ok":
            continue
        ranges[sp]["operators"].append(len(rec["graph"]["o"]))
        for op in rec["graph"]["o"]:
            op_counts[sp][op[0]] += 1
        if sp == "families":
            from .spaces import sample_config
            families[sample_config(sp, rec["seed"])["family"]] += 1
        ranges[sp]["tensors"].append(len(rec["graph"]["t"]))
        ranges[sp]["size_mb"].append(rec["size"] / 1e6)
        for target, metrics in rec["labels"].items():
            provenance.setdefault(target, {k: v for k, v in rec["prov"][target].items()
                                           if k not in ("time", "vela_wall_s")})
            for m, v in metrics.items():
                values[(target, m, sp)].append(v)
    for rec in store.records(LABELS):
        if rec.get("pass", 1) == 1 and rec.get("labels"):  # not the operator-level records
            for m, v in rec["labels"].items():
                values[(rec["target"], m, rec["space"])].append(v)
            provenance.setdefault(rec["target"], {"labeler": rec["prov"].get("labeler"),
                                                  "host": rec["prov"].get("host")})
    return {"ranges": ranges, "values": values, "provenance": provenance,
            "op_counts": op_counts, "families": families}


def _op_histogram(op_counts: Dict[str, Counter], top: int = 25) -> List[str]:
    """Markdown table: operators per space as a share of the space's operators (the ``top``
    most frequent types over all spaces; the rest summed as "other")."""
    spaces = sorted(op_counts)
    total = Counter()
    for c in op_counts.values():
        total.update(c)
    kinds = [k for k, _ in total.most_common(top)]
    lines = ["| operator | " + " | ".join(spaces) + " |", "| --- |" + " ---: |" * len(spaces)]
    for k in kinds + ["other"]:
        cells = []
        for sp in spaces:
            n = sum(op_counts[sp].values()) or 1
            v = (sum(c for o, c in op_counts[sp].items() if o not in kinds) if k == "other"
                 else op_counts[sp][k])
            cells.append("{:.1f}%".format(100.0 * v / n) if v else "-")
        lines.append("| {} | {} |".format(k, " | ".join(cells)))
    return lines


def _span(xs: List[float], fmt: str = "{:.0f}") -> str:
    return "{}-{}".format(fmt.format(min(xs)), fmt.format(max(xs))) if xs else "-"


def _histograms(values, out_dir: str) -> List[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    files = []
    for target, metric in sorted({(t, m) for t, m, _ in values}):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        spaces = sorted(s for t, m, s in values if (t, m) == (target, metric))
        allv = np.concatenate([values[(target, metric, s)] for s in spaces])
        bins = np.logspace(np.log10(max(allv.min(), 1e-6)), np.log10(allv.max()), 40)
        for s in spaces:
            ax.hist(values[(target, metric, s)], bins=bins, alpha=0.6, label=s)
        ax.set_xscale("log")
        ax.set_xlabel("{} [{}]".format(metric, UNITS.get(metric, "")))
        ax.set_ylabel("models")
        ax.set_title(target)
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = "{}__{}.png".format(target, metric)
        fig.savefig(os.path.join(out_dir, name), dpi=110)
        plt.close(fig)
        files.append(name)
    return files


def write_datasheet(root: Optional[str] = None) -> str:
    """Write README.md and plots/ into the data folder; returns the README path."""
    from benches.labelers.energy import energy_constants_table

    store = Store(root)
    info = dataset_info(store.root)
    data = collect(store)
    plots = _histograms(data["values"], os.path.join(store.root, "plots"))
    lines = [open(os.path.join(os.path.dirname(__file__), "datasheet_intro.md")).read().rstrip(),
             "", "## Ranges per space (ours, from the store, next to the paper's Table 2)", "",
             "| space | models ok | operators | paper | tensors | paper | size MB | paper |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for sp in sorted(data["ranges"]):
        r, p = data["ranges"][sp], PAPER_TABLE2.get(sp, {})
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
            sp, len(r["operators"]), _span(r["operators"]), p.get("operators", ""),
            _span(r["tensors"]), p.get("tensors", ""), _span(r["size_mb"], "{:.2f}"),
            p.get("size_mb", "")))
    lines += ["", "## Operator types per space (share of the space's operators)", ""]
    lines += _op_histogram(data["op_counts"])
    if data["families"]:
        lines += ["", "Models of the `families` space per family: " + ", ".join(
            "{} {}".format(f, n) for f, n in sorted(data["families"].items())) + "."]
    lines += ["", "## Labels", "", "| space | target | metric | count | min | median | max |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for (t, m, sp), v in sorted(data["values"].items()):
        lines.append("| {} | {} | {} [{}] | {} | {:.4g} | {:.4g} | {:.4g} |".format(
            sp, t, m, UNITS.get(m, ""), len(v), min(v), float(np.median(v)), max(v)))
    lines += ["", "Histograms: " + ", ".join("[{}](plots/{})".format(p[:-4], p) for p in plots)]
    lines += ["", "## Failures", ""]
    lines += ["- {}: {}".format(k, n) for k, n in info["failures"].items()] or ["- none"]
    lines += ["", "## Generation throughput (per core, measured)", "",
              "Sum of conversion + reading + Vela seconds per model, inverted; two workers ran "
              "on the two cores, so this is what one core delivers while the other is busy.", "",
              "| space | models timed | mean s/model | models/hour/core |",
              "| --- | --- | --- | --- |"]
    for sp in sorted(data["ranges"]):
        s = data["ranges"][sp]["seconds"]
        if s:
            lines.append("| {} | {} | {:.2f} | {:.0f} |".format(sp, len(s), np.mean(s),
                                                             3600 / np.mean(s)))
    lines += ["", "## CPU noise floor", ""]
    nf = noise_floor(store)
    if not nf:
        lines.append("Not measured yet: pass 2 (`edge-perf dataset label-cpu --pass 2`) has not "
                     "run.")
    for t, e in nf.items():
        lines.append("- {}: MAPE between two passes {:.2f}% over {} models ({})".format(
            t, e["mape"], e["n"], ", ".join("{} {:.2f}% (n={})".format(s, v["mape"], v["n"])
                                            for s, v in e["per_space"].items())))
    lines += ["", "## Provenance", ""]
    for t, p in sorted(data["provenance"].items()):
        lines.append("- `{}`: {}".format(t, p))
    lines += ["", "## NPU energy model (an estimate, not a measurement)", "",
              "| constant | value | unit | source |", "| --- | --- | --- | --- |"]
    for c in energy_constants_table():
        lines.append("| {name} | {value:.4g} | {unit} | {source} |".format(**c))
    path = os.path.join(store.root, "README.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    print(write_datasheet(ap.parse_args().data))
