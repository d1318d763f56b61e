"""``edge-perf measure``: live latency (and energy, where a power sensor exists) of models here.

benchmark_model-like: one interpreter per model with ``--threads`` threads, seeded random inputs
of the right dtype and shape, ``--warmup`` untimed runs, then at least ``--runs`` timed runs and
``--min-time`` seconds; median, mean, p90, std and min in ms. ``--cpus`` pins the process (and so
the interpreter's threads) to chosen cores; the power sampler thread then runs on the others.
Energy comes from :mod:`edge_predictor.power` (Jetson INA3221 rails, RAPL); where no sensor
exists the output says why. ``--device edgetpu`` runs an Edge-TPU-compiled model through real
pycoral on a Coral board.

The lead registers :func:`measure` on the ``edge-perf`` app; this module only defines it.
"""

from __future__ import annotations

import json
import os
from typing import List, Optional

import numpy as np
import typer

from .cli_support import handled, warn
from .errors import InputError, ModelFormatError, UnavailableError

__all__ = ["measure", "parse_cpus", "measure_model"]

DEVICES = ("cpu", "edgetpu")

_PYCORAL_HINT = ("real pycoral is not importable: on a Coral board install it from Coral's "
                 "package repository with `sudo apt-get install python3-pycoral` (the PyPI "
                 "package named pycoral is unrelated)")


def parse_cpus(text):
    """CPU ids from ``"0"``, ``"0,2"``, ``"0-3"`` or ``"0-1,4"``.

    Raises:
        InputError: not such a list.
    """
    cpus = set()
    try:
        for part in str(text).split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = part.split("-", 1)
                cpus.update(range(int(lo), int(hi) + 1))
            elif part:
                cpus.add(int(part))
    except ValueError:
        raise InputError("--cpus {!r}: expected ids like 0 or 0-3 or 0,2".format(text)) from None
    if not cpus or min(cpus) < 0:
        raise InputError("--cpus {!r}: expected ids like 0 or 0-3 or 0,2".format(text))
    return cpus


def _pin(cpus):
    """Pin this process to ``cpus``; return the CPUs left for the sampler (may be None)."""
    if not hasattr(os, "sched_setaffinity"):
        raise UnavailableError("--cpus needs Linux (os.sched_setaffinity)")
    allowed = set(os.sched_getaffinity(0))
    if not cpus <= allowed:
        raise InputError("--cpus {}: this process may only use CPUs {}".format(
            sorted(cpus), sorted(allowed)))
    os.sched_setaffinity(0, cpus)
    return (allowed - cpus) or None


def _affinity():
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return None


def _edgetpu():
    """``(benches.labelers.edgetpu, pycoral.utils.edgetpu)`` with a device present.

    Raises:
        UnavailableError: real pycoral or an Edge TPU is missing (one line saying how to get it).
    """
    try:
        from benches.labelers import edgetpu
    except ImportError:
        raise UnavailableError(_PYCORAL_HINT) from None
    tpu = edgetpu.load_pycoral_edgetpu()  # UnavailableError with the install hint
    if not tpu.list_edge_tpus():
        raise UnavailableError(edgetpu._DEVICE_HINT)
    return edgetpu, tpu


def _edgetpu_interpreter(path, content):
    """An Edge TPU interpreter through real pycoral, for a compiled model."""
    edgetpu, tpu = _edgetpu()
    if not edgetpu.is_compiled(content):
        raise InputError("{}: not compiled for the Edge TPU; compile it first with "
                         "`edgetpu_compiler -s {}` (x86-64 Linux)".format(path, path))
    interpreter = tpu.make_interpreter(content)
    interpreter.allocate_tensors()
    return interpreter


