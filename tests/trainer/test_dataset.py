"""Training arrays from the store: loading and its cache, the fixed split, upsampling, batches."""

import os

import numpy as np
import pytest
from conftest import fixture_path

from edge_predictor.errors import InputError
from edge_predictor.featurize import featurize
from edge_predictor.graph import graph_to_record
from edge_predictor.tflite_reader import read_model
from trainer import batching
from trainer import dataset as D
from trainer.store import LABELS, MODELS, Store

FIXTURES = ("conv", "depthwise", "transpose_conv", "attention", "float_mlp")


def make_store(root, counts=(("cnn-cifar10", 60), ("cnn-kws", 12))):
    """A small store of real fixture graphs with made-up, graph-dependent labels.

    Adds a failed record, a duplicate key (the first wins), a model without ``energy_mj`` and CPU
    labels of pass 1 and 2.
    """
    graphs = {n: graph_to_record(read_model(fixture_path(n))) for n in FIXTURES}
    nodes = {n: featurize(read_model(fixture_path(n))).n_nodes for n in FIXTURES}
    store = Store(str(root))
    for space, count in counts:
        with store.writer(MODELS, space, shard_size=25) as w:
            for seed in range(count):
                name = FIXTURES[seed % len(FIXTURES)]
                lat = (1.0 + nodes[name]) * (1.0 + 0.01 * (seed % 13))
                labels = {"latency_ms": lat, "sram_kib": 50.0 + 10 * nodes[name] + seed % 7,
                          "energy_mj": 0.1 * lat}
                if space == "cnn-cifar10" and seed == 5:
                    del labels["energy_mj"]
                w.append({"space": space, "seed": seed, "status": "ok", "graph": graphs[name],
                          "labels": {"ethos-u55-128": labels}})
            w.append({"space": space, "seed": count, "status": "failed", "stage": "vela"})
            w.append({"space": space, "seed": 0, "status": "ok", "graph": graphs["conv"],
                      "labels": {"ethos-u55-128": {"latency_ms": 1e6, "sram_kib": 1e6,
                                                   "energy_mj": 1e6}}})
    with store.writer(LABELS, "cpu-test") as w:
        for seed in range(10):
            w.append({"space": "cnn-kws", "seed": seed, "target": "cpu-test", "pass": 1,
                      "labels": {"latency_ms": 2.0 + seed}})
        w.append({"space": "cnn-kws", "seed": 3, "target": "cpu-test", "pass": 2,
                  "labels": {"latency_ms": 99.0}})
    return store


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    make_store(root)
    return str(root)


def test_load_table_dedups_drops_failures_and_caches(store_root, tmp_path):
    cache = str(tmp_path / "cache")
    t = D.load_table(store_root, cache_dir=cache)
    assert len(t.seed) == 72  # 60 + 12, no failed record, no duplicate
    assert len(os.listdir(cache)) == 4  # one file per sealed shard: 25+25+12 and 14 records
    lat = t.labels["ethos-u55-128"]["latency_ms"]
    assert lat.max() < 1e6  # the duplicate key lost to the first record
    t2 = D.load_table(store_root, cache_dir=cache)
    np.testing.assert_array_equal(t.x, t2.x)
    np.testing.assert_array_equal(t.edges, t2.edges)
    assert (t.seed == t2.seed).all() and (t.space == t2.space).all()
    i = int(np.flatnonzero((t.space == "cnn-kws") & (t.seed == 7))[0])
    g = featurize(read_model(fixture_path(FIXTURES[7 % len(FIXTURES)])))
    np.testing.assert_array_equal(t.x[t.node_ptr[i]:t.node_ptr[i + 1]], g.x)
    np.testing.assert_array_equal(t.edges[t.edge_ptr[i]:t.edge_ptr[i + 1]], g.edges)


