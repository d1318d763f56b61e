"""Tests of the analytical energy model's fit (trainer.npu_energy_fit), on synthetic models."""

import numpy as np
import pytest

from edge_predictor.npu_cost import TERMS
from trainer.npu_cost_fit import OpRows
from trainer.npu_energy_fit import coefficient_keys, design_rows, fit_energy_table

pytest.importorskip("scipy")

WSB = TERMS.index("weight_stream_bytes")
OUT = TERMS.index("out_elements_brick")


def _models(rng, n_models, cpu_energy=False):
    """Models of CONV_2D (1,100 pJ per weight byte) and MUL/constant (40 pJ per output brick
    element) operators, some on the CPU (no energy); labels are their exact sums in mJ."""
    models, labels = [], []
    for seed in range(n_models):
        n = int(rng.integers(3, 12))
        kinds = list(rng.choice(["CONV_2D", "MUL/constant", "CONV_2D/cpu"], n, p=[.5, .4, .1]))
        ops = [k.split("/")[0] for k in kinds]
        terms = np.zeros((n, len(TERMS)))
        terms[:, 0] = 1.0
        terms[:, 1:] = rng.uniform(1e2, 1e5, (n, len(TERMS) - 1))
        pj = sum(1100.0 * t[WSB] if k == "CONV_2D" else 40.0 * t[OUT] if k == "MUL/constant"
                 else 0.0 for k, t in zip(kinds, terms))
        models.append(OpRows("s", seed, "train", ops, kinds, terms, np.zeros(n),
                             np.zeros((n, 3)), 0.0, np.ones(n, bool)))
        labels.append(pj * 1e-9)
    return models, np.array(labels)


def test_per_kind_coefficients_are_recovered_from_model_totals():
    models, labels = _models(np.random.default_rng(0), 200)
    table, counts = fit_energy_table(models, labels)
    assert table["CONV_2D"][WSB] == pytest.approx(1100.0, rel=0.02)
    assert table["MUL/constant"][OUT] == pytest.approx(40.0, rel=0.02)
    assert "CONV_2D/cpu" not in table
    assert table["MUL"] == table["MUL/constant"]  # the type's fallback: its common kind
    assert counts["CONV_2D"] > 100


def test_design_rows_sum_terms_per_key_and_drop_the_block_cycles():
    models, _ = _models(np.random.default_rng(1), 30)
    keys = coefficient_keys(models)
    a = design_rows(models, keys)
    k = len(TERMS)
    j = keys.index("CONV_2D")
    m = models[0]
    want = sum(t[WSB] for kind, t in zip(m.kinds, m.terms) if kind == "CONV_2D")
    assert a[0, j * k + WSB] == pytest.approx(want)
    assert not a[:, [i * k + TERMS.index("block_cycles") for i in range(len(keys))]].any()
