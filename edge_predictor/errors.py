"""The project's error hierarchy.

Library code raises these; only the CLI turns them into a one-line message and an exit code.
Every error that concerns a file names it, so ``str(err)`` is already the line a user reads.

Hierarchy::

    EdgePerfError                 base of everything edge-perf raises on purpose
    +-- InputError                bad user input (exit code 2)
    |   +-- ModelFormatError      a file that is not a readable TFLite model
    |   +-- BundleError           a predictor bundle that is missing, corrupt or incompatible
    |   +-- UnknownTargetError    a target name that no bundle or labeler knows
    |   +-- GraphTooLargeError    a graph with more nodes than the largest predictor bucket
    +-- UnavailableError          a runtime, device or sensor that is not present on this host
    +-- LabelError                a labeler (Vela, live measurement) failed on one model
"""

from __future__ import annotations

__all__ = [
    "EdgePerfError",
    "InputError",
    "ModelFormatError",
    "BundleError",
    "UnknownTargetError",
    "GraphTooLargeError",
    "UnavailableError",
    "LabelError",
]


class EdgePerfError(Exception):
    """Base class of every error edge-perf raises on purpose."""

    exit_code = 1


class InputError(EdgePerfError):
    """The user handed us something we cannot use (CLI exit code 2)."""

    exit_code = 2


class ModelFormatError(InputError):
    """A file is not a readable TFLite flatbuffer.

    Args:
        path: the file (or ``"<bytes>"`` for in-memory models).
        reason: what is wrong, one short clause.
    """

    def __init__(self, path: str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__("{}: {}".format(self.path, reason))


class BundleError(InputError):
    """A predictor bundle is missing, corrupt or incompatible."""


class UnknownTargetError(InputError):
    """A target name is not known; the message lists the known ones."""


class GraphTooLargeError(InputError):
    """A graph has more nodes than the largest bucket of a predictor bundle."""


class UnavailableError(EdgePerfError):
    """A runtime, device or sensor is not available on this host (CLI exit code 2)."""

    exit_code = 2


class LabelError(EdgePerfError):
    """A labeler failed on one model; dataset generation records it and goes on."""
