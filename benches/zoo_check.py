"""Checks of a built zoo model (:mod:`benches.zoo`): flatbuffer statistics and a Vela compile.

:func:`model_stats` counts operators with the TensorFlow interpreter and tensors in the
flatbuffer; :func:`vela_check` compiles the model with Vela in-process and reads back its
estimated inference time, SRAM use and how many operators it left to the CPU.
"""

import csv
import glob
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["model_stats", "vela_check"]


def model_stats(data):
    """Operator/tensor counts, op-type histogram, size and sha256 of a ``.tflite``.

    Args:
        data: The flatbuffer bytes.

    Returns:
        A dict; ``ops`` comes from the TensorFlow interpreter without default delegates,
        ``tensors`` from subgraph 0 of the flatbuffer.
    """
    import tensorflow as tf
    import tflite

    interp = tf.lite.Interpreter(
        model_content=data,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType
        .BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ops = [d["op_name"] for d in interp._get_ops_details()]
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    sub = tflite.Model.GetRootAsModel(data, 0).Subgraphs(0)
    return {"ops": len(ops), "tensors": sub.TensorsLength(), "size_mb": round(len(data) / 1e6, 3),
            "sha256": hashlib.sha256(data).hexdigest(), "input": [int(d) for d in inp["shape"]],
            "io_dtypes": [np.dtype(inp["dtype"]).name, np.dtype(out["dtype"]).name],
            "op_types": {k: ops.count(k) for k in sorted(set(ops))}}


class _CaptureFds:
    """Send file descriptors 1 and 2 to a temporary file (Vela's C++ core writes there)."""

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self.log = tempfile.TemporaryFile(mode="w+")
        self.saved = [os.dup(1), os.dup(2)]
        for fd in (1, 2):
            os.dup2(self.log.fileno(), fd)
        return self

    def __exit__(self, *exc):
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)
        self.log.seek(0)
        self.text = self.log.read()
        self.log.close()
        return False


def vela_check(path, accelerator="ethos-u55-128"):
    """Compile a model with Vela in-process and summarise the outcome.

    Args:
        path: The ``.tflite`` file.
        accelerator: Vela ``--accelerator-config``.

    Returns:
        A dict with ``ok``, ``time_s`` and, on success, ``inference_time_ms``, ``sram_kib`` and
        ``cpu_ops`` (operators Vela left to the CPU), or ``error`` on failure.
    """
    import tflite
    from ethosu.vela.vela import main as vela_main

    result = {"ok": False}
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        error = None
        with _CaptureFds() as cap:
            try:
                rc = vela_main([str(path), "--accelerator-config", accelerator,
                                "--output-dir", out_dir])
                if rc:
                    error = f"exit code {rc}"
            except BaseException as exc:  # noqa: BLE001 - VelaError, SystemExit, ...
                error = f"{type(exc).__name__}: {exc}"
        result["time_s"] = round(time.perf_counter() - start, 2)
        summaries = glob.glob(os.path.join(out_dir, "*_summary_*.csv"))
        outputs = glob.glob(os.path.join(out_dir, "*_vela.tflite"))
        if error or not summaries or not outputs:
            tail = (error or "no Vela output") + " | " + cap.text.strip()[-300:]
            result["error"] = tail.strip(" |")
            return result
        with open(summaries[0], newline="") as fh:
            row = next(csv.DictReader(fh))
        model = tflite.Model.GetRootAsModel(Path(outputs[0]).read_bytes(), 0)
        sub, npu = model.Subgraphs(0), set()
        for i in range(model.OperatorCodesLength()):
            if (model.OperatorCodes(i).CustomCode() or b"") == b"ethos-u":
                npu.add(i)
        cpu_ops = sum(sub.Operators(i).OpcodeIndex() not in npu
                      for i in range(sub.OperatorsLength()))
        result.update(ok=True, inference_time_ms=round(float(row["inference_time"]) * 1e3, 4),
                      sram_kib=round(float(row["sram_memory_used"]), 2), cpu_ops=cpu_ops)
    return result
