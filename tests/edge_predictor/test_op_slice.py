"""Tests of cutting one operator out of a model, and writing one of a chosen shape
(edge_predictor.op_slice, edge_predictor.op_writer): the models run in the interpreter and
read back with the shapes, types and options they were given."""

import numpy as np
import pytest

from conftest import EXPECTED, fixture_path

from edge_predictor import interpreters
from edge_predictor.featurize import featurize, raw_columns
from edge_predictor.measure import random_inputs
from edge_predictor.op_slice import ModelView, SliceError, slice_op
from edge_predictor.op_writer import WRITABLE, write_op
from edge_predictor.tflite_reader import read_model

RUNNABLE = [n for n in sorted(EXPECTED) if n != "custom_op"]


def _run(model: bytes):
    it = interpreters.make_interpreter(model)
    random_inputs(it, seed=0)
    it.invoke()
    return it


@pytest.mark.parametrize("name", RUNNABLE)
def test_every_operator_of_a_fixture_cuts_into_a_model_that_runs(name):
    with open(fixture_path(name), "rb") as f:
        buf = f.read()
    whole = read_model(buf)
    view = ModelView(buf)
    assert view.n_ops == len(whole.ops)
    for i, node in enumerate(whole.ops):
        alone = read_model(slice_op(view, i))
        assert [n.op for n in alone.ops] == [node.op]
        assert alone.ops[0].options == node.options
        # the same tensors: shapes, types, quantization; constants keep their data
        assert [t < 0 for t in alone.ops[0].inputs] == [t < 0 for t in node.inputs]
        for a, b in zip(alone.ops[0].inputs + alone.ops[0].outputs, node.inputs + node.outputs):
            if b < 0:  # an omitted optional input stays omitted
                continue
            ta, tb = alone.tensors[a], whole.tensors[b]
            assert (ta.shape, ta.dtype, ta.is_constant) == (tb.shape, tb.dtype, tb.is_constant)
        it = _run(slice_op(view, i))
        assert [tuple(d["shape"]) for d in it.get_output_details()] == [
            tuple(whole.tensors[t].shape) for t in node.outputs]


@pytest.mark.parametrize("spec", [
    {"op": "CONV_2D", "hw": 9, "cin": 4, "cout": 8, "kernel": 3, "stride": 2, "act": "RELU6",
     "padding": "VALID"},
    {"op": "DEPTHWISE_CONV_2D", "hw": 8, "cin": 8, "kernel": 5, "stride": 2, "act": "RELU"},
    {"op": "AVERAGE_POOL_2D", "hw": 8, "cin": 4, "kernel": 3, "stride": 2},
], ids=lambda s: s["op"])
def test_a_cut_operator_computes_what_the_original_computes(spec):
    # options, weights and quantization copied exactly: the same outputs, bit for bit
    model = write_op(spec, seed=5)
    a = interpreters.make_interpreter(model)
    b = interpreters.make_interpreter(slice_op(ModelView(model), 0))
    x = random_inputs(a, seed=3)[0]
    b.set_tensor(b.get_input_details()[0]["index"], x)
    a.invoke()
    b.invoke()
    out = [it.get_tensor(it.get_output_details()[0]["index"]) for it in (a, b)]
    assert out[0].shape == out[1].shape and np.array_equal(out[0], out[1])


def test_out_of_range_operator_is_a_slice_error():
    with open(fixture_path("conv"), "rb") as f:
        view = ModelView(f.read())
    with pytest.raises(SliceError, match="out of range"):
        slice_op(view, view.n_ops)


