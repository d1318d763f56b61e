"""``edge-perf validate``: statistics on hand-computed arrays, the resumable SQLite store (rerun,
failures, SIGKILL in a subprocess), the JSON contract and the plot.

A fake predictor and a fake measurer are injected: no trained bundle, Vela or sensor is needed
except in the ``train``-marked test that runs Vela for real.
"""

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
import typer
from conftest import fixture_path

from edge_predictor import validate as v
from edge_predictor.errors import ModelFormatError
from edge_predictor.validate_cli import format_summary
from edge_predictor.validate_cli import validate as validate_cmd

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---------------------------------------------------------------- statistics, hand values

def test_rankdata_average_ties():
    assert list(v.rankdata([10, 20, 20, 20, 5])) == [2, 4, 4, 4, 1]
    assert list(v.rankdata([3, 1, 2])) == [3, 1, 2]


def test_spearman_hand_values():
    # x ranks [1, 2.5, 2.5, 4], y ranks [1, 3, 2, 4]: cov 4.5, var 4.5 and 5 -> 3/sqrt(10)
    assert v.spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10))
    # ties on both sides: centred ranks [-1,-1,1,1] and [-1.5,0,0,1.5] -> 3/sqrt(18)
    assert v.spearman([1, 1, 2, 2], [1, 2, 2, 3]) == pytest.approx(1 / math.sqrt(2))
    assert v.spearman([1, 2, 3, 4, 5], [1, 4, 9, 16, 100]) == pytest.approx(1.0)
    assert v.spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    assert v.spearman([1, 2, 3], [7, 7, 7]) is None  # constant side
    assert v.spearman([1], [2]) is None


def test_error_stats_hand_values():
    s = v.error_stats([105, 90, 100, 130], [100, 100, 100, 100])
    assert s["n"] == 4
    assert s["mape"] == pytest.approx((5 + 10 + 0 + 30) / 4.0)  # percent
    assert s["within_5"] == pytest.approx(50.0)  # 5 % exactly counts
    assert s["within_10"] == pytest.approx(75.0)
    assert s["spearman"] is None
    s = v.error_stats([1.0, 2.2, 2.9], [1.0, 2.0, 3.0])
    assert s["mape"] == pytest.approx(100 * (0 + 0.1 + 0.1 / 3) / 3)
    assert s["within_10"] == pytest.approx(100.0) and s["spearman"] == pytest.approx(1.0)
    assert v.error_stats([1, 2], [0, 2])["n"] == 1  # a zero measurement is left out
    empty = v.error_stats([], [])
    assert empty == {"n": 0, "mape": None, "within_5": None, "within_10": None,
                     "spearman": None}


# ---------------------------------------------------------------- fakes

def _value(path):
    """A deterministic 'measurement' of a fake model from its bytes."""
    with open(path, "rb") as f:
        return 1.0 + sum(f.read()) % 97


class FakePredictor(object):
    """Predicts measured x (1 + 3 %) for latency and x (1 - 8 %) for SRAM; 'bad' files fail."""

    target = "ethos-u55-128"

    def predict(self, path):
        if "bad" in os.path.basename(path):
            raise ModelFormatError(path, "not a TFLite model")
        x = _value(path)
        return {"target": self.target, "latency_ms": x * 1.03, "sram_kib": 10 * x * 0.92,
                "energy_mj": 1.0, "warnings": []}


class FakeMeasurer(object):
    def __init__(self, delay=0.0):
        self.calls = 0
        self.delay = delay

    def __call__(self, path):
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        x = _value(path)
        return {"latency_ms": x, "sram_kib": 10 * x}, {"labeler": "fake", "threads": 1}


def _models(folder, n, bad=0):
    os.makedirs(str(folder), exist_ok=True)
    for i in range(n):
        with open(os.path.join(str(folder), "m{:03d}.tflite".format(i)), "wb") as f:
            f.write("model {}".format(i).encode())
    for i in range(bad):
        with open(os.path.join(str(folder), "bad{}.tflite".format(i)), "wb") as f:
            f.write("bad {}".format(i).encode())
    return str(folder)


def _db_rows(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT model_sha256, model_path, target, metric, predicted, "
                            "measured, host, time FROM results ORDER BY model_path, metric"
                            ).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- store and loop