def measure_model(path, device="cpu", threads=1, warmup=10, runs=30, min_time_s=1.0, seed=0,
                  sensor=None, idle_power_mw=None, sampler_cpus=None, interval_s=0.02):
    """Measure one model file: latency statistics, host, and energy when ``sensor`` is given.

    Args:
        path: the ``.tflite`` file.
        device: ``"cpu"`` or ``"edgetpu"``.
        threads: interpreter threads (CPU).
        warmup: untimed runs.
        runs: minimum timed runs.
        min_time_s: minimum timed seconds.
        seed: seed of the random inputs.
        sensor: a :class:`~edge_predictor.power.PowerSensor`, or None.
        idle_power_mw: idle baseline reported apart.
        sampler_cpus: CPUs for the power sampling thread.
        interval_s: power sampling interval.

    Returns:
        :func:`edge_predictor.power.benchmark_with_power` statistics plus ``host``
        (:func:`edge_predictor.measure.host_fingerprint`) and ``target``.

    Raises:
        ModelFormatError: unreadable file or a model the interpreter rejects.
        UnavailableError: no interpreter, no pycoral, no Edge TPU.
    """
    from . import interpreters, measure, power

    try:
        with open(path, "rb") as f:
            content = f.read()
    except OSError as exc:
        raise ModelFormatError(path, "cannot read: {}".format(exc.strerror or exc)) from None
    if device == "edgetpu":
        interpreter = _edgetpu_interpreter(path, content)
    else:
        try:
            interpreter = interpreters.make_interpreter(content, threads=threads)
        except ModelFormatError as exc:
            raise ModelFormatError(path, exc.reason) from None
    stats = power.benchmark_with_power(
        interpreter, sensor=sensor, warmup=warmup, runs=runs, min_time_s=min_time_s, seed=seed,
        interval_s=interval_s, idle_power_mw=idle_power_mw, sampler_cpus=sampler_cpus)
    host = measure.host_fingerprint(threads=threads)
    stats["host"] = host
    stats["target"] = "edgetpu" if device == "edgetpu" else measure.cpu_target_id(host)
    return stats


def _row(path, device, stats, energy_note):
    row = {"model": path, "target": stats["target"], "device": device,
           "latency_ms": stats["median_ms"]}
    for k in ("median_ms", "mean_ms", "p90_ms", "std_ms", "min_ms", "n_runs", "warmup",
              "total_time_s"):
        row[k] = stats[k]
    e = stats["energy"]
    row["energy_mj"] = e["energy_mj"] if e else None
    row["energy"] = e
    row["energy_note"] = None if e else energy_note
    row["threads"] = stats["host"]["threads"]
    row["affinity"] = _affinity()
    row["host"] = stats["host"]
    return row


def _table(rows):
    width = max([len("model")] + [len(r["model"]) for r in rows])
    heads = ["median", "mean", "p90", "std", "min"]
    typer.echo("{:<{}}  {:>6}  ".format("model", width, "runs") +
               "  ".join("{:>9}".format(h + " ms") for h in heads) + "  {:>10}".format("energy mJ"))
    for r in rows:
        energy = "-" if r["energy_mj"] is None else "{:.4g}".format(r["energy_mj"])
        typer.echo("{:<{}}  {:>6}  ".format(r["model"], width, r["n_runs"]) +
                   "  ".join("{:>9.4g}".format(r[h + "_ms"]) for h in heads) +
                   "  {:>10}".format(energy))
    h = rows[0]["host"]
    typer.echo("target {}  ({}, {} logical cores, {} {}, {} thread(s), governor {}{})".format(
        rows[0]["target"], h["cpu_model"], h["logical_cores"], h["interpreter"],
        h["interpreter_version"], h["threads"], h["cpu_governor"] or "n/a",
        ", pinned to CPUs {}".format(rows[0]["affinity"]) if rows[0]["affinity"] else ""))
    for r in rows:
        e = r["energy"]
        if e:
            typer.echo("energy {}: {:.1f} mW mean ({}; {} samples){}".format(
                r["model"], e["mean_power_mw"], ", ".join(
                    "{} {:.0f}".format(k, v) for k, v in sorted(e["rails_mw"].items())),
                e["n_samples"], "" if e["idle_power_mw"] is None else
                ", idle {:.1f} mW, above idle {:.4g} mJ".format(e["idle_power_mw"],
                                                                e["dynamic_energy_mj"])))
    if rows[0]["energy_note"]:
        typer.echo("energy: not measured: {}".format(rows[0]["energy_note"]))


