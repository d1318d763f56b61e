"""Write the default calibration set (``edge_predictor/calibration_set/``).

``python -m converters.calibration_set POOL [--count 20] [--base cpu-epyc-litert-t1]`` picks
``count`` models of the folder POOL as ``edge-perf calibrate --count`` does (the base bundle's
kernel-mix shares and predicted latencies, :func:`edge_predictor.calibrate.pick_models`), strips
their filters and biases (:func:`edge_predictor.calibration_set.strip_weights`) and writes each
gzipped, with ``MANIFEST.json``. The shipped set was written from ``benches.adaptation``'s pool
(``.cache/adaptation/pool``: six fresh models per design space, seeds 810000-810005; the bench
builds it with TensorFlow: ``python -m benches.adaptation --measure-only`` or a full run).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
from typing import List, Optional

__all__ = ["write_set", "main"]


def write_set(pool: List[str], out: str, count: int, base: str) -> dict:
    """Pick ``count`` of the ``pool`` paths, write them stripped and gzipped into ``out`` with
    its manifest; returns the manifest."""
    from edge_predictor.calibrate import pick_models
    from edge_predictor.calibration_set import MANIFEST, strip_weights

    picked = pick_models(base, sorted(pool), count)
    os.makedirs(out, exist_ok=True)
    models = {}
    for path in picked:
        name = os.path.basename(path)
        with open(path, "rb") as f:
            data = f.read()
        stripped = strip_weights(data)
        with open(os.path.join(out, name + ".gz"), "wb") as f:
            f.write(gzip.compress(stripped, 9, mtime=0))
        space, seed = name[:-len(".tflite")].rsplit("-", 1)
        models[name] = {"space": space, "seed": int(seed), "original_bytes": len(data),
                        "stripped_sha256": hashlib.sha256(stripped).hexdigest()}
    manifest = {"picked_by": "edge_predictor.calibrate.pick_models from {} models, base {}"
                .format(len(pool), base), "models": models}
    with open(os.path.join(out, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m converters.calibration_set POOL [--count N] [--base T] [--out DIR]``."""
    from edge_predictor.calibration_set import SET_DIR

    ap = argparse.ArgumentParser(prog="python -m converters.calibration_set")
    ap.add_argument("pool", help="folder of .tflite models to pick from")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--base", default="cpu-epyc-litert-t1")
    ap.add_argument("--out", default=SET_DIR)
    args = ap.parse_args(argv)
    pool = [os.path.join(args.pool, f) for f in os.listdir(args.pool) if f.endswith(".tflite")]
    manifest = write_set(pool, args.out, args.count, args.base)
    print("wrote {} models into {}".format(len(manifest["models"]), args.out))  # its own CLI
    return 0


if __name__ == "__main__":
    sys.exit(main())