def test_validate_stores_rows_and_is_idempotent(tmp_path):
    folder = _models(tmp_path / "models", 6, bad=1)
    db = str(tmp_path / "v.sqlite")
    meas = FakeMeasurer()
    s1 = v.validate([folder], "ethos-u55-128", db, predictor=FakePredictor(), measurer=meas)
    assert s1["models"] == 7 and s1["measured"] == 6 and s1["skipped"] == 0
    assert s1["failed"] == 1 and "not a TFLite model" in s1["failures"][0]["error"]
    assert set(s1["metrics"]) == {"latency_ms", "sram_kib"}  # energy_mj is not measured
    lat = s1["metrics"]["latency_ms"]
    assert lat["n"] == 6 and lat["mape"] == pytest.approx(3.0)
    assert lat["within_5"] == 100.0 and lat["spearman"] == pytest.approx(1.0)
    sram = s1["metrics"]["sram_kib"]
    assert sram["mape"] == pytest.approx(8.0) and sram["within_5"] == 0.0
    assert sram["within_10"] == 100.0
    rows = _db_rows(db)
    assert len(rows) == 12
    sha, path, target, metric, pred, measured, host, when = rows[0]
    assert len(sha) == 64 and path.endswith("m000.tflite") and target == "ethos-u55-128"
    assert metric == "latency_ms" and pred == pytest.approx(measured * 1.03)
    assert json.loads(host) == {"labeler": "fake", "threads": 1} and when.endswith("Z")

    s2 = v.validate([folder], "ethos-u55-128", db, predictor=FakePredictor(), measurer=meas)
    assert meas.calls == 6  # nothing measured again, the failure not retried either
    assert s2["measured"] == 0 and s2["skipped"] == 7 and s2["failures"][0]["earlier"]
    assert s2["metrics"] == s1["metrics"]
    assert _db_rows(db) == rows
    v.validate([folder], "ethos-u55-128", db, predictor=FakePredictor(), measurer=meas,
               retry_failed=True)
    assert meas.calls == 6  # the bad model fails in the predictor, before measuring


def test_summary_covers_only_the_given_models(tmp_path):
    folder = _models(tmp_path / "models", 4)
    db = str(tmp_path / "v.sqlite")
    v.validate([folder], "ethos-u55-128", db, predictor=FakePredictor(),
               measurer=FakeMeasurer())
    one = os.path.join(folder, "m000.tflite")
    dup = tmp_path / "copy.tflite"
    dup.write_bytes(open(one, "rb").read())  # same bytes, other path: the same model
    s = v.validate([one, str(dup)], "ethos-u55-128", db, predictor=FakePredictor(),
                   measurer=FakeMeasurer())
    assert s["models"] == 1 and s["skipped"] == 2
    assert s["metrics"]["latency_ms"]["n"] == 1


def test_json_contract(tmp_path):
    folder = _models(tmp_path / "models", 5)
    s = v.validate([folder], "ethos-u55-128", str(tmp_path / "v.sqlite"),
                   predictor=FakePredictor(), measurer=FakeMeasurer())
    back = json.loads(json.dumps(s))
    for key in ("target", "db", "models", "measured", "skipped", "failed", "failures",
                "metrics"):
        assert key in back
    for stats in back["metrics"].values():
        assert set(stats) == {"n", "mape", "within_5", "within_10", "spearman"}
    assert any(line.startswith("latency_ms") for line in format_summary(s))


def test_predictor_target_must_match(tmp_path):
    from edge_predictor.errors import InputError

    with pytest.raises(InputError, match="predictor is for ethos-u55-128"):
        v.validate([_models(tmp_path / "m", 1)], "edgetpu", str(tmp_path / "v.sqlite"),
                   predictor=FakePredictor(), measurer=FakeMeasurer())


