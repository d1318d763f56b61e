"""The featurizer: shapes, documented columns, transforms, adjacency, round trip of records."""

import os

import numpy as np
import pytest
from conftest import fixture_path

from edge_predictor.featurize import FEATURE_NAMES, FEATURES, dims4, featurize
from edge_predictor.graph import graph_from_record, graph_to_record
from edge_predictor.op_table import CATEGORIES
from edge_predictor.tflite_reader import read_model


def test_every_feature_is_documented_once():
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES))
    for f in FEATURES:
        assert f.transform in ("log1p", "raw") and f.unit and f.doc


def test_shapes_and_categories_on_the_conv_fixture():
    graph = read_model(fixture_path("conv"))
    feats = featurize(graph)
    n = len(graph.ops)
    assert feats.x.shape == (n, len(FEATURES)) and feats.x.dtype == np.float32
    assert [CATEGORIES[c] for c in feats.categories][:3] == ["CONV", "CONV", "ELEMENTWISE"]
    assert np.isfinite(feats.x).all()
    col = FEATURE_NAMES.index("macs")
    assert np.isclose(feats.x[0, col], np.log1p(55296))  # hand computation in EXPECTED.json
    stride = FEATURE_NAMES.index("stride_h")
    assert feats.x[0, stride] in (1.0, 2.0)  # raw transform keeps small integers


def test_output_dims_are_the_edge_features():
    graph = read_model(fixture_path("depthwise"))
    feats = featurize(graph)
    for node in graph.ops:
        out = graph.tensors[node.outputs[0]].shape
        cols = [FEATURE_NAMES.index(c) for c in ("out_n", "out_h", "out_w", "out_c")]
        assert np.allclose(feats.x[node.index, cols], np.log1p(dims4(out)))


def test_adjacency_is_symmetric_and_padded():
    feats = featurize(read_model(fixture_path("transpose_conv")))
    a = feats.adjacency(n_pad=16)
    assert a.shape == (16, 16)
    assert np.array_equal(a, a.T)
    directed = feats.adjacency(symmetric=False)
    assert np.triu(directed, 1).sum() == directed.sum()  # producers come first
    assert a[feats.n_nodes:].sum() == 0


def test_record_round_trip_gives_identical_features(fixture_model):
    _, path, _ = fixture_model
    graph = read_model(path)
    again = graph_from_record(graph_to_record(graph))
    a, b = featurize(graph), featurize(again)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.edges, b.edges)
    assert np.array_equal(a.categories, b.categories)


def test_dims4_right_aligns_and_folds():
    assert dims4(()) == (1, 1, 1, 1)
    assert dims4((10,)) == (1, 1, 1, 10)
    assert dims4((2, 3, 4, 5, 6)) == (6, 4, 5, 6)


def test_live_bytes_follows_tensor_lifetimes():
    from edge_predictor.featurize import FEATURE_NAMES, featurize, live_bytes
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    def t(i, n, const=False):  # an INT8 tensor of n bytes
        return TensorInfo(i, (n,), "INT8", const, True, False)

    # in(100) -> op0 -> a(10) -> op1 -> b(20) -> op2(a, b, w) -> out(5); w is a constant
    tensors = [t(0, 100), t(1, 10), t(2, 20), t(3, 1000, const=True), t(4, 5), t(5, 7)]
    ops = [OpNode(0, "RELU", 19, 1, (0,), (1,)),
           OpNode(1, "RELU", 19, 1, (1,), (2, 5)),  # 5: an output nobody reads
           OpNode(2, "ADD", 0, 1, (1, 2, 3), (4,))]
    g = OpGraph("<test>", ops, tensors, inputs=(0,), outputs=(4,))
    # op0: in + a; op1: a (read by op2 later) + b + dead; op2: a + b + out (weights excluded)
    assert live_bytes(g).tolist() == [110.0, 37.0, 35.0]
    x = featurize(g).x[:, FEATURE_NAMES.index("live_bytes")]
    np.testing.assert_allclose(x, np.log1p([110.0, 37.0, 35.0]), rtol=1e-6)


