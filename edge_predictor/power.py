"""Power sensors under sysfs, a background sampler, and energy per inference.

Three sensor layouts are read, all from files under a ``root`` folder (``/`` on a real host; a
fake tree in tests, or ``$EDGE_PERF_SYSFS_ROOT``):

- **INA3221, legacy iio driver** (Jetson TX2, Nano, Xavier on L4T <= 32):
  ``sys/bus/i2c/drivers/ina3221x/<bus-addr>/iio:device<k>/`` with ``rail_name_<n>`` and
  ``in_power<n>_input`` (mW; else ``in_voltage<n>_input`` mV x ``in_current<n>_input`` mA);
- **INA3221, upstream hwmon driver** (L4T >= 34, Orin):
  ``sys/bus/i2c/drivers/ina3221/<bus-addr>/hwmon/hwmon<k>/`` with ``in<n>_label``,
  ``in<n>_input`` (mV) and ``curr<n>_input`` (mA); power = V x I; ``NC`` channels are skipped;
- **Linux powercap RAPL**: ``sys/class/powercap/intel-rapl:<k>/energy_uj`` (a cumulative counter
  in uJ that wraps at ``max_energy_range_uj``), one top-level zone per package.

INA3221 rails give instantaneous power; RAPL gives energy, turned into mean power over the
sampled window. The reported *total* is the module input rail (``VDD_IN``, ``POM_5V_IN``) when a
board has one, else the sum of all rails; for RAPL the sum of the ``package-*`` zones.

Energy per inference = mean power during the timed loop x mean latency (the loop's energy divided
by its runs). An idle baseline, when measured, is reported apart (``dynamic_energy_mj``).

The readers follow the documented layouts and are tested on hand-made fixture trees
(``tests/fixtures/sysfs/``); they have not run on a real board here. Python 3.7, stdlib only.
"""

from __future__ import annotations

import glob
import os
import re
import threading
import time

from . import measure
from .errors import UnavailableError

__all__ = [
    "ROOT_ENV_VAR",
    "INPUT_RAILS",
    "PowerSensor",
    "ina3221_legacy_sensor",
    "ina3221_hwmon_sensor",
    "rapl_sensor",
    "find_sensor",
    "wrapped_delta",
    "summarize_samples",
    "PowerSampler",
    "measure_idle_power",
    "energy_per_inference",
    "benchmark_with_power",
]

#: Environment variable naming the folder that stands for ``/`` (tests, containers).
ROOT_ENV_VAR = "EDGE_PERF_SYSFS_ROOT"
#: Rail names that measure a whole Jetson module's input power.
INPUT_RAILS = ("VDD_IN", "POM_5V_IN", "VIN_SYS_5V0", "VDD_5V_IN")

_NO_SENSOR = ("no power sensor found: no INA3221 rails under /sys/bus/i2c/drivers/ina3221x or "
              "/sys/bus/i2c/drivers/ina3221, no RAPL zone under /sys/class/powercap")


def _read_text(path):
    with open(path) as f:
        return f.read().strip()


def _read_int(path):
    return int(float(_read_text(path)))


class PowerSensor(object):
    """One power source: INA3221 rails (``kind="power"``) or RAPL zones (``kind="energy"``).

    Attributes:
        name: sensor layout, ``"ina3221x"``, ``"ina3221-hwmon"`` or ``"rapl"``.
        kind: ``"power"`` -- :meth:`read` gives mW per rail; ``"energy"`` -- cumulative uJ.
        rails: rail (zone) names, in order.
        total_rails: the rails whose sum is the reported total.
        max_range: rail -> counter range in uJ (energy sensors; wraparound).
        paths: rail -> files read (one file: mW or uJ; two: mV and mA).
    """

    def __init__(self, name, kind, paths, total_rails=None, max_range=None):
        self.name = name
        self.kind = kind
        self.paths = dict(paths)
        self.rails = list(self.paths)
        self.total_rails = list(total_rails or self.rails)
        self.max_range = dict(max_range or {})

    def read(self):
        """One reading of every rail: rail -> mW (power) or uJ counter (energy); raises
        OSError/ValueError when a file vanished or holds no number."""
        out = {}
        for rail, files in self.paths.items():
            if len(files) == 1:
                out[rail] = float(_read_int(files[0]))
            else:  # mV x mA / 1000 = mW
                out[rail] = _read_int(files[0]) * _read_int(files[1]) / 1000.0
        return out

    def describe(self):
        """A JSON-able description: layout, kind, rails, total rails."""
        return {"sensor": self.name, "kind": self.kind, "rails": list(self.rails),
                "total_rails": list(self.total_rails)}


