"""Build tiny synthetic ``.tflite`` flatbuffers without TensorFlow, for reader edge cases.

Only what the reader reads is written: operator codes (both code fields), one or more
subgraphs of float32 tensors chained by unary operators, buffers. The models are not meant to
run; they exercise op codes above 127, unknown builtins, custom ops, out-of-range indices and
extra subgraphs.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import importlib

import flatbuffers

# ``tflite/__init__`` re-exports classes under the module names; take the modules themselves.
Buffer, Model, Operator, OperatorCode, SubGraph, Tensor = (
    importlib.import_module("tflite." + n)
    for n in ("Buffer", "Model", "Operator", "OperatorCode", "SubGraph", "Tensor"))

__all__ = ["build_model"]

OpSpec = Tuple[int, Optional[str]]  # (builtin code, custom code)


def _vec_i32(b, start_fn, values: Sequence[int]):
    start_fn(b, len(values))
    for v in reversed(values):
        b.PrependInt32(v)
    return b.EndVector()


def _vec_tables(b, start_fn, offsets: Sequence[int]):
    """A vector of table offsets (flatbuffers builds vectors back to front)."""
    start_fn(b, len(offsets))
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _subgraph(b, n_ops: int, opcode_of: Sequence[int], tensor_buffer: int = 0,
              bad_input: Optional[int] = None, dims: Sequence[int] = (1, 4)):
    tensors = []
    for _ in range(n_ops + 1):
        shape = _vec_i32(b, Tensor.StartShapeVector, list(dims))
        Tensor.Start(b)
        Tensor.AddShape(b, shape)
        Tensor.AddType(b, 0)
        Tensor.AddBuffer(b, tensor_buffer)
        tensors.append(Tensor.End(b))
    ops = []
    for i in range(n_ops):
        ins = _vec_i32(b, Operator.StartInputsVector, [bad_input if bad_input is not None and
                                                       i == 0 else i])
        outs = _vec_i32(b, Operator.StartOutputsVector, [i + 1])
        Operator.Start(b)
        Operator.AddOpcodeIndex(b, opcode_of[i])
        Operator.AddInputs(b, ins)
        Operator.AddOutputs(b, outs)
        ops.append(Operator.End(b))
    tv = _vec_tables(b, SubGraph.StartTensorsVector, tensors)
    ov = _vec_tables(b, SubGraph.StartOperatorsVector, ops)
    gin = _vec_i32(b, SubGraph.StartInputsVector, [0])
    gout = _vec_i32(b, SubGraph.StartOutputsVector, [n_ops])
    SubGraph.Start(b)
    SubGraph.AddTensors(b, tv)
    SubGraph.AddOperators(b, ov)
    SubGraph.AddInputs(b, gin)
    SubGraph.AddOutputs(b, gout)
    return SubGraph.End(b)


def build_model(ops: List[OpSpec], extra_subgraphs: int = 0, tensor_buffer: int = 0,
                bad_input: Optional[int] = None, bad_opcode_index: bool = False,
                dims: Sequence[int] = (1, 4)) -> bytes:
    """A chain ``t0 -op0-> t1 -op1-> ...`` in subgraph 0.

    Args:
        ops: (builtin code, custom code or None) per operator, in execution order. Codes above
            127 are written the way current converters do (``deprecated_builtin_code`` = 127).
        extra_subgraphs: add this many one-operator subgraphs (as WHILE bodies would be).
        tensor_buffer: buffer index every tensor points to (the model has one empty buffer).
        bad_input: make operator 0 read this tensor index.
        bad_opcode_index: make the last operator use an operator-code index past the table.
        dims: every tensor's shape (a -1 is a dynamic dimension).
    """
    b = flatbuffers.Builder(1024)
    codes = []
    for code, custom in ops:
        cc = b.CreateString(custom) if custom is not None else None
        OperatorCode.Start(b)
        OperatorCode.AddDeprecatedBuiltinCode(b, min(code, 127))
        OperatorCode.AddBuiltinCode(b, code)
        OperatorCode.AddVersion(b, 1)
        if cc is not None:
            OperatorCode.AddCustomCode(b, cc)
        codes.append(OperatorCode.End(b))
    opcode_of = list(range(len(ops)))
    if bad_opcode_index:
        opcode_of[-1] = len(ops) + 5
    subgraphs = [_subgraph(b, len(ops), opcode_of, tensor_buffer, bad_input, dims)]
    subgraphs += [_subgraph(b, 1, [0]) for _ in range(extra_subgraphs)]
    Buffer.Start(b)
    empty = Buffer.End(b)
    bv = _vec_tables(b, Model.StartBuffersVector, [empty])
    cv = _vec_tables(b, Model.StartOperatorCodesVector, codes)
    sv = _vec_tables(b, Model.StartSubgraphsVector, subgraphs)
    Model.Start(b)
    Model.AddVersion(b, 3)
    Model.AddOperatorCodes(b, cv)
    Model.AddSubgraphs(b, sv)
    Model.AddBuffers(b, bv)
    b.Finish(Model.End(b), file_identifier=b"TFL3")
    return bytes(b.Output())
