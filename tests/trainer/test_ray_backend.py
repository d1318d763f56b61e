"""trainer.ray_backend on a local multi-node Ray cluster: a head with two CPUs and a 'board'
node that declares a live target. Where tasks land, retries of killed workers, resumption
without duplicates, labels measured (for real, on fixture models) on the board only."""

import functools
import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import fixture_path

ray = pytest.importorskip("ray")

import fake_records  # noqa: E402
from trainer.generate import generate  # noqa: E402
from trainer.store import LABELS, MODELS, Store  # noqa: E402

pytestmark = pytest.mark.slow

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BOARD = "cpu-testboard"


@pytest.fixture(scope="module")
def cluster():
    """``(address, {node id prefix: role})`` of a head (2 CPUs) and a board (1 CPU, one unit
    of ``target:cpu-testboard``), this process connected as the driver."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    board = c.add_node(num_cpus=1, resources={"target:" + BOARD: 1})
    ray.init(address=c.address, logging_level="ERROR", log_to_driver=False)
    # the stand-in factories live beside the tests, off the workers' path: send them by value
    ray.cloudpickle.register_pickle_by_value(fake_records)
    roles = {c.head_node.node_id[:8]: "head", board.node_id[:8]: "board"}
    try:
        yield c.address, roles, c
    finally:
        ray.shutdown()
        c.shutdown()


def _roles(nodes, roles):
    return {roles[n.rsplit("/", 1)[1]] for n in nodes}


def _raw_seeds(root):
    """Every seed written anywhere under ``root``, sealed or partial, duplicates kept."""
    seeds = []
    for d, _, files in os.walk(root):
        for name in files:
            if name.endswith((".jsonl", ".jsonl.gz")):
                with open(os.path.join(d, name), "rb") as f:
                    body = f.read()
                body = gzip.decompress(body) if name.endswith(".gz") else body
                seeds += [json.loads(x)["seed"] for x in body.splitlines() if x.endswith(b"}")]
    return seeds


def test_models_spread_over_every_cpu_and_a_rerun_continues(cluster, tmp_path):
    address, roles, _ = cluster
    store = Store(str(tmp_path))
    seen = []
    slow = functools.partial(fake_records.slow_record, 0.3)
    stats = generate("cnn-kws", 24, store=store, factory=slow, shard_size=7, ray=address,
                     progress=lambda d, t, r, nodes: seen.append((d, t, sum(nodes.values()))))
    assert {k: stats[k] for k in ("todo", "ok", "failed", "lost")} == {
        "todo": 24, "ok": 21, "failed": 3, "lost": 0}  # 3, 10, 17 fail
    assert sum(stats["nodes"].values()) == 24
    assert _roles(stats["nodes"], roles) == {"head", "board"}  # three CPUs, both nodes
    assert seen[-1] == (24, 24, 24)
    again = generate("cnn-kws", 30, store=store, factory=fake_records.fake_record, ray=address)
    assert again["todo"] == 6
    assert sorted(_raw_seeds(str(tmp_path))) == list(range(30))


def test_a_killed_worker_is_retried_and_nothing_is_duplicated(cluster, tmp_path):
    address, _, _ = cluster
    markers = tmp_path / "markers"
    markers.mkdir()
    factory = functools.partial(fake_records.crash_once_record, str(markers))
    stats = generate("cnn-kws", 12, store=Store(str(tmp_path / "data")), factory=factory,
                     ray=address)
    assert sorted(os.listdir(markers)) == ["killed-2", "killed-5"]  # the kills happened
    assert stats["lost"] == 0 and stats["ok"] + stats["failed"] == 12
    assert sorted(_raw_seeds(str(tmp_path / "data"))) == list(range(12))


def test_a_killed_driver_loses_only_what_was_in_flight(cluster, tmp_path):
    address, _, _ = cluster
    data = str(tmp_path)
    code = ("import sys, functools; sys.path[:0] = [{here!r}, {root!r}]; import fake_records, "
            "ray; ray.cloudpickle.register_pickle_by_value(fake_records); "
            "from trainer.generate import generate; from trainer.store import Store; "
            "generate('cnn-kws', 40, store=Store({data!r}), shard_size=5, ray={address!r}, "
            "factory=functools.partial(fake_records.slow_record, 0.2))").format(
                here=HERE, root=ROOT, data=data, address=address)

    def run():
        return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, start_new_session=True)

    proc = run()
    deadline = time.time() + 60
    while len(_raw_seeds(data)) < 5 and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 5 <= len(_raw_seeds(data)) < 40
    assert run().wait(timeout=120) == 0
    assert sorted(_raw_seeds(data)) == list(range(40))


def _store_of_fixture_models(root, cache):
    """Models whose ``.tflite`` (fixtures) sit in the driver's cache, as generation leaves
    them; seeds far from any real cache entry."""
    store = Store(str(root))
    names = ["conv", "depthwise", "transpose_conv", "float_mlp"]
    with store.writer(MODELS, "cnn-kws") as w:
        for i, name in enumerate(names):
            seed = 10 ** 9 + i
            with open(fixture_path(name), "rb") as f:
                content = f.read()
            dst = cache / "cnn-kws" / "cnn-kws-{}.tflite".format(seed)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(content)
            w.append({"space": "cnn-kws", "seed": seed, "status": "ok",
                      "sha256": hashlib.sha256(content).hexdigest()})
    return store, len(names)


def test_measurements_run_on_the_board_alone_and_keep_its_fingerprint(cluster, tmp_path,
                                                                     monkeypatch):
    from benches.labelers.cpu import cpu_target
    from trainer.ray_backend import cpu_pass_ray

    address, roles, _ = cluster
    monkeypatch.setenv("EDGE_PERF_CACHE", str(tmp_path / "cache"))
    store, n = _store_of_fixture_models(tmp_path / "data", tmp_path / "cache")
    notes = []
    stats = cpu_pass_ray(address, store, min_time_s=0.01,
                         progress=lambda d, t, note: notes.append(note))
    target = cpu_target(threads=1)  # the board is this machine
    assert stats["targets"] == {target: {"resource": "target:" + BOARD, "todo": n,
                                         "measured": n, "failed": 0, "lost": 0}}
    assert _roles(stats["nodes"], roles) == {"board"}
    assert len(notes) == n and all("ms [" in x for x in notes)
    labels = list(store.records(LABELS, target))
    assert len(labels) == n
    for r in labels:
        assert r["labels"]["latency_ms"] > 0
        assert r["prov"]["host"]["cpu_model"] and r["prov"]["host"]["threads"] == 1
    again = cpu_pass_ray(address, store, targets=[BOARD], min_time_s=0.01)
    assert again["targets"][target]["todo"] == 0


def test_a_board_that_leaves_loses_only_its_models_and_a_rerun_finishes(cluster, tmp_path,
                                                                       monkeypatch):
    from trainer.ray_backend import cpu_pass_ray

    address, _, c = cluster
    monkeypatch.setenv("EDGE_PERF_CACHE", str(tmp_path / "cache"))
    store, n = _store_of_fixture_models(tmp_path / "data", tmp_path / "cache")
    board = c.add_node(num_cpus=0, resources={"target:cpu-leaving": 1})
    c.wait_for_nodes()

    def leave_after_the_first(done, total, note):
        if done == 1:
            c.remove_node(board)

    stats = cpu_pass_ray(address, store, targets=["cpu-leaving"], min_time_s=0.3,
                         progress=leave_after_the_first)
    counts = next(iter(stats["targets"].values()))
    assert counts["measured"] >= 1 and counts["lost"] >= 1 and counts["failed"] == 0
    assert counts["measured"] + counts["lost"] == n
    board = c.add_node(num_cpus=0, resources={"target:cpu-leaving": 1})
    c.wait_for_nodes()
    again = next(iter(cpu_pass_ray(address, store, targets=["cpu-leaving"],
                                   min_time_s=0.01)["targets"].values()))
    assert again["todo"] == counts["lost"] and again["measured"] == counts["lost"]
    c.remove_node(board)


def test_a_target_no_node_declares_is_an_input_error(cluster, tmp_path):
    from edge_predictor.errors import InputError
    from trainer.ray_backend import cpu_pass_ray

    address, _, _ = cluster
    with pytest.raises(InputError, match="target:cpu-nowhere.*declared: target:" + BOARD):
        cpu_pass_ray(address, Store(str(tmp_path)), targets=["cpu-nowhere"])


@pytest.mark.train
def test_real_models_are_identical_to_a_local_run(cluster, tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    pytest.importorskip("ethosu")

    address, _, _ = cluster
    monkeypatch.setenv("EDGE_PERF_CACHE", str(tmp_path / "cache"))
    local, remote = Store(str(tmp_path / "local")), Store(str(tmp_path / "ray"))
    assert generate("cnn-kws", 1, seed_from=3, store=local)["ok"] == 1
    assert generate("cnn-kws", 1, seed_from=3, store=remote, ray=address)["ok"] == 1
    a, b = next(local.records(MODELS)), next(remote.records(MODELS))
    for key in ("sha256", "size", "graph", "labels", "raw"):
        assert a[key] == b[key], key