def _total(rails):
    inputs = [r for r in rails if r.upper() in INPUT_RAILS]
    return inputs[:1] or list(rails)


def _unique(paths, rail):
    name, k = rail, 2
    while name in paths:
        name, k = "{}#{}".format(rail, k), k + 1
    return name


def ina3221_legacy_sensor(root="/"):
    """All rails of the legacy ``ina3221x`` iio driver (TX2 layout) under ``root`` as one
    :class:`PowerSensor` (``kind="power"``), or None when there is none."""
    base = os.path.join(root, "sys", "bus", "i2c", "drivers", "ina3221x")
    paths = {}
    for dev in sorted(glob.glob(os.path.join(glob.escape(base), "*", "iio:device*"))):
        for name_file in sorted(glob.glob(os.path.join(glob.escape(dev), "rail_name_*"))):
            n = name_file.rsplit("_", 1)[1]
            rail = _read_text(name_file) or "rail{}".format(n)
            power = os.path.join(dev, "in_power{}_input".format(n))
            volt = os.path.join(dev, "in_voltage{}_input".format(n))
            curr = os.path.join(dev, "in_current{}_input".format(n))
            if os.path.exists(power):
                paths[_unique(paths, rail)] = (power,)
            elif os.path.exists(volt) and os.path.exists(curr):
                paths[_unique(paths, rail)] = (volt, curr)
    return PowerSensor("ina3221x", "power", paths, _total(list(paths))) if paths else None


def ina3221_hwmon_sensor(root="/"):
    """All rails of the upstream ``ina3221`` hwmon driver (L4T 34+) under ``root`` as one
    :class:`PowerSensor` (``kind="power"``, mV x mA), or None when there is none."""
    base = os.path.join(root, "sys", "bus", "i2c", "drivers", "ina3221")
    paths = {}
    for hw in sorted(glob.glob(os.path.join(glob.escape(base), "*", "hwmon", "hwmon*"))):
        found = glob.glob(os.path.join(glob.escape(hw), "curr*_input"))
        channels = sorted(int(re.search(r"curr(\d+)_input$", p).group(1)) for p in found)
        for n in channels:
            volt = os.path.join(hw, "in{}_input".format(n))
            curr = os.path.join(hw, "curr{}_input".format(n))
            label_file = os.path.join(hw, "in{}_label".format(n))
            rail = _read_text(label_file) if os.path.exists(label_file) else "in{}".format(n)
            if rail.upper() == "NC" or not os.path.exists(volt):
                continue
            paths[_unique(paths, rail)] = (volt, curr)
    return PowerSensor("ina3221-hwmon", "power", paths, _total(list(paths))) if paths else None


def rapl_sensor(root="/"):
    """The top-level RAPL zones (``sys/class/powercap/intel-rapl:<k>``) under ``root`` as one
    :class:`PowerSensor` (``kind="energy"``), or None when there is none."""
    base = os.path.join(root, "sys", "class", "powercap")
    paths, ranges = {}, {}
    for zone in sorted(glob.glob(os.path.join(glob.escape(base), "intel-rapl:*"))):
        if not re.search(r"intel-rapl:\d+$", zone):  # sub-zones (intel-rapl:0:0) are parts
            continue
        energy = os.path.join(zone, "energy_uj")
        if not os.path.exists(energy):
            continue
        name_file = os.path.join(zone, "name")
        rail = _unique(paths, _read_text(name_file) if os.path.exists(name_file)
                       else os.path.basename(zone))
        paths[rail] = (energy,)
        try:
            ranges[rail] = _read_int(os.path.join(zone, "max_energy_range_uj"))
        except (OSError, ValueError):
            ranges[rail] = None
    packages = [r for r in paths if r.startswith("package")]
    return PowerSensor("rapl", "energy", paths, packages or list(paths), ranges) if paths else None


