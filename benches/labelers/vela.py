"""Vela labeler for the ``ethos-u55-128`` target (Arm Ethos-U55, 128 MACs/cycle).

Vela (``ethos-u-vela`` 5.2) is run in-process -- no subprocess per model -- with accelerator
``ethos-u55-128`` and Vela's default system config and memory mode (which it resolves to
``Ethos_U55_High_End_Embedded`` / ``Shared_Sram``). Its summary CSV gives the labels:

- ``latency_ms`` = ``inference_time`` x 1000 (Vela's performance estimate of the NPU part);
- ``sram_kib`` = ``sram_memory_used``;
- ``energy_mj`` = an ESTIMATE from MACs and per-memory bytes, see :mod:`benches.labelers.energy`.

Vela writes warnings straight to file descriptors 1 and 2 (its C++ core, ``ethosu.regor``) and
prints from Python; both are captured during the call (``dup2``) and restored afterwards, so
nothing leaks to the caller's terminal. That makes :func:`label_vela` process-global while it
runs: calls are serialised by a lock (run parallel labelling in separate processes).
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import glob
import io
import os
import re
import shutil
import sys
import tempfile
import threading
import time

from edge_predictor.errors import LabelError, UnavailableError

from . import energy, make_result, read_model

__all__ = [
    "TARGET",
    "ACCELERATOR",
    "RAW_FIELDS",
    "vela_version",
    "run_vela",
    "parse_summary_csv",
    "parse_operator_counts",
    "labels_from_summary",
    "label_vela",
]

TARGET = "ethos-u55-128"
ACCELERATOR = "ethos-u55-128"

#: Summary CSV columns copied into ``raw`` (numbers unless noted).
RAW_FIELDS = (
    "inference_time", "cycles_total", "cycles_npu", "cycles_sram_access", "cycles_dram_access",
    "cycles_on_chip_flash_access", "cycles_off_chip_flash_access", "nn_macs", "core_clock",
    "sram_memory_used", "dram_memory_used", "on_chip_flash_memory_used",
    "off_chip_flash_memory_used", "sram_total_bytes", "dram_total_bytes",
    "on_chip_flash_total_bytes", "off_chip_flash_total_bytes", "total_original_weights",
    "total_npu_encoded_weights", "passes_after_fusing",
)

_lock = threading.RLock()
_work = {}


def _work_dir():
    """This process's scratch folder for Vela outputs (created once, removed at exit)."""
    pid = os.getpid()
    if _work.get("pid") != pid:  # first call, or a forked child
        path = tempfile.mkdtemp(prefix="edgeperf_vela_")
        atexit.register(shutil.rmtree, path, True)
        _work.update(pid=pid, path=path)
    return _work["path"]


def vela_version():
    """Installed Vela version.

    Raises:
        UnavailableError: Vela is not installed (``pip install ethos-u-vela``, the train extra).
    """
    try:
        from ethosu.vela import __version__
    except ImportError as exc:
        raise UnavailableError(
            "Vela is not installed ({}); install it with `pip install ethos-u-vela==5.2.0` "
            "or the train extra `pip install '.[train]'`".format(exc)
        ) from exc
    return str(__version__)


@contextlib.contextmanager
def _captured_output(path):
    """Send fds 1/2 and ``sys.stdout``/``sys.stderr`` to ``path`` for the block, then restore."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed or odd stream is not our problem
            pass
    saved = (os.dup(1), os.dup(2))
    py_buf = io.StringIO()
    try:
        with open(path, "wb") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stdout(py_buf), contextlib.redirect_stderr(py_buf):
                yield py_buf
    finally:
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _reason(log, fallback):
    """A one-line failure reason from Vela's output."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.search(r"error|exception|invalid|unsupported", ln, re.I)]
    pick = errors[-1] if errors else (lines[-1] if lines else fallback)
    return pick[:300]


