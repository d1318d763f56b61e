"""The op table covers the whole BuiltinOperator enum and every row is usable."""

from edge_predictor.op_table import CATEGORIES, OP_TABLE, OP_VOCAB, lookup, op_index
from edge_predictor.tflite_reader import builtin_op_names


def test_every_builtin_operator_has_a_row():
    missing = sorted(set(builtin_op_names().values()) - set(OP_TABLE))
    assert missing == []


def test_rows_have_known_categories_and_callable_extractors():
    for op, spec in OP_TABLE.items():
        assert spec.category in CATEGORIES, op
        assert callable(spec.extractor), op


def test_paper_table2_operators_are_not_other():
    for op in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "PAD", "ADD",
               "MUL", "POW", "TANH", "SOFTMAX", "RESHAPE", "TRANSPOSE", "STRIDED_SLICE",
               "CONCATENATION", "BATCH_MATMUL", "GELU", "MEAN", "HARD_SWISH"):
        spec, known = lookup(op)
        assert known and spec.category != "OTHER", op


def test_vocabulary_indices():
    assert OP_VOCAB[op_index("CONV_2D")] == "CONV_2D"
    assert OP_VOCAB[op_index("CUSTOM:Foo")] == "<custom>"
    assert OP_VOCAB[op_index("BUILTIN_999")] == "<other>"
    spec, known = lookup("BUILTIN_999")
    assert not known and spec.category == "OTHER"