def test_a_bundle_calibrated_live_here_validates_under_this_hosts_target(tmp_path):
    from edge_predictor.errors import InputError
    from edge_predictor.measure import cpu_target_id

    host = {"cpu_model": "Intel(R) Xeon(R) Processor", "interpreter": "tflite_runtime",
            "threads": 2}
    here = cpu_target_id(host)

    class Calibrated(FakePredictor):
        target = "cpu-epyc-litert-t1-calibrated"
        calibration = {"source": {"kind": "live", "host": host, "default_delegate": True}}

    assert v.calibrated_for(Calibrated()) == here and here.endswith("-t2")
    v.validate([_models(tmp_path / "m", 1)], here, str(tmp_path / "v.sqlite"),
               predictor=Calibrated(), measurer=FakeMeasurer())
    off = Calibrated()
    off.calibration = {"source": dict(Calibrated.calibration["source"], default_delegate=False)}
    assert v.calibrated_for(off) == here + "-nodelegate"
    labels = Calibrated()
    labels.calibration = {"source": {"kind": "labels", "file": "x.csv"}}
    assert v.calibrated_for(labels) is None and v.calibrated_for(FakePredictor()) is None
    with pytest.raises(InputError, match="predictor is for cpu-epyc-litert-t1-calibrated"):
        v.validate([_models(tmp_path / "m2", 1)], here, str(tmp_path / "v2.sqlite"),
                   predictor=labels, measurer=FakeMeasurer())


def test_plot_png(tmp_path):
    pytest.importorskip("matplotlib")
    folder = _models(tmp_path / "models", 12)
    out = str(tmp_path / "val.png")
    s = v.validate([folder], "ethos-u55-128", str(tmp_path / "v.sqlite"),
                   predictor=FakePredictor(), measurer=FakeMeasurer(), plot_path=out)
    assert s["plot"] == out
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- SIGKILL in a subprocess

CHILD = textwrap.dedent("""
    import os, time
    from edge_predictor import validate as v

    def value(path):
        with open(path, "rb") as f:
            return 1.0 + sum(f.read()) % 97

    class Predictor(object):
        target = "ethos-u55-128"

        def predict(self, path):
            x = value(path)
            return {{"latency_ms": x * 1.03, "sram_kib": 10 * x * 0.92, "warnings": []}}

    def measurer(path):
        time.sleep(0.004)
        x = value(path)
        return {{"latency_ms": x, "sram_kib": 10 * x}}, {{"labeler": "fake", "threads": 1}}

    print("ready", flush=True)
    v.validate([{folder!r}], "ethos-u55-128", {db!r}, predictor=Predictor(), measurer=measurer)
    print("done", flush=True)
""")


def _check_db(db, n_metrics=2):
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "results" not in tables:  # killed before the schema transaction committed
            assert not tables & {"runs", "meta"}
            return 0
        dups = conn.execute("SELECT COUNT(*) FROM (SELECT 1 FROM results GROUP BY "
                            "model_sha256, target, metric HAVING COUNT(*) > 1)").fetchone()[0]
        assert dups == 0
        ok = conn.execute("SELECT model_sha256 FROM runs WHERE status='ok'").fetchall()
        for (sha,) in ok:  # every finished model has all its rows: no half-written model
            n = conn.execute("SELECT COUNT(*) FROM results WHERE model_sha256=?",
                             (sha,)).fetchone()[0]
            assert n == n_metrics
        orphans = conn.execute("SELECT COUNT(*) FROM results WHERE model_sha256 NOT IN "
                               "(SELECT model_sha256 FROM runs)").fetchone()[0]
        assert orphans == 0
        return len(ok)
    finally:
        conn.close()


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3])
def test_sigkill_loses_at_most_the_model_in_flight(tmp_path, delay):
    n = 150  # x >= 4 ms each: the child cannot finish before the longest delay
    folder = _models(tmp_path / "models", n)
    db = str(tmp_path / "v.sqlite")
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(folder=folder, db=db))
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env,
                            cwd=str(tmp_path))
    try:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    if os.path.exists(db):
        before = _check_db(db)
        assert before < n  # killed before the end
    meas = FakeMeasurer()
    s = v.validate([folder], "ethos-u55-128", db, predictor=FakePredictor(), measurer=meas)
    assert _check_db(db) == n
    assert s["models"] == n and s["measured"] + s["skipped"] == n and s["failed"] == 0
    assert meas.calls == s["measured"]
    assert len(_db_rows(db)) == 2 * n
    assert s["metrics"]["latency_ms"]["n"] == n


# ---------------------------------------------------------------- the CLI command

def run(argv):
    app = typer.Typer(add_completion=False)
    app.command("validate")(validate_cmd)

    @app.callback()
    def _root():
        pass

    try:
        app(args=["validate"] + list(argv), prog_name="edge-perf")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