def run_vela(model_path, output_dir, accelerator=ACCELERATOR, extra_args=()):
    """Run Vela in-process on one file, output captured.

    Args:
        model_path: the ``.tflite`` file.
        output_dir: where Vela writes its outputs.
        accelerator: Vela ``--accelerator-config``.
        extra_args: more Vela command-line arguments (e.g. ``["--system-config", ...]``).

    Returns:
        ``(return code, captured log text)``; an exception inside Vela is reported as return
        code 1 with the exception in the log.
    """
    from ethosu.vela.vela import main

    argv = [str(model_path), "--accelerator-config", accelerator, "--output-dir", str(output_dir)]
    argv += [str(a) for a in extra_args]
    log_path = os.path.join(str(output_dir), "_vela_output.log")
    os.makedirs(str(output_dir), exist_ok=True)
    with _lock:
        with _captured_output(log_path) as py_buf:
            try:
                rc = main(argv)
            except SystemExit as exc:  # argparse errors
                rc = exc.code if isinstance(exc.code, int) else 2
            except Exception as exc:  # noqa: BLE001 - any Vela failure is a labelling failure
                print("{}: {}".format(type(exc).__name__, exc), file=py_buf)
                rc = 1
    with open(log_path, "rb") as f:
        fd_text = f.read().decode("utf-8", "replace")
    return (0 if rc is None else int(rc)), fd_text + py_buf.getvalue()