@handled
def measure(models: List[str] = typer.Argument(..., help=".tflite files"),
            runs: int = typer.Option(30, "--runs", min=1, help="minimum timed runs"),
            warmup: int = typer.Option(10, "--warmup", min=0, help="untimed warm-up runs"),
            min_time: float = typer.Option(1.0, "--min-time", min=0.0,
                                           help="minimum timed seconds per model"),
            threads: int = typer.Option(1, "--threads", min=1, help="interpreter threads"),
            device: str = typer.Option("cpu", "--device", help="cpu or edgetpu"),
            cpus: Optional[str] = typer.Option(None, "--cpus",
                                               help="pin to these CPU ids, e.g. 0 or 2-3"),
            idle: float = typer.Option(0.0, "--idle", min=0.0,
                                       help="seconds of idle power baseline (with a sensor)"),
            energy: bool = typer.Option(True, "--energy/--no-energy",
                                        help="sample a power sensor if one exists"),
            seed: int = typer.Option(0, "--seed", help="seed of the random inputs"),
            per_op: bool = typer.Option(False, "--per-op", help="cpu: also time every "
                                        "operator alone, and show where the time goes"),
            as_json: bool = typer.Option(False, "--json",
                                         help="print a JSON array, one object per model")) -> None:
    """Measure models live on this host: latency statistics, host fingerprint, energy."""
    from . import power

    if device not in DEVICES:
        raise InputError("--device {!r}: use one of {}".format(device, ", ".join(DEVICES)))
    if device == "edgetpu":  # say what is missing before touching any model
        _edgetpu()
        if per_op:
            raise InputError("--per-op times operators on the CPU interpreter; not with "
                             "--device edgetpu")
    sampler_cpus = _pin(parse_cpus(cpus)) if cpus else None
    sensor, note = (power.find_sensor() if energy else (None, "disabled by --no-energy"))
    idle_mw = None
    if sensor is not None and idle > 0:
        idle_mw = power.measure_idle_power(sensor, seconds=idle)["mean_power_mw"]
    rows = []
    for path in models:
        stats = measure_model(path, device=device, threads=threads, warmup=warmup, runs=runs,
                              min_time_s=min_time, seed=seed, sensor=sensor,
                              idle_power_mw=idle_mw, sampler_cpus=sampler_cpus)
        rows.append(_row(path, device, stats, note))
        if per_op:
            rows[-1]["operators"] = operator_times(path, threads)
    for r in rows:
        for w in (r["energy"] or {}).get("warnings", []):
            warn("{}: {}".format(r["model"], w))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        _table(rows)
        for r in rows:
            if "operators" in r:
                _top_operators(r)


def operator_times(path, threads=1, default_delegates=True):
    """Every operator of a model timed alone on this host (``op_profile``), in execution order:
    ``[{"index", "op", "output" (its first output's shape), "us" (None: not timed), "share"
    (of the timed sum)}]``."""
    from .op_profile import profile_ops
    from .tflite_reader import load_model_bytes, read_model

    buf = load_model_bytes(path)
    graph = read_model(buf, name=path)
    t = profile_ops(buf, threads, default_delegates)
    timed = np.isfinite(t)
    total = float(t[timed].sum()) or 1.0
    out = [list(graph.tensors[n.outputs[0]].shape) if n.outputs and n.outputs[0] >= 0 else []
           for n in graph.ops]
    return [{"index": i, "op": node.op, "output": shape,
             "us": round(float(v), 3) if ok else None,
             "share": round(float(v) / total, 4) if ok else None}
            for i, (node, shape, v, ok) in enumerate(zip(graph.ops, out, t, timed))]


def _top_operators(row, top=10):
    ops = sorted((o for o in row["operators"] if o["us"] is not None), key=lambda o: -o["us"])
    untimed = sum(o["us"] is None for o in row["operators"])
    typer.echo("{}: {} operators timed alone, sum {:.3f} ms{}; the {} slowest:".format(
        row["model"], len(ops), sum(o["us"] for o in ops) * 1e-3,
        " ({} could not be timed alone)".format(untimed) if untimed else "", min(top, len(ops))))
    for o in ops[:top]:
        typer.echo("  #{:<4} {:<20} {:<18} {:>10.1f} us  {:>5.1%}".format(
            o["index"], o["op"], "x".join(str(d) for d in o["output"]), o["us"], o["share"]))
