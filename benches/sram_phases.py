"""Bench: what Vela keeps in SRAM, read from its own allocation log, against our SRAM bound.

PerfSAGE's SRAM head (``peak-gen``) bounds every operator's memory by its live activation bytes
(``live_bytes_brick``), its weights and the next operator's weights. This bench checks that
model of the label against Vela itself: it compiles fresh sampled models (seeds outside the
store) with ``--verbose-allocation`` and parses Vela's SRAM allocation (every tensor's lifetime
in schedule steps and size), then reports per space:

* ``vela_peak == label``: the allocation's peak equals Vela's reported SRAM use (no
  fragmentation: the label *is* a max over time of live bytes);
* our activation peak (max of ``live_bytes_brick``) against Vela's activation-only peak;
* the share of the peak that is weight buffers;
* three reconstructions of the label from Vela's own sizes, MAPE: activations only; one phase
  per operator (its activations + all its weight buffers + all the next operator's: the old
  single-sum bound); two phases (while it runs: activations + its buffers; at the hand-over:
  activations + the buffers it keeps + the next operator's first ones: ``phased_peak``).

Writes ``benches/results/sram_phases.{json,md}``. Run:
``python -m benches.sram_phases [--per-space 25] [--seed-from 900000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
from collections import defaultdict
from typing import Any, Dict, List, Tuple

import numpy as np

from edge_predictor.featurize import SLACK_DOUBLE_BUFFER

__all__ = ["parse_sram_allocation", "parse_encoded_weights", "weight_sizes", "buffering",
           "reconstruct", "summarise", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")
CACHE = os.path.join(ROOT, ".cache", "sram_phases")
SPACES = ("cnn-cifar10", "cnn-imagenet", "cnn-kws", "vit-cifar100")
_ROW = re.compile(r"^\s*(\d+)\s*-\s*(\d+):\s*0x[0-9a-f]+\s*-\s*0x[0-9a-f]+:\s*(\d+):\s*(\d+):"
                  r"\s*\S+\s*:\s*(.*)$")
_WB = re.compile(r"^WB_(single|double2|double)_\d+_op(\d+)$")
_TOTAL = re.compile(r"Total SRAM used\s+([\d.]+) KiB")
_RO = "Tensor Allocation for read-only NPU tensors"

Tensor = Tuple[int, int, int, str]  # (first step, last step, bytes, name)


def parse_sram_allocation(log: str) -> Tuple[List[Tensor], float]:
    """Vela's ``--verbose-allocation`` SRAM section and its reported SRAM use.

    Args:
        log: Vela's printed output.

    Returns:
        ``(tensors, total_kib)``: every SRAM tensor as (first step, last step, bytes, name) and
        the network summary's "Total SRAM used" in KiB.

    Raises:
        ValueError: the log has no SRAM allocation section or no total.
    """
    if "Allocation, memory Sram" not in log:
        raise ValueError("no SRAM allocation in Vela's output")
    section = log.split("Allocation, memory Sram", 1)[1].split("Allocation Peak", 1)[0]
    rows = [_ROW.match(line) for line in section.splitlines()]
    total = _TOTAL.search(log)
    if total is None:
        raise ValueError("no 'Total SRAM used' in Vela's output")
    return ([(int(m[1]), int(m[2]), int(m[3]), m[5].strip()) for m in rows if m],
            float(total[1]))


def parse_encoded_weights(log: str) -> Dict[str, int]:
    """Vela's encoded size (bytes) of every weight tensor, by the TFLite tensor's name, from the
    "read-only NPU tensors" allocation of ``--verbose-allocation`` ({} if absent)."""
    if _RO not in log:
        return {}
    section = log.split(_RO, 1)[1].split("Allocation Peak", 1)[0]
    rows = [_ROW.match(line) for line in section.splitlines()]
    return {m[5].strip(): int(m[3]) for m in rows if m}


def weight_sizes(graph: Any, encoded: Dict[str, int]) -> List[Dict[str, Any]]:
    """Per operator whose filter Vela encoded: op, raw constant bytes (our ``weight_bytes``),
    :func:`edge_predictor.featurize.npu_weight_bytes` and Vela's encoded bytes."""
    from edge_predictor.featurize import npu_weight_bytes

    out = []
    for node in graph.ops:
        consts = graph.constant_inputs(node)
        if not consts or consts[0].name not in encoded:
            continue
        est = npu_weight_bytes(node.op, consts[0].shape)
        if est is not None:
            out.append({"op": node.op, "raw": float(sum(t.nbytes for t in consts)),
                        "estimate": est, "vela": float(encoded[consts[0].name])})
    return out


#: ``slack_ratio`` below this: predicted double-buffered (Vela splits weights whose transfer
#: outlasts the previous operator's compute, ``Scheduler.propose_weight_buffering``); the
#: featurizer's ``double_buffer_hint`` column uses the same threshold
SLACK_THRESHOLD = SLACK_DOUBLE_BUFFER