def parse_summary_csv(path):
    """Read Vela's ``<name>_summary_<system config>.csv`` (one row).

    Args:
        path: the CSV file.

    Returns:
        Column -> value; numeric columns as float, the others as str.

    Raises:
        LabelError: the file has no data row.
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise LabelError("{}: Vela summary has no rows".format(path))
    out = {}
    for key, value in rows[0].items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def parse_operator_counts(log):
    """NPU and CPU operator counts from Vela's printed network summary.

    Args:
        log: Vela's captured output.

    Returns:
        ``{"npu_ops": int, "cpu_ops": int}`` with the counts found (keys absent if not printed).
    """
    out = {}
    for key, label in (("cpu_ops", "CPU"), ("npu_ops", "NPU")):
        m = re.search(r"^\s*{} operators\s*=\s*(\d+)".format(label), log, re.M)
        if m:
            out[key] = int(m.group(1))
    return out


def labels_from_summary(summary):
    """The three ``ethos-u55-128`` labels from a summary row.

    Args:
        summary: :func:`parse_summary_csv` output.

    Returns:
        ``{"latency_ms", "sram_kib", "energy_mj"}``; ``energy_mj`` is an estimate.
    """
    return {
        "latency_ms": float(summary["inference_time"]) * 1000.0,
        "sram_kib": float(summary["sram_memory_used"]),
        "energy_mj": energy.estimate_energy_mj(summary),
    }


def _layers(out_dir, content, graph):
    """Vela's per-layer report summed per TFLite operator (see :mod:`.vela_layers`), with the
    memories Vela never touched in this configuration (all-zero columns) left out."""
    from edge_predictor.tflite_reader import read_model as read_graph

    from .vela_layers import attribute, parse_per_layer_csv, per_operator

    found = glob.glob(os.path.join(glob.escape(out_dir), "candidate_per-layer.csv"))
    if len(found) != 1:
        return None
    rows = parse_per_layer_csv(found[0])
    graph = graph if graph is not None else read_graph(content)
    ops = per_operator(rows, attribute(rows, graph), len(graph.ops))
    return {k: v for k, v in ops.items() if not isinstance(v, list) or any(v)}


def label_vela(model, accelerator=ACCELERATOR, allow_cpu_ops=True, keep_dir=None,
               layers=False, graph=None):
    """Label one model for ``ethos-u55-128`` with Vela, in-process.

    Args:
        model: ``.tflite`` bytes or a path.
        accelerator: Vela accelerator config (the target id is this string).
        allow_cpu_ops: if False, a model that Vela leaves partly on the CPU is a
            :class:`LabelError` (Vela's latency then covers the NPU part only).
        keep_dir: write Vela's outputs here (as ``candidate*``) instead of this process's
            reused scratch folder (debugging).
        layers: also run Vela with ``--verbose-performance`` and return its per-layer report
            summed per TFLite operator in ``raw["layers"]`` (:func:`.vela_layers.per_operator`:
            cycles, NPU cycles, access cycles per memory, MACs, staging bytes per operator).
        graph: the model's :class:`edge_predictor.graph.OpGraph` read from ``model`` (with
            tensor names), if the caller has it; else it is read again when ``layers``.

    Returns:
        A labeler result (see :mod:`benches.labelers`) with ``labels`` latency_ms, sram_kib,
        energy_mj (estimate); ``raw`` the summary numbers (cycles, nn_macs, bytes per memory,
        operator counts); ``provenance`` labeler, Vela version, accelerator, system config,
        memory mode, energy model, wall time of the Vela call.

    Raises:
        UnavailableError: Vela is not installed.
        LabelError: Vela failed on this model (one-line reason).
    """
    version = vela_version()
    content, name = read_model(model)
    with _lock:
        out_dir = _work_dir() if keep_dir is None else str(keep_dir)
        os.makedirs(out_dir, exist_ok=True)
        # a fixed file name in a reused folder: no folder created and removed per model
        model_path = os.path.join(out_dir, "candidate.tflite")
        for old in (glob.glob(os.path.join(glob.escape(out_dir), "candidate_summary_*.csv"))
                    + glob.glob(os.path.join(glob.escape(out_dir), "candidate_per-layer.csv"))):
            os.remove(old)
        with open(model_path, "wb") as f:
            f.write(content)
        t0 = time.perf_counter()
        rc, log = run_vela(model_path, out_dir, accelerator=accelerator,
                           extra_args=["--verbose-performance"] if layers else ())
        wall = time.perf_counter() - t0
        if rc != 0:
            raise LabelError("{}: Vela failed: {}".format(name, _reason(log, "rc={}".format(rc))))
        found = glob.glob(os.path.join(glob.escape(out_dir), "candidate_summary_*.csv"))
        if len(found) != 1:
            raise LabelError("{}: Vela wrote no summary CSV ({})".format(name, _reason(log, "")))
        summary = parse_summary_csv(found[0])
        per_layer = _layers(out_dir, content, graph) if layers else None
    missing = [k for k in ("inference_time", "sram_memory_used", "nn_macs") if k not in summary]
    if missing:
        raise LabelError("{}: Vela summary lacks {}".format(name, ", ".join(missing)))
    ops = parse_operator_counts(log)
    if not allow_cpu_ops and ops.get("cpu_ops", 0) > 0:
        raise LabelError(
            "{}: {} operator(s) left on the CPU by Vela".format(name, ops["cpu_ops"])
        )
    raw = {k: summary[k] for k in RAW_FIELDS if k in summary}
    raw.update(ops)
    raw["energy_breakdown_pj"] = energy.estimate_energy_breakdown_pj(summary)
    if per_layer is not None:
        raw["layers"] = per_layer
    provenance = {
        "labeler": "vela",
        "labeler_version": version,
        "accelerator": accelerator,
        "accelerator_configuration": summary.get("accelerator_configuration"),
        "system_config": summary.get("system_config"),
        "memory_mode": summary.get("memory_mode"),
        "settings": "Vela defaults (no --config, --system-config, --memory-mode)"
                    + (", --verbose-performance" if layers else ""),
        "energy_model": energy.ENERGY_MODEL_ID,
        "energy_is_estimate": energy.ENERGY_IS_ESTIMATE,
        "vela_wall_s": wall,
    }
    return make_result(accelerator, labels_from_summary(summary), raw, provenance)