def find_sensor(root=None):
    """The first readable power sensor: INA3221 (legacy, then hwmon), then RAPL.

    Args:
        root: folder standing for ``/``; None means ``$EDGE_PERF_SYSFS_ROOT`` or ``/``.

    Returns:
        ``(sensor, None)``, or ``(None, reason)`` where reason says why energy is absent.
    """
    if root is None:
        root = os.environ.get(ROOT_ENV_VAR) or "/"
    reasons = []
    for find in (ina3221_legacy_sensor, ina3221_hwmon_sensor, rapl_sensor):
        try:
            sensor = find(root)
        except (OSError, ValueError) as exc:
            reasons.append("{}: {}".format(find.__name__, exc))
            continue
        if sensor is None:
            continue
        try:
            sensor.read()
        except PermissionError:
            hint = (" (RAPL energy_uj is root-only on Linux >= 5.10: run as root or "
                    "`sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj`)"
                    if sensor.kind == "energy" else "")
            reasons.append("{} sensor found but not readable{}".format(sensor.name, hint))
            continue
        except (OSError, ValueError) as exc:
            reasons.append("{} sensor found but unreadable: {}".format(sensor.name, exc))
            continue
        return sensor, None
    return None, "; ".join(reasons) if reasons else _NO_SENSOR


def wrapped_delta(e0, e1, max_range):
    """Increase of an energy counter from ``e0`` to ``e1`` (uJ): ``e1 - e0``, or
    ``max_range - e0 + e1`` when it wrapped at ``max_range`` (``max_energy_range_uj``)."""
    if e1 >= e0:
        return float(e1 - e0)
    if not max_range:
        return 0.0  # cannot tell how far it went; count nothing rather than a negative
    return float(max_range - e0 + e1)


def summarize_samples(sensor, samples):
    """Mean power over a window of samples.

    Args:
        sensor: the :class:`PowerSensor` that produced them.
        samples: list of ``(time_s, {rail: value})`` in time order (>= 1; >= 2 for energy).

    Returns:
        ``{"mean_power_mw", "rails_mw", "n_samples", "duration_s"}``; power rails average over
        time (trapezoids), energy counters give total energy / duration.

    Raises:
        ValueError: too few samples, or an energy window of zero length.
    """
    if not samples:
        raise ValueError("no power samples")
    t = [s[0] for s in samples]
    duration = float(t[-1] - t[0])
    rails = {}
    if sensor.kind == "energy":
        if len(samples) < 2 or duration <= 0:
            raise ValueError("an energy counter needs two samples over a positive time")
        for rail in sensor.rails:
            uj = sum(wrapped_delta(a[1][rail], b[1][rail], sensor.max_range.get(rail))
                     for a, b in zip(samples[:-1], samples[1:]))
            rails[rail] = uj / duration / 1000.0  # uJ/s = uW -> mW
    else:
        for rail in sensor.rails:
            v = [s[1][rail] for s in samples]
            if len(v) < 2 or duration <= 0:
                rails[rail] = sum(v) / len(v)
            else:
                area = sum((t[i + 1] - t[i]) * (v[i] + v[i + 1]) / 2.0 for i in range(len(v) - 1))
                rails[rail] = area / duration
    return {"mean_power_mw": float(sum(rails[r] for r in sensor.total_rails)),
            "rails_mw": rails, "n_samples": len(samples), "duration_s": duration}