def buffering(tensors: List[Tensor], graph: Any) -> List[Dict[str, Any]]:
    """Per weight-buffered operator: how Vela buffered it and our proxy for why.

    Vela double-buffers an operator's weights in depth slices when their transfer takes longer
    than the previous operator runs, and single-buffers them otherwise. The proxy is
    ``slack_ratio = macs_brick(previous operator) / npu_weight_bytes(this operator)``.
    Operators whose Vela index does not land on one of ours with a filter are skipped (Vela
    fused or split operators before it).

    Args:
        tensors: from :func:`parse_sram_allocation`.
        graph: our :class:`edge_predictor.graph.OpGraph` of the same model.

    Returns:
        ``{"op", "index", "double" (bool), "slack_ratio"}`` per operator.
    """
    from edge_predictor.featurize import FEATURE_NAMES, featurize

    x = np.expm1(featurize(graph).x.astype(np.float64))
    macs = x[:, FEATURE_NAMES.index("macs_brick")]
    weights = x[:, FEATURE_NAMES.index("npu_weight_bytes")]
    kinds: Dict[int, List[str]] = defaultdict(list)
    for _, _, _, name in tensors:
        m = _WB.match(name)
        if m:
            kinds[int(m[2])].append(m[1])
    out = []
    for k, ks in sorted(kinds.items()):
        if k >= len(graph.ops) or not graph.constant_inputs(graph.ops[k]):
            continue
        prev = macs[k - 1] if k > 0 else 0.0
        out.append({"op": graph.ops[k].op, "index": k,
                    "double": any(v.startswith("double") for v in ks),
                    "slack_ratio": float(prev / max(weights[k], 1.0))})
    return out


def reconstruct(tensors: List[Tensor]) -> Dict[str, float]:
    """Peaks (bytes) of the allocation and of three models of it.

    Operator ``k`` runs at step ``2k``; ``2k + 1`` is its hand-over to operator ``k + 1``.
    Weight buffers are named ``WB_<single|double|double2>_<bytes>_op<k>``.

    Args:
        tensors: from :func:`parse_sram_allocation`.

    Returns:
        ``peak`` (max over steps of live bytes), ``act_peak`` (activations only),
        ``weight_share`` (weight-buffer share of the live bytes at the peak step),
        ``one_phase`` (max_k act_k + W_k + W_k+1), ``two_phase`` (max_k of act(2k) + W_k and
        act(2k+1) + kept_k + first_k+1).
    """
    steps = max(e for _, e, _, _ in tensors) + 2
    use, act = np.zeros(steps), np.zeros(steps)
    n_ops = steps // 2 + 1
    whole, kept, first = np.zeros(n_ops + 1), np.zeros(n_ops + 1), np.zeros(n_ops + 1)
    for s, e, size, name in tensors:
        use[s:e + 1] += size
        m = _WB.match(name)
        if not m:
            act[s:e + 1] += size
            continue
        k = int(m[2])
        whole[k] += size
        if m[1] in ("single", "double2"):
            kept[k] += size  # alive at the hand-over 2k + 1
        if m[1] in ("single", "double"):
            first[k] += size  # loaded during the previous operator
    a_run = np.array([act[2 * k] for k in range(n_ops)])
    a_hand = np.array([act[min(2 * k + 1, steps - 1)] for k in range(n_ops)])
    t = int(use.argmax())
    return {"peak": float(use.max()), "act_peak": float(act.max()),
            "weight_share": float((use[t] - act[t]) / max(use[t], 1.0)),
            "one_phase": float(np.max(np.maximum(a_run, a_hand) + whole[:n_ops] +
                                      whole[1:n_ops + 1])),
            "two_phase": float(max(np.max(a_run + whole[:n_ops]),
                                   np.max(a_hand + kept[:n_ops] + first[1:n_ops + 1])))}


