"""Baselines on synthetic graphs whose truth is known: kernel sum, totals regression, Eagle."""

import os
from types import SimpleNamespace

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: Spektral needs Keras 2

import numpy as np
import pytest

from edge_predictor.featurize import FEATURE_NAMES, FEATURES
from edge_predictor.op_table import OP_VOCAB, category_index, lookup, op_index
from trainer.baselines import dataset_of, kernel_sum, table_from_graphs, totals

COL = {n: i for i, n in enumerate(FEATURE_NAMES)}
TYPES = ("CONV_2D", "ADD", "FULLY_CONNECTED")


def _graph(rng, ops, values):
    """One chain graph: ops[i] with raw feature values[i] (a dict name -> value)."""
    x = np.zeros((len(ops), len(FEATURE_NAMES)), np.float32)
    for i, v in enumerate(values):
        for name, val in v.items():
            j = COL[name]
            x[i, j] = np.log1p(val) if FEATURES[j].transform == "log1p" else val
    edges = np.array([[i, i + 1] for i in range(len(ops) - 1)], np.int32).reshape(-1, 2)
    return SimpleNamespace(x=x, edges=edges, op_ids=np.array([op_index(o) for o in ops]),
                           categories=np.array([category_index(lookup(o)[0].category)
                                                for o in ops]))


def _random_graphs(n, seed=0, types=TYPES, extra=None):
    rng = np.random.default_rng(seed)
    graphs = []
    for g in range(n):
        ops = [t for t in types for _ in range(rng.integers(1, 6))]
        if extra and g < extra[1]:
            ops.append(extra[0])
        rng.shuffle(ops)
        vals = [{"macs": float(rng.integers(1e3, 1e6)), "in_bytes": float(rng.integers(10, 1e4)),
                 "out_elements": float(rng.integers(10, 1e4)),
                 "weight_bytes": float(rng.integers(0, 1e4)),
                 "weight_elements": float(rng.integers(0, 1e4)),
                 "out_bytes": float(rng.integers(10, 1e4))} for _ in ops]
        for v in vals:  # padding to bricks adds up to ~2x the MACs
            v["macs_brick"] = v["macs"] * float(rng.uniform(1.0, 2.0))
        graphs.append(_graph(rng, ops, vals))
    return graphs


def _phi_true(table):
    """Raw phi from the float32-stored features, as the truth (const, macs, in, out, w, brick)."""
    raw = {n: np.expm1(table.x[:, COL[n]].astype(np.float64))
           for n in ("macs", "in_bytes", "out_elements", "weight_bytes", "macs_brick")}
    return np.stack([np.ones(len(table.cat)), raw["macs"], raw["in_bytes"],
                     raw["out_elements"], raw["weight_bytes"], raw["macs_brick"]], axis=1)


def _with_labels(graphs, y_fn, metrics=("latency_ms", "sram_kib")):
    table = table_from_graphs(graphs, ["s"] * len(graphs), range(len(graphs)))
    y = y_fn(table)
    table.labels["t"] = {m: y[:, j] for j, m in enumerate(metrics)}
    return dataset_of(table, "t", metrics)


TRUE_W = {"CONV_2D": [[2e-3, 1e-3], [3e-6, 1e-7], [1e-5, 4e-4], [2e-5, 5e-4], [1e-6, 0.0],
                      [2e-6, 0.0]],
          "ADD": [[1e-3, 0.0], [0.0, 0.0], [4e-5, 1e-4], [3e-5, 2e-4], [0.0, 0.0], [0.0, 0.0]],
          "FULLY_CONNECTED": [[5e-3, 2e-3], [5e-6, 0.0], [0.0, 1e-4], [1e-5, 1e-4],
                              [2e-6, 3e-6], [0.0, 1e-6]]}


def _kernel_truth(table):
    phi = _phi_true(table)  # any other op type costs what ADD costs
    w = np.array([TRUE_W.get(OP_VOCAB[int(o)], TRUE_W["ADD"]) for o in table.op])  # [T, 6, 2]
    per_node = np.einsum("np,npm->nm", phi, w)
    gid = np.repeat(np.arange(len(table.seed)), table.n_nodes)
    y = np.zeros((len(table.seed), 2))
    np.add.at(y, gid, per_node)
    return y


def test_kernel_sum_recovers_per_type_coefficients(tmp_path):
    ds = _with_labels(_random_graphs(80), _kernel_truth)
    model = kernel_sum.fit(ds, min_graphs=1, ridge=0.0)
    assert sorted(model.keys) == sorted("op:" + t for t in TYPES)
    for i, key in enumerate(model.keys):
        np.testing.assert_allclose(model.coef[i], TRUE_W[key[3:]], rtol=1e-5, atol=1e-12)
    test = _with_labels(_random_graphs(20, seed=1), _kernel_truth)
    np.testing.assert_allclose(kernel_sum.predict(model, test), test.y, rtol=1e-6)
    kernel_sum.save(model, str(tmp_path))
    again = kernel_sum.load(str(tmp_path))
    np.testing.assert_allclose(kernel_sum.predict(again, test), kernel_sum.predict(model, test))