def test_cli_json_and_rerun(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(v, "load_predictor", lambda name: FakePredictor())
    monkeypatch.setattr(v, "make_measurer", lambda target, **kw: FakeMeasurer())
    folder = _models(tmp_path / "models", 4)
    db = str(tmp_path / "v.sqlite")
    assert run([folder, "--target", "ethos-u55-128", "--db", db, "--json"]) == 0
    out = capsys.readouterr()
    s = json.loads(out.out)
    assert s["metrics"]["latency_ms"]["n"] == 4
    # off a terminal: the first and the last model's progress line (5 s apart at most)
    assert out.err.splitlines()[0].startswith("validate: 1/4 (25%)")
    assert out.err.splitlines()[-1].startswith("validate: 4/4 (100%)")
    assert run([folder, "--target", "ethos-u55-128", "--db", db, "-q"]) == 0
    out = capsys.readouterr()
    assert "0 measured now, 4 done before" in out.out and "latency_ms" in out.out
    assert out.err == ""


def test_cli_names_every_failed_model_beside_the_bar(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(v, "load_predictor", lambda name: FakePredictor())
    monkeypatch.setattr(v, "make_measurer", lambda target, **kw: FakeMeasurer())
    folder = _models(tmp_path / "models", 4, bad=2)
    assert run([folder, "--target", "ethos-u55-128", "--db", str(tmp_path / "v.sqlite"),
                "--json"]) == 0
    err = capsys.readouterr().err.splitlines()
    failed = [line for line in err if line.startswith("[")]
    assert len(failed) == 2, err
    assert all("bad" in line and " failed " in line for line in failed), failed


@pytest.mark.parametrize("target", ["nonsense", "cpu-somewhereelse-litert-t1"])
def test_cli_bad_target_exit_2_one_line(tmp_path, capsys, target):
    folder = _models(tmp_path / "models", 1)
    assert run([folder, "--target", target, "--db", str(tmp_path / "v.sqlite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and target in err[0]


def test_cli_missing_path_exit_2(tmp_path, capsys):
    assert run([str(tmp_path / "nope"), "--target", "ethos-u55-128"]) == 2
    assert "nope" in capsys.readouterr().err


def test_cli_without_vela_says_install_train_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ethosu", None)
    monkeypatch.setitem(sys.modules, "ethosu.vela", None)
    folder = _models(tmp_path / "models", 1)
    assert run([folder, "--target", "ethos-u55-128", "--db", str(tmp_path / "v.sqlite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".[train]" in err[0] and "Vela" in err[0]


def test_not_a_database_is_input_error(tmp_path, capsys):
    from edge_predictor.errors import InputError

    bad = tmp_path / "v.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a usable validation database"):
        v.ResultStore(str(bad))


def test_cpu_target_measured_live_on_this_host(tmp_path, monkeypatch):
    from edge_predictor import measure, power
    from edge_predictor.errors import UnavailableError

    try:
        target = measure.cpu_target_id(measure.host_fingerprint(threads=1))
    except UnavailableError:
        pytest.skip("no TFLite interpreter installed")
    monkeypatch.setenv(power.ROOT_ENV_VAR, str(tmp_path))  # no power sensor
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"garbage" * 50)

    class Pred(object):
        def __init__(self):
            self.target = target

        def predict(self, path):
            return {"latency_ms": 0.05, "energy_mj": 1.0}

    s = v.validate([fixture_path("conv"), str(bad)], target, str(tmp_path / "v.sqlite"),
                   predictor=Pred(), warmup=1, runs=3, min_time_s=0.0)
    assert s["measured"] == 1 and s["failed"] == 1
    assert "broken.tflite" in s["failures"][0]["error"]
    assert list(s["metrics"]) == ["latency_ms"]  # no sensor: energy is not measured
    host = json.loads(_db_rows(str(tmp_path / "v.sqlite"))[0][6])
    assert host["threads"] == 1 and "cpu_model" in host


@pytest.mark.train
def test_vela_measurer_on_a_fixture(tmp_path):
    pytest.importorskip("ethosu.vela")
    s = v.validate([fixture_path("conv")], "ethos-u55-128", str(tmp_path / "v.sqlite"),
                   predictor=FakePredictor())
    assert s["measured"] == 1 and s["failed"] == 0
    host = json.loads(_db_rows(str(tmp_path / "v.sqlite"))[0][6])
    assert host["labeler"] == "vela" and host["accelerator"] == "ethos-u55-128"
