"""The op table: every TFLite builtin operator -> (category, feature extractor).

Like Vela's ``tflite_mapping.py``, this is the one place that knows operators by name: supporting
a new operator is one row of :data:`OP_TABLE`. The *category* groups operators whose cost has the
same structure; PerfSAGE's categorical feature encoding (paper Eq. 1) gives each category its own
input weights, so the same feature (say, the output size) can mean different things for a
convolution and an addition. The *extractor* (from :mod:`edge_predictor.op_features`) reads the
operator's cost-relevant hyperparameters and MACs.

Every member of the schema's ``BuiltinOperator`` enum has a row (a test checks it against the
installed ``tflite`` package). Custom operators map to ``CUSTOM``; an operator this table does not
know (a newer schema's builtin) maps to ``OTHER`` with a warning, never an error.
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Tuple

from . import op_features as f

__all__ = ["CATEGORIES", "OP_TABLE", "OP_VOCAB", "OpSpec", "lookup", "category_index",
           "op_index"]

CONV = "CONV"
DEPTHWISE_CONV = "DEPTHWISE_CONV"
TRANSPOSE_CONV = "TRANSPOSE_CONV"
FULLY_CONNECTED = "FULLY_CONNECTED"
MATMUL = "MATMUL"
POOL = "POOL"
REDUCE = "REDUCE"
SOFTMAX = "SOFTMAX"
ELEMENTWISE = "ELEMENTWISE"
ACTIVATION = "ACTIVATION"
NORMALIZATION = "NORMALIZATION"
RESHAPE = "RESHAPE"
DATA_MOVEMENT = "DATA_MOVEMENT"
RESIZE = "RESIZE"
QUANTIZE = "QUANTIZE"
RECURRENT = "RECURRENT"
LOOKUP = "LOOKUP"
CONTROL = "CONTROL"
STATE = "STATE"
SHAPE = "SHAPE"
RANDOM = "RANDOM"
CUSTOM = "CUSTOM"
OTHER = "OTHER"

#: Category names in feature order; the index is the categorical feature of a node.
CATEGORIES: Tuple[str, ...] = (
    CONV, DEPTHWISE_CONV, TRANSPOSE_CONV, FULLY_CONNECTED, MATMUL, POOL, REDUCE, SOFTMAX,
    ELEMENTWISE, ACTIVATION, NORMALIZATION, RESHAPE, DATA_MOVEMENT, RESIZE, QUANTIZE, RECURRENT,
    LOOKUP, CONTROL, STATE, SHAPE, RANDOM, CUSTOM, OTHER,
)


class OpSpec(NamedTuple):
    """One row: the operator's category and its feature extractor."""

    category: str
    extractor: f.Extractor


