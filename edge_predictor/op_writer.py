"""Write a runnable one-operator INT8 TFLite model of a chosen shape (no TensorFlow).

A host's kernel library is timed on operators of chosen shapes (:mod:`edge_predictor.op_probe`),
as nn-Meter times kernels: a dense 3x3 convolution of 256 channels, a 7x7 stride-2 depthwise
one, a standalone hard-swish. Each model holds one operator with int8 activations (scale 0.05,
zero point 0), per-channel int8 weights and int32 biases drawn from a seeded generator -- the
quantization the converter writes for a full-integer model, so the interpreter picks the kernel
it picks inside a converted model.

Python 3.7 compatible; numpy, ``flatbuffers`` and the ``tflite`` schema package.
"""

from __future__ import annotations

import importlib
from typing import Dict, List, Optional, Sequence, Set, Tuple

import flatbuffers
import numpy as np

from .op_slice import _ints, _one_op_model

__all__ = ["WRITABLE", "OpSpec", "write_op"]

(_Operator, _Tensor, _Quant, _Conv, _Dw, _Fc, _Pool,
 _Add, _Mul, _Sub) = (importlib.import_module("tflite." + n) for n in (
     "Operator", "Tensor", "QuantizationParameters",
     "Conv2DOptions", "DepthwiseConv2DOptions", "FullyConnectedOptions", "Pool2DOptions",
     "AddOptions", "MulOptions", "SubOptions"))
_BINARY = ("ADD", "MUL", "SUB", "SQUARED_DIFFERENCE")

#: operator -> (builtin code, builtin options type)
WRITABLE = {"CONV_2D": (3, 1), "DEPTHWISE_CONV_2D": (4, 2), "FULLY_CONNECTED": (9, 8),
            "AVERAGE_POOL_2D": (1, 5), "MAX_POOL_2D": (17, 5), "ADD": (0, 11), "MUL": (18, 21),
            "RELU": (19, 0), "RELU6": (21, 0), "HARD_SWISH": (117, 0), "LOGISTIC": (14, 0),
            "SUB": (41, 28), "SQUARED_DIFFERENCE": (99, 0), "TANH": (28, 0),
            "LEAKY_RELU": (98, 75), "BATCH_MATMUL": (126, 101), "SOFTMAX": (25, 9),
            "MEAN": (40, 27)}
_INT8, _INT32 = 9, 2
_SAME, _VALID = 0, 1
_ACT = {"NONE": 0, "RELU": 1, "RELU6": 3}

#: what to write: ``op``, ``hw`` (input height and width), ``cin``, and per operator ``cout``
#: (CONV_2D, FULLY_CONNECTED, BATCH_MATMUL), ``rows`` (FULLY_CONNECTED: [1, rows, cin] tokens,
#: default 1; BATCH_MATMUL: [1, heads, rows, cin] x [1, heads, cin, cout]), ``heads``
#: (BATCH_MATMUL), ``groups`` (CONV_2D), ``kernel`` (convolutions and pools), ``stride``,
#: ``padding`` ("SAME" / "VALID"), ``act`` ("NONE", "RELU", "RELU6"), ``broadcast`` (binary
#: operators: True, the second input one channel deep, as a layer norm's mean; "channels", the
#: second input a constant vector of ``cin`` values broadcast over the positions, as a layer
#: norm's scale; "first", that constant vector as the first input, as a folded layer norm's
#: ``beta - x``), ``const_scale`` (that constant vector's quantization scale, default 0.05),
#: ``axis`` (MEAN: "channels", else over the positions), ``alpha`` (LEAKY_RELU,
#: default 0.1). Token inputs and attention operands carry nonzero zero points, as a
#: converter writes them: kernel libraries pick their path by them.
OpSpec = Dict[str, object]


