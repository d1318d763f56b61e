"""Edge TPU labeler (target ``edgetpu``): ``edgetpu_compiler``, then live latency via pycoral.

Two steps, which may run on different machines:

1. :func:`compile_edgetpu` runs ``edgetpu_compiler -s`` (x86-64 Linux, Coral's apt repository)
   and parses its log (:func:`parse_compiler_log`): how many operations map to the TPU, how many
   fall back to the CPU, on-/off-chip parameter memory.
2. :func:`label_edgetpu` loads the compiled model through real pycoral's Edge TPU delegate
   (``pycoral.utils.edgetpu.make_interpreter``) on a Coral board and times it with the same
   method as the CPU labeler (:func:`edge_predictor.measure.benchmark_interpreter`).

Real pycoral comes from Coral's package repository (``python3-pycoral``); the PyPI package named
``pycoral`` is an unrelated project and is detected as absent (it has no ``pycoral.utils.edgetpu``).
Whatever is missing raises :class:`~edge_predictor.errors.UnavailableError` naming it and how to
install it.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import tempfile

from edge_predictor import measure
from edge_predictor.errors import LabelError, UnavailableError

from . import make_result, read_model

__all__ = [
    "TARGET",
    "COMPILER",
    "parse_size",
    "parse_compiler_log",
    "is_compiled",
    "find_compiler",
    "load_pycoral_edgetpu",
    "compile_edgetpu",
    "label_edgetpu",
]

TARGET = "edgetpu"
COMPILER = "edgetpu_compiler"

_COMPILER_HINT = (
    "edgetpu_compiler not found on PATH: it runs on x86-64 Debian/Ubuntu; add Coral's apt "
    "repository (https://coral.ai/docs/edgetpu/compiler/) and `sudo apt-get install "
    "edgetpu-compiler`, or pass an already compiled *_edgetpu.tflite"
)
_PYCORAL_HINT = (
    "real pycoral (pycoral.utils.edgetpu) is not importable: on a Coral board install it from "
    "Coral's package repository with `sudo apt-get install python3-pycoral` "
    "(the PyPI package named pycoral is unrelated)"
)
_DEVICE_HINT = (
    "no Edge TPU device found (pycoral.utils.edgetpu.list_edge_tpus() is empty): run on a Coral "
    "Dev Board or plug in a USB Accelerator, with the Edge TPU runtime "
    "(`sudo apt-get install libedgetpu1-std`)"
)

_UNITS = {"B": 1, "KIB": 1024, "MIB": 1024 ** 2, "GIB": 1024 ** 3,
          "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}

_KEYS = {
    "compiler_version": (r"Edge TPU Compiler version\s+(\S+)", str),
    "compile_ms": (r"Model compiled successfully in\s+(\d+)\s*ms", int),
    "n_subgraphs": (r"Number of Edge TPU subgraphs:\s*(\d+)", int),
    "total_ops": (r"Total number of operations:\s*(\d+)", int),
    "ops_on_tpu": (r"Number of operations that will run on Edge TPU:\s*(\d+)", int),
    "ops_on_cpu": (r"Number of operations that will run on CPU:\s*(\d+)", int),
    "on_chip_memory_bytes": (r"On-chip memory used for caching model parameters:\s*(\S+)", "size"),
    "on_chip_memory_remaining_bytes": (
        r"On-chip memory remaining for caching model parameters:\s*(\S+)", "size"),
    "off_chip_memory_bytes": (
        r"Off-chip memory used for streaming uncached model parameters:\s*(\S+)", "size"),
    "output_model": (r"Output model:\s*(\S+)", str),
}


def parse_size(text):
    """Bytes in a compiler size string such as ``"3.75MiB"`` or ``"0.00B"``.

    Raises:
        ValueError: not a size.
    """
    m = re.match(r"^\s*([0-9]*\.?[0-9]+)\s*([KMG]i?B|B)\s*$", text, re.I)
    if not m:
        raise ValueError("not a size: {!r}".format(text))
    return int(round(float(m.group(1)) * _UNITS[m.group(2).upper()]))


def parse_compiler_log(text):
    """Parse ``edgetpu_compiler`` output (stdout, with ``-s``) or its ``*_edgetpu.log``.

    Args:
        text: the compiler's output.

    Returns:
        Dict with those of ``compiler_version``, ``compile_ms``, ``n_subgraphs``, ``total_ops``,
        ``ops_on_tpu``, ``ops_on_cpu``, ``on_chip_memory_bytes``,
        ``on_chip_memory_remaining_bytes``, ``off_chip_memory_bytes``, ``output_model`` that are
        present, ``operators`` (list of ``{"op", "count", "status", "mapped"}``) and
        ``success`` (bool). When the compiler prints no per-device counts (everything mapped),
        they are derived from the operator table or ``total_ops``.
    """
    out = {}
    for key, (pattern, kind) in _KEYS.items():
        m = re.search(pattern, text)
        if m:
            out[key] = parse_size(m.group(1)) if kind == "size" else kind(m.group(1))
    operators = []
    for m in re.finditer(r"^([A-Z][A-Z0-9_]+)\s+(\d+)\s+(\S.*?)\s*$", text, re.M):
        status = m.group(3)
        operators.append({
            "op": m.group(1), "count": int(m.group(2)), "status": status,
            "mapped": status.lower().startswith("mapped to edge tpu"),
        })
    out["operators"] = operators
    if operators:
        out.setdefault("ops_on_tpu", sum(o["count"] for o in operators if o["mapped"]))
        out.setdefault("ops_on_cpu", sum(o["count"] for o in operators if not o["mapped"]))
    elif "total_ops" in out and "not all operations are supported" not in text:
        out.setdefault("ops_on_tpu", out["total_ops"])
        out.setdefault("ops_on_cpu", 0)
    out["success"] = bool(re.search(r"Model compiled successfully|Compilation succeeded", text))
    return out


def is_compiled(content):
    """Whether model bytes are already compiled for the Edge TPU (hold its custom op)."""
    return b"edgetpu-custom-op" in bytes(content)


def find_compiler():
    """Path of ``edgetpu_compiler``.

    Raises:
        UnavailableError: not on PATH (the message says how to install it).
    """
    path = shutil.which(COMPILER)
    if path is None:
        raise UnavailableError(_COMPILER_HINT)
    return path


def load_pycoral_edgetpu():
    """Real pycoral's ``pycoral.utils.edgetpu`` module.

    Raises:
        UnavailableError: real pycoral is not importable (the message says how to install it).
    """
    try:
        return importlib.import_module("pycoral.utils.edgetpu")
    except Exception:  # noqa: BLE001 - absent, or PyPI's unrelated "pycoral"
        raise UnavailableError(_PYCORAL_HINT) from None


def compile_edgetpu(model, timeout_s=180):
    """Compile a model with ``edgetpu_compiler -s``.

    Args:
        model: ``.tflite`` bytes or a path (a fully INT8-quantized model).
        timeout_s: wall-clock limit of the compiler process.

    Returns:
        ``(compiled model bytes, parsed log)`` -- see :func:`parse_compiler_log`.

    Raises:
        UnavailableError: the compiler is not installed.
        LabelError: the compiler failed on this model.
    """
    compiler = find_compiler()
    content, name = read_model(model)
    with tempfile.TemporaryDirectory(prefix="edgeperf_edgetpu_") as tmp:
        src = os.path.join(tmp, name + ".tflite")
        with open(src, "wb") as f:
            f.write(content)
        try:
            proc = subprocess.run(
                [compiler, "-s", "-o", tmp, src], stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=timeout_s, check=False,
            )
        except subprocess.TimeoutExpired:
            raise LabelError(
                "{}: edgetpu_compiler timed out after {} s".format(name, timeout_s)
            ) from None
        text = proc.stdout.decode("utf-8", "replace")
        info = parse_compiler_log(text)
        out_path = os.path.join(tmp, name + "_edgetpu.tflite")
        if proc.returncode != 0 or not info["success"] or not os.path.exists(out_path):
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            err = [ln for ln in lines if re.search(r"error|not compiled|failed", ln, re.I)]
            reason = (err or lines or ["rc={}".format(proc.returncode)])[-1][:300]
            raise LabelError("{}: edgetpu_compiler failed: {}".format(name, reason))
        with open(out_path, "rb") as f:
            compiled = f.read()
    return compiled, info


def label_edgetpu(model, compile=True, device=None, warmup=10, runs=30, min_time_s=1.0, seed=0,
                  compiler_timeout_s=180):
    """Measure one model's latency on an Edge TPU.

    Args:
        model: ``.tflite`` bytes or a path; compiled already (``*_edgetpu.tflite``) or not.
        compile: compile a model that is not compiled yet (needs ``edgetpu_compiler``); if
            False, an uncompiled model is a :class:`LabelError`.
        device: pycoral device string (``":0"``, ``"usb"``, ``"pci"``); None for the first.
        warmup: untimed invocations.
        runs: minimum timed invocations.
        min_time_s: minimum total timed seconds.
        seed: seed of the random inputs.
        compiler_timeout_s: limit of one compiler run.

    Returns:
        A labeler result (see :mod:`benches.labelers`): ``labels`` ``{"latency_ms": median}``;
        ``raw`` latency statistics and the compiler's numbers (ops on TPU/CPU, memory);
        ``provenance`` compiler and runtime versions, device, method, host fingerprint.

    Raises:
        UnavailableError: compiler, real pycoral or an Edge TPU device missing (all named).
        LabelError: compilation or measurement failed on this model.
    """
    content, name = read_model(model)
    need_compile = not is_compiled(content)
    if need_compile and not compile:
        raise LabelError("{}: not compiled for the Edge TPU and compile=False".format(name))
    missing = []
    if need_compile and shutil.which(COMPILER) is None:
        missing.append(_COMPILER_HINT)
    pycoral_tpu = None
    try:
        pycoral_tpu = load_pycoral_edgetpu()
    except UnavailableError as exc:
        missing.append(str(exc))
    if pycoral_tpu is not None and not pycoral_tpu.list_edge_tpus():
        missing.append(_DEVICE_HINT)
    if missing:
        raise UnavailableError("edgetpu labeler unavailable: " + " | ".join(missing))

    compiler_info = {}
    if need_compile:
        content, compiler_info = compile_edgetpu(content, timeout_s=compiler_timeout_s)
        content = bytes(content)
    try:
        interpreter = pycoral_tpu.make_interpreter(content, device=device)
        interpreter.allocate_tensors()
        stats = measure.benchmark_interpreter(
            interpreter, warmup=warmup, runs=runs, min_time_s=min_time_s, seed=seed
        )
    except Exception as exc:  # noqa: BLE001 - delegate/runtime failures vary
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise LabelError("{}: Edge TPU measurement failed: {}: {}".format(
            name, type(exc).__name__, first)) from exc
    try:
        host = measure.host_fingerprint(threads=1)
    except UnavailableError:
        host = {"cpu_model": measure.cpu_model()}
    raw = dict(stats)
    raw.update({k: v for k, v in compiler_info.items() if k != "operators"})
    if compiler_info.get("operators"):
        raw["operators"] = compiler_info["operators"]
    get_rt = getattr(pycoral_tpu, "get_runtime_version", None)
    provenance = {
        "labeler": "edgetpu",
        "labeler_version": compiler_info.get("compiler_version", "precompiled"),
        "runtime_version": get_rt() if get_rt else None,
        "device": device,
        "method": "pycoral make_interpreter, random inputs (seed {}), {} warm-up runs, >= {} "
        "timed runs and >= {} s, median".format(seed, warmup, runs, min_time_s),
        "host": host,
    }
    return make_result(TARGET, {"latency_ms": stats["median_ms"]}, raw, provenance)