def test_brick_ratio_rounds_depth_up_to_whole_bricks():
    from edge_predictor.featurize import brick_ratio

    assert brick_ratio(16) == 1.0 and brick_ratio(32) == 1.0
    assert brick_ratio(3) == 16 / 3 and brick_ratio(17) == 32 / 17
    assert brick_ratio(5, brick=8) == 8 / 5
    assert brick_ratio(0) == 1.0  # no depth, no padding


def test_macs_brick_pads_output_and_reduction_depths():
    from edge_predictor.featurize import macs_brick

    # CONV_2D 3x3, in 3 -> out 24: output depth to 32, filter input depth 3 to 8
    conv = {"macs": 10 * 10 * 24 * 9 * 3, "kernel_h": 3, "kernel_w": 3, "groups": 1}
    assert macs_brick(conv, 3, 24) == 10 * 10 * 32 * 9 * 8
    # grouped: in 48 in 2 groups -> filter depth 24, rounded to 24 (a multiple of 8)
    grouped = dict(conv, macs=100 * 32 * 9 * 24, groups=2)
    assert macs_brick(grouped, 48, 32) == 100 * 32 * 9 * 24
    # depthwise: depth 20 -> 32, nothing to reduce over
    dw = {"macs": 100 * 20 * 9, "kernel_h": 3, "kernel_w": 3, "depth_multiplier": 1}
    assert macs_brick(dw, 20, 20) == 100 * 32 * 9
    # FULLY_CONNECTED 1x10 -> 5: K = kernel_w = 10 -> 16, out 5 -> 16
    fc = {"macs": 50, "kernel_w": 10}
    assert np.isclose(macs_brick(fc, 10, 5), 16 * 16)
    assert macs_brick({"macs": 0}, 3, 3) == 0.0  # elementwise ops have no MACs


def test_live_bytes_brick_pads_feature_maps_only():
    from edge_predictor.featurize import FEATURE_NAMES, featurize, live_bytes
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    # in [1,4,4,3] (48 B) -> op0 -> a [1,4,4,20] (320 B) -> op1 -> flat [320]
    tensors = [TensorInfo(0, (1, 4, 4, 3), "INT8", False, True, False),
               TensorInfo(1, (1, 4, 4, 20), "INT8", False, True, False),
               TensorInfo(2, (320,), "INT8", False, True, False)]
    ops = [OpNode(0, "RELU", 19, 1, (0,), (1,)), OpNode(1, "RESHAPE", 22, 1, (1,), (2,))]
    g = OpGraph("<test>", ops, tensors, inputs=(0,), outputs=(2,))
    assert live_bytes(g).tolist() == [368.0, 640.0]
    # 20 -> 32 channels: 512 B; the graph input stays NHWC (48 B); the rank-1 tensor is not a
    # feature map
    assert live_bytes(g, brick=True).tolist() == [48.0 + 512.0, 512.0 + 320.0]
    x = featurize(g).x
    np.testing.assert_allclose(x[:, FEATURE_NAMES.index("live_bytes_brick")],
                               np.log1p([560.0, 832.0]), rtol=1e-6)
    np.testing.assert_allclose(x[:, FEATURE_NAMES.index("in0_c_brick")], np.log1p([16, 32]),
                               rtol=1e-6)
    np.testing.assert_allclose(x[:, FEATURE_NAMES.index("out_c_brick")], np.log1p([32, 320]),
                               rtol=1e-6)


def test_next_weight_bytes_is_the_next_operators_weights():
    from edge_predictor.featurize import FEATURE_NAMES, featurize
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    def t(i, n, const=False):
        return TensorInfo(i, (n,), "INT8", const, True, False)

    # in -> op0(w 100) -> a -> op1 (no weights) -> b -> op2(w 30) -> out
    tensors = [t(0, 4), t(1, 100, True), t(2, 4), t(3, 4), t(4, 30, True), t(5, 4)]
    ops = [OpNode(0, "ADD", 0, 1, (0, 1), (2,)), OpNode(1, "RELU", 19, 1, (2,), (3,)),
           OpNode(2, "ADD", 0, 1, (3, 4), (5,))]
    g = OpGraph("<test>", ops, tensors, inputs=(0,), outputs=(5,))
    x = featurize(g).x[:, FEATURE_NAMES.index("next_weight_bytes")]
    np.testing.assert_allclose(x, np.log1p([0.0, 30.0, 0.0]), rtol=1e-6)


