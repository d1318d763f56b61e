"""The columns of PerfSAGE's node features: :data:`FEATURES`, one documented row per column.

Each :class:`Feature` names a column, its unit and its transform (``log1p`` or ``raw``);
:func:`edge_predictor.featurize.featurize` fills them in this order. Values are raw numbers
after the transform; normalisation statistics belong to the trained predictor, not to this
schema. Change the list, and :data:`FEATURE_SCHEMA_VERSION` must change with it: a bundle trained
on one schema refuses another.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

import numpy as np

from .op_features import HYPER_SLOTS

__all__ = ["FEATURE_SCHEMA_VERSION", "Feature", "FEATURES", "FEATURE_NAMES", "LOG_TRANSFORMED"]

#: 2: live_bytes; 3: NPU bricks (depths, MACs, live bytes), next weights; 4: graph inputs and
#: outputs unpadded in live_bytes_brick, NPU weight-stream sizes (this and the next operator);
#: 5: appended the weight-buffering slack columns (this and the next operator); 6: appended the
#: estimated encoded weight bytes Vela buffers in SRAM (this and the next operator); 7: appended
#: Vela's weight buffering replayed from estimated cycles (:mod:`edge_predictor.npu_schedule`);
#: 8: the same columns, replayed in Vela's OFM blocks and cycles (:mod:`.npu_blocks`); 9: appended
#: the analytical per-operator NPU cycles (:mod:`edge_predictor.npu_cost`); 10: appended Vela's
#: live SRAM bytes and SOFTMAX scratch (:mod:`.npu_memory`), the analytical energy
#: (:mod:`.npu_energy`)
#: A bundle is read only by the schema it was trained on (both shipped bundles: 10).
FEATURE_SCHEMA_VERSION = 10


class Feature(NamedTuple):
    """One column of the node-feature matrix."""

    name: str
    unit: str
    transform: str  # "log1p" or "raw"
    doc: str


_HYPER_DOCS = {
    "kernel_h": ("elements", "log1p", "kernel/filter height (FC: 0; CONV_3D: depth*height)"),
    "kernel_w": ("elements", "log1p", "kernel width; FULLY_CONNECTED/BATCH_MATMUL: reduction K"),
    "stride_h": ("elements", "raw", "stride along height"),
    "stride_w": ("elements", "raw", "stride along width"),
    "dilation_h": ("factor", "raw", "dilation along height"),
    "dilation_w": ("factor", "raw", "dilation along width"),
    "padding_same": ("flag", "raw", "1 for SAME padding, 0 for VALID (windowed ops)"),
    "act_relu": ("flag", "raw", "fused RELU"),
    "act_relu6": ("flag", "raw", "fused RELU6"),
    "act_other": ("flag", "raw", "other fused activation (TANH, RELU_N1_TO_1, ...)"),
    "depth_multiplier": ("factor", "raw", "DEPTHWISE_CONV_2D depth multiplier"),
    "groups": ("count", "log1p", "CONV_2D groups (input depth / filter depth)"),
    "axis": ("index", "raw", "axis counted from the end (-1 = last), axis operators"),
    "keep_dims": ("flag", "raw", "reductions: keep_dims"),
    "reduced_elements": ("elements", "log1p",
                         "reductions: inputs per output; SOFTMAX: axis length; PAD: growth"),
    "adj_x": ("flag", "raw", "BATCH_MATMUL adj_x"),
    "adj_y": ("flag", "raw", "BATCH_MATMUL adj_y"),
    "macs": ("MAC", "log1p", "multiply-accumulates (conv, depthwise, transpose conv, FC, matmul)"),
}

_IO = [
    ("in0_n", "elements", "log1p", "first activation input, dim N of its right-aligned 4-D shape"),
    ("in0_h", "elements", "log1p", "first activation input, dim H"),
    ("in0_w", "elements", "log1p", "first activation input, dim W"),
    ("in0_c", "elements", "log1p", "first activation input, dim C"),
    ("in1_n", "elements", "log1p", "second input (activation, else constant), dim N"),
    ("in1_h", "elements", "log1p", "second input, dim H"),
    ("in1_w", "elements", "log1p", "second input, dim W"),
    ("in1_c", "elements", "log1p", "second input, dim C"),
    ("n_act_inputs", "count", "raw", "activation (non-constant) inputs"),
    ("n_const_inputs", "count", "raw", "constant inputs (weights, biases, shape operands)"),
    ("in_bytes", "bytes", "log1p", "bytes of all activation inputs"),
    ("weight_elements", "elements", "log1p", "elements of all constant inputs"),
    ("weight_bytes", "bytes", "log1p", "bytes of all constant inputs"),
    ("per_channel", "flag", "raw", "a constant input is quantized per channel"),
    ("dtype_int8", "flag", "raw", "output dtype INT8 or UINT8"),
    ("dtype_int16", "flag", "raw", "output dtype INT16"),
    ("dtype_float", "flag", "raw", "output dtype FLOAT32/FLOAT16/BFLOAT16"),
    ("dtype_int32", "flag", "raw", "output dtype INT32/INT64/BOOL"),
    ("out_n", "elements", "log1p", "edge feature: output dim N (right-aligned 4-D)"),
    ("out_h", "elements", "log1p", "edge feature: output dim H"),
    ("out_w", "elements", "log1p", "edge feature: output dim W"),
    ("out_c", "elements", "log1p", "edge feature: output dim C"),
    ("out_rank", "count", "raw", "edge feature: rank of the first output"),
    ("out_elements", "elements", "log1p", "edge feature: elements of all outputs"),
    ("out_bytes", "bytes", "log1p", "edge feature: bytes of all outputs"),
    ("n_outputs", "count", "raw", "output tensors"),
    ("fanout", "count", "log1p", "consuming operators of the outputs"),
    ("is_graph_output", "flag", "raw", "an output is a graph output"),
    ("live_bytes", "bytes", "log1p", "bytes of the activation tensors alive while the operator "
     "runs (its inputs and outputs and all produced earlier and read later): memory pressure"),
    ("in0_c_brick", "elements", "log1p", "in0_c rounded up to a brick of 16 channels (NPU layout)"),
    ("out_c_brick", "elements", "log1p", "out_c rounded up to a brick of 16 channels"),
    ("macs_brick", "MAC", "log1p", "MACs with the output depth rounded up to 16 and the reduction "
     "depth to 8 (depthwise: depth to 16): the MACs an NPU that computes in bricks performs"),
    ("live_bytes_brick", "bytes", "log1p", "live_bytes with every rank-4 activation's depth "
     "rounded up to 16, as the NPU lays feature maps out in SRAM (NHCWB16); graph inputs and "
     "outputs stay NHWC, unpadded"),
    ("next_weight_bytes", "bytes", "log1p", "weight_bytes of the next operator in execution "
     "order: the weights an NPU prefetches into SRAM while this operator runs"),
    ("npu_weight_bytes", "bytes", "log1p", "weight_bytes as an NPU weight stream before "
     "compression: INT8 filters with their depths padded and 10 B of bias and scale per output "
     "channel (:func:`npu_weight_bytes`); other operators: weight_bytes"),
    ("next_npu_weight_bytes", "bytes", "log1p", "npu_weight_bytes of the next operator in "
     "execution order"),
    # schema 5 (appended: schema-4 bundles read the columns above unchanged)
    ("prev_macs_brick", "MAC", "log1p", "macs_brick of the previous operator in execution order: "
     "the compute that hides the transfer of this operator's weights"),
    ("weight_slack", "log ratio", "raw", "ln((1 + prev_macs_brick) / (1 + npu_weight_bytes)) "
     "for an operator with weights, else 0 (:func:`weight_slack`)"),
    ("double_buffer_hint", "flag", "raw", "an operator with weights whose slack ratio is below "
     "SLACK_DOUBLE_BUFFER: Vela likely double-buffers its weights in depth slices"),
    ("next_weight_slack", "log ratio", "raw", "weight_slack of the next operator (its weights "
     "enter SRAM at this operator's hand-over)"),
    ("next_double_buffer_hint", "flag", "raw", "double_buffer_hint of the next operator"),
    # schema 6 (appended)
    ("sram_weight_bytes", "bytes", "log1p", "bytes of the encoded weight stream (compressed "
     "weights, bias and scale) Vela buffers in SRAM for this operator, estimated from the "
     "filter's shape (:func:`edge_predictor.weight_stream.encoded_weight_bytes`); 0 for "
     "operators whose weights it does not buffer (FULLY_CONNECTED, no INT8 filter)"),
    ("next_sram_weight_bytes", "bytes", "log1p", "sram_weight_bytes of the next operator in "
     "execution order"),
    # schema 7 (appended): Vela's weight buffering replayed (:mod:`edge_predictor.npu_schedule`)
    ("est_cycles", "cycles", "log1p", "estimated NPU cycles (:func:`npu_schedule.op_cycles`)"),
    ("est_double_buffer", "flag", "raw", "the replay double-buffers the weights in depth slices"),
    ("est_first_buffer_bytes", "bytes", "log1p", "replayed first weight buffer (filled before)"),
    ("est_kept_buffer_bytes", "bytes", "log1p", "replayed weight buffer live at the hand-over"),
    ("est_weight_buffer_bytes", "bytes", "log1p", "replayed bytes of all its weight buffers"),
    ("next_est_first_buffer_bytes", "bytes", "log1p", "the next operator's first buffer"),
    ("est_handover_buffer_bytes", "bytes", "log1p", "kept + the next operator's first buffer"),
    ("est_slack_ratio", "log ratio", "raw", "ln((1 + slack cycles) / (1 + transfer cycles)) "
     "for operators with buffered weights, else 0"),
    ("next_est_slack_ratio", "log ratio", "raw", "est_slack_ratio of the next operator"),
    # schema 9 (appended): the analytical cost model's cycles (:mod:`edge_predictor.npu_cost`)
    ("npu_cost_cycles", "cycles", "log1p", "analytical NPU cycles of the operator: the max of "
     "its compute, SRAM and flash access cycles from per-kind coefficients fitted on Vela's "
     "per-layer report (0 for operators Vela leaves to the CPU)"),
    # schema 10 (appended): Vela's SRAM allocation and the analytical energy
    ("npu_live_bytes", "bytes", "log1p", "activation buffers alive while the operator runs as "
     "Vela allocates them: its order, aliasing and in-place outputs (:mod:`.npu_memory`)"),
    ("npu_scratch_bytes", "bytes", "log1p", "working memory beyond the operator's tensors (an "
     "int8 SOFTMAX's int32 intermediates)"),
    ("npu_energy_pj", "pJ", "log1p", "analytical NPU energy of the operator, an estimate "
     "(:mod:`edge_predictor.npu_energy`; 0 for operators Vela leaves to the CPU)"),
]

#: Every node-feature column, in order.
FEATURES: Tuple[Feature, ...] = tuple(
    [Feature(n, *_HYPER_DOCS[n]) for n in HYPER_SLOTS] + [Feature(*row) for row in _IO])
FEATURE_NAMES: Tuple[str, ...] = tuple(f.name for f in FEATURES)
#: bool [F]: the columns stored as log1p
LOG_TRANSFORMED = np.array([f.transform == "log1p" for f in FEATURES])
