"""trainer.cpu_pass: which models each pass measures, resumption, failures, the noise floor.

The measurement itself is replaced by a fake (the live path is exercised by the benches'
labeler tests); what is checked here is the bookkeeping the datasheet's figures rest on."""

import pytest

import benches.labelers.cpu as cpu_labeler
import trainer.cpu_pass as cp
from trainer.store import LABELS, MODELS, Store

TARGET = "cpu-fake-litert-t1"


@pytest.fixture
def store(tmp_path, monkeypatch):
    s = Store(str(tmp_path))
    with s.writer(MODELS, "cnn-kws") as w:
        for seed in range(60):
            w.append({"space": "cnn-kws", "seed": seed, "status": "ok", "sha256": str(seed)})
        w.append({"space": "cnn-kws", "seed": 60, "status": "failed", "stage": "vela"})
    calls = []

    def fake_label(content, threads=1, warmup=10, runs=30, min_time_s=0.5):
        calls.append(content)
        if content == b"broken":
            raise RuntimeError("interpreter refused it")
        return {"labels": {"latency_ms": float(len(calls))}, "raw": {}, "provenance": {}}

    monkeypatch.setattr(cpu_labeler, "cpu_target", lambda threads=1: TARGET)
    monkeypatch.setattr(cpu_labeler, "label_cpu", fake_label)
    monkeypatch.setattr(cp, "_model_bytes",
                        lambda rec: b"broken" if rec["seed"] == 7 else b"m%d" % rec["seed"])
    s.calls = calls
    return s


def test_noise_sample_is_deterministic_and_about_the_fraction():
    picked = [s for s in range(4000) if cp.in_noise_sample("cnn-kws", s)]
    assert picked == [s for s in range(4000) if cp.in_noise_sample("cnn-kws", s)]
    assert 0.035 < len(picked) / 4000 < 0.065
    assert not any(cp.in_noise_sample("cnn-kws", s, fraction=0.0) for s in range(100))


def test_pass_one_measures_each_ok_model_once_resumes_and_keeps_going_past_failures(store):
    events = []
    stats = cp.cpu_pass(store, limit=20, progress=lambda d, t, n: events.append((d, t)))
    assert stats == {"target": TARGET, "todo": 20, "measured": 19, "failed": 1}  # seed 7
    assert events[-1] == (20, 20)
    stats = cp.cpu_pass(store)  # resumes: the 19 measured are not measured again
    assert stats["todo"] == 41 and stats["measured"] == 40  # 60 ok - 19 done; seed 7 again
    seeds = sorted(r["seed"] for r in store.records(LABELS, TARGET))
    assert seeds == [s for s in range(60) if s != 7]


def test_pass_two_remeasures_only_the_noise_sample_and_the_floor_compares_passes(store):
    cp.cpu_pass(store)
    cp.cpu_pass(store, pass_no=2, fraction=0.2)
    second = sorted(r["seed"] for r in store.records(LABELS, TARGET) if r["pass"] == 2)
    assert second and second == [s for s in range(60)
                                 if s != 7 and cp.in_noise_sample("cnn-kws", s, 0.2)]
    floor = cp.noise_floor(store)[TARGET]
    assert floor["n"] == len(second) and floor["mape"] > 0  # the fake returns new values
    assert set(floor["per_space"]) == {"cnn-kws"}