SPECS = [
    ({"op": "CONV_2D", "hw": 9, "cin": 8, "cout": 16, "kernel": 3, "stride": 2, "act": "RELU"},
     (1, 5, 5, 16), 5 * 5 * 9 * 8 * 16),
    ({"op": "CONV_2D", "hw": 8, "cin": 16, "cout": 16, "kernel": 3, "groups": 4}, (1, 8, 8, 16),
     8 * 8 * 9 * 4 * 16),
    ({"op": "CONV_2D", "hw": 9, "cin": 4, "cout": 8, "kernel": 3, "padding": "VALID"},
     (1, 7, 7, 8), 7 * 7 * 9 * 4 * 8),
    ({"op": "DEPTHWISE_CONV_2D", "hw": 8, "cin": 8, "kernel": 5, "stride": 1}, (1, 8, 8, 8),
     8 * 8 * 25 * 8),
    ({"op": "FULLY_CONNECTED", "cin": 32, "cout": 10}, (1, 10), 320),
    ({"op": "AVERAGE_POOL_2D", "hw": 8, "cin": 4, "kernel": 2, "stride": 2}, (1, 4, 4, 4), 0),
    ({"op": "MAX_POOL_2D", "hw": 8, "cin": 4, "kernel": 3, "stride": 1}, (1, 8, 8, 4), 0),
    ({"op": "ADD", "hw": 4, "cin": 8}, (1, 4, 4, 8), 0),
    ({"op": "SUB", "hw": 4, "cin": 8, "broadcast": True}, (1, 4, 4, 8), 0),
    ({"op": "SQUARED_DIFFERENCE", "hw": 4, "cin": 8, "broadcast": True}, (1, 4, 4, 8), 0),
    ({"op": "MUL", "hw": 4, "cin": 8}, (1, 4, 4, 8), 0),
    ({"op": "HARD_SWISH", "hw": 4, "cin": 8}, (1, 4, 4, 8), 0),
    ({"op": "LOGISTIC", "hw": 4, "cin": 8}, (1, 4, 4, 8), 0),
    ({"op": "RELU6", "hw": 4, "cin": 8}, (1, 4, 4, 8), 0),
    ({"op": "TANH", "hw": 4, "cin": 8}, (1, 4, 4, 8), 0),
    ({"op": "LEAKY_RELU", "hw": 4, "cin": 8}, (1, 4, 4, 8), 0),
    ({"op": "SOFTMAX", "hw": 4, "cin": 8}, (1, 4, 4, 8), 0),
    ({"op": "FULLY_CONNECTED", "rows": 4, "cin": 8, "cout": 3}, (1, 4, 3), 4 * 8 * 3),
    ({"op": "MEAN", "hw": 4, "cin": 8}, (1, 1, 1, 8), 0),
    ({"op": "MEAN", "hw": 4, "cin": 8, "axis": "channels"}, (1, 4, 4, 1), 0),
    ({"op": "BATCH_MATMUL", "heads": 2, "rows": 5, "cin": 8, "cout": 3}, (1, 2, 5, 3),
     2 * 5 * 8 * 3),
]


def test_every_writable_operator_is_covered_here():
    assert {s["op"] for s, _, _ in SPECS} | {"RELU"} == set(WRITABLE)


@pytest.mark.parametrize("spec,out_shape,macs", SPECS, ids=[s["op"] for s, _, _ in SPECS])
def test_written_operator_runs_with_the_shape_and_work_asked(spec, out_shape, macs):
    model = write_op(spec, seed=1)
    it = _run(model)
    assert tuple(it.get_output_details()[0]["shape"]) == out_shape
    graph = read_model(model)
    assert [n.op for n in graph.ops] == [spec["op"]]
    assert graph.tensors[graph.ops[0].inputs[0]].dtype == "INT8"
    assert raw_columns(featurize(graph), ("macs",))[0][0] == pytest.approx(macs, rel=1e-5)


def test_a_written_leaky_relu_keeps_a_tenth_of_negative_inputs():
    it = _run(write_op({"op": "LEAKY_RELU", "hw": 4, "cin": 8}, seed=1))
    x = it.get_tensor(it.get_input_details()[0]["index"]).astype(int).ravel()
    y = it.get_tensor(it.get_output_details()[0]["index"]).astype(int).ravel()
    assert (x < -20).any() and (x > 0).any()
    np.testing.assert_allclose(y, np.where(x < 0, 0.1 * x, x), atol=1)


def test_written_weights_follow_the_seed():
    spec = {"op": "CONV_2D", "hw": 4, "cin": 4, "cout": 4, "kernel": 3}
    assert write_op(spec, seed=1) == write_op(spec, seed=1) != write_op(spec, seed=2)


@pytest.mark.parametrize("spec,match", [
    ({"op": "RESHAPE", "cin": 4}, "cannot write RESHAPE"),
    ({"op": "CONV_2D", "hw": 2, "cin": 4, "cout": 4, "kernel": 5, "padding": "VALID"},
     "no output"),
])
def test_unwritable_specs_say_why(spec, match):
    with pytest.raises(ValueError, match=match):
        write_op(spec)
