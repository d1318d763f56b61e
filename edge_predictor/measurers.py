"""How each target is measured: the ``path -> (labels, host)`` functions of ``validate`` and
``calibrate``.

* an Ethos-U55 configuration (:data:`edge_predictor.npu_blocks.ACCELERATORS`:
  ``ethos-u55-128``, ``-256``, ``-64``, ``-32``): Vela compiles the model for it
  (:func:`benches.labelers.vela.label_vela`, the train extra): latency, SRAM, energy (an
  estimate);
* ``cpu-<cpu>-<interpreter>-t<threads>[-nodelegate]``: live on this host, which must be the host
  the target names (median latency; energy with a power sensor);
* ``edgetpu``: on a Coral board.

Library code: raises :mod:`edge_predictor.errors`, prints nothing. Python 3.7 compatible.
"""

import re

from .errors import InputError, LabelError, ModelFormatError, UnavailableError, UnknownTargetError
from .npu_blocks import ACCELERATORS

__all__ = ["make_measurer", "calibrated_for"]


def _vela_measurer(accelerator):
    try:
        from benches.labelers import vela
    except ImportError as exc:
        raise UnavailableError("the {} target is measured with Vela, which is not "
                               "importable ({}); install the train extra "
                               "`pip install '.[train]'`".format(accelerator, exc)) from None
    vela.vela_version()  # UnavailableError naming `.[train]`

    def run(path):
        res = vela.label_vela(path, accelerator=accelerator)
        prov = res["provenance"]
        host = {k: prov.get(k) for k in ("labeler", "labeler_version", "accelerator",
                                         "system_config", "memory_mode", "energy_model")}
        return res["labels"], host
    return run


def _cpu_measurer(target, warmup, runs, min_time_s):
    from . import interpreters, measure, power

    m = re.match(r"^cpu-.+-t(\d+)(-nodelegate)?$", target)
    if not m:
        raise UnknownTargetError("{}: a CPU target reads cpu-<cpu>-<interpreter>-t<threads>"
                                 .format(target))
    threads, delegates = int(m.group(1)), not m.group(2)
    here = measure.cpu_target_id(measure.host_fingerprint(threads=threads))
    here += "" if delegates else "-nodelegate"
    if here != target:
        raise InputError("target {} is not this host (which measures as {}): validate a CPU "
                         "target on the machine it names".format(target, here))
    sensor, _ = power.find_sensor()

    def run(path):
        with open(path, "rb") as f:
            content = f.read()
        try:
            it = interpreters.make_interpreter(content, threads=threads,
                                               default_delegates=delegates)
            stats = power.benchmark_with_power(it, sensor=sensor, warmup=warmup, runs=runs,
                                               min_time_s=min_time_s)
        except ModelFormatError as exc:
            raise LabelError("{}: {}".format(path, exc.reason)) from None
        except (RuntimeError, ValueError) as exc:  # interpreter failures vary by backend
            raise LabelError("{}: measurement failed: {}".format(path, exc)) from None
        labels = {"latency_ms": stats["median_ms"]}
        if stats["energy"]:
            labels["energy_mj"] = stats["energy"]["energy_mj"]
        return labels, measure.host_fingerprint(threads=threads)
    return run


def _edgetpu_measurer(warmup, runs, min_time_s):
    from benches.labelers import edgetpu

    def run(path):
        res = edgetpu.label_edgetpu(path, warmup=warmup, runs=runs, min_time_s=min_time_s)
        return res["labels"], res["provenance"]
    return run


def calibrated_for(predictor):
    """The target a calibrated bundle answers for, or None: the CPU target of the host it was
    calibrated live on, or the Ethos-U configuration it was calibrated for (``--accelerator``);
    such a bundle validates against that target, whatever its name."""
    from .measure import cpu_target_id

    cal = getattr(predictor, "calibration", None) or {}
    if cal.get("accelerator"):
        return cal["accelerator"]
    source = cal.get("source") or {}
    if source.get("kind") != "live" or not source.get("host"):
        return None
    target = cpu_target_id(source["host"])
    return target if source.get("default_delegate", True) else target + "-nodelegate"


def make_measurer(target, warmup=10, runs=30, min_time_s=1.0):
    """The measurement function of a target: ``path -> (labels, host)``.

    Raises:
        UnknownTargetError: no way to measure this target.
        UnavailableError: Vela (``.[train]``) or the device is missing.
        InputError: a CPU target that is not this host.
    """
    if target in ACCELERATORS:
        return _vela_measurer(target)
    if target.startswith("cpu-"):
        return _cpu_measurer(target, warmup, runs, min_time_s)
    if target == "edgetpu":
        return _edgetpu_measurer(warmup, runs, min_time_s)
    raise UnknownTargetError("{}: cannot measure this target; validate knows {} (Vela), "
                             "cpu-... (this host) and edgetpu (a Coral board)".format(
                                 target, ", ".join(sorted(ACCELERATORS))))
