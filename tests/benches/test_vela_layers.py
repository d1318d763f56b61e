"""Tests of Vela's per-layer report attributed to TFLite operators (benches.labelers.vela_layers).

The CSVs under ``data/vela_per_layer/`` were written by Vela 5.2 (``--verbose-performance``,
ethos-u55-128, default system config) for the fixtures of the same name.
"""

import os

import pytest

from benches.labelers.vela_layers import (attribute, parse_per_layer_csv, per_operator,
                                          tflite_op_name)
from edge_predictor.tflite_reader import read_model

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "vela_per_layer")
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")


def _load(name):
    with open(os.path.join(FIXTURES, name + ".tflite"), "rb") as f:
        graph = read_model(f.read())
    rows = parse_per_layer_csv(os.path.join(DATA, name + "_per-layer.csv"))
    return graph, rows, per_operator(rows, attribute(rows, graph), len(graph.ops))


def test_op_names():
    assert tflite_op_name("DepthwiseConv2D") == "DEPTHWISE_CONV_2D"
    assert tflite_op_name("Concat") == "CONCATENATION"
    assert tflite_op_name("TransposeConv2D") == "TRANSPOSE_CONV"
    assert tflite_op_name("SquaredDifference") == "SQUARED_DIFFERENCE"
    assert tflite_op_name("FullyConnected") == "FULLY_CONNECTED"


@pytest.mark.parametrize("name", ["attention", "transpose_conv"])
def test_every_row_is_placed_and_cycles_add_up(name):
    graph, rows, ops = _load(name)
    assert ops["unmatched_cycles"] == 0
    assert sum(ops["cycles"]) == pytest.approx(sum(r["cycles"] for r in rows))
    assert sum(ops["rows"]) == len(rows)
    assert len(ops["cycles"]) == len(graph.ops)


def test_decomposed_and_removed_operators():
    graph, rows, ops = _load("attention")
    kinds = [op.op for op in graph.ops]
    softmax = kinds.index("SOFTMAX")
    assert ops["rows"][softmax] == 29  # Vela lowers SOFTMAX into 29 NPU passes
    assert ops["cycles"][softmax] == 12218
    for k, kind in enumerate(kinds):
        if kind == "RESHAPE":  # removed by Vela: no row, no cycle
            assert ops["rows"][k] == 0 and ops["cycles"][k] == 0
    # SQUARED_DIFFERENCE: 8 passes under Vela's own tensor names (..._32bit/Mul/Sub ...)
    assert ops["rows"][kinds.index("SQUARED_DIFFERENCE")] == 8
    # the transposes Vela inserts for a BATCH_MATMUL's operand belong to the matmul
    assert [ops["rows"][k] for k, kind in enumerate(kinds) if kind == "BATCH_MATMUL"] == [2, 2]


def test_transpose_conv_written_into_its_concatenation():
    graph, _, ops = _load("transpose_conv")
    kinds = [op.op for op in graph.ops]
    # Vela prints the transposed convolution under the concatenation's output name
    assert ops["cycles"][kinds.index("TRANSPOSE_CONV")] == 5600
    assert ops["cycles"][kinds.index("CONCATENATION")] == 8352


@pytest.mark.train
def test_label_vela_layers_sum_to_the_summary():
    pytest.importorskip("ethosu.vela")
    from benches.labelers.vela import label_vela

    with open(os.path.join(FIXTURES, "depthwise.tflite"), "rb") as f:
        content = f.read()
    res = label_vela(content, layers=True)
    layers = res["raw"]["layers"]
    assert layers["unmatched_cycles"] == 0
    assert sum(layers["cycles"]) == pytest.approx(res["raw"]["cycles_total"])
    assert "layers" not in label_vela(content)["raw"]
