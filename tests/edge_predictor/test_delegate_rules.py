"""Tests of which quantized operators the CPU's default delegate refuses for their scales
(edge_predictor.delegate_rules; pure Python, hand-built tensors and one written model)."""

import pytest

from edge_predictor.delegate_rules import (ADD_SCALE_RANGE, MUL_SCALE_RANGE,
                                           graph_off_delegate, off_delegate)
from edge_predictor.graph import TensorInfo
from edge_predictor.op_writer import write_op
from edge_predictor.tflite_reader import read_model


def _t(scale, dtype="INT8"):
    return TensorInfo(0, (1, 4), dtype, False, scale > 0, False, scale=scale)


@pytest.mark.parametrize("op", ["ADD", "SUB"])
def test_add_and_sub_are_refused_when_an_input_over_the_output_leaves_the_range(op):
    lo, hi = ADD_SCALE_RANGE
    out = _t(0.1)
    assert not off_delegate(op, [_t(0.1), _t(0.05)], out)
    assert not off_delegate(op, [_t(0.1 * lo), _t(0.1)], out)  # the low end is taken
    assert off_delegate(op, [_t(0.1 * lo * 0.99), _t(0.1)], out)
    assert off_delegate(op, [_t(0.1), _t(0.1 * hi)], out)  # the high end is not
    assert off_delegate(op, [_t(4e-9), _t(0.1)], out)  # a converter's zero layer-norm offset


def test_mul_is_judged_by_the_product_of_its_input_scales():
    lo, _ = MUL_SCALE_RANGE
    out = _t(1.0)
    assert not off_delegate("MUL", [_t(1e-3), _t(1e-1)], out)  # each alone would fail ADD's
    assert off_delegate("MUL", [_t(lo ** 0.5 * 0.9), _t(lo ** 0.5 * 0.9)], out)


def test_float_unread_and_other_operators_are_never_refused():
    assert not off_delegate("ADD", [_t(1e-9, "FLOAT32"), _t(1.0, "FLOAT32")], _t(1.0, "FLOAT32"))
    assert not off_delegate("ADD", [_t(0.0), _t(0.1)], _t(0.1))  # scales not read (records)
    assert not off_delegate("CONV_2D", [_t(1e-9), _t(0.1)], _t(0.1))
    assert not off_delegate("ADD", [_t(1e-9)], _t(0.1))


def test_a_written_model_is_read_with_its_scales_and_judged():
    spec = {"op": "ADD", "hw": 4, "cin": 8, "broadcast": "channels"}
    ok = read_model(write_op(spec), name="ok")
    bad = read_model(write_op(dict(spec, const_scale=1e-8)), name="bad")
    assert [t.scale for t in bad.tensors if t.is_constant] == [pytest.approx(1e-8)]
    assert graph_off_delegate(ok).tolist() == [False]
    assert graph_off_delegate(bad).tolist() == [True]