def test_select_drops_missing_labels_and_reads_cpu_pass_1(store_root):
    t = D.load_table(store_root, cache_dir=None)
    ds = D.select(t, "ethos-u55-128", ["latency_ms", "energy_mj"])
    assert len(ds) == 71 and ds.y.shape == (71, 2)
    assert len(D.select(t, "ethos-u55-128", ["latency_ms"], spaces=["cnn-kws"])) == 12
    cpu = D.select(t, "cpu-test", ["latency_ms"])
    assert len(cpu) == 10
    assert cpu.y[cpu.table.seed[cpu.index] == 3, 0] == 5.0  # pass 1, not the re-measure
    with pytest.raises(KeyError):
        D.select(t, "nope", ["latency_ms"])


def test_split_is_stable_about_80_20_and_never_leaks():
    names = [D.split_of(s, k) for s in ("cnn-cifar10", "vit-cifar100") for k in range(5000)]
    share = {n: names.count(n) / len(names) for n in ("train", "val", "test")}
    assert abs(share["test"] - 0.2) < 0.02
    assert abs(share["val"] - 0.08) < 0.015
    assert names == [D.split_of(s, k) for s in ("cnn-cifar10", "vit-cifar100")
                     for k in range(5000)]
    assert D.split_of("cnn-cifar10", 3) == D.split_of("cnn-cifar10", np.int64(3))


def test_split_independent_of_the_rest_of_the_dataset(store_root):
    t = D.load_table(store_root, cache_dir=None)
    full = D.split(D.select(t, "ethos-u55-128", ["latency_ms"]))
    part = D.split(D.select(t, "ethos-u55-128", ["latency_ms"], spaces=["cnn-kws"]))
    for name in ("train", "val", "test"):
        keys = {(s, k) for s, k in zip(full[name].spaces, t.seed[full[name].index])}
        sub = {(s, k) for s, k in zip(part[name].spaces, t.seed[part[name].index])}
        assert sub == {x for x in keys if x[0] == "cnn-kws"}
    ids = [set(zip(p.spaces, t.seed[p.index])) for p in full.values()]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert sum(len(p) for p in full.values()) == 72


def test_fraction_is_nested(store_root):
    t = D.load_table(store_root, cache_dir=None)
    tr = D.split(D.select(t, "ethos-u55-128", ["latency_ms"]))["train"]
    small, big = D.take_fraction(tr, 0.3), D.take_fraction(tr, 0.6)
    assert set(small.index) <= set(big.index) <= set(tr.index)
    assert D.take_fraction(tr, 1.0) is tr


def test_upsampling_gives_every_space_at_least_10_percent():
    space = np.array(["a"] * 1000 + ["b"] * 30 + ["c"] * 7 + ["d"] * 400)
    t = D.FeatureTable(np.zeros((0, 1), np.float32), np.zeros(0, np.int32),
                       np.zeros(0, np.int32), np.zeros(len(space) + 1, np.int64),
                       np.zeros((0, 2), np.int32), np.zeros(len(space) + 1, np.int64), space,
                       np.arange(len(space)))
    ds = D.Dataset(t, np.arange(len(space)), np.ones((len(space), 1)), "t", ("latency_ms",))
    up = D.upsample(ds)
    c = up.counts()
    assert all(n / len(up) >= 0.1 for n in c.values())
    assert c["a"] == 1000 and c["d"] == 400  # large spaces appear exactly once
    assert c["b"] % 30 == 0 and c["c"] % 7 == 0  # whole repeats
    assert set(up.index) == set(ds.index)
    one = D.Dataset(t, np.arange(1000), np.ones((1000, 1)), "t", ("latency_ms",))
    assert D.upsample(one) is one


def test_normalizer_round_trip(store_root):
    t = D.load_table(store_root, cache_dir=None)
    tr = D.split(D.select(t, "ethos-u55-128", ["latency_ms"]))["train"]
    norm = D.Normalizer.fit(tr)
    again = D.Normalizer.from_json(norm.to_json())
    assert again == norm
    z = norm.apply(t.x)
    assert np.isfinite(z).all() and z.dtype == np.float32
    assert all(s >= D.Normalizer.STD_FLOOR for s in norm.std)
    assert norm.std[int(np.argmax(np.ptp(t.x, axis=0) == 0))] == 1.0  # a constant column
    bad = dict(norm.to_json(), schema_version=-1)
    with pytest.raises(ValueError):
        D.Normalizer.from_json(bad)