def test_npu_weight_bytes_pads_depths_and_adds_bias_and_scale():
    from edge_predictor.featurize import npu_weight_bytes

    # 1x1 conv 172 -> 224: input depth 172 -> 176 (8), output 224 (a multiple of 16)
    assert npu_weight_bytes("CONV_2D", (224, 1, 1, 172)) == 176 * 224 + 10 * 224
    # a first layer reads its 1 input channel unpadded
    assert npu_weight_bytes("CONV_2D", (20, 3, 3, 1)) == 9 * 1 * 32 + 10 * 20
    assert npu_weight_bytes("DEPTHWISE_CONV_2D", (1, 3, 3, 40)) == 9 * 48 + 10 * 40
    assert npu_weight_bytes("FULLY_CONNECTED", (12, 100)) == 104 * 16 + 10 * 12
    assert npu_weight_bytes("ADD", (4,)) is None


def test_npu_weight_bytes_feature_pads_int8_filters_and_keeps_other_weights_raw():
    from edge_predictor.featurize import FEATURE_NAMES, featurize
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    # in [1,4,4,3] -> CONV_2D (filter [20,3,3,3] INT8, bias [20] INT32) -> a -> ADD (const [20])
    tensors = [TensorInfo(0, (1, 4, 4, 3), "INT8", False, True, False),
               TensorInfo(1, (20, 3, 3, 3), "INT8", True, True, True),
               TensorInfo(2, (20,), "INT32", True, True, True),
               TensorInfo(3, (1, 4, 4, 20), "INT8", False, True, False),
               TensorInfo(4, (20,), "INT8", True, True, False),
               TensorInfo(5, (1, 4, 4, 20), "INT8", False, True, False)]
    ops = [OpNode(0, "CONV_2D", 3, 1, (0, 1, 2), (3,)), OpNode(1, "ADD", 0, 1, (3, 4), (5,))]
    g = OpGraph("<test>", ops, tensors, inputs=(0,), outputs=(5,))
    x = featurize(g).x
    conv = 9 * 3 * 32 + 10 * 20  # input depth 3 < 8 unpadded, output 20 -> 32
    np.testing.assert_allclose(x[:, FEATURE_NAMES.index("npu_weight_bytes")],
                               np.log1p([conv, 20.0]), rtol=1e-6)
    np.testing.assert_allclose(x[:, FEATURE_NAMES.index("next_npu_weight_bytes")],
                               np.log1p([20.0, 0.0]), rtol=1e-6)
    np.testing.assert_allclose(x[:, FEATURE_NAMES.index("weight_bytes")],
                               np.log1p([540.0 + 80.0, 20.0]), rtol=1e-6)


def test_weight_slack_compares_previous_compute_with_this_operators_weights():
    from edge_predictor.featurize import SLACK_DOUBLE_BUFFER, weight_slack

    prev = np.array([0.0, 5000.0, 100.0, 3.0e6])
    w = np.array([300.0, 1000.0, 0.0, 2000.0])
    slack, double = weight_slack(prev, w)
    np.testing.assert_allclose(slack, [np.log(1 / 301.0), np.log(5001 / 1001.0), 0.0,
                                       np.log(3000001 / 2001.0)])
    # 0 < 10 * 300 and 5000 < 10 * 1000: double; no weights: 0; 3e6 > 10 * 2000: single
    np.testing.assert_array_equal(double, [1.0, 1.0, 0.0, 0.0])
    assert SLACK_DOUBLE_BUFFER == 10.0
    edge = weight_slack(np.array([SLACK_DOUBLE_BUFFER * 50.0]), np.array([50.0]))[1]
    assert edge[0] == 0.0  # the ratio must be strictly below the threshold