def _model(space: str, seed: int) -> str:
    path = os.path.join(CACHE, "{}-{}.tflite".format(space, seed))
    if not os.path.exists(path):
        from converters.quantize import build_tflite

        os.makedirs(CACHE, exist_ok=True)
        tmp = "{}.{}.tmp".format(path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(build_tflite(space, seed))
        os.replace(tmp, path)
    return path


def measure(space: str, seed: int, path: str = "") -> Dict[str, Any]:
    """One model (sampled from ``space`` and ``seed``, or the file ``path``): Vela's
    allocation, its reconstructions and our activation peak."""
    from benches.labelers.vela import run_vela
    from edge_predictor.featurize import live_bytes
    from edge_predictor.tflite_reader import read_model

    path = path or _model(space, seed)
    with tempfile.TemporaryDirectory(prefix="edgeperf_sram_") as out:
        rc, log = run_vela(path, out, extra_args=["--verbose-allocation"])
    if rc != 0:
        return {"space": space, "seed": seed, "error": log.strip().splitlines()[-1][:200]}
    tensors, total_kib = parse_sram_allocation(log)
    rec = reconstruct(tensors)
    graph = read_model(path)
    rec.update(space=space, seed=seed, label=total_kib * 1024.0,
               ours_act_peak=float(live_bytes(graph, brick=True).max()),
               weights=weight_sizes(graph, parse_encoded_weights(log)),
               buffers=buffering(tensors, graph))
    return rec


def _mape(pred: List[float], true: List[float]) -> float:
    p, t = np.asarray(pred), np.asarray(true)
    return float(np.mean(np.abs(p / t - 1.0)) * 100.0)


def summarise(records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Per space (and "all"): the figures of the module docstring."""
    by: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for r in records:
        if "error" not in r:
            by[r["space"]].append(r)
            if r["space"] in SPACES:
                by["all"].append(r)  # "all": the design spaces; the zoo is its own row
    rows = []
    for space in [s for s in SPACES if s in by] + ["all"] + [s for s in by if s not in SPACES
                                                                 and s != "all"]:
        rs = by.get(space, [])
        if not rs:
            continue
        lab = [r["label"] for r in rs]
        rows.append({
            "space": space, "n": len(rs),
            "failed": sum(1 for r in records if "error" in r and (
                space == r["space"] or space == "all" and r["space"] in SPACES)),
            "peak_is_label": float(np.mean([abs(r["peak"] / r["label"] - 1) < 5e-4 for r in rs])),
            "act_peak_exact": float(np.mean([abs(r["ours_act_peak"] - r["act_peak"]) < 1
                                             for r in rs])),
            "act_peak_mape": _mape([r["ours_act_peak"] for r in rs], [r["act_peak"] for r in rs]),
            "weight_share_median": float(np.median([r["weight_share"] for r in rs])),
            "mape_activations_only": _mape([r["act_peak"] for r in rs], lab),
            "mape_one_phase": _mape([r["one_phase"] for r in rs], lab),
            "mape_two_phase": _mape([r["two_phase"] for r in rs], lab),
            **_weight_errors([w for r in rs for w in r.get("weights", [])]),
            **_buffer_rule([b for r in rs for b in r.get("buffers", [])])})
    return rows


def _buffer_rule(bs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Share of double-buffered operators and how often ``slack_ratio < SLACK_THRESHOLD``
    calls it right."""
    if not bs:
        return {"buffer_ops": 0}
    double = np.array([b["double"] for b in bs])
    rule = np.array([b["slack_ratio"] < SLACK_THRESHOLD for b in bs])
    return {"buffer_ops": len(bs), "double_share": float(double.mean()),
            "rule_accuracy": float(np.mean(rule == double))}


def _weight_errors(ws: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Per-operator relative error of raw and estimated weight bytes against Vela's encoded."""
    if not ws:
        return {"weight_ops": 0}
    vela = np.array([w["vela"] for w in ws])
    out: Dict[str, Any] = {"weight_ops": len(ws)}
    for key in ("raw", "estimate"):
        e = np.array([w[key] for w in ws]) / vela - 1.0
        out["weights_{}_mape".format(key)] = float(np.mean(np.abs(e)) * 100.0)
        out["weights_{}_p10_p90".format(key)] = [float(v) for v in np.percentile(e, [10, 90])]
    return out


def render_markdown(doc: Dict[str, Any]) -> str:
    """The ``sram_phases.md`` text."""
    lines = ["# What Vela keeps in SRAM (ethos-u55-128), from its allocation log", "",
             "Reproduce: `{}`".format(doc["command"]), "",
             "Fresh sampled models (seeds {}..{}, not in the store), Vela {} with "
             "`--verbose-allocation`, and the zoo's real-world models (row 'zoo', not in 'all'). "
             "Reconstructions use Vela's own tensor sizes; 'ours' is "
             "`max(live_bytes_brick)` from our featurizer.".format(
                 doc["seed_from"], doc["seed_from"] + doc["per_space"] - 1, doc["vela"]), "",
             "| space | n | alloc peak = label | our act. peak exact | our act. peak MAPE | "
             "weights at peak (median) | MAPE: activations only | one phase | two phases |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in doc["summary"]:
        lines.append("| {} | {} | {:.0%} | {:.0%} | {:.2f}% | {:.0%} | {:.2f}% | {:.2f}% | "
                     "{:.2f}% |".format(r["space"], r["n"], r["peak_is_label"],
                                         r["act_peak_exact"], r["act_peak_mape"],
                                         r["weight_share_median"], r["mape_activations_only"],
                                         r["mape_one_phase"], r["mape_two_phase"]))
    lines += ["", "Reading: the label is Vela's high-water SRAM address. Where 'alloc peak = "
              "label' is below 100% the live tensors' summed sizes exceed it, i.e. Vela lets "
              "tensors share addresses (most of the ViTs and several zoo models), and its "
              "tensors include ones our operator graph has no counterpart for (operators it "
              "decomposes or fuses); there no sum of live bytes -- Vela's or ours -- is the "
              "label. 'Weights at peak': the share of weight buffers in the peak step's bytes."]
    lines += ["", "## Weight bytes per operator against Vela's encoded weights", "",
              "Raw: the TFLite constants (our `weight_bytes`); estimate: depths padded for the "
              "MAC engine plus 10 bytes of bias and scale per output channel "
              "(`npu_weight_bytes`, a node feature since schema 4). Relative error p10..p90.", "",
              "| space | operators | raw MAPE | raw p10..p90 | estimate MAPE | "
              "estimate p10..p90 |", "| --- | ---: | ---: | --- | ---: | --- |"]
    for r in doc["summary"]:
        if r.get("weight_ops"):
            lines.append("| {} | {} | {:.1f}% | {:+.0%}..{:+.0%} | {:.1f}% | {:+.0%}..{:+.0%} |"
                         .format(r["space"], r["weight_ops"], r["weights_raw_mape"],
                                 *r["weights_raw_p10_p90"], r["weights_estimate_mape"],
                                 *r["weights_estimate_p10_p90"]))
    lines += ["", "## Single or double weight buffers", "",
              "Vela double-buffers an operator's weights in depth slices when their transfer "
              "outlasts the previous operator's compute, else single-buffers them "
              "(`Scheduler.propose_weight_buffering`). Rule: double when macs_brick(previous "
              "operator) / npu_weight_bytes(operator) < {:g}; not a feature yet.".format(
                  SLACK_THRESHOLD), "",
              "| space | buffered operators | double-buffered | rule right |",
              "| --- | ---: | ---: | ---: |"]
    for r in doc["summary"]:
        if r.get("buffer_ops"):
            lines.append("| {} | {} | {:.0%} | {:.0%} |".format(
                r["space"], r["buffer_ops"], r["double_share"], r["rule_accuracy"]))
    zoo = [r for r in doc["records"] if r["space"] == "zoo" and "error" not in r]
    if zoo:
        lines += ["", "## Zoo, per model (KiB)", "",
                  "| model | label | Vela act. peak | our act. peak | weights at peak | "
                  "one phase | two phases |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in zoo:
            lines.append("| {} | {:.0f} | {:.0f} | {:.0f} | {:.0%} | {:.0f} | {:.0f} |".format(
                r["name"], r["label"] / 1024, r["act_peak"] / 1024, r["ours_act_peak"] / 1024,
                r["weight_share"], r["one_phase"] / 1024, r["two_phase"] / 1024))
    failed = [r for r in doc["records"] if "error" in r]
    if failed:
        lines += ["", "Vela failed on: " + "; ".join("{}: {}".format(
            r.get("name") or "{}-{}".format(r["space"], r["seed"]), r["error"]) for r in failed)]
    return "\n".join(lines) + "\n"


def main(argv: List[str] = None) -> int:
    """Run the bench; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-space", type=int, default=25)
    ap.add_argument("--seed-from", type=int, default=900000)
    ap.add_argument("--spaces", nargs="*", default=list(SPACES))
    ap.add_argument("--zoo", default=os.path.join(ROOT, ".cache", "zoo"),
                    help="folder of out-of-space models (benches/zoo.py), a row of its own")
    ap.add_argument("--out", default=RESULTS)
    args = ap.parse_args(argv)
    from benches.labelers.vela import vela_version

    records = []
    for space in args.spaces:
        for i, seed in enumerate(range(args.seed_from, args.seed_from + args.per_space)):
            records.append(measure(space, seed))
            print("\r{} {}/{}".format(space, i + 1, args.per_space), end="", file=sys.stderr,
                  flush=True)
        print(file=sys.stderr)
    zoo = sorted(f for f in os.listdir(args.zoo) if f.endswith(".tflite")) \
        if os.path.isdir(args.zoo) else []
    for i, name in enumerate(zoo):
        records.append(dict(measure("zoo", 0, os.path.join(args.zoo, name)), name=name[:-7]))
        print("\rzoo {}/{}".format(i + 1, len(zoo)), end="", file=sys.stderr, flush=True)
    doc = {"bench": "sram_phases", "command": "python -m benches.sram_phases " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "vela": vela_version(), "per_space": args.per_space, "seed_from": args.seed_from,
        "summary": summarise(records), "records": records}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sram_phases.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(args.out, "sram_phases.md"), "w") as f:
        f.write(render_markdown(doc))
    print(render_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