@pytest.fixture
def latency_set(store_root):
    """(table, the ethos-u55-128 latency dataset, its normaliser)."""
    t = D.load_table(store_root, cache_dir=None)
    ds = D.select(t, "ethos-u55-128", ["latency_ms"])
    return t, ds, D.Normalizer.fit(ds)


def test_padded_batches(latency_set):
    t, ds, norm = latency_set
    seen = []
    for inputs, rows in batching.batches(ds, 8, norm, rng=np.random.default_rng(0)):
        sizes = t.n_nodes[ds.index[rows]]
        b, n, f = inputs["x"].shape
        assert n == sizes.max() and b == len(rows) <= 8
        assert inputs["a"].shape == (b, n, n)
        assert (inputs["a"] == inputs["a"].transpose(0, 2, 1)).all()
        for j, r in enumerate(rows):
            g, k = ds.index[r], sizes[j]
            assert inputs["mask"][j].sum() == k and (inputs["mask"][j, :k] == 1).all()
            np.testing.assert_allclose(inputs["x"][j, :k],
                                       norm.apply(t.x[t.node_ptr[g]:t.node_ptr[g + 1]]),
                                       rtol=1e-5, atol=1e-5)
            assert (inputs["x"][j, k:] == 0).all() and (inputs["a"][j, k:] == 0).all()
            e = t.edges[t.edge_ptr[g]:t.edge_ptr[g + 1]]
            assert inputs["a"][j].sum() == 2 * len(e)
            assert (inputs["cat"][j, :k] == t.cat[t.node_ptr[g]:t.node_ptr[g + 1]]).all()
        seen.extend(rows.tolist())
    assert sorted(seen) == list(range(len(ds)))
    # similar sizes batch together: sorted evaluation batches never mix the largest and smallest
    spans = [np.ptp(t.n_nodes[ds.index[r]]) for _, r in batching.batches(ds, 8, norm)]
    assert min(spans) == 0


def test_disjoint_batches_hold_the_same_graphs_as_padded_ones(latency_set):
    t, ds, norm = latency_set
    seen = []
    for inputs, rows in batching.disjoint_batches(ds, 8, norm, rng=np.random.default_rng(0)):
        sizes = t.n_nodes[ds.index[rows]]
        n = int(inputs["n_nodes"])
        assert n == sizes.sum() == len(inputs["x"]) == len(inputs["cat"]) == len(inputs["seg"])
        assert (np.diff(inputs["seg"]) >= 0).all()  # sorted: tf.math.segment_* need it
        assert np.bincount(inputs["seg"], minlength=len(rows)).tolist() == sizes.tolist()
        idx = inputs["a_idx"]
        assert (np.lexsort(idx.T[::-1]) == np.arange(len(idx))).all()  # row-major order
        a = np.zeros((n, n))
        a[idx[:, 0], idx[:, 1]] = 1.0
        assert a.sum() == len(idx)  # no duplicate entries
        assert (a == a.T).all() and np.trace(a) == 0
        # no edge between two graphs: the adjacency is block diagonal
        assert (inputs["seg"][idx[:, 0]] == inputs["seg"][idx[:, 1]]).all()
        off = 0
        for j, r in enumerate(rows):
            g, k = ds.index[r], sizes[j]
            np.testing.assert_allclose(inputs["x"][off:off + k],
                                       norm.apply(t.x[t.node_ptr[g]:t.node_ptr[g + 1]]),
                                       rtol=1e-5, atol=1e-5)
            e = t.edges[t.edge_ptr[g]:t.edge_ptr[g + 1]]
            block = a[off:off + k, off:off + k]
            assert block.sum() == 2 * len(e) and (block[e[:, 0], e[:, 1]] == 1).all()
            off += k
        seen.extend(rows.tolist())
    assert sorted(seen) == list(range(len(ds)))


def test_load_table_refuses_a_missing_store(tmp_path):
    with pytest.raises(InputError, match="no dataset store"):
        D.load_table(str(tmp_path / "nowhere"), cache_dir=None)