def test_slack_columns_follow_execution_order():
    from edge_predictor.featurize import FEATURE_NAMES, featurize
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    # in [1,4,4,8] -> CONV_2D 1x1 (filter [16,1,1,8]) -> CONV_2D 1x1 (filter [16,1,1,16]) -> RELU
    tensors = [TensorInfo(0, (1, 4, 4, 8), "INT8", False, True, False),
               TensorInfo(1, (16, 1, 1, 8), "INT8", True, True, True),
               TensorInfo(2, (1, 4, 4, 16), "INT8", False, True, False),
               TensorInfo(3, (16, 1, 1, 16), "INT8", True, True, True),
               TensorInfo(4, (1, 4, 4, 16), "INT8", False, True, False),
               TensorInfo(5, (1, 4, 4, 16), "INT8", False, True, False)]
    ops = [OpNode(0, "CONV_2D", 3, 1, (0, 1), (2,)), OpNode(1, "CONV_2D", 3, 1, (2, 3), (4,)),
           OpNode(2, "RELU", 19, 1, (4,), (5,))]
    g = OpGraph("<test>", ops, tensors, inputs=(0,), outputs=(5,))
    x = featurize(g).x
    col = FEATURE_NAMES.index
    macs = np.expm1(x[:, col("macs_brick")].astype(np.float64))
    np.testing.assert_allclose(macs, [16 * 16 * 8, 16 * 16 * 16, 0.0], rtol=1e-5)
    w = [8 * 16 + 160.0, 16 * 16 + 160.0]  # npu_weight_bytes of the two convolutions
    np.testing.assert_allclose(np.expm1(x[:, col("prev_macs_brick")].astype(np.float64)),
                               [0.0, 2048.0, 4096.0], rtol=1e-5)
    slack = [np.log(1.0 / (1 + w[0])), np.log(2049.0 / (1 + w[1])), 0.0]
    np.testing.assert_allclose(x[:, col("weight_slack")], slack, rtol=1e-5)
    # the first conv hides behind nothing; the second: 2048 < 10 * 416, double-buffered too
    np.testing.assert_array_equal(x[:, col("double_buffer_hint")], [1.0, 1.0, 0.0])
    np.testing.assert_allclose(x[:, col("next_weight_slack")], [slack[1], 0.0, 0.0], rtol=1e-5)
    np.testing.assert_array_equal(x[:, col("next_double_buffer_hint")], [1.0, 0.0, 0.0])


def test_schemas_5_to_10_only_append_columns_to_schema_4():
    # the accuracy bench still reports runs of schemas 4-9 (benches.accuracy.APPEND_ONLY_SCHEMAS)
    # because their columns are a prefix of today's; schema 8 recomputed 7's (same names)
    from edge_predictor.featurize import FEATURE_NAMES, FEATURE_SCHEMA_VERSION

    assert FEATURE_SCHEMA_VERSION == 10
    schema4_tail = ("live_bytes_brick", "next_weight_bytes", "npu_weight_bytes",
                    "next_npu_weight_bytes")
    i = FEATURE_NAMES.index("next_npu_weight_bytes")
    assert FEATURE_NAMES[i - 3:i + 1] == schema4_tail
    assert FEATURE_NAMES[i + 1:] == ("prev_macs_brick", "weight_slack", "double_buffer_hint",
                                     "next_weight_slack", "next_double_buffer_hint",
                                     "sram_weight_bytes", "next_sram_weight_bytes",
                                     "est_cycles", "est_double_buffer", "est_first_buffer_bytes",
                                     "est_kept_buffer_bytes", "est_weight_buffer_bytes",
                                     "next_est_first_buffer_bytes", "est_handover_buffer_bytes",
                                     "est_slack_ratio", "next_est_slack_ratio",
                                     "npu_cost_cycles", "npu_live_bytes",
                                     "npu_scratch_bytes", "npu_energy_pj")


