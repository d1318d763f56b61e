"""Bench: mutation fuzzing of the reader, featurizer and predictor (``edge-perf predict``'s path).

Mutants of the test fixtures and the example models (``--zoo DIR`` adds real architectures):
bit flips, truncations, chunks spliced in from another model, 32-bit words overwritten with
extreme values (:func:`mutants`). Each is read, featurized, summarized (``edge-perf inspect``)
and predicted with the shipped NPU bundle, in process. A mutant may be refused -- with an
:class:`~edge_predictor.errors.EdgePerfError`, which the CLI turns into one line and exit 2 -- or
answered; any other exception is a **crash** (a traceback for the user): its bytes are saved to
``.cache/fuzz/crashes/`` with the exception. Deterministic from ``--seed``.

Writes ``benches/results/fuzz.{json,md}``.

Run: ``python -m benches.fuzz [--mutants 100000] [--seed 0] [--zoo .cache/zoo]`` (runtime only:
numpy and an interpreter).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
import traceback
from typing import Dict, Iterator, List, Optional

from benches.results_io import write_results

__all__ = ["mutate", "mutants", "run", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")
CRASHES = os.path.join(ROOT, ".cache", "fuzz", "crashes")
KINDS = ("bit flips", "truncation", "splice", "extreme word")


def mutate(data: bytes, kind: int, rng: random.Random, others: List[bytes]) -> bytes:
    """One mutant of ``data`` of mutation ``kind`` (an index into :data:`KINDS`)."""
    b = bytearray(data)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(b))
            b[pos] ^= 1 << rng.randrange(8)
    elif kind == 1:
        b = b[: rng.randrange(8, len(b))]
    elif kind == 2:
        other = rng.choice(others)
        n = rng.randint(4, min(256, len(other) - 1, len(b) - 9))
        src, dst = rng.randrange(len(other) - n), rng.randrange(8, len(b) - n)
        b[dst:dst + n] = other[src:src + n]
    else:
        pos = rng.randrange(8, len(b) - 4) & ~3
        b[pos:pos + 4] = rng.choice([b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f",
                                     b"\x00\x00\x00\x80", b"\x00\x00\x00\x00"])
    return bytes(b)


def mutants(models: Dict[str, bytes], count: int, seed: int) -> Iterator:
    """``count`` (name, kind, mutant bytes), cycling over the models and the kinds."""
    rng = random.Random(seed)
    names, others = sorted(models), [models[n] for n in sorted(models)]
    for i in range(count):
        name = names[i % len(names)]
        kind = (i // len(names)) % len(KINDS)
        yield name, kind, mutate(models[name], kind, rng, others)


def run(models: Dict[str, bytes], count: int, seed: int) -> Dict[str, object]:
    """Fuzz; return counts per outcome and the crashes (saved under :data:`CRASHES`)."""
    from edge_predictor.errors import EdgePerfError
    from edge_predictor.featurize import featurize
    from edge_predictor.runtime import Predictor
    from edge_predictor.summary import summarize
    from edge_predictor.tflite_reader import read_model

    predictor = Predictor.load("ethos-u55-128")
    outcome = {"refused": 0, "predicted": 0, "crashed": 0}
    per_kind = {k: dict(outcome) for k in KINDS}
    crashes: List[Dict[str, str]] = []
    t0 = time.time()
    for i, (name, kind, data) in enumerate(mutants(models, count, seed)):
        try:
            graph = read_model(data, name=name + "-mutant")
            summarize(graph)
            predictor.predict_features(featurize(graph), graph.path, graph.warnings)
            result = "predicted"
        except EdgePerfError:
            result = "refused"
        except Exception as err:  # the bench's subject: anything else reaches the user
            result = "crashed"
            digest = hashlib.sha256(data).hexdigest()[:16]
            os.makedirs(CRASHES, exist_ok=True)
            with open(os.path.join(CRASHES, "{}-{}.tflite".format(name, digest)), "wb") as f:
                f.write(data)
            crashes.append({"model": name, "kind": KINDS[kind], "sha256_16": digest,
                            "error": "{}: {}".format(type(err).__name__, err)[:300],
                            "where": traceback.extract_tb(err.__traceback__)[-1].name})
        outcome[result] += 1
        per_kind[KINDS[kind]][result] += 1
        if (i + 1) % 10000 == 0:
            print("{} mutants, {} crashes, {:.0f} s".format(i + 1, outcome["crashed"],
                                                            time.time() - t0), file=sys.stderr)
    return {"mutants": count, "seed": seed, "outcome": outcome, "per_kind": per_kind,
            "crashes": crashes, "seconds": round(time.time() - t0, 1)}


def _markdown(doc: Dict[str, object]) -> str:
    o = doc["outcome"]
    lines = ["# Mutation fuzzing of read -> featurize -> inspect -> predict", "",
             "Command: `{}`. Models: {}. A refusal is an EdgePerfError (one line, exit 2 in the "
             "CLI); a crash is any other exception.".format(doc["command"],
                                                            ", ".join(doc["models"])), "",
             "**{} mutants: {} refused, {} predicted, {} crashed** ({} s).".format(
                 doc["mutants"], o["refused"], o["predicted"], o["crashed"], doc["seconds"]),
             "", "| mutation | refused | predicted | crashed |", "|---|---:|---:|---:|"]
    for kind, r in doc["per_kind"].items():
        lines.append("| {} | {} | {} | {} |".format(kind, r["refused"], r["predicted"],
                                                   r["crashed"]))
    for c in doc["crashes"][:20]:
        lines.append("- crash: {model} ({kind}) in `{where}`: {error}".format(**c))
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benches.fuzz",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--mutants", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--zoo", help="also mutate the .tflite files of this folder")
    ap.add_argument("--out", default=RESULTS)
    args = ap.parse_args(argv)
    folders = [os.path.join(ROOT, "tests", "fixtures"), os.path.join(ROOT, "examples", "models")]
    folders += [args.zoo] if args.zoo else []
    models = {}
    for d in folders:
        for f in sorted(os.listdir(d)):
            if f.endswith(".tflite"):
                with open(os.path.join(d, f), "rb") as fh:
                    models[f[:-len(".tflite")]] = fh.read()
    doc = run(models, args.mutants, args.seed)
    doc["command"] = "python -m benches.fuzz " + " ".join(
        argv if argv is not None else sys.argv[1:])
    doc["models"] = sorted(models)
    write_results(args.out, "fuzz", doc, _markdown(doc))
    return 1 if doc["outcome"]["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