#: TFLite builtin operator name -> (category, extractor), in builtin-code order.
OP_TABLE: Dict[str, OpSpec] = {k: OpSpec(*v) for k, v in {
    "ADD": (ELEMENTWISE, f.generic),
    "AVERAGE_POOL_2D": (POOL, f.pool2d),
    "CONCATENATION": (DATA_MOVEMENT, f.axis_op),
    "CONV_2D": (CONV, f.conv2d),
    "DEPTHWISE_CONV_2D": (DEPTHWISE_CONV, f.depthwise_conv2d),
    "DEPTH_TO_SPACE": (DATA_MOVEMENT, f.generic),
    "DEQUANTIZE": (QUANTIZE, f.generic),
    "EMBEDDING_LOOKUP": (LOOKUP, f.generic),
    "FLOOR": (ACTIVATION, f.generic),
    "FULLY_CONNECTED": (FULLY_CONNECTED, f.fully_connected),
    "HASHTABLE_LOOKUP": (LOOKUP, f.generic),
    "L2_NORMALIZATION": (NORMALIZATION, f.generic),
    "L2_POOL_2D": (POOL, f.pool2d),
    "LOCAL_RESPONSE_NORMALIZATION": (NORMALIZATION, f.generic),
    "LOGISTIC": (ACTIVATION, f.generic),
    "LSH_PROJECTION": (LOOKUP, f.generic),
    "LSTM": (RECURRENT, f.generic),
    "MAX_POOL_2D": (POOL, f.pool2d),
    "MUL": (ELEMENTWISE, f.generic),
    "RELU": (ACTIVATION, f.generic),
    "RELU_N1_TO_1": (ACTIVATION, f.generic),
    "RELU6": (ACTIVATION, f.generic),
    "RESHAPE": (RESHAPE, f.generic),
    "RESIZE_BILINEAR": (RESIZE, f.generic),
    "RNN": (RECURRENT, f.generic),
    "SOFTMAX": (SOFTMAX, f.softmax),
    "SPACE_TO_DEPTH": (DATA_MOVEMENT, f.generic),
    "SVDF": (RECURRENT, f.generic),
    "TANH": (ACTIVATION, f.generic),
    "CONCAT_EMBEDDINGS": (LOOKUP, f.generic),
    "SKIP_GRAM": (LOOKUP, f.generic),
    "CALL": (CONTROL, f.generic),
    "CUSTOM": (CUSTOM, f.generic),
    "EMBEDDING_LOOKUP_SPARSE": (LOOKUP, f.generic),
    "PAD": (DATA_MOVEMENT, f.pad),
    "UNIDIRECTIONAL_SEQUENCE_RNN": (RECURRENT, f.generic),
    "GATHER": (DATA_MOVEMENT, f.axis_op),
    "BATCH_TO_SPACE_ND": (DATA_MOVEMENT, f.generic),
    "SPACE_TO_BATCH_ND": (DATA_MOVEMENT, f.generic),
    "TRANSPOSE": (DATA_MOVEMENT, f.generic),
    "MEAN": (REDUCE, f.reduce),
    "SUB": (ELEMENTWISE, f.generic),
    "DIV": (ELEMENTWISE, f.generic),
    "SQUEEZE": (RESHAPE, f.generic),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (RECURRENT, f.generic),
    "STRIDED_SLICE": (DATA_MOVEMENT, f.generic),
    "BIDIRECTIONAL_SEQUENCE_RNN": (RECURRENT, f.generic),
    "EXP": (ACTIVATION, f.generic),
    "TOPK_V2": (REDUCE, f.axis_op),
    "SPLIT": (DATA_MOVEMENT, f.axis_op),
    "LOG_SOFTMAX": (SOFTMAX, f.softmax),
    "DELEGATE": (CONTROL, f.generic),
    "BIDIRECTIONAL_SEQUENCE_LSTM": (RECURRENT, f.generic),
    "CAST": (QUANTIZE, f.generic),
    "PRELU": (ELEMENTWISE, f.generic),
    "MAXIMUM": (ELEMENTWISE, f.generic),
    "ARG_MAX": (REDUCE, f.axis_op),
    "MINIMUM": (ELEMENTWISE, f.generic),
    "LESS": (ELEMENTWISE, f.generic),
    "NEG": (ACTIVATION, f.generic),
    "PADV2": (DATA_MOVEMENT, f.pad),
    "GREATER": (ELEMENTWISE, f.generic),
    "GREATER_EQUAL": (ELEMENTWISE, f.generic),
    "LESS_EQUAL": (ELEMENTWISE, f.generic),
    "SELECT": (ELEMENTWISE, f.generic),
    "SLICE": (DATA_MOVEMENT, f.generic),
    "SIN": (ACTIVATION, f.generic),
    "TRANSPOSE_CONV": (TRANSPOSE_CONV, f.transpose_conv),
    "SPARSE_TO_DENSE": (LOOKUP, f.generic),
    "TILE": (DATA_MOVEMENT, f.generic),
    "EXPAND_DIMS": (RESHAPE, f.generic),
    "EQUAL": (ELEMENTWISE, f.generic),
    "NOT_EQUAL": (ELEMENTWISE, f.generic),
    "LOG": (ACTIVATION, f.generic),
    "SUM": (REDUCE, f.reduce),
    "SQRT": (ACTIVATION, f.generic),
    "RSQRT": (ACTIVATION, f.generic),
    "SHAPE": (SHAPE, f.generic),
    "POW": (ELEMENTWISE, f.generic),
    "ARG_MIN": (REDUCE, f.axis_op),
    "FAKE_QUANT": (QUANTIZE, f.generic),
    "REDUCE_PROD": (REDUCE, f.reduce),
    "REDUCE_MAX": (REDUCE, f.reduce),
    "PACK": (DATA_MOVEMENT, f.axis_op),
    "LOGICAL_OR": (ELEMENTWISE, f.generic),
    "ONE_HOT": (DATA_MOVEMENT, f.axis_op),
    "LOGICAL_AND": (ELEMENTWISE, f.generic),
    "LOGICAL_NOT": (ELEMENTWISE, f.generic),
    "UNPACK": (DATA_MOVEMENT, f.axis_op),
    "REDUCE_MIN": (REDUCE, f.reduce),
    "FLOOR_DIV": (ELEMENTWISE, f.generic),
    "REDUCE_ANY": (REDUCE, f.reduce),
    "SQUARE": (ACTIVATION, f.generic),
    "ZEROS_LIKE": (SHAPE, f.generic),
    "FILL": (SHAPE, f.generic),
    "FLOOR_MOD": (ELEMENTWISE, f.generic),
    "RANGE": (SHAPE, f.generic),
    "RESIZE_NEAREST_NEIGHBOR": (RESIZE, f.generic),
    "LEAKY_RELU": (ACTIVATION, f.generic),
    "SQUARED_DIFFERENCE": (ELEMENTWISE, f.generic),
    "MIRROR_PAD": (DATA_MOVEMENT, f.pad),
    "ABS": (ACTIVATION, f.generic),
    "SPLIT_V": (DATA_MOVEMENT, f.axis_op),
    "UNIQUE": (DATA_MOVEMENT, f.axis_op),
    "CEIL": (ACTIVATION, f.generic),
    "REVERSE_V2": (DATA_MOVEMENT, f.generic),
    "ADD_N": (ELEMENTWISE, f.generic),
    "GATHER_ND": (DATA_MOVEMENT, f.generic),
    "COS": (ACTIVATION, f.generic),
    "WHERE": (LOOKUP, f.generic),
    "RANK": (SHAPE, f.generic),
    "ELU": (ACTIVATION, f.generic),
    "REVERSE_SEQUENCE": (DATA_MOVEMENT, f.generic),
    "MATRIX_DIAG": (DATA_MOVEMENT, f.generic),
    "QUANTIZE": (QUANTIZE, f.generic),
    "MATRIX_SET_DIAG": (DATA_MOVEMENT, f.generic),
    "ROUND": (ACTIVATION, f.generic),
    "HARD_SWISH": (ACTIVATION, f.generic),
    "IF": (CONTROL, f.generic),
    "WHILE": (CONTROL, f.generic),
    "NON_MAX_SUPPRESSION_V4": (LOOKUP, f.generic),
    "NON_MAX_SUPPRESSION_V5": (LOOKUP, f.generic),
    "SCATTER_ND": (DATA_MOVEMENT, f.generic),
    "SELECT_V2": (ELEMENTWISE, f.generic),
    "DENSIFY": (QUANTIZE, f.generic),
    "SEGMENT_SUM": (REDUCE, f.axis_op),
    "BATCH_MATMUL": (MATMUL, f.batch_matmul),
    "PLACEHOLDER_FOR_GREATER_OP_CODES": (CONTROL, f.generic),
    "CUMSUM": (REDUCE, f.axis_op),
    "CALL_ONCE": (CONTROL, f.generic),
    "BROADCAST_TO": (DATA_MOVEMENT, f.generic),
    "RFFT2D": (LOOKUP, f.generic),
    "CONV_3D": (CONV, f.conv3d),
    "IMAG": (ACTIVATION, f.generic),
    "REAL": (ACTIVATION, f.generic),
    "COMPLEX_ABS": (ACTIVATION, f.generic),
    "HASHTABLE": (LOOKUP, f.generic),
    "HASHTABLE_FIND": (LOOKUP, f.generic),
    "HASHTABLE_IMPORT": (LOOKUP, f.generic),
    "HASHTABLE_SIZE": (LOOKUP, f.generic),
    "REDUCE_ALL": (REDUCE, f.reduce),
    "CONV_3D_TRANSPOSE": (CONV, f.conv3d),
    "VAR_HANDLE": (STATE, f.generic),
    "READ_VARIABLE": (STATE, f.generic),
    "ASSIGN_VARIABLE": (STATE, f.generic),
    "BROADCAST_ARGS": (SHAPE, f.generic),
    "RANDOM_STANDARD_NORMAL": (RANDOM, f.generic),
    "BUCKETIZE": (LOOKUP, f.generic),
    "RANDOM_UNIFORM": (RANDOM, f.generic),
    "MULTINOMIAL": (RANDOM, f.generic),
    "GELU": (ACTIVATION, f.generic),
    "DYNAMIC_UPDATE_SLICE": (DATA_MOVEMENT, f.generic),
    "RELU_0_TO_1": (ACTIVATION, f.generic),
    "UNSORTED_SEGMENT_PROD": (REDUCE, f.axis_op),
    "UNSORTED_SEGMENT_MAX": (REDUCE, f.axis_op),
    "UNSORTED_SEGMENT_SUM": (REDUCE, f.axis_op),
    "ATAN2": (ELEMENTWISE, f.generic),
    "UNSORTED_SEGMENT_MIN": (REDUCE, f.axis_op),
    "SIGN": (ACTIVATION, f.generic),
    "BITCAST": (RESHAPE, f.generic),
    "BITWISE_XOR": (ELEMENTWISE, f.generic),
    "RIGHT_SHIFT": (ELEMENTWISE, f.generic),
    "STABLEHLO_LOGISTIC": (ACTIVATION, f.generic),
    "STABLEHLO_ADD": (ELEMENTWISE, f.generic),
    "STABLEHLO_DIVIDE": (ELEMENTWISE, f.generic),
    "STABLEHLO_MULTIPLY": (ELEMENTWISE, f.generic),
    "STABLEHLO_MAXIMUM": (ELEMENTWISE, f.generic),
    "STABLEHLO_RESHAPE": (RESHAPE, f.generic),
    "STABLEHLO_CLAMP": (ELEMENTWISE, f.generic),
    "STABLEHLO_CONCATENATE": (DATA_MOVEMENT, f.generic),
    "STABLEHLO_BROADCAST_IN_DIM": (DATA_MOVEMENT, f.generic),
    "STABLEHLO_CONVOLUTION": (CONV, f.generic),
    "STABLEHLO_SLICE": (DATA_MOVEMENT, f.generic),
    "STABLEHLO_CUSTOM_CALL": (CONTROL, f.generic),
    "STABLEHLO_REDUCE": (REDUCE, f.reduce),
    "STABLEHLO_ABS": (ACTIVATION, f.generic),
    "STABLEHLO_AND": (ELEMENTWISE, f.generic),
    "STABLEHLO_COSINE": (ACTIVATION, f.generic),
    "STABLEHLO_EXPONENTIAL": (ACTIVATION, f.generic),
    "STABLEHLO_FLOOR": (ACTIVATION, f.generic),
    "STABLEHLO_LOG": (ACTIVATION, f.generic),
    "STABLEHLO_MINIMUM": (ELEMENTWISE, f.generic),
    "STABLEHLO_NEGATE": (ACTIVATION, f.generic),
    "STABLEHLO_OR": (ELEMENTWISE, f.generic),
    "STABLEHLO_POWER": (ELEMENTWISE, f.generic),
    "STABLEHLO_REMAINDER": (ELEMENTWISE, f.generic),
    "STABLEHLO_RSQRT": (ACTIVATION, f.generic),
    "STABLEHLO_SELECT": (ELEMENTWISE, f.generic),
    "STABLEHLO_SUBTRACT": (ELEMENTWISE, f.generic),
    "STABLEHLO_TANH": (ACTIVATION, f.generic),
    "STABLEHLO_SCATTER": (DATA_MOVEMENT, f.generic),
    "STABLEHLO_COMPARE": (ELEMENTWISE, f.generic),
    "STABLEHLO_CONVERT": (QUANTIZE, f.generic),
    "STABLEHLO_DYNAMIC_SLICE": (DATA_MOVEMENT, f.generic),
    "STABLEHLO_DYNAMIC_UPDATE_SLICE": (DATA_MOVEMENT, f.generic),
    "STABLEHLO_PAD": (DATA_MOVEMENT, f.pad),
    "STABLEHLO_IOTA": (SHAPE, f.generic),
    "STABLEHLO_DOT_GENERAL": (MATMUL, f.generic),
    "STABLEHLO_REDUCE_WINDOW": (POOL, f.generic),
    "STABLEHLO_SORT": (DATA_MOVEMENT, f.generic),
    "STABLEHLO_WHILE": (CONTROL, f.generic),
    "STABLEHLO_GATHER": (DATA_MOVEMENT, f.generic),
    "STABLEHLO_TRANSPOSE": (DATA_MOVEMENT, f.generic),
    "DILATE": (DATA_MOVEMENT, f.generic),
    "STABLEHLO_RNG_BIT_GENERATOR": (RANDOM, f.generic),
    "REDUCE_WINDOW": (POOL, f.generic),
    "STABLEHLO_COMPOSITE": (CONTROL, f.generic),
    "STABLEHLO_SHIFT_LEFT": (ELEMENTWISE, f.generic),
    "STABLEHLO_CBRT": (ACTIVATION, f.generic),
}.items()}