def test_npu_cost_column_is_the_analytical_model():
    from edge_predictor.featurize import FEATURE_NAMES, featurize
    from edge_predictor.npu_cost import npu_cycles

    graph = _conv_chain()
    x = featurize(graph).x
    col = np.expm1(x[:, FEATURE_NAMES.index("npu_cost_cycles")].astype(np.float64))
    np.testing.assert_allclose(col, npu_cycles(graph), rtol=1e-5)
    assert col[0] > 0


def _conv_chain():
    """in [1,4,4,8] -> CONV_2D 1x1 -> DEPTHWISE 3x3 -> FULLY_CONNECTED -> RELU, hand-built."""
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    # in [1,4,4,8] -> CONV_2D 1x1 ([8,1,1,8]) -> DEPTHWISE 3x3 ([1,3,3,8])
    #   -> FULLY_CONNECTED ([4,128]) -> RELU
    tensors = [TensorInfo(0, (1, 4, 4, 8), "INT8", False, True, False),
               TensorInfo(1, (8, 1, 1, 8), "INT8", True, True, True),
               TensorInfo(2, (1, 4, 4, 8), "INT8", False, True, False),
               TensorInfo(3, (1, 3, 3, 8), "INT8", True, True, True),
               TensorInfo(4, (1, 4, 4, 8), "INT8", False, True, False),
               TensorInfo(5, (4, 128), "INT8", True, True, False),
               TensorInfo(6, (1, 4), "INT8", False, True, False),
               TensorInfo(7, (1, 4), "INT8", False, True, False)]
    ops = [OpNode(0, "CONV_2D", 3, 1, (0, 1), (2,)),
           OpNode(1, "DEPTHWISE_CONV_2D", 4, 1, (2, 3), (4,)),
           OpNode(2, "FULLY_CONNECTED", 9, 1, (4, 5), (6,)), OpNode(3, "RELU", 19, 1, (6,), (7,))]
    return OpGraph("<test>", ops, tensors, inputs=(0,), outputs=(7,))


def test_sram_weight_columns_follow_execution_order():
    from edge_predictor.featurize import FEATURE_NAMES, featurize
    from edge_predictor.weight_stream import encoded_weight_bytes

    x = featurize(_conv_chain()).x
    col = FEATURE_NAMES.index
    conv = encoded_weight_bytes("CONV_2D", (8, 1, 1, 8))
    dw = encoded_weight_bytes("DEPTHWISE_CONV_2D", (1, 3, 3, 8))
    # Vela reads FULLY_CONNECTED weights from flash: nothing buffered, unlike npu_weight_bytes
    np.testing.assert_allclose(np.expm1(x[:, col("sram_weight_bytes")].astype(np.float64)),
                               [conv, dw, 0.0, 0.0], rtol=1e-5)
    np.testing.assert_allclose(np.expm1(x[:, col("next_sram_weight_bytes")].astype(np.float64)),
                               [dw, 0.0, 0.0, 0.0], rtol=1e-5)
    assert x[2, col("npu_weight_bytes")] > 0


def test_replayed_schedule_columns():
    from edge_predictor.featurize import FEATURE_NAMES, featurize
    from edge_predictor.npu_schedule import replay_buffering

    x = featurize(_conv_chain()).x.astype(np.float64)
    col = FEATURE_NAMES.index

    def raw(name):
        return np.expm1(x[:, col(name)])

    plan = replay_buffering(raw("est_cycles"), raw("sram_weight_bytes"),
                            np.round(raw("out_c")))
    # the conv has no slack before it but its 8 channels make a single slice (slices are 16
    # deep): one whole buffer. The columns are the replay of the other columns.
    assert x[0, col("est_double_buffer")] == 0 and x[0, col("est_slack_ratio")] < 0
    np.testing.assert_array_equal(x[:, col("est_double_buffer")], plan.double)
    np.testing.assert_allclose(raw("est_weight_buffer_bytes"), plan.whole, rtol=1e-5)
    np.testing.assert_allclose(raw("next_est_first_buffer_bytes")[:-1], plan.first[1:], rtol=1e-5)
    np.testing.assert_allclose(raw("est_handover_buffer_bytes"),
                               raw("est_kept_buffer_bytes") + raw("next_est_first_buffer_bytes"),
                               rtol=1e-5)
    np.testing.assert_allclose(x[:-1, col("next_est_slack_ratio")], x[1:, col("est_slack_ratio")])
    assert (raw("est_cycles") > 0).all()
    assert raw("est_weight_buffer_bytes")[2:].tolist() == [0.0, 0.0]  # FC, RELU: nothing buffered


