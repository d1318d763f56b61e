"""Bench: how close the shape-only estimate of Vela's encoded weight stream gets, per operator.

:mod:`edge_predictor.weight_stream` estimates the bytes Vela's weight encoder produces for an
INT8 filter (compressed weights plus bias and scale) from the filter's shape; the featurizer's
``sram_weight_bytes`` column (schema 6) is that estimate. This bench runs Vela 5.2
(``--verbose-allocation``, which lists every encoded weight tensor with its size) on

* the validation bench's fresh CNN models (seeds 800000.. per space, not in the dataset;
  ``.cache/validation/models``, built from (space, seed) when missing) and
* the zoo's real-world models (``.cache/zoo``, ``python -m benches.zoo``; skipped if absent),

and scores three sizes against Vela's per operator: the raw constant bytes (``weight_bytes``),
``npu_weight_bytes`` (padded, uncompressed, schema 4) and the encoded estimate. The
coefficients come from a least-squares fit on the relative error (:func:`fit`); the bench also
fits them on the even seeds alone and scores the odd ones, so the table shows an out-of-sample
figure next to the shipped coefficients' in-sample one. The zoo is never fitted on.

Run: ``python -m benches.weight_encoding [--per-space 25] [--fit]`` (``--fit`` prints the
coefficients fitted on all sampled models, as ``ENCODING_COEFFICIENTS`` spells them). Writes
``benches/results/weight_encoding.{json,md}``; Vela's per-model answers are cached in
``.cache/weight_encoding`` (interrupt and rerun to resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import numpy as np

from benches.results_io import write_atomic, write_results
from edge_predictor.weight_stream import (ENCODING_COEFFICIENTS, SCALE_BYTES,
                                          encoded_weight_bytes, encoding_terms)

__all__ = ["measure", "fit", "score", "render_markdown", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")
CACHE = os.path.join(ROOT, ".cache", "weight_encoding")
CNN_SPACES = ("cnn-cifar10", "cnn-imagenet", "cnn-kws")


def measure(path: str) -> List[Dict[str, Any]]:
    """Vela's encoded size of every CONV_2D / DEPTHWISE_CONV_2D filter of one model (cached).

    Returns:
        ``{"op", "shape", "raw", "npu", "vela"}`` per operator whose filter Vela encoded.

    Raises:
        RuntimeError: Vela failed on the model.
    """
    cache = os.path.join(CACHE, os.path.basename(path) + ".json")
    if os.path.exists(cache):
        with open(cache) as f:
            return json.load(f)
    from benches.labelers.vela import run_vela
    from benches.sram_phases import parse_encoded_weights
    from edge_predictor.weight_stream import npu_weight_bytes
    from edge_predictor.tflite_reader import read_model

    with tempfile.TemporaryDirectory(prefix="edgeperf_wenc_") as out:
        rc, log = run_vela(path, out, extra_args=["--verbose-allocation"])
    if rc != 0:
        raise RuntimeError("{}: Vela failed: {}".format(path, log.strip().splitlines()[-1:]))
    encoded = parse_encoded_weights(log)
    graph = read_model(path)
    rows = []
    for node in graph.ops:
        consts = graph.constant_inputs(node)
        if node.op not in ("CONV_2D", "DEPTHWISE_CONV_2D") or not consts or \
                consts[0].name not in encoded or consts[0].dtype not in ("INT8", "UINT8"):
            continue
        rows.append({"op": node.op, "shape": [int(d) for d in consts[0].shape],
                     "raw": float(sum(t.nbytes for t in consts)),
                     "npu": npu_weight_bytes(node.op, consts[0].shape),
                     "vela": float(encoded[consts[0].name])})
    os.makedirs(CACHE, exist_ok=True)
    write_atomic(cache, json.dumps(rows))
    return rows


def fit(rows: List[Dict[str, Any]]) -> Dict[str, List[float]]:
    """Per group, least squares on the relative error of the weight bytes (bias/scale apart),
    over :func:`edge_predictor.weight_stream.encoding_terms`."""
    terms = [(encoding_terms(r["op"], r["shape"]), r["vela"]) for r in rows]
    out = {}
    for group in ENCODING_COEFFICIENTS:
        rs = [(t, vela) for t, vela in terms if t is not None and t[0] == group]
        if not rs:
            continue
        a = np.array([t[2] for t, _ in rs])
        vela = np.array([v for _, v in rs])
        channels = np.array([t[1] for t, _ in rs])
        w = 1.0 / vela
        coef = np.linalg.lstsq(a * w[:, None], (vela - SCALE_BYTES * channels) * w, rcond=None)[0]
        out[group] = [float("{:.5g}".format(c)) for c in coef]
    return out


def score(rows: List[Dict[str, Any]], coef=ENCODING_COEFFICIENTS) -> Dict[str, Any]:
    """MAPE (%) and p10/p90 of the relative error of raw, npu and encoded estimate vs Vela."""
    vela = np.array([r["vela"] for r in rows])
    estimate = [encoded_weight_bytes(r["op"], r["shape"], coef) for r in rows]
    out: Dict[str, Any] = {"n": len(rows)}
    for name, pred in (("raw", [r["raw"] for r in rows]), ("npu", [r["npu"] for r in rows]),
                       ("estimate", estimate)):
        e = np.asarray(pred, np.float64) / vela - 1.0
        out[name] = {"mape": float(100 * np.mean(np.abs(e))),
                     "p10": float(np.percentile(e, 10)), "p90": float(np.percentile(e, 90))}
    return out


def render_markdown(doc: Dict[str, Any]) -> str:
    """The readable table of the JSON document."""
    lines = ["# Vela's encoded weight bytes against three shape-only sizes (ethos-u55-128)", "",
             "Command: `{}` ({:.0f} s, Vela {}). Per CONV_2D / DEPTHWISE_CONV_2D filter: relative "
             "error of the raw constant bytes (`weight_bytes`), the padded uncompressed stream "
             "(`npu_weight_bytes`, schema 4) and the encoded estimate (`sram_weight_bytes`, "
             "schema 6, `edge_predictor/weight_stream.py`). 'even -> odd': coefficients fitted on "
             "the even seeds, scored on the odd ones; the zoo is never fitted on.".format(
                 doc["command"], doc["wall_s"], doc["vela"]), "",
             "| models | operators | raw MAPE | raw p10..p90 | npu MAPE | estimate MAPE | "
             "estimate p10..p90 |", "|---|---:|---:|---|---:|---:|---|"]
    for key, s in doc["scores"].items():
        lines.append("| {} | {} | {:.1f}% | {:+.0%}..{:+.0%} | {:.1f}% | {:.1f}% | "
                     "{:+.0%}..{:+.0%} |".format(key, s["n"], s["raw"]["mape"], s["raw"]["p10"],
                                                 s["raw"]["p90"], s["npu"]["mape"],
                                                 s["estimate"]["mape"], s["estimate"]["p10"],
                                                 s["estimate"]["p90"]))
    lines += ["", "Coefficients fitted on all sampled models (`--fit`): `{}`".format(
        json.dumps(doc["fit_all"]))]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    from benches.validation import SEED_BASE, build_models, family_of, zoo_models

    ap = argparse.ArgumentParser(prog="python -m benches.weight_encoding",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--per-space", type=int, default=25, help="fresh models per space")
    ap.add_argument("--fit", action="store_true", help="print the coefficients fitted on all")
    ap.add_argument("--out", default=RESULTS)
    args = ap.parse_args(argv)
    t0 = time.time()
    paths = [p for p in build_models(args.per_space) if family_of(p) in CNN_SPACES]
    paths += zoo_models()
    by_model: Dict[str, List[Dict[str, Any]]] = {}
    for i, p in enumerate(paths):
        print("[{}/{}] {}".format(i + 1, len(paths), os.path.basename(p)), file=sys.stderr)
        by_model[p] = measure(p)
    sampled = {p: rs for p, rs in by_model.items() if family_of(p) in CNN_SPACES}
    every = [r for rs in sampled.values() for r in rs]

    def seeds(parity: int) -> List[Dict[str, Any]]:
        return [r for p, rs in sampled.items()
                if (int(os.path.basename(p)[:-7].rsplit("-", 1)[1]) - SEED_BASE) % 2 == parity
                for r in rs]

    scores: Dict[str, Any] = {}
    for sp in CNN_SPACES:
        scores[sp] = score([r for p, rs in sampled.items() if family_of(p) == sp for r in rs])
    scores["all sampled"] = score(every)
    scores["odd seeds, even -> odd"] = score(seeds(1), fit(seeds(0)))
    zoo = [r for p, rs in by_model.items() if family_of(p) not in CNN_SPACES for r in rs]
    if zoo:
        scores["zoo ({} models)".format(len(by_model) - len(sampled))] = score(zoo)
    from benches.labelers.vela import vela_version

    doc = {"command": "python -m benches.weight_encoding --per-space {}".format(args.per_space),
           "vela": vela_version(), "scores": scores, "fit_all": fit(every),
           "shipped": {k: list(v) for k, v in ENCODING_COEFFICIENTS.items()},
           "wall_s": time.time() - t0}
    if args.fit:
        print(json.dumps(doc["fit_all"], indent=1))
    write_results(args.out, "weight_encoding", doc, render_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
