"""Tests of edge_predictor.measure: statistics, cpuinfo parsing, target ids, the timing loop."""


import numpy as np
import pytest

from edge_predictor import measure
from edge_predictor.errors import UnavailableError
from conftest import tiny_int8_model

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 106
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
stepping\t: 6

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
"""

# Coral Dev Board (i.MX 8M, 4x Cortex-A53): arm64 kernels print no "model name"
CORAL = "".join(
    "processor\t: {}\nBogoMIPS\t: 16.00\nFeatures\t: fp asimd evtstrm aes crc32 cpuid\n"
    "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd03\n"
    "CPU revision\t: 4\n\n".format(i) for i in range(4)
)

# Jetson TX2: 2x NVIDIA Denver2 + 4x Cortex-A57
TX2 = "".join(
    "processor\t: {}\nCPU implementer\t: {}\nCPU part\t: {}\n\n".format(i, impl, part)
    for i, (impl, part) in enumerate(
        [("0x41", "0xd07"), ("0x4e", "0x003"), ("0x4e", "0x003")] + [("0x41", "0xd07")] * 3
    )
)


def test_summarize_known_array():
    s = measure.summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert s["median_ms"] == 5.5
    assert s["mean_ms"] == 5.5
    assert s["p90_ms"] == pytest.approx(9.1)  # linear interpolation: 9 + 0.1 * (10 - 9)
    assert s["std_ms"] == pytest.approx(np.sqrt(8.25))  # population std
    assert s["min_ms"] == 1.0
    assert s["n_runs"] == 10


def test_summarize_odd_and_unsorted():
    s = measure.summarize([3.0, 1.0, 2.0, 100.0, 4.0])
    assert s["median_ms"] == 3.0  # robust to the outlier
    assert s["mean_ms"] == 22.0
    assert s["p90_ms"] == pytest.approx(4.0 + 0.6 * 96.0)
    with pytest.raises(ValueError):
        measure.summarize([])


def test_parse_cpuinfo_variants():
    assert measure.parse_cpuinfo(XEON) == "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"
    assert measure.parse_cpuinfo(CORAL) == "ARM Cortex-A53"
    assert measure.parse_cpuinfo(TX2) == "ARM Cortex-A57 + NVIDIA Denver2"
    assert measure.parse_cpuinfo("processor\t: 0\nHardware\t: BCM2835\n") == "BCM2835"
    assert measure.parse_cpuinfo("") is None
    unknown = measure.parse_cpuinfo("CPU implementer\t: 0x51\nCPU part\t: 0x800\n")
    assert unknown == "ARM implementer 0x51 part 0x800"


def test_cpu_model_falls_back_when_file_missing(tmp_path):
    assert measure.cpu_model(str(tmp_path / "nope")) != ""


@pytest.mark.parametrize("model,short", [
    ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "xeon8375c"),
    ("AMD EPYC 7B13 64-Core Processor", "epyc7b13"),
    ("AMD EPYC", "epyc"),
    ("ARM Cortex-A53", "cortexa53"),
    ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", "corei78700k"),
    ("AMD Ryzen 9 5950X 16-Core Processor", "ryzen95950x"),
    ("", "unknown"),
])
def test_short_cpu_name(model, short):
    assert measure.short_cpu_name(model) == short


def test_cpu_target_id():
    fp = {"cpu_model": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
          "interpreter": "ai_edge_litert", "threads": 1}
    assert measure.cpu_target_id(fp) == "cpu-xeon8375c-litert-t1"
    fp.update(interpreter="tflite_runtime", threads=4, cpu_model=measure.parse_cpuinfo(CORAL))
    assert measure.cpu_target_id(fp) == "cpu-cortexa53-tflite-t4"


class FakeInterpreter:
    """Just enough of the TFLite Interpreter API for the timing loop."""

    def __init__(self, details, sleep_s=0.0):
        self.details = details
        self.sleep_s = sleep_s
        self.invokes = 0
        self.tensors = {}
        self.resized = {}

    def get_input_details(self):
        out = []
        for d in self.details:
            d = dict(d)
            if d["index"] in self.resized:
                d["shape"] = np.array(self.resized[d["index"]])
            out.append(d)
        return out

    def resize_tensor_input(self, index, shape):
        self.resized[index] = list(shape)

    def allocate_tensors(self):
        pass

    def set_tensor(self, index, value):
        self.tensors[index] = value

    def invoke(self):
        self.invokes += 1
        if self.sleep_s:
            import time
            time.sleep(self.sleep_s)


DETAILS = [
    {"index": 0, "dtype": np.int8, "shape": np.array([1, 4, 4, 3]),
     "shape_signature": np.array([-1, 4, 4, 3])},
    {"index": 1, "dtype": np.float32, "shape": np.array([1, 5]),
     "shape_signature": np.array([1, 5])},
    {"index": 2, "dtype": np.int32, "shape": np.array([1, 7]),
     "shape_signature": np.array([1, 7])},
]


def test_random_inputs_dtype_shape_and_seed():
    a = FakeInterpreter(DETAILS)
    arrs = measure.random_inputs(a, seed=3)
    assert [x.dtype for x in arrs] == [np.int8, np.float32, np.int32]
    assert [x.shape for x in arrs] == [(1, 4, 4, 3), (1, 5), (1, 7)]
    assert arrs[0].min() >= -128 and arrs[0].max() <= 127
    assert arrs[2].min() >= 0 and arrs[2].max() <= 9
    b = FakeInterpreter(DETAILS)
    for x, y in zip(arrs, measure.random_inputs(b, seed=3)):
        np.testing.assert_array_equal(x, y)
    c = FakeInterpreter(DETAILS)
    assert not np.array_equal(measure.random_inputs(c, seed=4)[1], arrs[1])


def test_benchmark_respects_runs_warmup_and_min_time():
    fake = FakeInterpreter(DETAILS)
    s = measure.benchmark_interpreter(fake, warmup=10, runs=30, min_time_s=0.0)
    assert s["n_runs"] == 30 and s["warmup"] == 10
    assert fake.invokes == 40
    # a fast graph keeps running until min_time_s is spent
    fake = FakeInterpreter(DETAILS)
    s = measure.benchmark_interpreter(fake, warmup=10, runs=30, min_time_s=0.05)
    assert s["n_runs"] > 30 and s["total_time_s"] >= 0.05
    # a slow graph stops at `runs` once min_time_s is reached
    fake = FakeInterpreter(DETAILS, sleep_s=0.002)
    s = measure.benchmark_interpreter(fake, warmup=1, runs=5, min_time_s=0.001)
    assert s["n_runs"] == 5 and s["median_ms"] >= 2.0 and s["min_ms"] <= s["median_ms"]
    with pytest.raises(ValueError):
        measure.benchmark_interpreter(FakeInterpreter(DETAILS), runs=0)


def test_host_fingerprint_fields():
    try:
        fp = measure.host_fingerprint(threads=2)
    except UnavailableError:
        pytest.skip("no TFLite interpreter")
    for key in ("cpu_model", "logical_cores", "interpreter", "interpreter_version", "threads",
                "python", "machine"):
        assert fp[key] not in (None, "")
    assert fp["threads"] == 2 and fp["logical_cores"] >= 1
    assert measure.cpu_target_id(fp).endswith("-t2")


@pytest.fixture(scope="module")
def models():
    return tiny_int8_model(8, 1, 16), tiny_int8_model(32, 4, 48)


@pytest.mark.train
def test_measure_latency_real_models(models):
    small, large = models
    a = measure.measure_latency(small, runs=30, min_time_s=0.1)
    b = measure.measure_latency(large, runs=30, min_time_s=0.1, default_delegates=False)
    assert a["n_runs"] >= 30 and b["n_runs"] >= 30
    assert 0 < a["min_ms"] <= a["median_ms"] <= a["p90_ms"]
    assert b["median_ms"] > 5 * a["median_ms"]  # ~1000x the MACs
    assert a["fingerprint"]["threads"] == 1 and b["default_delegates"] is False


@pytest.mark.train
def test_cpu_labeler(models):
    from benches.labelers.cpu import cpu_target, label_cpu
    from edge_predictor.errors import LabelError

    r = label_cpu(models[0], runs=30, min_time_s=0.05)
    assert r["target"] == cpu_target() and r["target"].startswith("cpu-")
    assert r["labels"]["latency_ms"] == r["raw"]["median_ms"] > 0
    assert r["provenance"]["host"]["threads"] == 1 and "time" in r["provenance"]
    assert label_cpu(models[0], runs=5, min_time_s=0.0,
                     default_delegates=False)["target"].endswith("-nodelegate")
    with pytest.raises(LabelError):
        label_cpu(b"garbage")
