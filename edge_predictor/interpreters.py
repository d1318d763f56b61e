"""Choose and build a TFLite interpreter.

Three backends are tried, first that imports and works wins:

1. ``tflite_runtime`` -- what a Coral board or a Jetson already has (numpy 1.x only);
2. ``ai_edge_litert`` -- its successor, works with numpy 1.23+ and 2.x;
3. ``tensorflow`` (``tf.lite.Interpreter``) -- heavy, the last resort.

The environment variable ``EDGE_PERF_INTERPRETER`` forces one backend (``tflite_runtime``,
``litert``/``ai_edge_litert`` or ``tensorflow``/``tf``); a forced backend that does not work
raises :class:`~edge_predictor.errors.UnavailableError` instead of falling back.

Interpreter packages are imported lazily, inside functions: importing this module costs nothing.
Python 3.7 compatible (runs on a Coral board).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from .errors import ModelFormatError, UnavailableError

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "make_interpreter",
    "interpreter_info",
    "backend_module",
    "resolve_backend_name",
    "reset_cache",
]

#: Backends in order of preference.
BACKENDS = ("tflite_runtime", "ai_edge_litert", "tensorflow")

#: Environment variable that forces one backend.
ENV_VAR = "EDGE_PERF_INTERPRETER"

_ALIASES = {
    "tflite_runtime": "tflite_runtime",
    "tflite-runtime": "tflite_runtime",
    "tflite": "tflite_runtime",
    "ai_edge_litert": "ai_edge_litert",
    "ai-edge-litert": "ai_edge_litert",
    "litert": "ai_edge_litert",
    "tensorflow": "tensorflow",
    "tensorflow.lite": "tensorflow",
    "tf": "tensorflow",
}

_INSTALL_HINT = (
    "install one: `pip install ai-edge-litert` (numpy 1.23+/2.x), "
    "`pip install tflite-runtime` (numpy<2, boards), "
    "or the edge-perf extra `pip install '.[litert]'`"
)

# name -> (interpreter module, version) ; filled on first successful load
_cache = {}


def reset_cache():
    """Forget the chosen backend (tests, or after changing ``EDGE_PERF_INTERPRETER``)."""
    _cache.clear()


def resolve_backend_name(name):
    """Map a user-facing backend name or alias to its canonical name.

    Args:
        name: e.g. ``"litert"``, ``"tflite_runtime"``, ``"tf"``.

    Returns:
        One of :data:`BACKENDS`.

    Raises:
        UnavailableError: the name is not a known backend.
    """
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise UnavailableError(
            "{}={!r} is not a TFLite interpreter; use one of {}".format(
                ENV_VAR, name, ", ".join(BACKENDS)
            )
        )
    return _ALIASES[key]


def _numpy_major():
    import numpy

    try:
        return int(numpy.__version__.split(".")[0])
    except ValueError:
        return 0


def _dist_version(dist_names):
    """Version of an installed distribution, or ``None`` (Python 3.7 lacks importlib.metadata)."""
    try:
        from importlib import metadata  # novm - Python 3.8+, guarded
    except ImportError:  # pragma: no cover - Python 3.7
        try:
            import pkg_resources
        except ImportError:
            return None
        for dist in dist_names:
            try:
                return pkg_resources.get_distribution(dist).version
            except Exception:  # noqa: BLE001 - any failure means "unknown"
                continue
        return None
    for dist in dist_names:
        try:
            return metadata.version(dist)
        except Exception:  # noqa: BLE001
            continue
    return None


def _load(name):
    """Import one backend; return ``(interpreter module, version)`` or raise ``ImportError``."""
    if name in _cache:
        return _cache[name]
    if importlib.util.find_spec(name) is None:
        raise ImportError("{} is not installed".format(name))
    if name == "tflite_runtime":
        if _numpy_major() >= 2:
            # tflite_runtime wheels (last release 2.14) are built against numpy 1.x: importing
            # them under numpy 2 writes a warning to stderr and fails. Do not even try.
            raise ImportError("tflite_runtime needs numpy<2")
        mod = importlib.import_module("tflite_runtime.interpreter")
        pkg = importlib.import_module("tflite_runtime")
        version = getattr(pkg, "__version__", None) or _dist_version(["tflite-runtime"])
    elif name == "ai_edge_litert":
        mod = importlib.import_module("ai_edge_litert.interpreter")
        pkg = importlib.import_module("ai_edge_litert")
        version = getattr(pkg, "__version__", None) or _dist_version(
            ["ai-edge-litert", "ai-edge-litert-nightly"]
        )
    else:
        tf = importlib.import_module("tensorflow")
        mod = tf.lite
        version = getattr(tf, "__version__", None)
    if not hasattr(mod, "Interpreter"):
        raise ImportError("{} has no Interpreter".format(name))
    _cache[name] = (mod, str(version) if version is not None else "unknown")
    return _cache[name]


def _choose():
    """Return ``(canonical name, module, version)`` of the backend to use."""
    forced = os.environ.get(ENV_VAR, "").strip()
    if forced:
        name = resolve_backend_name(forced)
        try:
            mod, version = _load(name)
        except Exception as exc:  # noqa: BLE001 - any import failure means unavailable
            raise UnavailableError(
                "{}={} but that interpreter does not load: {}".format(ENV_VAR, forced, exc)
            ) from exc
        return name, mod, version
    reasons = []
    for name in BACKENDS:
        try:
            mod, version = _load(name)
        except Exception as exc:  # noqa: BLE001
            reasons.append("{}: {}".format(name, str(exc).splitlines()[0] if str(exc) else exc))
            continue
        return name, mod, version
    raise UnavailableError(
        "no TFLite interpreter works here ({}); {}".format("; ".join(reasons), _INSTALL_HINT)
    )


def backend_module():
    """The chosen backend's interpreter module (has ``Interpreter``)."""
    return _choose()[1]


