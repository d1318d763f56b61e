"""The append-only store: sealing, torn lines, orphans, and SIGKILL-safe resumable generation."""

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from trainer.generate import generate
from trainer.store import LABELS, MODELS, Store

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_writer_seals_full_shards_and_reads_back(tmp_path):
    store = Store(str(tmp_path))
    with store.writer(MODELS, "cnn-kws", shard_size=3) as w:
        for seed in range(7):
            w.append({"space": "cnn-kws", "seed": seed, "status": "ok"})
    shards = sorted(os.listdir(tmp_path / "models" / "cnn-kws"))
    assert len(shards) == 3  # 3 + 3 + 1
    assert os.listdir(tmp_path / ".partial") == []
    assert sorted(store.done_seeds("cnn-kws")) == list(range(7))
    with gzip.open(tmp_path / "models" / "cnn-kws" / shards[0]) as f:
        assert len(f.read().splitlines()) == 3


def test_torn_last_line_and_orphans(tmp_path):
    store = Store(str(tmp_path))
    os.makedirs(store.partial_dir)
    orphan = os.path.join(store.partial_dir, "labels__cpu-x__20260101T000000-999999-0.jsonl")
    with open(orphan, "wb") as f:
        f.write(json.dumps({"target": "cpu-x", "space": "s", "seed": 1}).encode() + b"\n")
        f.write(b'{"target": "cpu-x", "spa')  # killed mid-write
    assert [r["seed"] for r in store.records(LABELS)] == [1]
    assert store.seal_orphans() == 1  # pid 999999 is not running
    assert os.listdir(store.partial_dir) == []
    assert [r["seed"] for r in store.records(LABELS, "cpu-x")] == [1]


def test_a_partial_already_sealed_is_not_duplicated(tmp_path):
    store = Store(str(tmp_path))
    os.makedirs(store.partial_dir)
    name = "models__cnn-kws__20260101T000000-999999-0.jsonl"
    line = json.dumps({"space": "cnn-kws", "seed": 5}).encode() + b"\n"
    for _ in range(2):  # crash between the rename of the shard and the unlink of the partial
        with open(os.path.join(store.partial_dir, name), "wb") as f:
            f.write(line)
        store.seal_orphans()
    assert len(os.listdir(tmp_path / "models" / "cnn-kws")) == 1
    assert [r["seed"] for r in store.records(MODELS)] == [5]


def test_generate_skips_done_seeds_and_records_failures(tmp_path):
    from fake_records import fake_record

    store = Store(str(tmp_path))
    first = generate("cnn-kws", 10, store=store, factory=fake_record, shard_size=4)
    assert first == {"todo": 10, "ok": 9, "failed": 1}
    again = generate("cnn-kws", 12, store=store, factory=fake_record, shard_size=4)
    assert again["todo"] == 2
    recs = list(store.records(MODELS, "cnn-kws"))
    assert sorted(r["seed"] for r in recs) == list(range(12))
    assert sorted(r["seed"] for r in recs if r["status"] != "ok") == [3, 10]  # seed % 7 == 3


def _run_generator(data, count, workers):
    code = ("import sys; sys.path.insert(0, {here!r}); from fake_records import fake_record;"
            "from trainer.generate import generate; from trainer.store import Store;"
            "generate('cnn-kws', {count}, workers={workers}, store=Store({data!r}),"
            " factory=fake_record, shard_size=5)").format(here=HERE, count=count,
                                                          workers=workers, data=data)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, start_new_session=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_at_any_moment_loses_nothing_and_duplicates_nothing(tmp_path, workers):
    data = str(tmp_path)
    count = 120
    for delay in (0.6, 0.9, 1.3, 0.4):
        proc = _run_generator(data, count, workers)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: parent and workers
        proc.wait()
    proc = _run_generator(data, count, workers)
    assert proc.wait(timeout=120) == 0
    seeds = [r["seed"] for r in Store(data).records(MODELS, "cnn-kws")]
    assert sorted(seeds) == list(range(count))
    # no duplicates on disk either, sealed or partial
    raw = []
    for d, _, files in os.walk(data):
        for name in files:
            with open(os.path.join(d, name), "rb") as f:
                body = f.read()
            body = gzip.decompress(body) if name.endswith(".gz") else body
            raw += [json.loads(x)["seed"] for x in body.splitlines() if x.endswith(b"}")]
    assert len(raw) == len(set(raw)) == count


@pytest.mark.train
@pytest.mark.slow
def test_real_generation_of_two_kws_models(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    pytest.importorskip("ethosu")
    from edge_predictor.graph import graph_from_record

    monkeypatch.setenv("EDGE_PERF_CACHE", str(tmp_path / "cache"))
    store = Store(str(tmp_path / "data"))
    stats = generate("cnn-kws", 2, seed_from=11, store=store)
    assert stats == {"todo": 2, "ok": 2, "failed": 0}
    recs = sorted(store.records(MODELS, "cnn-kws"), key=lambda r: r["seed"])
    assert [r["seed"] for r in recs] == [11, 12]
    for r in recs:
        labels = r["labels"]["ethos-u55-128"]
        assert labels["latency_ms"] > 0 and labels["sram_kib"] > 0 and labels["energy_mj"] > 0
        assert r["prov"]["ethos-u55-128"]["energy_is_estimate"] is True
        graph = graph_from_record(r["graph"])
        assert 5 <= len(graph.ops) <= 25
        cached = tmp_path / "cache" / "cnn-kws" / "cnn-kws-{}.tflite".format(r["seed"])
        assert len(cached.read_bytes()) == r["size"]