def _one_conv(in_shape, filter_shape, out_shape):
    """A graph of one int8 CONV_2D (default options: 1x1 stride, VALID), hand-built."""
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    tensors = [TensorInfo(0, in_shape, "INT8", False, True, False),
               TensorInfo(1, filter_shape, "INT8", True, True, True),
               TensorInfo(2, out_shape, "INT8", False, True, False)]
    return OpGraph("<test>", [OpNode(0, "CONV_2D", 3, 1, (0, 1), (2,))], tensors, inputs=(0,),
                   outputs=(2,))


def test_1x1_conv_on_a_1x1_input_is_not_buffered():
    from edge_predictor.featurize import FEATURE_NAMES, featurize

    # Vela runs it as FULLY_CONNECTED (convert_conv_to_fc): weights stay in flash
    x = featurize(_one_conv((1, 1, 1, 64), (12, 1, 1, 64), (1, 1, 1, 12))).x
    assert x[0, FEATURE_NAMES.index("sram_weight_bytes")] == 0
    assert x[0, FEATURE_NAMES.index("npu_weight_bytes")] > 0


def test_grouped_conv_keeps_the_weight_bound_cycles_not_the_block_model():
    from edge_predictor.featurize import FEATURE_NAMES, featurize
    from edge_predictor.npu_schedule import OpGeometry, block_model

    # in [1,16,16,32], filter [32,3,3,8]: 4 groups. Vela splits it into one convolution per
    # group (blocks one group deep); the block model over the whole 32-deep input would charge
    # every output for 32 input channels instead of 8.
    x = featurize(_one_conv((1, 16, 16, 32), (32, 3, 3, 8), (1, 16, 16, 32))).x.astype(np.float64)
    assert x[0, FEATURE_NAMES.index("sram_weight_bytes")] > 0  # buffered
    cycles = np.expm1(x[0, FEATURE_NAMES.index("est_cycles")])
    whole_depth = block_model(OpGeometry("conv", (16, 16, 32), (16, 16, 32), (3, 3), (1, 1),
                                           (1, 1)))[1]
    assert cycles < whole_depth / 2


def _featurize_fresh(graph):
    from edge_predictor.featurize import clear_cache

    clear_cache()
    return featurize(graph)


def test_an_operator_seen_before_gives_the_features_of_a_fresh_featurizer(fixture_model):
    # the same operators in another graph, or the same graph again: the cached operator rows
    # and the neighbour-dependent columns recomputed per graph equal a cold featurization
    graph = read_model(fixture_model[1])
    cold = _featurize_fresh(graph)
    for other in ("conv", "depthwise", "attention"):
        featurize(read_model(fixture_path(other)))
    warm = featurize(graph)
    np.testing.assert_array_equal(warm.x, cold.x)
    np.testing.assert_array_equal(warm.categories, cold.categories)
    np.testing.assert_array_equal(warm.op_ids, cold.op_ids)
    np.testing.assert_array_equal(warm.npu_parts, cold.npu_parts)
    assert warm.unknown_ops == cold.unknown_ops