def interpreter_info():
    """Name and version of the interpreter :func:`make_interpreter` would use.

    Returns:
        ``{"name": "tflite_runtime" | "ai_edge_litert" | "tensorflow", "version": str}``.

    Raises:
        UnavailableError: no interpreter works.
    """
    name, _, version = _choose()
    return {"name": name, "version": version}


class _QuietStderr(object):
    """Silence file descriptor 2 for a block (the runtimes print "INFO: Created TensorFlow Lite
    XNNPACK delegate" from C++). Process-wide while it lasts; ``EDGE_PERF_VERBOSE=1`` keeps it."""

    def __enter__(self):
        self.saved = None
        if os.environ.get("EDGE_PERF_VERBOSE"):
            return self
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.close(null)
        except (OSError, ValueError, AttributeError):
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.dup2(self.saved, 2)
            os.close(self.saved)
        return False


def make_interpreter(model_content, threads=1, default_delegates=True, allocate=True):
    """Build a TFLite interpreter for a model and allocate its tensors.

    Args:
        model_content: the ``.tflite`` flatbuffer as bytes.
        threads: number of CPU threads the interpreter may use.
        default_delegates: when False, build with
            ``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (no XNNPACK) where the backend
            offers it; old backends without that option build with their defaults.
        allocate: allocate the primary subgraph's tensors now; False for a file run through
            signature runners, which allocate the subgraph they run on first use (allocating
            subgraph 0 as well would hold its arena for nothing).

    Returns:
        An ``Interpreter`` (allocated when ``allocate``).

    Raises:
        UnavailableError: no interpreter works.
        ModelFormatError: the bytes are not a model the interpreter accepts.
    """
    _, mod, _ = _choose()
    kwargs = {"model_content": bytes(model_content), "num_threads": int(threads)}
    if not default_delegates:
        resolver = getattr(mod, "OpResolverType", None)
        if resolver is not None and hasattr(resolver, "BUILTIN_WITHOUT_DEFAULT_DELEGATES"):
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        with _QuietStderr():
            interpreter = mod.Interpreter(**kwargs)
            if allocate:
                interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelFormatError("<bytes>", "interpreter rejects the model: {}".format(
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)) from exc
    return interpreter
