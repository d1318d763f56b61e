"""Tests of edge_predictor.power on HAND-MADE sysfs trees (tests/fixtures/sysfs/, see README).

No power sensor exists on the machines that run these tests: the readers are checked against
fixture folders laid out as the drivers document them, the sampler against a fake sensor.
"""

import os
import shutil
import time

import pytest
from conftest import FIXTURES

from edge_predictor import power
from edge_predictor.errors import UnavailableError

SYSFS = os.path.join(FIXTURES, "sysfs")
TX2 = os.path.join(SYSFS, "tx2")
ORIN = os.path.join(SYSFS, "orin")
RAPL = os.path.join(SYSFS, "rapl")
RAPL0 = os.path.join("sys", "class", "powercap", "intel-rapl:0")


def test_tx2_legacy_layout():
    s = power.ina3221_legacy_sensor(TX2)
    assert s.name == "ina3221x" and s.kind == "power"
    assert set(s.rails) == {"VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI",
                            "VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"}
    r = s.read()
    assert r["VDD_IN"] == 3004.0 and r["VDD_SYS_CPU"] == 765.0
    assert r["VDD_4V0_WIFI"] == pytest.approx(4992 * 8 / 1000.0)  # no power file: V x I
    assert s.total_rails == ["VDD_IN"]  # module input, not the sum of overlapping rails
    assert power.ina3221_hwmon_sensor(TX2) is None and power.rapl_sensor(TX2) is None


def test_orin_hwmon_layout():
    s = power.ina3221_hwmon_sensor(ORIN)
    assert s.name == "ina3221-hwmon"
    assert s.rails == ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC", "VDD_5V0_IO_SYS"]  # NC skipped
    r = s.read()
    assert r["VDD_IN"] == pytest.approx(5072 * 1184 / 1000.0)
    assert s.total_rails == ["VDD_IN"]
    assert power.ina3221_legacy_sensor(ORIN) is None


def test_rapl_layout():
    s = power.rapl_sensor(RAPL)
    assert s.kind == "energy"
    assert s.rails == ["package-0", "package-1"]  # the core sub-zone is not a top-level zone
    assert s.max_range["package-0"] == 262143328850
    assert s.read()["package-0"] == 262143000000.0
    assert s.total_rails == ["package-0", "package-1"]


def test_find_sensor_order_and_reasons(tmp_path, monkeypatch):
    assert power.find_sensor(TX2)[0].name == "ina3221x"
    assert power.find_sensor(ORIN)[0].name == "ina3221-hwmon"
    assert power.find_sensor(RAPL)[0].name == "rapl"
    sensor, reason = power.find_sensor(str(tmp_path))
    assert sensor is None and "no power sensor found" in reason
    monkeypatch.setenv(power.ROOT_ENV_VAR, TX2)
    assert power.find_sensor()[0].name == "ina3221x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_unreadable_rapl_says_why(tmp_path):
    root = str(tmp_path / "root")
    shutil.copytree(RAPL, root)
    for zone in ("intel-rapl:0", "intel-rapl:1"):
        os.chmod(os.path.join(root, "sys", "class", "powercap", zone, "energy_uj"), 0)
    sensor, reason = power.find_sensor(root)
    assert sensor is None
    assert "not readable" in reason and "root" in reason


def test_wrapped_delta():
    assert power.wrapped_delta(10, 25, 100) == 15
    assert power.wrapped_delta(90, 5, 100) == 15  # 90 -> 100 (wrap) -> 5
    assert power.wrapped_delta(90, 5, None) == 0.0  # unknown range: never negative


def test_summarize_power_is_time_weighted():
    s = power.PowerSensor("fake", "power", {"A": ("x",), "B": ("y",)}, total_rails=["A"])
    samples = [(0.0, {"A": 100.0, "B": 1.0}), (1.0, {"A": 300.0, "B": 1.0}),
               (3.0, {"A": 300.0, "B": 1.0})]
    out = power.summarize_samples(s, samples)
    # trapezoids: (100+300)/2 * 1 + 300 * 2 = 800 over 3 s
    assert out["mean_power_mw"] == pytest.approx(800.0 / 3.0)
    assert out["rails_mw"]["B"] == pytest.approx(1.0)
    assert out["n_samples"] == 3 and out["duration_s"] == 3.0
    one = power.summarize_samples(s, samples[:1])
    assert one["mean_power_mw"] == 100.0


