"""The featurizer: shapes, documented columns, transforms, adjacency, round trip of records."""

import numpy as np
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
