"""Read any ``.tflite`` flatbuffer into an :class:`~edge_predictor.graph.OpGraph`.

The reader trusts nothing in the file: every table index is checked against the table it points
into, every vector length against the file size, and every low-level decoding failure becomes a
:class:`~edge_predictor.errors.ModelFormatError` that names the file and the reason. Tables are read
with the bounds-checked :mod:`edge_predictor.flatbuf` (one vtable read per table); a large
model's tensors and operators a field at a time for all of them
(:mod:`edge_predictor.tflite_columns`, from :data:`TENSOR_COLUMNS_FROM` tensors and
:data:`OPERATOR_COLUMNS_FROM` operators: the same graph, faster past a hundred tables); builtin
options as :mod:`edge_predictor.tflite_schema` plans them from the generated classes of the
``tflite`` schema package (no TensorFlow), decoded once per distinct content.
"""

from __future__ import annotations

import os
import struct
from typing import List, Tuple, Union

import numpy as np

from . import tflite_columns
from .errors import ModelFormatError
from .flatbuf import FlatbufferError, Table, root_table
from .graph import OpGraph, OpNode, SubgraphInfo, TensorInfo
from .tflite_schema import (B_DATA, B_OFFSET, B_SIZE, M_BUFFERS, M_OPCODES, M_SUBGRAPHS,
                            MAX_TENSOR_ELEMENTS, OC_BUILTIN, OC_CUSTOM, OC_DEPRECATED,
                            OC_VERSION, OP_INPUTS, OP_OPCODE, OP_OPT, OP_OPT2, OP_OPT2_TYPE,
                            OP_OPT_TYPE, OP_OUTPUTS, Q_SCALE, SG_INPUTS, SG_NAME, SG_OPERATORS,
                            SG_OUTPUTS, SG_TENSORS, T_BUFFER, T_NAME, T_QUANT, T_SHAPE, T_TYPE,
                            T_VARIABLE, builtin_op_names, check_indices, check_opcode,
                            check_tensor, read_options_once, schema, tensor_type_names)

__all__ = ["read_model", "load_model_bytes", "builtin_op_names", "TFLITE_IDENTIFIER"]

TFLITE_IDENTIFIER = b"TFL3"
_CUSTOM_CODE = 32
_DECODE_ERRORS = (IndexError, struct.error, ValueError, TypeError, OverflowError,
                  UnicodeDecodeError, MemoryError, KeyError, AttributeError, RecursionError)

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


