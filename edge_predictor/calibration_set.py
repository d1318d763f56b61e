"""The default calibration set: 20 models to measure when a user has none of their own.

``edge-perf calibrate --from TARGET --out DIR`` without models measures these. They are the 20
models ``edge-perf calibrate --count 20`` picks (:func:`edge_predictor.calibrate.pick_models`,
the CPU bundle's kernel-mix shares and predicted latencies) from a pool of 30 fresh models, six
per design space (cnn-cifar10, cnn-imagenet, cnn-kws, vit-cifar100, families; seeds 810000 to
810005, outside the dataset's range), each reproducible from its (space, seed).

Whole models are too large to ship (a cnn-imagenet model is 14-32 MB, nearly all of it int8
filters). A kernel's time does not depend on its weights' values, so each model is shipped with
the data of its filters and biases (the weight inputs of CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED and TRANSPOSE_CONV) zeroed and gzipped, 2.2 MB for all 20, and gets seeded
random values back when it is loaded (:func:`refill_weights`): on an Intel Xeon with LiteRT
2.3 the refilled models run within 1% of the originals (4 models, two runs each; zeroed
weights instead run a ViT 6% faster: its activations collapse). Everything else --
quantization, shape operands, other constants -- is the original. ``python -m
converters.calibration_set`` writes the set; ``MANIFEST.json`` lists each model's space, seed,
original size and the sha256 of its stripped bytes.

Python 3.7 compatible; numpy and the standard library.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from typing import Dict, List, Tuple

import numpy as np

from .flatbuf import root_table
from .tflite_reader import read_model

__all__ = ["SET_DIR", "MANIFEST", "WEIGHT_INPUTS", "weight_regions", "strip_weights",
           "refill_weights", "default_models", "write_default_models"]

SET_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibration_set")
MANIFEST = "MANIFEST.json"
#: the inputs whose data :func:`strip_weights` drops: operator -> (filter, bias) positions
WEIGHT_INPUTS = {"CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2),
                 "TRANSPOSE_CONV": (1, 3)}
_M_SUBGRAPHS, _M_BUFFERS, _SG_TENSORS, _T_BUFFER, _B_DATA = 2, 4, 0, 2, 0


def weight_regions(buf: bytes) -> List[Tuple[int, int, str]]:
    """Where a model's filters and biases lie in its bytes.

    Returns:
        ``(start, length, dtype)`` of each distinct constant buffer read as a filter or bias by
        an operator of :data:`WEIGHT_INPUTS` (main subgraph), in file order of first use.

    Raises:
        ModelFormatError: not a readable TFLite model.
    """
    graph = read_model(buf)
    root = root_table(buf)
    buffers = root.tables(_M_BUFFERS)
    tensors = root.tables(_M_SUBGRAPHS)[0].tables(_SG_TENSORS)
    out, seen = [], set()
    for node in graph.ops:
        for j in WEIGHT_INPUTS.get(node.op, ()):
            t = node.inputs[j] if j < len(node.inputs) else -1
            if t < 0 or not graph.tensors[t].is_constant:
                continue
            b = tensors[t].u32(_T_BUFFER)
            start, length = buffers[b].vector(_B_DATA, 1)
            if length and b not in seen:
                seen.add(b)
                out.append((start, length, graph.tensors[t].dtype))
    return out


def strip_weights(buf: bytes) -> bytes:
    """The model with the data of its filters and biases set to zero (same length)."""
    out = bytearray(buf)
    for start, length, _ in weight_regions(buf):
        out[start:start + length] = bytes(length)
    return bytes(out)


def refill_weights(buf: bytes, seed: int) -> bytes:
    """The model with seeded random filters and biases: int8 uniform in [-127, 127], int32 in
    [-1000, 1000), float32 normal with a 0.05 deviation (other types are left as they are)."""
    rng = np.random.RandomState(seed)
    out = bytearray(buf)
    for start, length, dtype in weight_regions(buf):
        if dtype == "INT8":
            values = rng.randint(-127, 128, length).astype(np.int8)
        elif dtype == "INT32":
            values = rng.randint(-1000, 1000, length // 4).astype("<i4")
        elif dtype == "FLOAT32":
            values = (rng.standard_normal(length // 4) * 0.05).astype("<f4")
        else:
            continue
        data = values.tobytes()
        out[start:start + len(data)] = data
    return bytes(out)


def _manifest() -> Dict[str, Dict[str, object]]:
    with open(os.path.join(SET_DIR, MANIFEST)) as f:
        return json.load(f)["models"]


def default_models() -> List[Tuple[str, bytes]]:
    """The shipped set, weights refilled (seeded by each name's CRC-32: the same bytes every
    time): ``[(name, model bytes)]`` in manifest order."""
    out = []
    for name in _manifest():
        with open(os.path.join(SET_DIR, name + ".gz"), "rb") as f:
            stripped = gzip.decompress(f.read())
        out.append((name, refill_weights(stripped, zlib.crc32(name.encode("utf-8")))))
    return out


def write_default_models(folder: str) -> List[str]:
    """Write the shipped set into ``folder`` (created); returns the model paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, data in default_models():
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    return paths