def test_kernel_sum_rare_and_unseen_ops_fall_back_to_their_category():
    # MUL appears in 2 training graphs (< min_graphs): it shares the ELEMENTWISE weights
    ds = _with_labels(_random_graphs(40, extra=("MUL", 2)), _kernel_truth)
    model = kernel_sum.fit(ds, min_graphs=5, ridge=1e-9)
    assert "op:MUL" not in model.keys and "cat:ELEMENTWISE" in model.keys
    assert "op:ADD" in model.keys  # ADD is ELEMENTWISE too, but frequent: its own weights
    unseen = _with_labels(_random_graphs(3, seed=2, extra=("LOGISTIC", 3)), _kernel_truth)
    assert kernel_sum.unmapped(model, unseen).tolist() == [1, 1, 1]  # no ACTIVATION weights
    assert np.isfinite(kernel_sum.predict(model, unseen)).all()


def _power_law(table):
    t = totals.totals(dataset_of(table, "t", ("latency_ms",)))
    macs, act_out = t[:, totals.TOTALS.index("macs")], t[:, totals.TOTALS.index("act_out_bytes")]
    return np.stack([2.5 * np.exp(0.7 * macs + 0.2 * act_out),
                     0.1 * np.exp(0.5 * act_out)], axis=1)


def test_totals_linear_fits_an_exact_power_law(tmp_path):
    ds = _with_labels(_random_graphs(60), _power_law)
    model = totals.fit(ds, kind="linear", ridge=0.0)
    test = _with_labels(_random_graphs(15, seed=3), _power_law)
    np.testing.assert_allclose(totals.predict(model, test), test.y, rtol=1e-6)
    totals.save(model, str(tmp_path))
    np.testing.assert_allclose(totals.predict(totals.load(str(tmp_path)), test), test.y,
                               rtol=1e-6)


def test_totals_columns():
    g = _graph(None, ["CONV_2D", "ADD"], [{"macs": 100.0, "out_bytes": 8.0},
                                         {"in_bytes": 16.0, "out_bytes": 4.0}])
    table = table_from_graphs([g], ["s"], [0])
    row = np.expm1(totals.totals(dataset_of(table, "t", ("latency_ms",)))[0])
    named = {k: pytest.approx(v, rel=1e-6) for k, v in zip(totals.TOTALS, row)}  # float32
    assert named["macs"] == 100.0 and named["act_out_bytes"] == 12.0
    assert named["max_out_bytes"] == 8.0 and named["act_in_bytes"] == 16.0
    assert named["n_ops"] == 2 and named["n_edges"] == 1
    assert named["n_conv"] == 1 and named["n_elementwise"] == 1 and named["n_pool"] == 0


def test_totals_gbr_trees_match_sklearn_and_round_trip(tmp_path):
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    x[rng.random(x.shape) < 0.05] = np.nan
    z = np.nan_to_num(x[:, 0]) ** 2 + np.nan_to_num(x[:, 1])
    est = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(x, z)
    base, trees = totals._export_trees(est)
    xt = rng.normal(size=(50, 5))
    xt[::7, 1] = np.nan
    np.testing.assert_allclose(totals._predict_trees(base, trees, xt), est.predict(xt),
                               rtol=1e-10, atol=1e-10)

    ds = _with_labels(_random_graphs(60), _power_law)
    model = totals.fit(ds, kind="gbr", gbr_params={"max_iter": 50, "min_samples_leaf": 5})
    pred = totals.predict(model, ds)
    assert pred.shape == (60, 2) and np.isfinite(pred).all()
    assert float(np.mean(np.abs(pred / ds.y - 1))) < 0.2  # it learned something
    totals.save(model, str(tmp_path))
    np.testing.assert_allclose(totals.predict(totals.load(str(tmp_path)), ds), pred)
    with pytest.raises(ValueError):
        totals.fit(ds, kind="cubic")


def test_eagle_inputs_are_a_normalised_graph_with_a_global_node():
    from trainer.baselines.eagle import eagle_inputs

    a = np.zeros((1, 3, 3), np.float32)
    a[0, 0, 1] = a[0, 1, 0] = 1.0  # nodes 0-1 linked; node 2 is padding
    out = eagle_inputs({"op": np.array([[4, 7, 0]]), "a": a,
                        "mask": np.array([[1.0, 1.0, 0.0]])}, n_ops=10)
    assert out["op"].tolist() == [[10, 4, 7, -1]]
    ah = out["a"][0]
    np.testing.assert_allclose(ah, ah.T)
    assert not ah[3].any() and not ah[:, 3].any()  # padding is isolated
    # degrees (with self loops): global 3, node 0: 3, node 1: 3 -> every entry 1/3
    np.testing.assert_allclose(ah[:3, :3], np.full((3, 3), 1 / 3), rtol=1e-6)


@pytest.mark.train
def test_eagle_builds_trains_one_epoch_and_round_trips(tmp_path):
    pytest.importorskip("spektral")
    from trainer.baselines import eagle

    ds = _with_labels(_random_graphs(24), _kernel_truth)
    events = []
    cfg = eagle.EagleConfig(hidden=8, layers=2, epochs=1, batch_size=8)
    model = eagle.fit(ds.subset(np.arange(18)), ds.subset(np.arange(18, 24)), cfg,
                      progress=events.append)
    assert [e["epoch"] for e in events] == [1] and set(events[0]["val_mape"]) == {
        "latency_ms", "sram_kib"}
    pred = eagle.predict(model, ds)
    assert pred.shape == (24, 2) and np.isfinite(pred).all() and (pred > 0).all()
    eagle.save(model, str(tmp_path))
    assert sorted(os.listdir(str(tmp_path))) == ["model.json", "weights.npz"]
    np.testing.assert_allclose(eagle.predict(eagle.load(str(tmp_path)), ds), pred, rtol=1e-5)
