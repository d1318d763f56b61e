"""Tests of the analytical NPU cost model (edge_predictor.npu_cost), on hand-built graphs."""

import numpy as np
import pytest

from edge_predictor.graph import OpGraph, OpNode, TensorInfo
from edge_predictor.npu_cost import (PARTS, TERMS, apply_table, coefficients, cost_kinds,
                                     cost_terms, npu_cycles)
from edge_predictor.npu_cost_table import COEFFICIENTS


def _t(i, shape, const=False, dtype="INT8"):
    return TensorInfo(i, tuple(shape), dtype, const, True, False, "t{}".format(i))


def _graph(ops, tensors, inputs=(0,), outputs=None):
    nodes = [OpNode(k, op, 0, 1, tuple(ins), tuple(outs), dict(opts))
             for k, (op, ins, outs, opts) in enumerate(ops)]
    outputs = outputs if outputs is not None else nodes[-1].outputs
    return OpGraph("<test>", nodes, tensors, tuple(inputs), tuple(outputs))


def _conv_then(act, stride=1, fanout=1):
    """input -> CONV_2D -> act (-> a second reader of the conv output when fanout=2)."""
    tensors = [_t(0, (1, 8, 8, 16)), _t(1, (16, 3, 3, 16), True), _t(2, (16,), True, "INT32"),
               _t(3, (1, 8 // stride, 8 // stride, 16)), _t(4, (1, 8 // stride, 8 // stride, 16)),
               _t(5, (1, 8 // stride, 8 // stride, 16))]
    ops = [("CONV_2D", (0, 1, 2), (3,), {"stride_h": stride, "stride_w": stride}),
           (act, (3,), (4,), {})]
    if fanout == 2:
        ops.append(("ADD", (3, 4), (5,), {}))
    return _graph(ops, tensors)


def test_activation_after_single_consumer_conv_is_fused():
    assert cost_kinds(_conv_then("LOGISTIC")) == ["CONV_2D", "LOGISTIC/fused"]
    # the convolution's output is read twice: the activation is a pass of its own
    assert cost_kinds(_conv_then("LOGISTIC", fanout=2))[:2] == ["CONV_2D", "LOGISTIC"]


def test_stride_above_three_and_float_go_to_the_cpu():
    assert cost_kinds(_conv_then("RELU", stride=4))[0] == "CONV_2D/cpu"
    tensors = [_t(0, (1, 4), dtype="FLOAT32"), _t(1, (1, 4), dtype="FLOAT32")]
    assert cost_kinds(_graph([("TANH", (0,), (1,), {})], tensors)) == ["TANH/cpu"]


def test_terms_count_bricks():
    g = _conv_then("RELU")
    terms = cost_terms(g, np.array([100.0, 0.0]), np.array([5.0, 0.0]), np.array([7.0, 0.0]))
    assert terms.shape == (2, len(TERMS))
    assert terms[0].tolist() == [1.0, 100.0, 5.0, 8 * 8 * 16, 8 * 8 * 16, 7.0]


def test_cycles_are_the_max_of_the_parts_with_fallbacks():
    g = _conv_then("RELU", fanout=2)
    kinds = cost_kinds(g)
    terms = np.ones((3, len(TERMS)))
    table = {"CONV_2D": [[1.0] + [0.0] * 5, [3.0] + [0.0] * 5, [2.0] + [0.0] * 5],
             "category:ELEMENTWISE": [[0.0] * 5 + [10.0], [0.0] * 6, [0.0] * 6]}
    cycles = apply_table(g, terms, kinds, table)
    assert cycles[0] == 3.0  # max(compute 1, SRAM 3, flash 2)
    assert cycles[1] == 0.0  # RELU: no row, no category row -> 0
    assert cycles[2] == 10.0  # ADD falls back to its category
    assert coefficients("CONV_2D/cpu", "CONV_2D", table).shape == (len(PARTS), len(TERMS))
    assert not coefficients("CONV_2D/cpu", "CONV_2D", table).any()


def test_fitted_table_is_well_formed_and_costs_a_real_graph():
    for key, rows in COEFFICIENTS.items():
        assert len(rows) == len(PARTS) and all(len(r) == len(TERMS) for r in rows), key
        assert min(min(r) for r in rows) >= 0, key
    cycles = npu_cycles(_conv_then("RELU"))
    assert cycles[0] > 0 and np.isfinite(cycles).all()


def test_empty_graph_costs_nothing():
    g = _graph([], [_t(0, (1, 4))], outputs=(0,))
    assert apply_table(g, np.zeros((0, len(TERMS))), [], COEFFICIENTS).shape == (0,)


@pytest.mark.parametrize("act", ["HARD_SWISH", "TANH", "GELU"])
def test_every_lut_activation_can_fuse(act):
    assert cost_kinds(_conv_then(act))[1] == act + "/fused"


def test_another_accelerator_scales_only_the_compute_part():
    from edge_predictor.npu_blocks import ACCELERATORS
    from edge_predictor.npu_cost import compute_scale, part_cycles

    np.testing.assert_array_equal(compute_scale(), np.ones(len(TERMS)))
    # half the MACs and elementwise units: MACs and elements cost twice the cycles
    np.testing.assert_array_equal(compute_scale(ACCELERATORS["ethos-u55-64"]),
                                  [1, 1, 2, 2, 2, 1])
    # twice the elementwise units; MAC-bound compute no faster than the 128's (on Vela's
    # per-layer cycles of the pool models, BATCH_MATMUL and FULLY_CONNECTED are not)
    np.testing.assert_array_equal(compute_scale(ACCELERATORS["ethos-u55-256"]),
                                  [1, 1, 1, 0.5, 0.5, 1])
    table = {"X": [[0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 3], [0, 0, 0, 0, 0, 0]]}
    terms = np.array([[1.0, 0.0, 100.0, 10.0, 0.0, 20.0]])
    base = part_cycles(["X"], ["X"], terms, table)
    small = part_cycles(["X"], ["X"], terms, table, arch=ACCELERATORS["ethos-u55-32"])
    np.testing.assert_allclose(base, [[110, 60, 0]])
    np.testing.assert_allclose(small, [[4 * 100 + 4 * 10, 60, 0]])  # memory parts unchanged
