"""Tests of the analytical NPU energy model (edge_predictor.npu_energy)."""

import numpy as np
import pytest

from edge_predictor.npu_cost import TERMS
from edge_predictor.npu_energy import energy_of, kind_coefficients, npu_energy_mj, table_digest
from edge_predictor.npu_energy_table import COEFFICIENTS

from test_npu_cost import _conv_then

WSB = TERMS.index("weight_stream_bytes")


def test_energy_is_terms_times_the_kind_row_with_fallbacks_and_none_on_the_cpu():
    table = {"CONV_2D": [0.0] * WSB + [1000.0] + [0.0] * (len(TERMS) - WSB - 1),
             "category:ELEMENTWISE": [5.0] + [0.0] * (len(TERMS) - 1)}
    terms = np.zeros((4, len(TERMS)))
    terms[:, 0] = 1.0
    terms[:, WSB] = 300.0
    ops = ["CONV_2D", "CONV_2D", "ADD", "RELU"]
    kinds = ["CONV_2D", "CONV_2D/cpu", "ADD/constant", "RELU/fused"]
    pj = energy_of(ops, kinds, terms, table)
    assert pj[0] == pytest.approx(300e3)  # 1 nJ per streamed weight byte
    assert pj[1] == 0.0  # left to the CPU: not the NPU's energy
    assert pj[2] == 5.0  # ADD/constant -> ADD -> its category
    assert kind_coefficients("RELU/fused", "RELU", table).tolist() == [0.0] * len(TERMS)


def test_fitted_table_is_non_negative_and_prices_weights_near_the_flash_constant():
    for key, row in COEFFICIENTS.items():
        assert len(row) == len(TERMS) and min(row) >= 0, key
    # the label prices a flash byte at 1,111 pJ; convolution weights are streamed once
    assert 800 < COEFFICIENTS["CONV_2D"][WSB] < 1400
    assert 800 < COEFFICIENTS["FULLY_CONNECTED"][WSB] < 1400
    assert len(table_digest()) == 64


def test_a_real_graph_gets_a_positive_finite_energy():
    e = npu_energy_mj(_conv_then("RELU"))
    assert np.isfinite(e) and e > 0
