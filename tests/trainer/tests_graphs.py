"""Hand-built operator graphs for trainer tests (no TensorFlow)."""

from edge_predictor.graph import OpGraph, OpNode, TensorInfo


def concat_graph():
    """in -> CONV_2D a, in -> CONV_2D b, (a, b) -> CONCATENATION."""
    t = [TensorInfo(i, (1, 4, 4, 8), "INT8", False, True, False, "t{}".format(i))
         for i in range(4)]
    ops = [OpNode(0, "CONV_2D", 3, 1, (0,), (1,), {}), OpNode(1, "CONV_2D", 3, 1, (0,), (2,), {}),
           OpNode(2, "CONCATENATION", 2, 1, (1, 2), (3,), {})]
    return OpGraph("<test>", ops, t, (0,), (3,))
