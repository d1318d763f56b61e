"""Bench: the reader on real-world architectures none of our design spaces produce.

For every model of the out-of-space zoo (:mod:`benches.zoo`), ``edge-perf inspect --json``'s
operator count is compared with the interpreter's (built without default delegates, so no
DELEGATE nodes), operators in the OTHER category are listed, and the reader + featurizer time
is measured (median of 20 calls). Writes ``benches/results/reader_zoo.{json,md}``.

Run: ``python -m benches.reader_zoo [--zoo .cache/zoo]`` (builds missing zoo models first,
which needs ``.[train]``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List

__all__ = ["check_model", "main"]

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def check_model(path: str) -> Dict[str, Any]:
    """Compare the reader with the interpreter on one model; time reader + featurizer."""
    from edge_predictor.featurize import featurize
    from edge_predictor.interpreters import interpreter_info, make_interpreter
    from edge_predictor.tflite_reader import read_model

    with open(path, "rb") as f:
        content = f.read()
    cli = subprocess.run([sys.executable, "-m", "edge_predictor.cli", "inspect", "--json", path],
                         capture_output=True, text=True, check=False)
    summary = json.loads(cli.stdout) if cli.returncode == 0 else {}
    interp = make_interpreter(content, threads=1, default_delegates=False)
    n_interp = len(interp._get_ops_details())
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        featurize(read_model(content))
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "model": os.path.basename(path)[:-len(".tflite")],
        "inspect_exit": cli.returncode,
        "operators_reader": summary.get("operators"),
        "operators_interpreter": n_interp,
        "match": summary.get("operators") == n_interp,
        "other_category": summary.get("categories", {}).get("OTHER", 0),
        "unknown_operators": summary.get("unknown_operators"),
        "op_types": len(summary.get("op_counts", {})),
        "macs": summary.get("macs"),
        "params": summary.get("params"),
        "read_featurize_ms": statistics.median(times),
        "interpreter": interpreter_info(),
    }


def _table(rows: List[Dict[str, Any]]) -> str:
    lines = ["| model | reader ops | interpreter ops | match | OTHER | op types | MACs | params |"
             " read+featurize ms |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append("| {model} | {operators_reader} | {operators_interpreter} | {match} | "
                     "{other_category} | {op_types} | {macs:,} | {params:,} | "
                     "{read_featurize_ms:.2f} |".format(**r))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="reader vs interpreter on the zoo")
    ap.add_argument("--zoo", default=".cache/zoo")
    args = ap.parse_args(argv)
    from benches.zoo import ZOO

    missing = [n for n in ZOO if not os.path.exists(os.path.join(args.zoo, n + ".tflite"))]
    if missing:
        subprocess.run([sys.executable, "-m", "benches.zoo", "--out", args.zoo, "--no-vela",
                        "--only"] + missing, check=True)
    rows = [check_model(os.path.join(args.zoo, n + ".tflite")) for n in sorted(ZOO)]
    os.makedirs(RESULTS, exist_ok=True)
    out = {"command": "python -m benches.reader_zoo", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                           time.gmtime()),
           "models": rows, "all_match": all(r["match"] for r in rows),
           "any_other": any(r["other_category"] for r in rows)}
    with open(os.path.join(RESULTS, "reader_zoo.json"), "w") as f:
        json.dump(out, f, indent=2)
    md = ["# Reader vs interpreter on real-world INT8 architectures", "",
          "Command: `python -m benches.reader_zoo` (zoo built by `python -m benches.zoo`). "
          "Interpreter: {} {}, built without default delegates. Timing is on a shared 2-core "
          "machine (median of 20).".format(rows[0]["interpreter"]["name"],
                                           rows[0]["interpreter"]["version"]), "",
          _table(rows), "", "All operator counts equal: {}. Any OTHER category: {}.".format(
              out["all_match"], out["any_other"])]
    with open(os.path.join(RESULTS, "reader_zoo.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if out["all_match"] and not out["any_other"] else 1


if __name__ == "__main__":
    sys.exit(main())
