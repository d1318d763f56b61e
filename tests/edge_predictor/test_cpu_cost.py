"""Tests of the analytical host-CPU latency model (edge_predictor.cpu_cost)."""

import numpy as np
import pytest

from edge_predictor.cpu_cost import (CPU_TERMS, FALLBACK, coefficient_key, cost_of, cpu_latency_ms,
                                     cpu_terms, table_digest, table_for)
from edge_predictor.cpu_cost_table import TABLES
from edge_predictor.errors import InputError

from test_npu_cost import _conv_then


def test_key_falls_back_from_type_to_category_to_the_pooled_row():
    table = {"CONV_2D": [1.0] * 5, "category:ACTIVATION": [2.0] * 5, FALLBACK: [3.0] * 5}
    assert coefficient_key("CONV_2D", table) == "CONV_2D"
    assert coefficient_key("RELU6", table) == "category:ACTIVATION"
    assert coefficient_key("CUSTOM:foo", table) == FALLBACK


def test_cost_is_linear_in_the_terms_per_operator_type():
    table = {"CONV_2D": [2.0, 1e-3, 0.0, 0.0, 0.0], FALLBACK: [0.5, 0.0, 0.0, 0.0, 0.0]}
    terms = cpu_terms([np.array([1000.0, 0.0]), np.array([10.0, 10.0]), np.zeros(2),
                       np.zeros(2)])
    assert terms.shape == (2, len(CPU_TERMS)) and terms[:, 0].tolist() == [1.0, 1.0]
    np.testing.assert_allclose(cost_of(["CONV_2D", "RESHAPE"], terms, table), [3.0, 0.5])


def test_every_fitted_table_is_non_negative_and_prices_convolutions():
    for target, table in TABLES.items():
        for key, row in table.items():
            assert len(row) == len(CPU_TERMS) and min(row) >= 0, (target, key)
        assert table["CONV_2D"][CPU_TERMS.index("macs")] > 0  # time grows with the work
        assert len(table_digest(table)) == 64


def test_a_real_graph_gets_a_positive_latency_and_an_unknown_target_is_refused():
    target = sorted(TABLES)[0]
    ms = cpu_latency_ms(_conv_then("RELU"), target)
    assert np.isfinite(ms) and ms > 0
    with pytest.raises(InputError, match="no CPU cost table"):
        table_for("cpu-nowhere")
