"""Cut one operator out of a TFLite model into a runnable one-operator model (no TensorFlow).

Timing a model's operators one at a time on a board is how a host's cost table is fitted from a
few models (nn-Meter measures kernels the same way): the Python interpreters have no per-operator
profiler, so each operator is written into a model of its own -- its operator code, its options,
its tensors (shapes, types, quantization), the data of its constant inputs -- whose inputs are
the operator's non-constant inputs and whose outputs are its outputs. The interpreter then runs
it with the kernel it would run inside the whole model.

Options are copied byte for byte: every builtin options table of the operators this project
meets holds scalars only, so its vtable and inline body are position-independent. The few with
vectors (``ReshapeOptions.new_shape``, ``SqueezeOptions.squeeze_dims``) are rebuilt; operators
whose options hold other references, that call subgraphs, or use the second options union raise
:class:`SliceError` and are not timed.

Python 3.7 compatible; needs only ``flatbuffers`` and the ``tflite`` schema package.
"""

from __future__ import annotations

import importlib
import struct
from typing import Dict, List, Optional, Sequence, Tuple

import flatbuffers

__all__ = ["SliceError", "ModelView", "slice_op"]

(_Buffer, _Model, _Operator, _OperatorCode, _SubGraph, _Tensor, _Quant, _BuiltinOptions,
 _Reshape, _Squeeze) = (importlib.import_module("tflite." + n) for n in (
     "Buffer", "Model", "Operator", "OperatorCode", "SubGraph", "Tensor",
     "QuantizationParameters", "BuiltinOptions", "ReshapeOptions", "SqueezeOptions"))

_OPTION_NAMES = {v: k for k, v in vars(_BuiltinOptions.BuiltinOptions).items()
                 if not k.startswith("_")}
#: options tables holding references other than the two rebuilt below (not sliceable)
#: options tables with one int32 vector (the rest scalars): (schema module, vector field)
_VECTOR_OPTIONS = {"ReshapeOptions": (_Reshape, "NewShape"),
                   "SqueezeOptions": (_Squeeze, "SqueezeDims")}
_REFERENCING_OPTIONS = frozenset(("ConcatEmbeddingsOptions", "BucketizeOptions",
                                  "VarHandleOptions", "IfOptions", "WhileOptions",
                                  "CallOnceOptions", "CallOptions"))


def _end_needs_length() -> bool:
    import inspect

    param = list(inspect.signature(flatbuffers.Builder.EndVector).parameters.values())[1:]
    return bool(param) and param[0].default is inspect.Parameter.empty


#: flatbuffers < 2 wants a vector's length in ``EndVector``; later ones deprecate it
_END_NEEDS_LENGTH = _end_needs_length()


def _end_vector(b: flatbuffers.Builder, n: int) -> int:
    return b.EndVector(n) if _END_NEEDS_LENGTH else b.EndVector()


class SliceError(ValueError):
    """An operator that cannot be cut into a model of its own (the reason says why)."""


class ModelView:
    """A TFLite model's main subgraph, read once for slicing many of its operators.

    Args:
        buf: the model's flatbuffer bytes.
    """

    def __init__(self, buf: bytes):
        self.buf = bytes(buf)
        self.model = _Model.Model.GetRootAs(self.buf, 0)
        if self.model.SubgraphsLength() < 1:
            raise SliceError("the model has no subgraph")
        self.sg = self.model.Subgraphs(0)
        self._data: Dict[int, bytes] = {}

    @property
    def n_ops(self) -> int:
        """Operators in the main subgraph."""
        return self.sg.OperatorsLength()

    def data(self, buffer: int) -> bytes:
        """The bytes of buffer ``buffer`` (empty for an activation tensor's)."""
        if buffer not in self._data:
            b = self.model.Buffers(buffer) if 0 < buffer < self.model.BuffersLength() else None
            if b is None or b.DataLength() == 0:
                self._data[buffer] = b""
            else:
                self._data[buffer] = b.DataAsNumpy().tobytes()
        return self._data[buffer]


def _ints(b: flatbuffers.Builder, start_fn, values: Sequence[int], prepend) -> int:
    start_fn(b, len(values))
    for v in reversed(list(values)):
        prepend(v)
    return _end_vector(b, len(values))


def _tables(b: flatbuffers.Builder, start_fn, offsets: Sequence[int]) -> int:
    start_fn(b, len(offsets))
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return _end_vector(b, len(offsets))