def test_summarize_rapl_wraparound_on_fixture_tree(tmp_path):
    root = str(tmp_path / "root")
    shutil.copytree(RAPL, root)
    s = power.rapl_sensor(root)
    first = s.read()
    top = s.max_range["package-0"]
    # 2 s later: package-0 went past its wrap point, package-1 advanced plainly
    for zone, value in (("intel-rapl:0", 4000000 - (top - 262143000000)),
                        ("intel-rapl:1", 5000000 + 2000000)):
        with open(os.path.join(root, "sys", "class", "powercap", zone, "energy_uj"), "w") as f:
            f.write("{}\n".format(value))
    second = s.read()
    out = power.summarize_samples(s, [(10.0, first), (12.0, second)])
    assert out["rails_mw"]["package-0"] == pytest.approx(4000000 / 2.0 / 1000.0)  # 2000 mW
    assert out["rails_mw"]["package-1"] == pytest.approx(1000.0)
    assert out["mean_power_mw"] == pytest.approx(3000.0)
    with pytest.raises(ValueError):
        power.summarize_samples(s, [(10.0, first)])


def test_energy_per_inference_units():
    p = {"mean_power_mw": 3000.0, "rails_mw": {"VDD_IN": 3000.0}, "n_samples": 50,
         "duration_s": 1.0}
    e = power.energy_per_inference(p, latency_ms=10.0, idle_power_mw=1000.0)
    assert e["energy_mj"] == pytest.approx(30.0)  # 3 W x 10 ms = 30 mJ
    assert e["dynamic_energy_mj"] == pytest.approx(20.0)
    assert e["warnings"] == []
    few = power.energy_per_inference(dict(p, n_samples=2), latency_ms=1.0)
    assert few["dynamic_energy_mj"] is None and few["idle_power_mw"] is None
    assert "power samples" in few["warnings"][0]


class _Ramp(object):
    """A fake power sensor whose reading grows by 10 mW per read."""

    kind = "power"
    rails = ["R"]
    total_rails = ["R"]
    max_range = {}

    def __init__(self, fail_after=None):
        self.n = 0
        self.fail_after = fail_after

    def read(self):
        self.n += 1
        if self.fail_after is not None and self.n > self.fail_after:
            raise OSError("i2c read failed")
        return {"R": 10.0 * self.n}


def test_sampler_thread_collects_and_stops():
    sampler = power.PowerSampler(_Ramp(), interval_s=0.005).start()
    time.sleep(0.1)
    out = sampler.stop()
    assert out["n_samples"] >= 3
    assert out["duration_s"] > 0.05
    assert not sampler._thread.is_alive()
    assert 10.0 < out["mean_power_mw"] < 10.0 * out["n_samples"]


def test_sampler_read_failure_is_unavailable():
    sampler = power.PowerSampler(_Ramp(fail_after=2), interval_s=0.002).start()
    time.sleep(0.05)
    with pytest.raises(UnavailableError, match="i2c read failed"):
        sampler.stop()


def test_sampler_on_fixture_tree_context_manager():
    s = power.find_sensor(TX2)[0]
    with power.PowerSampler(s, interval_s=0.005) as sampler:
        time.sleep(0.03)
    assert all(v["VDD_IN"] == 3004.0 for _, v in sampler.samples)
    assert power.summarize_samples(s, sampler.samples)["mean_power_mw"] == pytest.approx(3004.0)


class _FakeInterpreter(object):
    """Enough of a TFLite interpreter for benchmark_with_power: no inputs, a sleepy invoke."""

    def __init__(self):
        self.calls = 0

    def get_input_details(self):
        return []

    def invoke(self):
        self.calls += 1
        time.sleep(0.001)


def test_benchmark_with_power_on_fixture_tree():
    s = power.find_sensor(TX2)[0]
    it = _FakeInterpreter()
    stats = power.benchmark_with_power(it, sensor=s, warmup=2, runs=5, min_time_s=0.03,
                                       interval_s=0.005, idle_power_mw=1000.0)
    assert it.calls == 2 + stats["n_runs"] and stats["warmup"] == 2
    e = stats["energy"]
    assert e["mean_power_mw"] == pytest.approx(3004.0)
    assert e["energy_mj"] == pytest.approx(3004.0 * stats["mean_ms"] / 1000.0)
    assert e["dynamic_energy_mj"] == pytest.approx(2004.0 * stats["mean_ms"] / 1000.0)
    none = power.benchmark_with_power(_FakeInterpreter(), sensor=None, warmup=0, runs=3,
                                      min_time_s=0.0)
    assert none["energy"] is None and none["n_runs"] == 3


def test_measure_idle_power_on_fixture_tree():
    s = power.find_sensor(ORIN)[0]
    out = power.measure_idle_power(s, seconds=0.02, interval_s=0.005)
    assert out["mean_power_mw"] == pytest.approx(5072 * 1184 / 1000.0)
