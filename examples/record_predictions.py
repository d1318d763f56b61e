"""Record the bundled predictors' answers on the shipped example models.

``python -m examples.record_predictions`` writes ``examples/models/expected_predictions.json``
(in the full environment, after the bundles are built); ``tests/edge_predictor/test_examples.py``
checks that any environment (the board-like CI one included) reproduces them within 1e-4.
"""

import glob
import json
import os

from edge_predictor.bundle import list_bundles
from edge_predictor.interpreters import interpreter_info
from edge_predictor.runtime import Predictor

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models")
EXPECTED = os.path.join(MODELS, "expected_predictions.json")


def record():
    """Predict every example model with every bundled target; returns the JSON-ready dict."""
    out = {"interpreter": interpreter_info(), "predictions": {}}
    for target in sorted(list_bundles()):
        p = Predictor.load(target)
        for path in sorted(glob.glob(os.path.join(MODELS, "*.tflite"))):
            res = p.predict(path)
            out["predictions"].setdefault(os.path.basename(path), {})[target] = {
                k: v for k, v in res.items() if isinstance(v, float)}
    return out


if __name__ == "__main__":
    data = record()
    with open(EXPECTED, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    print(EXPECTED)