def load_model_bytes(path: Union[str, "os.PathLike[str]"]) -> bytes:
    """Read a model file, turning every file-system problem into a ModelFormatError."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise ModelFormatError(p, "no such file")
    if os.path.isdir(p):
        raise ModelFormatError(p, "is a directory, not a .tflite file")
    try:
        with open(p, "rb") as f:
            return f.read()
    except OSError as err:
        raise ModelFormatError(p, "cannot read: {}".format(err.strerror or err)) from None


def _is_text(buf: bytes) -> bool:
    head = bytes(buf[:64])
    return all(32 <= c < 127 or c in (9, 10, 13) for c in head)


def _check_header(buf: bytes, where: str) -> None:
    if len(buf) == 0:
        raise ModelFormatError(where, "empty file")
    if _is_text(buf):
        raise ModelFormatError(where, "looks like a text file, not a TFLite flatbuffer")
    if len(buf) < 8:
        raise ModelFormatError(where, "only {} bytes, too short for a TFLite flatbuffer".format(
            len(buf)))
    ident = bytes(buf[4:8])
    if ident != TFLITE_IDENTIFIER:
        raise ModelFormatError(where, "wrong flatbuffer identifier {!r} (expected {!r}); "
                               "not a TFLite model".format(ident, TFLITE_IDENTIFIER))
    root = struct.unpack_from("<I", buf, 0)[0]
    if root + 4 > len(buf):
        raise ModelFormatError(where, "truncated: root table at byte {} but the file has {} "
                               "bytes".format(root, len(buf)))


_F32 = struct.Struct("<f")
#: from this many tensors, and from this many operators, a model's tensors (operators) are read
#: a field at a time (:mod:`edge_predictor.tflite_columns`); below, a table at a time: where the
#: two cross on an Intel Xeon core (``docs/runtime-speed.md``)
TENSOR_COLUMNS_FROM, OPERATOR_COLUMNS_FROM = 96, 72


def _read_buffers(model: Table, size: int, where: str) -> np.ndarray:
    """Whether each buffer holds data; checks the data lies inside the file."""
    has_data = []
    for b, buf in enumerate(model.tables(M_BUFFERS)):
        start, length = buf.vector(B_DATA, 1)  # raises if the data runs past the file
        if length:
            has_data.append(True)
            continue
        n = buf.u64(B_SIZE)
        if n and buf.u64(B_OFFSET) + n > size:
            raise ModelFormatError(where, "truncated: buffer {} lies past the end of the "
                                   "file".format(b))
        has_data.append(n > 0)
    return np.asarray(has_data, dtype=bool)


def _read_tensors(sg: Table, has_data: np.ndarray, where: str) -> List[TensorInfo]:
    types = tensor_type_names()
    n_buffers = len(has_data)
    data = has_data.tolist()  # Python bools: indexed once per tensor
    out = []
    for i, t in enumerate(sg.tables(SG_TENSORS)):
        shape = t.int32s(T_SHAPE)
        b = t.u32(T_BUFFER)
        elements = 1
        for d in shape:
            elements = min(elements * d, MAX_TENSOR_ELEMENTS + 1)
        if b >= n_buffers or elements > MAX_TENSOR_ELEMENTS or (shape and min(shape) < 0):
            check_tensor(i, shape, b, n_buffers, where)  # raises, but for a dynamic batch
            shape = tuple(1 if d == -1 else d for d in shape)
        q = t.table(T_QUANT)
        start, n_scales = q.vector(Q_SCALE, 4) if q is not None else (0, 0)
        type_code = t.i8(T_TYPE)
        dtype = types.get(type_code)
        if dtype is None:
            dtype = "TYPE_{}".format(type_code)
        out.append(TensorInfo(i, shape, dtype, bool(b > 0 and data[b] and not t.u8(T_VARIABLE)),
                              n_scales > 0, n_scales > 1,
                              t.string(T_NAME).decode("utf-8", "replace"),
                              _F32.unpack_from(q.buf, start)[0] if n_scales else 0.0))
    return out


def _op_names(model: Table) -> List[Tuple[str, int, int]]:
    """(name, builtin code, version) of every entry in the operator-code table."""
    known = builtin_op_names()
    out = []
    for oc in model.tables(M_OPCODES):
        # Codes > 127 live in builtin_code; older writers only set deprecated_builtin_code.
        code = max(oc.i32(OC_BUILTIN), oc.i8(OC_DEPRECATED))
        if code == _CUSTOM_CODE:
            name = "CUSTOM:" + oc.string(OC_CUSTOM).decode("utf-8", "replace")
        else:
            name = known.get(code, "BUILTIN_{}".format(code))
        out.append((name, code, oc.i32(OC_VERSION, 1)))
    return out


def _read_ops(sg: Table, opcodes, n_tensors: int, where: str) -> List[OpNode]:
    _, opt_enum, opt2_enum, _ = schema()
    ops = []
    for i, op in enumerate(sg.tables(SG_OPERATORS)):
        idx = op.u32(OP_OPCODE)
        check_opcode(i, idx, len(opcodes), where)
        name, code, version = opcodes[idx]
        inputs = check_indices(op.int32s(OP_INPUTS), n_tensors, (i, name, "input"), where,
                               True)
        outputs = check_indices(op.int32s(OP_OUTPUTS), n_tensors, (i, name, "output"), where,
                                True)
        options = {}
        opt_type = op.u8(OP_OPT_TYPE)
        if opt_type:
            tab = op.table(OP_OPT)
            if tab is not None:
                options = read_options_once(tab, opt_enum, opt_type)
        else:
            opt_type = op.u8(OP_OPT2_TYPE)
            tab = op.table(OP_OPT2) if opt_type else None
            if tab is not None:
                options = read_options_once(tab, opt2_enum, opt_type)
        ops.append(OpNode(i, name, code, version, inputs, outputs, options))
    return ops


def _parse(buf: bytes, where: str) -> OpGraph:
    model = root_table(buf)
    size = len(buf)
    subgraphs = list(model.tables(M_SUBGRAPHS))
    if not subgraphs:
        raise ModelFormatError(where, "the model has no subgraph")
    opcodes = _op_names(model)
    main = subgraphs[0]
    if main.count(SG_TENSORS) >= TENSOR_COLUMNS_FROM:  # a large model: a field at a time
        has_data = tflite_columns.read_buffers(model, where)
        tensors = tflite_columns.read_tensors(main, has_data, where)
    else:
        has_data = _read_buffers(model, size, where)
        tensors = _read_tensors(main, has_data, where)
    nt = len(tensors)
    g_in = check_indices(main.int32s(SG_INPUTS), nt, "graph input", where, False)
    g_out = check_indices(main.int32s(SG_OUTPUTS), nt, "graph output", where, False)
    if main.count(SG_OPERATORS) >= OPERATOR_COLUMNS_FROM:
        ops = tflite_columns.read_ops(main, opcodes, nt, where)
    else:
        ops = _read_ops(main, opcodes, nt, where)
    others = []
    for s, sg in enumerate(subgraphs[1:], start=1):
        others.append(SubgraphInfo(
            index=s, name=sg.string(SG_NAME).decode("utf-8", "replace"),
            operators=sg.count(SG_OPERATORS), tensors=sg.count(SG_TENSORS)))
    graph = OpGraph(path=where, ops=ops, tensors=tensors, inputs=g_in, outputs=g_out,
                    subgraphs=others)
    if others:
        graph.warnings.append("{} other subgraph(s) ({} operators) are counted but not "
                              "featurized".format(len(others), sum(s.operators for s in others)))
    return graph


def read_model(source: Source, name: str = "") -> OpGraph:
    """Read a TFLite model into an operator graph of its main subgraph.

    Args:
        source: a path to a ``.tflite`` file, or the model's bytes.
        name: how to name an in-memory model in errors (default ``"<bytes>"``).

    Returns:
        The :class:`OpGraph` of subgraph 0, other subgraphs listed in ``graph.subgraphs``.

    Raises:
        ModelFormatError: the file is missing, unreadable, not a TFLite flatbuffer, truncated,
            or has indices that point outside its tables.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf = bytes(source)
        where = name or "<bytes>"
    else:
        where = name or os.fspath(source)
        buf = load_model_bytes(source)
    _check_header(buf, where)
    try:
        return _parse(buf, where)
    except ModelFormatError:
        raise
    except (struct.error, IndexError, FlatbufferError):
        raise ModelFormatError(where, "truncated or corrupt: a table points past the end of the "
                               "{}-byte file".format(len(buf))) from None
    except _DECODE_ERRORS as err:
        detail = str(err).splitlines()[0][:80] if str(err) else "no detail"
        raise ModelFormatError(where, "corrupt flatbuffer ({}: {})".format(
            type(err).__name__, detail)) from None
