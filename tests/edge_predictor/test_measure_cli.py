"""``edge-perf measure``: JSON contract on a real tiny model, energy on a fake sysfs tree, and
one-line exit-2 errors (no pycoral, bad device, unreadable model)."""

import json
import os
import sys

import pytest
import typer
from conftest import FIXTURES, fixture_path

from edge_predictor import interpreters, power
from edge_predictor.errors import UnavailableError
from edge_predictor.measure_cli import measure, parse_cpus

TX2 = os.path.join(FIXTURES, "sysfs", "tx2")


def _interpreter_available():
    try:
        interpreters.interpreter_info()
    except UnavailableError:
        return False
    return True


needs_interpreter = pytest.mark.skipif(not _interpreter_available(),
                                       reason="no TFLite interpreter installed")


def run(argv):
    """Run the command the way the edge-perf app does; return the exit code."""
    app = typer.Typer(add_completion=False)
    app.command("measure")(measure)

    @app.callback()
    def _root():
        pass

    try:
        app(args=["measure"] + list(argv), prog_name="edge-perf")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


@pytest.fixture
def no_sensor(tmp_path, monkeypatch):
    monkeypatch.setenv(power.ROOT_ENV_VAR, str(tmp_path))  # an empty tree: no sensor


@needs_interpreter
def test_measure_json_contract(capsys, no_sensor):
    path = fixture_path("conv")
    assert run([path, "--runs", "5", "--warmup", "1", "--min-time", "0", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and len(rows) == 1
    r = rows[0]
    for key in ("model", "target", "device", "latency_ms", "median_ms", "mean_ms", "p90_ms",
                "std_ms", "min_ms", "n_runs", "warmup", "threads", "host", "energy_mj",
                "energy_note"):
        assert key in r, key
    assert r["model"] == path and r["device"] == "cpu"
    assert r["median_ms"] > 0 and r["latency_ms"] == r["median_ms"]
    assert r["min_ms"] <= r["median_ms"] <= r["p90_ms"]
    assert r["n_runs"] >= 5 and r["warmup"] == 1 and r["threads"] == 1
    assert r["target"].startswith("cpu-") and r["target"].endswith("-t1")
    for key in ("cpu_model", "logical_cores", "interpreter", "interpreter_version", "threads"):
        assert key in r["host"]
    assert r["energy_mj"] is None and "no power sensor found" in r["energy_note"]


@needs_interpreter
def test_measure_default_min_time_table(capsys, no_sensor):
    assert run([fixture_path("depthwise"), "--runs", "5", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "median ms" in out and "depthwise" in out
    assert "energy: not measured: no power sensor found" in out


@needs_interpreter
def test_measure_energy_on_fake_tx2_tree(capsys, monkeypatch):
    monkeypatch.setenv(power.ROOT_ENV_VAR, TX2)
    assert run([fixture_path("conv"), "--runs", "5", "--warmup", "1", "--min-time", "0.05",
                "--idle", "0.02", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)[0]
    e = r["energy"]
    assert e["mean_power_mw"] == pytest.approx(3004.0)  # VDD_IN, the module input rail
    assert r["energy_mj"] == pytest.approx(3004.0 * r["mean_ms"] / 1000.0)
    assert e["idle_power_mw"] == pytest.approx(3004.0)
    assert e["dynamic_energy_mj"] == pytest.approx(0.0, abs=1e-9)
    assert r["energy_note"] is None


@needs_interpreter
def test_measure_no_energy_flag(capsys, monkeypatch):
    monkeypatch.setenv(power.ROOT_ENV_VAR, TX2)
    assert run([fixture_path("conv"), "--runs", "2", "--warmup", "0", "--min-time", "0",
                "--no-energy", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)[0]
    assert r["energy_mj"] is None and "--no-energy" in r["energy_note"]


def test_edgetpu_without_pycoral_exits_2_with_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pycoral", None)  # make sure nothing real is found
    monkeypatch.setitem(sys.modules, "pycoral.utils", None)
    monkeypatch.setitem(sys.modules, "pycoral.utils.edgetpu", None)
    assert run([fixture_path("conv"), "--device", "edgetpu", "--runs", "5", "--warmup", "1",
                "--json"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "pycoral" in lines[0] and "Traceback" not in captured.err
    assert "apt-get install python3-pycoral" in lines[0]
    assert captured.out == ""


@pytest.mark.parametrize("argv", [["--device", "gpu"], ["--cpus", "x-y"]])
def test_bad_options_exit_2(capsys, argv):
    assert run([fixture_path("conv")] + argv) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@needs_interpreter
def test_unreadable_model_exit_2(capsys, tmp_path, no_sensor):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model" * 20)
    assert run([str(bad), str(tmp_path / "missing.tflite"), "--runs", "1", "--min-time", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.tflite" in err[0]


def test_parse_cpus():
    assert parse_cpus("0") == {0}
    assert parse_cpus("0-2,5") == {0, 1, 2, 5}


@needs_interpreter
def test_measure_per_op_times_every_operator(capsys, no_sensor):
    from edge_predictor.tflite_reader import read_model

    path = fixture_path("attention")
    assert run([path, "--runs", "2", "--warmup", "0", "--min-time", "0", "--json",
                "--per-op"]) == 0
    ops = json.loads(capsys.readouterr().out)[0]["operators"]
    graph = read_model(path)
    assert [o["op"] for o in ops] == [n.op for n in graph.ops]
    assert [o["index"] for o in ops] == list(range(len(graph.ops)))
    timed = [o for o in ops if o["us"] is not None]
    assert timed and all(o["us"] >= 0 for o in timed)
    assert sum(o["share"] for o in timed) == pytest.approx(1.0, abs=1e-3)
    assert ops[0]["output"] == list(graph.tensors[graph.ops[0].outputs[0]].shape)
    assert run([path, "--runs", "2", "--warmup", "0", "--min-time", "0", "--per-op"]) == 0
    assert "slowest" in capsys.readouterr().out