#: Operator vocabulary in feature order: every table row, then ``CUSTOM`` ops, then ``OTHER``.
OP_VOCAB: Tuple[str, ...] = tuple(OP_TABLE) + ("<custom>", "<other>")

_CATEGORY_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
_OP_INDEX = {op: i for i, op in enumerate(OP_VOCAB)}
_UNKNOWN = OpSpec(OTHER, f.generic)
_CUSTOM = OpSpec(CUSTOM, f.generic)


def lookup(op: str) -> Tuple[OpSpec, bool]:
    """The table row of an operator name.

    Args:
        op: a builtin name (``"CONV_2D"``), ``"CUSTOM:<code>"``, or ``"BUILTIN_<n>"``.

    Returns:
        ``(spec, known)``: ``known`` is False for operators outside the table, which get the
        ``OTHER`` category and the generic extractor.
    """
    spec = OP_TABLE.get(op)
    if spec is not None:
        return spec, True
    if op.startswith("CUSTOM:"):
        return _CUSTOM, True
    return _UNKNOWN, False


def category_index(category: str) -> int:
    """Position of a category in :data:`CATEGORIES`."""
    return _CATEGORY_INDEX[category]


def op_index(op: str) -> int:
    """Position of an operator in :data:`OP_VOCAB` (custom and unknown ops share a slot each)."""
    if op in _OP_INDEX:
        return _OP_INDEX[op]
    return _OP_INDEX["<custom>" if op.startswith("CUSTOM:") else "<other>"]
