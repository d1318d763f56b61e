"""Per-operator feature extractors: an operator's cost-relevant hyperparameters and its MACs.

Each extractor takes the graph and one node and returns a dict of *hyperparameter slots* (the
names in :data:`HYPER_SLOTS`); slots it does not set stay 0. Shapes and bytes common to every
operator are filled by the featurizer, so an extractor only says what is specific to its kind.
:mod:`edge_predictor.op_table` maps every TFLite operator to one of these functions.

MAC conventions (batch included; the reader reads a dynamic batch as 1):

* CONV_2D: ``out_elements * k_h * k_w * filter_in_c`` (grouped convolutions use the filter's
  input depth, so ``groups = in_c / filter_in_c`` is honoured).
* DEPTHWISE_CONV_2D: ``out_elements * k_h * k_w``.
* TRANSPOSE_CONV: ``in_elements * k_h * k_w * out_c``.
* CONV_3D: ``out_elements * k_d * k_h * k_w * filter_in_c``.
* FULLY_CONNECTED: ``rows * in_features * out_features``, ``rows = in_elements / in_features``.
* BATCH_MATMUL: ``out_elements * K`` (= ``batch * M * N * K``).
"""

from __future__ import annotations

from typing import Callable, Dict

from .graph import OpGraph, OpNode

__all__ = [
    "HYPER_SLOTS", "Extractor", "generic", "conv2d", "depthwise_conv2d", "transpose_conv",
    "conv3d", "fully_connected", "batch_matmul", "pool2d", "reduce", "axis_op", "softmax",
    "pad", "FUSED_ACTIVATIONS",
]

#: Hyperparameter slots an extractor may set, in feature order.
HYPER_SLOTS = (
    "kernel_h", "kernel_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "padding_same",
    "act_relu", "act_relu6", "act_other", "depth_multiplier", "groups", "axis", "keep_dims",
    "reduced_elements", "adj_x", "adj_y", "macs",
)

#: TFLite ``ActivationFunctionType`` codes.
FUSED_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH",
                     5: "SIGN_BIT"}

Extractor = Callable[[OpGraph, OpNode], Dict[str, float]]


def _prod(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _shape(g: OpGraph, t: int):
    return g.tensors[t].shape if 0 <= t < len(g.tensors) else ()


def _input(g: OpGraph, node: OpNode, i: int):
    return _shape(g, node.inputs[i]) if len(node.inputs) > i else ()


def _output(g: OpGraph, node: OpNode, i: int = 0):
    return _shape(g, node.outputs[i]) if len(node.outputs) > i else ()


def _activation(opts) -> Dict[str, float]:
    code = int(opts.get("fused_activation_function", 0))
    if code == 0:
        return {}
    if code == 1:
        return {"act_relu": 1.0}
    if code == 3:
        return {"act_relu6": 1.0}
    return {"act_other": 1.0}


def _window(opts, kh: int, kw: int) -> Dict[str, float]:
    out = {"kernel_h": kh, "kernel_w": kw,
           "stride_h": opts.get("stride_h", 1), "stride_w": opts.get("stride_w", 1),
           "dilation_h": opts.get("dilation_h_factor", 1),
           "dilation_w": opts.get("dilation_w_factor", 1),
           "padding_same": 1.0 if int(opts.get("padding", 0)) == 0 else 0.0}
    out.update(_activation(opts))
    return out


def generic(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """Operators whose cost follows from their tensor shapes alone (fused activation only)."""
    return _activation(node.options)


def conv2d(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """CONV_2D: filter [out_c, k_h, k_w, in_c / groups]."""
    f, x, y = _input(g, node, 1), _input(g, node, 0), _output(g, node)
    if len(f) != 4 or not y:
        return generic(g, node)
    out = _window(node.options, f[1], f[2])
    in_c = x[-1] if x else f[3]
    out["groups"] = max(1, in_c // max(1, f[3]))
    out["macs"] = _prod(y) * f[1] * f[2] * f[3]
    return out


def depthwise_conv2d(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """DEPTHWISE_CONV_2D: filter [1, k_h, k_w, out_c]."""
    f, y = _input(g, node, 1), _output(g, node)
    if len(f) != 4 or not y:
        return generic(g, node)
    out = _window(node.options, f[1], f[2])
    out["depth_multiplier"] = node.options.get("depth_multiplier", 1)
    out["macs"] = _prod(y) * f[1] * f[2]
    return out


def transpose_conv(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """TRANSPOSE_CONV: inputs (output_shape, filter [out_c, k_h, k_w, in_c], input)."""
    f, x = _input(g, node, 1), _input(g, node, 2)
    if len(f) != 4 or not x:
        return generic(g, node)
    out = _window(node.options, f[1], f[2])
    out["macs"] = _prod(x) * f[1] * f[2] * f[0]
    return out


def conv3d(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """CONV_3D: filter [k_d, k_h, k_w, in_c, out_c]; k_d is folded into kernel_h."""
    f, y = _input(g, node, 1), _output(g, node)
    if len(f) != 5 or not y:
        return generic(g, node)
    out = _window(node.options, f[0] * f[1], f[2])
    out["macs"] = _prod(y) * f[0] * f[1] * f[2] * f[3]
    return out


def fully_connected(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """FULLY_CONNECTED: weights [out_features, in_features]."""
    w, x = _input(g, node, 1), _input(g, node, 0)
    out = _activation(node.options)
    if len(w) == 2 and x and w[1] > 0:
        rows = _prod(x) // w[1]
        out["macs"] = rows * w[1] * w[0]
        out["kernel_w"] = w[1]
    return out


def batch_matmul(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """BATCH_MATMUL: A [..., M, K] (or [..., K, M] with adj_x) times B [..., K, N]."""
    a, y = _input(g, node, 0), _output(g, node)
    adj_x = bool(node.options.get("adj_x", False))
    adj_y = bool(node.options.get("adj_y", False))
    out = {"adj_x": float(adj_x), "adj_y": float(adj_y)}
    if len(a) >= 2 and y:
        k = a[-2] if adj_x else a[-1]
        out["macs"] = _prod(y) * k
        out["kernel_w"] = k
    return out


def pool2d(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """AVERAGE/MAX/L2_POOL_2D: filter size and strides from the options."""
    o = node.options
    return _window(o, o.get("filter_height", 1), o.get("filter_width", 1))


def reduce(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """MEAN, SUM, REDUCE_*: how many elements fold into each output element."""
    x, y = _input(g, node, 0), _output(g, node)
    n_out = max(1, _prod(y))
    return {"keep_dims": float(bool(node.options.get("keep_dims", False))),
            "reduced_elements": _prod(x) / n_out if x else 0.0}


def axis_op(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """CONCATENATION, PACK, UNPACK, GATHER, SPLIT...: the axis, counted from the end."""
    out = _activation(node.options)
    rank = len(_output(g, node)) or len(_input(g, node, 0))
    axis = node.options.get("axis")
    if isinstance(axis, int) and rank:
        out["axis"] = float(axis - rank if axis >= 0 else axis)
    return out


def softmax(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """SOFTMAX / LOG_SOFTMAX: the length of the normalised axis (the last one)."""
    x = _input(g, node, 0)
    return {"reduced_elements": float(x[-1]) if x else 0.0}


def pad(g: OpGraph, node: OpNode) -> Dict[str, float]:
    """PAD / PADV2 / MIRROR_PAD: growth factor of the tensor."""
    x, y = _input(g, node, 0), _output(g, node)
    return {"reduced_elements": _prod(y) / max(1, _prod(x)) if x and y else 0.0}
