"""Labelers: turn a ``.tflite`` model into measured or simulated cost labels.

Every labeler returns the same shape of plain dict (JSON-able)::

    {
        "target": "ethos-u55-128",            # stable target id
        "labels": {"latency_ms": ..., ...},   # metric -> value (the training targets)
        "raw": {...},                         # the tool's own numbers that the labels came from
        "provenance": {"labeler": "vela", "labeler_version": "5.2.0", ..., "time": "...Z"},
    }

Labelers (import them from their modules; nothing heavy is imported here):

- :mod:`benches.labelers.vela` -- ``ethos-u55-128`` through Vela, in-process;
- :mod:`benches.labelers.energy` -- the NPU energy *estimate* used by the Vela labeler;
- :mod:`benches.labelers.cpu` -- live host CPU latency (``cpu-<cpu>-<interp>-t<threads>``);
- :mod:`benches.labelers.edgetpu` -- ``edgetpu`` on a Coral board (compiler + pycoral).

Failures on one model raise :class:`edge_predictor.errors.LabelError`; a missing tool, runtime or
device raises :class:`edge_predictor.errors.UnavailableError`.
"""

from __future__ import annotations

import datetime
import os

__all__ = ["make_result", "utc_now", "read_model"]


def utc_now():
    """Current UTC time as an ISO-8601 string ending in ``Z`` (seconds resolution)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None)
    return now.isoformat() + "Z"


def read_model(model):
    """Model bytes from bytes or a path.

    Args:
        model: ``bytes``/``bytearray``/``memoryview`` or a path-like.

    Returns:
        ``(content bytes, name)`` where name is the file stem, or ``"model"`` for bytes.
    """
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), "model"
    path = os.fspath(model)
    with open(path, "rb") as f:
        content = f.read()
    return content, os.path.splitext(os.path.basename(path))[0] or "model"


def make_result(target, labels, raw, provenance):
    """Assemble a labeler result dict (see the module docstring).

    Args:
        target: target id.
        labels: metric -> value.
        raw: the labelling tool's own numbers.
        provenance: labeler name, version, settings, host; ``time`` is added if absent.

    Returns:
        The result dict.
    """
    prov = dict(provenance)
    prov.setdefault("time", utc_now())
    return {"target": target, "labels": dict(labels), "raw": dict(raw), "provenance": prov}
