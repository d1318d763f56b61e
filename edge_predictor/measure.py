"""Live latency measurement of a TFLite model, the way TFLite's ``benchmark_model`` does it.

Method: one interpreter, random inputs of the right dtype and shape (seeded, set once), ``warmup``
untimed invocations, then timed invocations with :func:`time.perf_counter` until both ``runs``
invocations and ``min_time_s`` seconds have been spent (sub-millisecond models thus get many more
runs). Only ``invoke()`` is timed. Statistics are in milliseconds.

A measurement is only meaningful together with the host it ran on: :func:`host_fingerprint`
records it and :func:`cpu_target_id` turns it into a stable target name such as
``cpu-xeon8375c-litert-t1``.

Python 3.7 compatible; imports numpy and (lazily) a TFLite interpreter only.
"""

from __future__ import annotations

import os
import platform
import re
import time

import numpy as np

from . import interpreters

__all__ = [
    "summarize",
    "random_inputs",
    "benchmark_interpreter",
    "measure_latency",
    "parse_cpuinfo",
    "cpu_model",
    "host_fingerprint",
    "short_cpu_name",
    "cpu_target_id",
    "INTERPRETER_TAGS",
]

#: Short interpreter tags used in CPU target ids.
INTERPRETER_TAGS = {"tflite_runtime": "tflite", "ai_edge_litert": "litert", "tensorflow": "tf"}

# ARM "CPU implementer" -> {"CPU part": name}; enough for the boards edge-perf targets.
_ARM_PARTS = {
    "0x41": {
        "0xc07": "ARM Cortex-A7", "0xc09": "ARM Cortex-A9", "0xc0f": "ARM Cortex-A15",
        "0xd01": "ARM Cortex-A32", "0xd03": "ARM Cortex-A53", "0xd04": "ARM Cortex-A35",
        "0xd05": "ARM Cortex-A55", "0xd07": "ARM Cortex-A57", "0xd08": "ARM Cortex-A72",
        "0xd09": "ARM Cortex-A73", "0xd0a": "ARM Cortex-A75", "0xd0b": "ARM Cortex-A76",
        "0xd0c": "ARM Neoverse-N1", "0xd0d": "ARM Cortex-A77", "0xd40": "ARM Neoverse-V1",
        "0xd41": "ARM Cortex-A78", "0xd44": "ARM Cortex-X1", "0xd46": "ARM Cortex-A510",
        "0xd47": "ARM Cortex-A710", "0xd48": "ARM Cortex-X2", "0xd49": "ARM Neoverse-N2",
        "0xd4b": "ARM Cortex-A78C",
    },
    "0x4e": {"0x003": "NVIDIA Denver2", "0x004": "NVIDIA Carmel"},
}

_NOISE_WORDS = {
    "intel", "amd", "arm", "nvidia", "genuine", "genuineintel", "authenticamd", "r", "tm",
    "cpu", "processor", "platinum", "gold", "silver", "bronze", "with", "radeon", "graphics",
    "apu", "mobile", "family", "model", "core(tm)",
}


