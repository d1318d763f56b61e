"""Tests of the analytical cost model's fit (trainer.npu_cost_fit), on synthetic operators."""

import numpy as np
import pytest

from edge_predictor.npu_cost import PARTS, TERMS
from trainer.npu_cost_fit import OpRows, _fit_kind, fit_table, trusted
from trainer.store import Store
from trainer.layers_pass import sample_seeds

pytest.importorskip("scipy")


def _terms(rng, n):
    t = np.zeros((n, len(TERMS)))
    t[:, 0] = 1.0
    t[:, 1:] = rng.uniform(1e3, 1e6, (n, len(TERMS) - 1))
    return t


def test_one_physical_term_is_recovered_despite_mislabelled_rows():
    rng = np.random.default_rng(0)
    terms = _terms(rng, 400)
    out_el = TERMS.index("out_elements_brick")
    cycles = 1.5 * terms[:, out_el]
    cycles[:8] = 0.0  # rows Vela printed under another operator's name
    parts = np.zeros((400, len(PARTS)))
    parts[:, 0] = cycles
    coefs = np.array(_fit_kind(terms, parts, cycles))
    pred = np.max(terms @ coefs.T, 1)
    assert np.median(np.abs(pred[8:] / cycles[8:] - 1)) < 0.01
    assert coefs[0][out_el] == pytest.approx(1.5, rel=0.02)


def test_cycles_are_the_max_of_compute_and_flash():
    rng = np.random.default_rng(1)
    terms = _terms(rng, 300)
    npu = 0.9 * terms[:, TERMS.index("block_cycles")]
    flash = 1.0 * terms[:, TERMS.index("weight_stream_bytes")]
    parts = np.stack([npu, np.zeros(300), flash], 1)
    cycles = np.maximum(npu, flash)
    coefs = np.array(_fit_kind(terms, parts, cycles))
    pred = np.max(terms @ coefs.T, 1)
    assert np.median(np.abs(pred / cycles - 1)) < 0.02


def test_fit_table_uses_the_train_split_only_and_skips_cpu_and_untrusted_rows():
    rng = np.random.default_rng(2)
    models = []
    for seed in range(60):
        n = 30
        terms = _terms(rng, n)
        cycles = 2.0 * terms[:, TERMS.index("out_elements_brick")]
        split = "train" if seed < 40 else "test"
        if split == "test":
            cycles = cycles * 100  # would spoil the fit if it were used
        kinds = ["ADD"] * (n - 1) + ["ADD/cpu"]
        valid = np.ones(n, bool)
        valid[0] = False
        models.append(OpRows("s", seed, split, ["ADD"] * n, kinds, terms, cycles,
                             np.stack([cycles, 0 * cycles, 0 * cycles], 1), cycles.sum(), valid))
    table, counts = fit_table(models)
    assert counts["ADD"] == 40 * (30 - 2)
    assert table["ADD"][0][TERMS.index("out_elements_brick")] == pytest.approx(2.0, rel=0.02)
    assert "ADD/cpu" not in table


def test_attribution_v1_distrusts_what_feeds_a_concatenation():
    from tests_graphs import concat_graph

    g = concat_graph()
    assert trusted(g, {}).tolist() == [False, False, True]
    assert trusted(g, {"attribution": 2}).all()


def test_sample_seeds_spread_evenly_and_deterministically(tmp_path):
    store = Store(str(tmp_path))
    with store.writer("models", "sp") as w:
        for seed in range(10):
            w.append({"space": "sp", "seed": seed, "status": "ok" if seed != 3 else "failed"})
    assert sample_seeds(store, "sp", 3) == [0, 4, 7]
    assert sample_seeds(store, "sp", 50) == [0, 1, 2, 4, 5, 6, 7, 8, 9]