def _copy_scalar_table(b: flatbuffers.Builder, buf: bytes, pos: int) -> int:
    """Copy a table of scalars (vtable + inline body) into ``b``; returns its offset."""
    vt_pos = pos - struct.unpack_from("<i", buf, pos)[0]
    vt_size, body_size = struct.unpack_from("<HH", buf, vt_pos)
    if vt_pos < 0 or pos + body_size > len(buf) or vt_size < 4:
        raise SliceError("corrupt options table")
    body = bytearray(buf[pos:pos + body_size])
    struct.pack_into("<i", body, 0, vt_size)  # the vtable sits right before the copied body
    b.Prep(8, body_size)
    for byte in reversed(body):
        b.PrependUint8(byte)
    table = b.Offset()
    for byte in reversed(buf[vt_pos:vt_pos + vt_size]):
        b.PrependUint8(byte)
    return table


def _options(b: flatbuffers.Builder, op) -> int:
    """The operator's builtin options copied into ``b`` (0 when it has none)."""
    kind = op.BuiltinOptionsType()
    tab = op.BuiltinOptions()
    if not kind or tab is None:
        return 0
    name = _OPTION_NAMES.get(kind, str(kind))
    if name in _VECTOR_OPTIONS:  # one int32 vector each: rebuilt
        mod, field = _VECTOR_OPTIONS[name]
        opts = getattr(mod, name)()
        opts.Init(tab.Bytes, tab.Pos)
        values = [getattr(opts, field)(i) for i in range(getattr(opts, field + "Length")())]
        vec = _ints(b, getattr(mod, "Start{}Vector".format(field)), values, b.PrependInt32) \
            if values else None
        mod.Start(b)
        if vec is not None:
            getattr(mod, "Add" + field)(b, vec)
        return mod.End(b)
    if name in _REFERENCING_OPTIONS:
        raise SliceError("{} holds references to other tables".format(name))
    return _copy_scalar_table(b, tab.Bytes, tab.Pos)


def _tensor(b: flatbuffers.Builder, view: ModelView, t, buffer: int) -> int:
    shape = _ints(b, _Tensor.StartShapeVector, list(t.ShapeAsNumpy()) if t.ShapeLength() else [],
                  b.PrependInt32)
    name = b.CreateString(t.Name() or b"")
    quant = 0
    q = t.Quantization()
    if q is not None and (q.ScaleLength() or q.ZeroPointLength()):
        scale = _ints(b, _Quant.StartScaleVector, [float(x) for x in q.ScaleAsNumpy()],
                      b.PrependFloat32) if q.ScaleLength() else None
        zero = _ints(b, _Quant.StartZeroPointVector, [int(x) for x in q.ZeroPointAsNumpy()],
                     b.PrependInt64) if q.ZeroPointLength() else None
        _Quant.Start(b)
        if scale is not None:
            _Quant.AddScale(b, scale)
        if zero is not None:
            _Quant.AddZeroPoint(b, zero)
        _Quant.AddQuantizedDimension(b, q.QuantizedDimension())
        quant = _Quant.End(b)
    _Tensor.Start(b)
    _Tensor.AddShape(b, shape)
    _Tensor.AddType(b, t.Type())
    _Tensor.AddBuffer(b, buffer)
    _Tensor.AddName(b, name)
    if quant:
        _Tensor.AddQuantization(b, quant)
    _Tensor.AddIsVariable(b, t.IsVariable())
    return _Tensor.End(b)