def summarize(times_ms):
    """Latency statistics of a sequence of per-run times.

    Args:
        times_ms: per-invocation times in milliseconds (non-empty).

    Returns:
        ``{"median_ms", "mean_ms", "p90_ms", "std_ms", "min_ms", "n_runs"}``; ``p90_ms`` is the
        linearly interpolated 90th percentile, ``std_ms`` the population standard deviation.

    Raises:
        ValueError: no times.
    """
    arr = np.asarray(times_ms, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("no timings to summarize")
    return {
        "median_ms": float(np.median(arr)),
        "mean_ms": float(arr.mean()),
        "p90_ms": float(np.percentile(arr, 90)),
        "std_ms": float(arr.std()),
        "min_ms": float(arr.min()),
        "n_runs": int(arr.size),
    }


def _random_array(rng, dtype, shape):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random_sample(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        # the full range for 8/16-bit activations; small non-negative values for int32/int64
        # inputs, which are usually indices or token ids
        lo, hi = (int(info.min), int(info.max)) if info.bits <= 16 else (0, 9)
        return rng.randint(lo, hi + 1, size=shape).astype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    raise ValueError("cannot make random input of dtype {}".format(dtype))


def random_inputs(interpreter, seed=0):
    """Fill every input of an allocated interpreter with seeded random data.

    Dynamic dimensions (``-1`` in ``shape_signature``) are set to 1 and the tensors re-allocated.

    Args:
        interpreter: an allocated TFLite ``Interpreter``.
        seed: seed of the :class:`numpy.random.RandomState` used.

    Returns:
        The list of arrays that were set, in input order.
    """
    rng = np.random.RandomState(seed)
    details = interpreter.get_input_details()
    resized = False
    for d in details:
        sig = d.get("shape_signature")
        if sig is not None and len(sig) and int(np.min(sig)) < 0:
            shape = [1 if int(s) < 0 else int(s) for s in sig]
            if list(d["shape"]) != shape:
                interpreter.resize_tensor_input(d["index"], shape)
                resized = True
    if resized:
        interpreter.allocate_tensors()
        details = interpreter.get_input_details()
    arrays = []
    for d in details:
        arr = _random_array(rng, d["dtype"], tuple(int(s) for s in d["shape"]))
        interpreter.set_tensor(d["index"], arr)
        arrays.append(arr)
    return arrays


def benchmark_interpreter(interpreter, warmup=10, runs=30, min_time_s=1.0, seed=0,
                          max_runs=1000000):
    """Time ``invoke()`` of an allocated interpreter (inputs are set here, randomly).

    Args:
        interpreter: an allocated TFLite ``Interpreter`` (any backend, or a delegate's).
        warmup: untimed invocations first.
        runs: minimum number of timed invocations.
        min_time_s: minimum total timed time; keeps running past ``runs`` until reached.
        seed: seed of the random inputs.
        max_runs: hard cap on timed invocations (protects against absurdly fast graphs).

    Returns:
        :func:`summarize` statistics plus ``warmup`` and ``total_time_s``.

    Raises:
        ValueError: ``runs < 1`` or a negative ``warmup``/``min_time_s``.
    """
    if runs < 1 or warmup < 0 or min_time_s < 0:
        raise ValueError("need runs >= 1, warmup >= 0, min_time_s >= 0")
    random_inputs(interpreter, seed=seed)
    invoke = interpreter.invoke
    for _ in range(int(warmup)):
        invoke()
    clock = time.perf_counter
    times = []
    total = 0.0
    cap = max(int(max_runs), int(runs))
    while (len(times) < runs or total < min_time_s) and len(times) < cap:
        t0 = clock()
        invoke()
        dt = clock() - t0
        times.append(dt)
        total += dt
    stats = summarize(np.asarray(times) * 1000.0)
    stats["warmup"] = int(warmup)
    stats["total_time_s"] = float(total)
    return stats


def measure_latency(model, threads=1, warmup=10, runs=30, min_time_s=1.0, seed=0,
                    default_delegates=True):
    """Measure a model's CPU inference latency on this host.

    Args:
        model: ``.tflite`` bytes, or a path to one.
        threads: interpreter threads.
        warmup: untimed invocations (benchmark_model-like warm-up).
        runs: minimum timed invocations.
        min_time_s: minimum total timed seconds.
        seed: seed of the random inputs.
        default_delegates: False to build without the default (XNNPACK) delegate.

    Returns:
        ``{"median_ms", "mean_ms", "p90_ms", "std_ms", "min_ms", "n_runs", "warmup",
        "total_time_s", "threads", "default_delegates", "fingerprint"}`` where ``fingerprint``
        is :func:`host_fingerprint`.

    Raises:
        UnavailableError: no TFLite interpreter works here.
        ModelFormatError: the interpreter rejects the model.
    """
    if not isinstance(model, (bytes, bytearray, memoryview)):
        with open(os.fspath(model), "rb") as f:
            model = f.read()
    interpreter = interpreters.make_interpreter(
        model, threads=threads, default_delegates=default_delegates
    )
    stats = benchmark_interpreter(
        interpreter, warmup=warmup, runs=runs, min_time_s=min_time_s, seed=seed
    )
    stats["threads"] = int(threads)
    stats["default_delegates"] = bool(default_delegates)
    stats["fingerprint"] = host_fingerprint(threads=threads)
    return stats


def parse_cpuinfo(text):
    """The CPU model named by a ``/proc/cpuinfo`` text, or ``None``.

    x86 kernels give ``model name``; many ARM kernels give only ``CPU implementer``/``CPU part``
    per core, which are mapped to names (distinct cores of a heterogeneous SoC joined by
    ``" + "``, e.g. ``"NVIDIA Denver2 + ARM Cortex-A57"`` on a TX2).

    Args:
        text: the file's content.

    Returns:
        A model string, or ``None`` when the text names none.
    """
    fields = []
    for line in text.splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            fields.append((key.strip().lower(), value.strip()))
    for wanted in ("model name", "cpu model", "cpu"):
        for key, value in fields:
            if key == wanted and value and not value.isdigit():
                return re.sub(r"\s+", " ", value)
    names = []
    implementer = None
    for key, value in fields:
        if key == "cpu implementer":
            implementer = value.lower()
        elif key == "cpu part" and implementer is not None:
            part = value.lower()
            name = _ARM_PARTS.get(implementer, {}).get(
                part, "ARM implementer {} part {}".format(implementer, part)
            )
            if name not in names:
                names.append(name)
    if names:
        return " + ".join(names)
    for key, value in fields:
        if key in ("hardware", "processor") and value and not value.isdigit():
            return re.sub(r"\s+", " ", value)
    return None


def cpu_model(cpuinfo_path="/proc/cpuinfo"):
    """This host's CPU model: from ``/proc/cpuinfo``, else :func:`platform.processor`."""
    try:
        with open(cpuinfo_path) as f:
            found = parse_cpuinfo(f.read())
    except OSError:
        found = None
    return found or platform.processor() or platform.machine() or "unknown"


def _governor():
    path = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
    try:
        with open(path) as f:
            return f.read().strip() or None
    except OSError:
        return None


def host_fingerprint(threads=1):
    """What a CPU measurement depends on, as a JSON-able dict.

    Args:
        threads: interpreter threads of the measurement.

    Returns:
        ``{"cpu_model", "logical_cores", "interpreter", "interpreter_version", "threads",
        "python", "machine", "system", "cpu_governor"}`` (governor ``None`` where not exposed).
    """
    info = interpreters.interpreter_info()
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count() or 1,
        "interpreter": info["name"],
        "interpreter_version": info["version"],
        "threads": int(threads),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu_governor": _governor(),
    }


def short_cpu_name(model, max_len=24):
    """A short, deterministic, lowercase name for a CPU model string.

    Vendor, marketing and frequency words are dropped and the rest is glued together:
    ``"Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"`` -> ``"xeon8375c"``,
    ``"AMD EPYC 7B13 64-Core Processor"`` -> ``"epyc7b13"``,
    ``"ARM Cortex-A53"`` -> ``"cortexa53"``.

    Args:
        model: the CPU model string.
        max_len: truncate the result to this length.

    Returns:
        ``[a-z0-9]+``, ``"unknown"`` if nothing is left.
    """
    text = str(model).lower()
    text = re.sub(r"\((r|tm|c)\)", " ", text)
    text = re.sub(r"@.*$", " ", text)  # "@ 2.90GHz"
    text = re.sub(r"\b\d+(\.\d+)?\s*[gm]hz\b", " ", text)
    text = re.sub(r"\b\d+-core\b", " ", text)
    tokens = re.split(r"[\s+/,]+", text)
    kept = [t for t in tokens if t and t not in _NOISE_WORDS]
    name = re.sub(r"[^a-z0-9]", "", "".join(kept))[: int(max_len)]
    return name or "unknown"


def cpu_target_id(fingerprint):
    """Stable target id of a CPU measurement setup: ``cpu-<cpu>-<interpreter>-t<threads>``.

    Args:
        fingerprint: a :func:`host_fingerprint` dict (``cpu_model``, ``interpreter``,
            ``threads`` are used).

    Returns:
        e.g. ``"cpu-xeon8375c-litert-t1"``.
    """
    interp = str(fingerprint.get("interpreter", "unknown"))
    tag = INTERPRETER_TAGS.get(interp, re.sub(r"[^a-z0-9]", "", interp.lower()) or "unknown")
    return "cpu-{}-{}-t{}".format(
        short_cpu_name(fingerprint.get("cpu_model", "")), tag, int(fingerprint.get("threads", 1))
    )
