"""edge-perf runtime: read a TFLite model, featurize it, predict its cost on an edge target.

``from edge_predictor import Predictor`` imports no TensorFlow; :class:`Predictor` itself is
imported lazily on first access so that ``import edge_predictor`` stays cheap.
"""

from __future__ import annotations

from .featurize import featurize
from .tflite_reader import read_model

__all__ = ["Predictor", "read_model", "featurize", "__version__"]

__version__ = "0.1.0"


def __getattr__(name):  # PEP 562 (Python 3.7+): lazy Predictor
    if name == "Predictor":
        from .runtime import Predictor

        return Predictor
    raise AttributeError("module 'edge_predictor' has no attribute {!r}".format(name))