def slice_op(view: ModelView, index: int) -> bytes:
    """A runnable model holding only operator ``index`` of ``view``'s main subgraph.

    Args:
        view: the model.
        index: the operator's execution position.

    Returns:
        The one-operator model's flatbuffer bytes: the operator's non-constant, non-variable
        inputs are the model's inputs (in operator order), its outputs the model's outputs.

    Raises:
        SliceError: the operator calls subgraphs, uses options that hold references, uses the
            second options union, or carries sparse or custom data this writer does not copy.
    """
    if not 0 <= index < view.n_ops:
        raise SliceError("operator {} out of range (0..{})".format(index, view.n_ops - 1))
    op = view.sg.Operators(index)
    if op.BuiltinOptions2Type():
        raise SliceError("second options union (StableHLO) not sliced")
    code = view.model.OperatorCodes(op.OpcodeIndex())
    tensors = view.sg.TensorsLength()
    ins = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
    outs = [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
    if op.IntermediatesLength():
        raise SliceError("operators with intermediate tensors (LSTM) not sliced")
    used: List[int] = []
    for t in ins + outs:
        if t >= 0 and t not in used:
            if t >= tensors:
                raise SliceError("tensor index {} out of range".format(t))
            used.append(t)
    b = flatbuffers.Builder(1024 + sum(len(view.data(view.sg.Tensors(t).Buffer())) for t in used))
    remap = {t: k for k, t in enumerate(used)}
    buffers = [0]  # buffer 0: the empty sentinel
    tensor_offs, graph_inputs = [], []
    for t in used:
        info = view.sg.Tensors(t)
        if info.Sparsity() is not None:
            raise SliceError("sparse tensors not sliced")
        data = view.data(info.Buffer())
        buf_index = 0
        if data:
            buffers.append(data)
            buf_index = len(buffers) - 1
        elif t in ins and not info.IsVariable():
            graph_inputs.append(remap[t])
        tensor_offs.append(_tensor(b, view, info, buf_index))
    custom = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b""
    opts = _options(b, op)
    custom_vec = b.CreateByteVector(custom) if custom else None
    in_vec = _ints(b, _Operator.StartInputsVector, [remap.get(t, -1) for t in ins],
                   b.PrependInt32)
    out_vec = _ints(b, _Operator.StartOutputsVector, [remap[t] for t in outs], b.PrependInt32)
    _Operator.Start(b)
    _Operator.AddOpcodeIndex(b, 0)
    _Operator.AddInputs(b, in_vec)
    _Operator.AddOutputs(b, out_vec)
    if opts:
        _Operator.AddBuiltinOptionsType(b, op.BuiltinOptionsType())
        _Operator.AddBuiltinOptions(b, opts)
    if custom_vec is not None:
        _Operator.AddCustomOptions(b, custom_vec)
        _Operator.AddCustomOptionsFormat(b, op.CustomOptionsFormat())
    operator = _Operator.End(b)
    return _one_op_model(b, tensor_offs, operator, graph_inputs, [remap[t] for t in outs],
                         buffers, (code.BuiltinCode(), code.DeprecatedBuiltinCode(),
                                   code.Version(), code.CustomCode()))


def _one_op_model(b: flatbuffers.Builder, tensors: Sequence[int], operator: int,
                  inputs: Sequence[int], outputs: Sequence[int], buffers: Sequence[bytes],
                  code: Tuple[int, int, int, Optional[bytes]]) -> bytes:
    """Finish a one-operator model: its subgraph (tensor and operator tables written, graph
    inputs and outputs by tensor index), its buffers' data and its one operator code
    ``(builtin code, deprecated builtin code, version, custom code or None)``."""
    sg_tensors = _tables(b, _SubGraph.StartTensorsVector, tensors)
    sg_ops = _tables(b, _SubGraph.StartOperatorsVector, [operator])
    sg_in = _ints(b, _SubGraph.StartInputsVector, inputs, b.PrependInt32)
    sg_out = _ints(b, _SubGraph.StartOutputsVector, outputs, b.PrependInt32)
    _SubGraph.Start(b)
    _SubGraph.AddTensors(b, sg_tensors)
    _SubGraph.AddOperators(b, sg_ops)
    _SubGraph.AddInputs(b, sg_in)
    _SubGraph.AddOutputs(b, sg_out)
    subgraph = _SubGraph.End(b)
    buf_offs = _buffers(b, buffers)
    builtin, deprecated, version, custom = code
    cc = b.CreateString(custom) if custom else None
    _OperatorCode.Start(b)
    _OperatorCode.AddDeprecatedBuiltinCode(b, deprecated)
    _OperatorCode.AddBuiltinCode(b, builtin)
    _OperatorCode.AddVersion(b, version)
    if cc is not None:
        _OperatorCode.AddCustomCode(b, cc)
    return _finish(b, _OperatorCode.End(b), subgraph, buf_offs)


def _buffers(b: flatbuffers.Builder, datas: Sequence[bytes]) -> List[int]:
    """Buffer tables of ``datas`` (an empty one for each empty entry), data 16-byte aligned
    as converters write it."""
    out = []
    for data in datas:
        vec = None
        if data:
            b.StartVector(1, len(data), 16)
            b.head = b.head - len(data)
            b.Bytes[b.head:b.head + len(data)] = data
            vec = _end_vector(b, len(data))
        _Buffer.Start(b)
        if vec is not None:
            _Buffer.AddData(b, vec)
        out.append(_Buffer.End(b))
    return out


def _finish(b: flatbuffers.Builder, opcode: int, subgraph: int, buffers: Sequence[int]) -> bytes:
    codes = _tables(b, _Model.StartOperatorCodesVector, [opcode])
    subs = _tables(b, _Model.StartSubgraphsVector, [subgraph])
    bufs = _tables(b, _Model.StartBuffersVector, buffers)
    _Model.Start(b)
    _Model.AddVersion(b, 3)
    _Model.AddOperatorCodes(b, codes)
    _Model.AddSubgraphs(b, subs)
    _Model.AddBuffers(b, bufs)
    b.Finish(_Model.End(b), file_identifier=b"TFL3")
    return bytes(b.Output())