class PowerSampler(object):
    """Samples a sensor in a background thread between :meth:`start` and :meth:`stop`.

    Args:
        sensor: a :class:`PowerSensor` (or any object with ``kind``, ``rails``,
            ``total_rails``, ``max_range`` and ``read()``).
        interval_s: time between samples.
        cpus: pin the sampling thread to these CPU ids (Linux), away from the measured ones.
        clock: time source (tests).
    """

    def __init__(self, sensor, interval_s=0.02, cpus=None, clock=time.monotonic):
        self.sensor = sensor
        self.interval_s = float(interval_s)
        self.cpus = set(cpus) if cpus else None
        self.clock = clock
        self.samples = []
        self.error = None
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        self.samples.append((self.clock(), self.sensor.read()))

    def _run(self):
        if self.cpus and hasattr(os, "sched_setaffinity"):
            try:
                os.sched_setaffinity(0, self.cpus)  # pid 0 = this thread on Linux
            except OSError:
                pass
        try:
            while not self._stop.wait(self.interval_s):
                self._sample()
        except Exception as exc:  # noqa: BLE001 - reported by stop(), never lost
            self.error = exc

    def start(self):
        """Take a first sample now and start the sampling thread."""
        self._sample()
        self._thread = threading.Thread(target=self._run, name="edge-perf-power", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop sampling, take a last sample, return :func:`summarize_samples` of the window;
        raise :class:`UnavailableError` if a read failed during it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.error is None:
            try:
                self._sample()
            except Exception as exc:  # noqa: BLE001
                self.error = exc
        if self.error is not None:
            raise UnavailableError("power sensor read failed while sampling: {}".format(
                self.error))
        return summarize_samples(self.sensor, self.samples)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def measure_idle_power(sensor, seconds=2.0, interval_s=0.02):
    """:func:`summarize_samples` while this process sleeps ``seconds`` (the idle baseline)."""
    sampler = PowerSampler(sensor, interval_s=interval_s).start()
    time.sleep(float(seconds))
    return sampler.stop()


def energy_per_inference(power, latency_ms, idle_power_mw=None):
    """Energy of one inference from the loop's mean power and the mean latency.

    Args:
        power: :func:`summarize_samples` of the timed loop.
        latency_ms: mean latency of the loop (its energy / its runs = power x mean latency).
        idle_power_mw: idle baseline, or None when not measured.

    Returns:
        ``{"energy_mj", "mean_power_mw", "rails_mw", "n_samples", "idle_power_mw",
        "dynamic_energy_mj", "warnings"}`` (mW x ms = uJ; / 1000 = mJ).
    """
    p, idle = float(power["mean_power_mw"]), idle_power_mw
    out = {"energy_mj": p * float(latency_ms) / 1000.0, "mean_power_mw": p,
           "rails_mw": dict(power["rails_mw"]), "n_samples": int(power["n_samples"]),
           "idle_power_mw": None if idle is None else float(idle),
           "dynamic_energy_mj": None if idle is None else
           (p - float(idle)) * float(latency_ms) / 1000.0,
           "warnings": []}
    if power["n_samples"] < 10:
        out["warnings"].append("only {} power samples: time the loop longer "
                               "(--min-time >= 1)".format(power["n_samples"]))
    return out


def benchmark_with_power(interpreter, sensor=None, warmup=10, runs=30, min_time_s=1.0, seed=0,
                         interval_s=0.02, idle_power_mw=None, sampler_cpus=None):
    """:func:`edge_predictor.measure.benchmark_interpreter` with power sampled during the runs.

    Warm-up runs happen before the sampler starts, so only timed invocations are in the window.

    Args:
        interpreter: an allocated TFLite interpreter (CPU or a delegate's).
        sensor: a :class:`PowerSensor`, or None for latency only.
        warmup: untimed invocations.
        runs: minimum timed invocations.
        min_time_s: minimum timed seconds.
        seed: seed of the random inputs.
        interval_s: power sampling interval.
        idle_power_mw: idle baseline to report apart, or None.
        sampler_cpus: CPUs the sampling thread is pinned to (keep it off the measured cores).

    Returns:
        The latency statistics plus ``"energy"``: :func:`energy_per_inference` with
        ``"sensor"`` (:meth:`PowerSensor.describe`), or None without a sensor.
    """
    measure.random_inputs(interpreter, seed=seed)
    for _ in range(int(warmup)):
        interpreter.invoke()
    sampler = None
    if sensor is not None:
        sampler = PowerSampler(sensor, interval_s=interval_s, cpus=sampler_cpus).start()
    try:
        stats = measure.benchmark_interpreter(interpreter, warmup=0, runs=runs,
                                              min_time_s=min_time_s, seed=seed)
    finally:
        power = sampler.stop() if sampler is not None else None
    stats["energy"] = None
    if power is not None:
        stats["energy"] = energy_per_inference(power, stats["mean_ms"], idle_power_mw)
        stats["energy"]["sensor"] = sensor.describe()
    stats["warmup"] = int(warmup)
    return stats