def _out_hw(hw: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "SAME":
        return -(-hw // stride)
    return (hw - kernel) // stride + 1


class _Writer:
    def __init__(self, seed: int):
        self.b = flatbuffers.Builder(4096)
        self.rng = np.random.RandomState(seed)
        self.tensors: List[int] = []
        self.buffers: List[bytes] = [b""]
        self.constants: Set[int] = set()  # tensors with data

    def tensor(self, shape: Sequence[int], ttype: int, scale: Sequence[float],
               zero: Sequence[int], dim: int = 0, data: Optional[np.ndarray] = None) -> int:
        b = self.b
        buf = 0
        if data is not None:
            self.buffers.append(data.tobytes())
            buf = len(self.buffers) - 1
            self.constants.add(len(self.tensors))
        dims = _ints(b, _Tensor.StartShapeVector, [int(s) for s in shape], b.PrependInt32)
        sv = _ints(b, _Quant.StartScaleVector, [float(s) for s in scale], b.PrependFloat32)
        zv = _ints(b, _Quant.StartZeroPointVector, [int(z) for z in zero], b.PrependInt64)
        _Quant.Start(b)
        _Quant.AddScale(b, sv)
        _Quant.AddZeroPoint(b, zv)
        _Quant.AddQuantizedDimension(b, dim)
        quant = _Quant.End(b)
        name = b.CreateString("t{}".format(len(self.tensors)))
        _Tensor.Start(b)
        _Tensor.AddShape(b, dims)
        _Tensor.AddType(b, ttype)
        _Tensor.AddBuffer(b, buf)
        _Tensor.AddName(b, name)
        _Tensor.AddQuantization(b, quant)
        self.tensors.append(_Tensor.End(b))
        return len(self.tensors) - 1

    def act(self, shape: Sequence[int], scale: float = 0.05, zero: int = 0) -> int:
        return self.tensor(shape, _INT8, [scale], [zero])

    def weights(self, shape: Sequence[int], channels: int, dim: int, in_scale: float
                ) -> Tuple[int, int]:
        """(filter, bias) tensors with per-channel scales along ``dim``."""
        w_scale = self.rng.uniform(0.002, 0.02, channels)
        w = self.rng.randint(-127, 128, size=tuple(shape)).astype(np.int8)
        filt = self.tensor(shape, _INT8, w_scale, [0] * channels, dim, w)
        bias = self.rng.randint(-1000, 1000, size=channels).astype(np.int32)
        return filt, self.tensor([channels], _INT32, in_scale * w_scale, [0] * channels, 0, bias)


def _options(b: flatbuffers.Builder, op: str, spec: OpSpec) -> int:
    stride = int(spec.get("stride", 1))
    pad = _SAME if spec.get("padding", "SAME") == "SAME" else _VALID
    act = _ACT[str(spec.get("act", "NONE"))]
    if op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        mod = _Conv if op == "CONV_2D" else _Dw
        mod.Start(b)
        mod.AddPadding(b, pad)
        mod.AddStrideW(b, stride)
        mod.AddStrideH(b, stride)
        if mod is _Dw:
            mod.AddDepthMultiplier(b, 1)
        mod.AddFusedActivationFunction(b, act)
        mod.AddDilationWFactor(b, 1)
        mod.AddDilationHFactor(b, 1)
        return mod.End(b)
    if op == "FULLY_CONNECTED":
        _Fc.Start(b)
        _Fc.AddFusedActivationFunction(b, act)
        if int(spec.get("rows", 1)) > 1:
            _Fc.AddKeepNumDims(b, True)
        return _Fc.End(b)
    if op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        k = int(spec.get("kernel", 2))
        _Pool.Start(b)
        _Pool.AddPadding(b, pad)
        _Pool.AddStrideW(b, stride)
        _Pool.AddStrideH(b, stride)
        _Pool.AddFilterWidth(b, k)
        _Pool.AddFilterHeight(b, k)
        _Pool.AddFusedActivationFunction(b, act)
        return _Pool.End(b)
    if op == "BATCH_MATMUL":  # BatchMatMulOptions {adj_x, adj_y}: neither
        b.StartObject(3)
        return b.EndObject()
    if op == "SOFTMAX":  # SoftmaxOptions {beta}
        b.StartObject(1)
        b.PrependFloat32Slot(0, 1.0, 0.0)
        return b.EndObject()
    if op == "MEAN":  # ReducerOptions {keep_dims}
        b.StartObject(1)
        b.PrependBoolSlot(0, True, False)
        return b.EndObject()
    if op == "LEAKY_RELU":  # LeakyReluOptions {alpha}: without it alpha is 0, a slow path
        b.StartObject(1)
        b.PrependFloat32Slot(0, float(spec.get("alpha", 0.1)), 0.0)
        return b.EndObject()
    mod = {"ADD": _Add, "MUL": _Mul, "SUB": _Sub}[op]
    mod.Start(b)
    mod.AddFusedActivationFunction(b, act)
    return mod.End(b)


def write_op(spec: OpSpec, seed: int = 0) -> bytes:
    """The one-operator model of ``spec`` (:data:`OpSpec`).

    Raises:
        ValueError: an operator not in :data:`WRITABLE`, or sizes that leave no output.
    """
    op = str(spec["op"])
    if op not in WRITABLE:
        raise ValueError("cannot write {}: writable are {}".format(op, ", ".join(WRITABLE)))
    code, opt_type = WRITABLE[op]
    hw, cin = int(spec.get("hw", 1)), int(spec["cin"])
    k, stride = int(spec.get("kernel", 1)), int(spec.get("stride", 1))
    padding = str(spec.get("padding", "SAME"))
    w = _Writer(seed)
    s_in = 0.05
    if op == "BATCH_MATMUL":  # attention: [1, heads, rows, cin] x [1, heads, cin, cout]
        heads, rows, cout = int(spec.get("heads", 1)), int(spec.get("rows", hw)), int(spec["cout"])
        # with nonzero zero points, as a converter writes them: these run 8-27x slower than
        # with zero ones, as a real ViT's attention does
        inputs = [w.act([1, heads, rows, cin], 0.05, 2), w.act([1, heads, cin, cout], 0.05, -5)]
        out = w.act([1, heads, rows, cout], 0.5, 12)
    elif op == "MEAN":  # over the positions (global pooling) or the channels (a layer norm)
        x = w.act([1, hw, hw, cin])
        axes = [3] if spec.get("axis") == "channels" else [1, 2]
        axis = w.tensor([len(axes)], _INT32, [1.0], [0], 0, np.array(axes, np.int32))
        inputs = [x, axis]
        out = w.act([1, hw, hw, 1] if axes == [3] else [1, 1, 1, cin])
    elif op == "FULLY_CONNECTED":  # ``rows`` > 1: a transformer's [1, rows, cin] tokens
        cout, rows = int(spec["cout"]), int(spec.get("rows", 1))
        x = w.act([1, rows, cin] if rows > 1 else [1, cin], 0.05, 3 if rows > 1 else 0)
        filt, bias = w.weights([cout, cin], cout, 0, s_in)
        inputs, out = [x, filt, bias], w.act([1, rows, cout] if rows > 1 else [1, cout], 0.1)
    else:
        x = w.act([1, hw, hw, cin])
        if op in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
            ho = _out_hw(hw, k, stride, padding)
            if ho < 1:
                raise ValueError("a {}x{} kernel leaves no output of a {}x{} input".format(
                    k, k, hw, hw))
            if op == "CONV_2D":
                cout, groups = int(spec["cout"]), int(spec.get("groups", 1))
                filt, bias = w.weights([cout, k, k, cin // groups], cout, 0, s_in)
                inputs, out = [x, filt, bias], w.act([1, ho, ho, cout], 0.1)
            elif op == "DEPTHWISE_CONV_2D":
                filt, bias = w.weights([1, k, k, cin], cin, 3, s_in)
                inputs, out = [x, filt, bias], w.act([1, ho, ho, cin], 0.1)
            else:
                inputs, out = [x], w.act([1, ho, ho, cin])
        elif op in _BINARY:
            broadcast = spec.get("broadcast")
            if broadcast in ("channels", "first"):
                vec = w.tensor([cin], _INT8, [float(spec.get("const_scale", 0.05))], [0], 0,
                               w.rng.randint(-127, 128, size=cin).astype(np.int8))
                inputs = [vec, x] if broadcast == "first" else [x, vec]
            else:
                inputs = [x, w.act([1, hw, hw, 1 if broadcast else cin])]
            out = w.act([1, hw, hw, cin], 0.1)
        elif op == "LOGISTIC":  # the kernel requires this output quantization
            inputs, out = [x], w.act([1, hw, hw, cin], 1.0 / 256, -128)
        elif op == "SOFTMAX":  # likewise
            inputs, out = [x], w.act([1, hw, hw, cin], 1.0 / 256, -128)
        elif op == "TANH":  # likewise
            inputs, out = [x], w.act([1, hw, hw, cin], 1.0 / 128, 0)
        else:
            inputs, out = [x], w.act([1, hw, hw, cin])
    b = w.b
    opts = _options(b, op, spec) if opt_type else 0
    in_vec = _ints(b, _Operator.StartInputsVector, inputs, b.PrependInt32)
    out_vec = _ints(b, _Operator.StartOutputsVector, [out], b.PrependInt32)
    _Operator.Start(b)
    _Operator.AddOpcodeIndex(b, 0)
    _Operator.AddInputs(b, in_vec)
    _Operator.AddOutputs(b, out_vec)
    if opts:
        _Operator.AddBuiltinOptionsType(b, opt_type)
        _Operator.AddBuiltinOptions(b, opts)
    operator = _Operator.End(b)
    graph_in = [t for t in inputs[:2] if t not in w.constants] \
        if op in _BINARY + ("BATCH_MATMUL",) else inputs[:1]
    return _one_op_model(b, w.tensors, operator, graph_in, [out], w.buffers,
                         (code, min(code, 127), 1, None))