def test_the_cache_tells_apart_operators_that_differ_in_a_shape_or_a_flag():
    a = _one_conv((1, 8, 8, 16), (32, 1, 1, 16), (1, 8, 8, 32))
    b = _one_conv((1, 8, 8, 16), (32, 1, 1, 16), (1, 8, 8, 32))
    b.tensors[1].per_channel = False  # the same shapes, another quantization
    c = _one_conv((1, 16, 8, 16), (32, 1, 1, 16), (1, 16, 8, 32))  # another input height
    fresh = [_featurize_fresh(g).x for g in (a, b, c)]
    warm = [featurize(g).x for g in (a, b, c)]  # after c: a and b come from the cache
    for x_fresh, x_warm in zip(fresh, warm):
        np.testing.assert_array_equal(x_fresh, x_warm)
    per_channel = FEATURE_NAMES.index("per_channel")
    assert warm[0][0, per_channel] == 1 and warm[1][0, per_channel] == 0
    assert warm[2][0, FEATURE_NAMES.index("in0_h")] != warm[0][0, FEATURE_NAMES.index("in0_h")]


def test_neighbour_columns_are_not_taken_from_the_cache():
    # one CONV_2D alone, then the same CONV_2D read by two operators: fanout and live bytes are
    # the graph's, not those of the graph the operator was first seen in
    from edge_predictor.graph import OpGraph, OpNode, TensorInfo

    alone = _one_conv((1, 8, 8, 16), (32, 1, 1, 16), (1, 8, 8, 32))
    featurize(alone)
    tensors = list(alone.tensors) + [TensorInfo(3, (1, 8, 8, 32), "INT8", False, True, False),
                                     TensorInfo(4, (1, 8, 8, 32), "INT8", False, True, False)]
    ops = list(alone.ops) + [OpNode(1, "RELU", 19, 1, (2,), (3,)),
                             OpNode(2, "RELU", 19, 1, (2,), (4,))]
    fed = OpGraph("<test>", ops, tensors, inputs=(0,), outputs=(3, 4))
    x = featurize(fed).x
    np.testing.assert_array_equal(x, _featurize_fresh(fed).x)
    assert x[0, FEATURE_NAMES.index("fanout")] == np.float32(np.log1p(2))
    assert x[0, FEATURE_NAMES.index("is_graph_output")] == 0


def test_an_operator_with_unhashable_options_is_featurized_without_the_cache():
    graph = _one_conv((1, 8, 8, 16), (32, 1, 1, 16), (1, 8, 8, 32))
    fresh = _featurize_fresh(graph).x
    graph.ops[0].options["note"] = [1, 2]  # a list, as a hand-built graph may hold
    np.testing.assert_array_equal(featurize(graph).x, fresh)


KWS_EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples", "models", "cnn-kws-900000.tflite")


def test_another_accelerator_moves_only_the_replayed_schedule_and_the_cost_built_on_it():
    from edge_predictor.npu_schedule import SCHEDULE_COLUMNS

    graph = read_model(KWS_EXAMPLE)
    base, other = featurize(graph), featurize(graph, "ethos-u55-256")
    sched = [FEATURE_NAMES.index(n) for n in SCHEDULE_COLUMNS + ("npu_cost_cycles",)]
    rest = [c for c in range(len(FEATURE_NAMES)) if c not in sched]
    np.testing.assert_array_equal(base.x[:, rest], other.x[:, rest])
    assert not np.array_equal(base.x[:, sched], other.x[:, sched])
    # also= adds the other configuration's SRAM peak and leaves the features alone
    both = featurize(graph, also=("ethos-u55-256",))
    np.testing.assert_array_equal(both.x, base.x)
    assert set(both.sram_peaks) == {"ethos-u55-128", "ethos-u55-256"}
    assert both.sram_peaks["ethos-u55-256"] == other.sram_peaks["ethos-u55-256"]
    # 256 MACs compute a slice faster: Vela double-buffers smaller slices, the peak drops
    assert both.sram_peaks["ethos-u55-256"] < both.sram_peaks["ethos-u55-128"]


def test_an_unknown_accelerator_is_refused():
    graph = read_model(fixture_path("conv"))
    with pytest.raises(ValueError, match="ethos-u65-512"):
        featurize(graph, "ethos-u65-512")
    with pytest.raises(ValueError, match="known: ethos-u55-128, ethos-u55-256, ethos-u55-32"):
        featurize(graph, also=("ethos-u65-512",))
