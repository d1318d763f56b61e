"""Read any ``.tflite`` flatbuffer into an :class:`~edge_predictor.graph.OpGraph`.

The reader trusts nothing in the file: every table index is checked against the table it points
into, every vector length against the file size, and every low-level decoding failure becomes a
:class:`~edge_predictor.errors.ModelFormatError` that names the file and the reason. Tables are read
with the bounds-checked :mod:`edge_predictor.flatbuf` (one vtable read per table); builtin
options, which vary per operator, through the generated classes of the ``tflite`` schema
package (no TensorFlow), with the list of fields cached per options type.
"""

from __future__ import annotations

import inspect
import os
import re
import struct
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from .errors import ModelFormatError
from .flatbuf import FlatbufferError, Table, root_table
from .graph import OpGraph, OpNode, SubgraphInfo, TensorInfo

__all__ = ["read_model", "load_model_bytes", "builtin_op_names", "TFLITE_IDENTIFIER"]

TFLITE_IDENTIFIER = b"TFL3"
_CUSTOM_CODE = 32
_DECODE_ERRORS = (IndexError, struct.error, ValueError, TypeError, OverflowError,
                  UnicodeDecodeError, MemoryError, KeyError, AttributeError, RecursionError)

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


def _schema():
    """Import the generated schema lazily (its package import takes tens of milliseconds)."""
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.BuiltinOptions import BuiltinOptions
    from tflite.BuiltinOptions2 import BuiltinOptions2
    from tflite.TensorType import TensorType
    return BuiltinOperator, BuiltinOptions, BuiltinOptions2, TensorType


def _enum_names(enum_cls) -> Dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


_CACHE: Dict[str, Any] = {}


def builtin_op_names() -> Dict[int, str]:
    """Every member of the schema's ``BuiltinOperator`` enum.

    Returns:
        dict builtin code -> operator name, e.g. ``{3: "CONV_2D", ...}``.
    """
    if "ops" not in _CACHE:
        _CACHE["ops"] = _enum_names(_schema()[0])
    return _CACHE["ops"]


def _tensor_type_names() -> Dict[int, str]:
    if "types" not in _CACHE:
        _CACHE["types"] = _enum_names(_schema()[3])
    return _CACHE["types"]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


_FLAG_FORMATS = {"Int8": "b", "Uint8": "B", "Int16": "h", "Uint16": "H", "Int32": "i",
                 "Uint32": "I", "Int64": "q", "Uint64": "Q", "Float32": "f", "Float64": "d",
                 "Bool": "?"}
_SCALAR_RE = re.compile(r"Offset\((\d+)\).*?number_types\.(\w+)Flags, o \+ self\._tab\.Pos\)"
                        r".*\n\s*return (True|False|-?[0-9.e+-]+)\s*$", re.S)
_VECTOR_RE = re.compile(r"Offset\((\d+)\).*GetVectorAsNumpy\(flatbuffers\.number_types\."
                        r"(\w+)Flags, o\)", re.S)


def _plan_getter(fn):
    """How to read one generated getter directly: a scalar or numeric-vector field.

    Returns ``("scalar", field, struct, default)``, ``("vector", field, fmt)`` or None when
    the getter is something else (a string, a sub-table) or its source is unavailable.
    """
    try:
        src = inspect.getsource(fn)
    except (OSError, TypeError):
        return None
    m = _VECTOR_RE.search(src)
    if m and m.group(2) in _FLAG_FORMATS:
        return ("vector", (int(m.group(1)) - 4) // 2, _FLAG_FORMATS[m.group(2)])
    m = _SCALAR_RE.search(src)
    if m and m.group(2) in _FLAG_FORMATS:
        raw = m.group(3)
        default = {"True": True, "False": False}.get(raw)
        if default is None:
            default = float(raw) if any(c in raw for c in ".e") else int(raw)
        return ("scalar", (int(m.group(1)) - 4) // 2,
                struct.Struct("<" + _FLAG_FORMATS[m.group(2)]), default)
    return None


def _options_reader(union_enum, type_code: int):
    """(class, [(getter, snake name, plan)]) for one options union member, cached per type."""
    key = (union_enum.__name__, type_code)
    if key in _CACHE:
        return _CACHE[key]
    name = _enum_names(union_enum).get(type_code)
    entry = None
    if name and name != "NONE":
        import importlib
        module = importlib.import_module("tflite." + name)
        cls = getattr(module, name)
        getters = []
        for attr, fn in vars(cls).items():
            if attr.startswith("_") or attr == "Init" or attr.startswith("GetRootAs"):
                continue
            if not callable(fn) or attr.endswith(("Length", "IsNone", "BufferHasIdentifier")):
                continue
            if len(inspect.signature(fn).parameters) != 1:
                continue  # element accessors Foo(j); their FooAsNumpy() is used instead
            label = attr[:-len("AsNumpy")] if attr.endswith("AsNumpy") else attr
            getters.append((attr, _snake(label), _plan_getter(fn)))
        entry = (cls, getters)
    _CACHE[key] = entry
    return entry


def _read_options(table: Table, union_enum, type_code: int) -> Dict[str, Any]:
    """Builtin options as ``snake_case`` name -> value.

    Scalar and numeric-vector fields are read straight from the table (plans derived once per
    options type from the generated getters); anything else goes through the generated class.
    """
    reader = _options_reader(union_enum, type_code)
    if reader is None:
        return {}
    cls, getters = reader
    buf = table.buf
    opts = None
    out: Dict[str, Any] = {}
    for attr, label, plan in getters:
        if plan is not None and plan[0] == "scalar":
            _, field, st, default = plan
            p = table._at(field, st.size)
            value = st.unpack_from(buf, p)[0] if p else default
            out[label] = bool(value) if st.format.endswith("?") else value
            continue
        if plan is not None:
            start, n = table.vector(plan[1], struct.calcsize(plan[2]))
            out[label] = tuple(int(v) for v in struct.unpack_from(
                "<%d%s" % (n, plan[2]), buf, start)) if start else 0
            continue
        if opts is None:
            opts = cls()
            opts.Init(buf, table.pos)
        value = getattr(opts, attr)()
        if isinstance(value, np.ndarray):
            out[label] = tuple(int(v) for v in value.tolist())
        elif isinstance(value, (bool, int, float)):
            out[label] = value
        elif isinstance(value, bytes):
            out[label] = value.decode("utf-8", "replace")
    return out


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


def _index_vector(vals: Tuple[int, ...], limit: int, what, where: str,
                  allow_minus_one: bool) -> Tuple[int, ...]:
    """A tensor-index vector, every entry checked to lie inside its table (``what`` names it
    in the error: a string, or ``(operator index, op name, "input" | "output")``, formatted
    only then)."""
    low = -1 if allow_minus_one else 0
    for v in vals:
        if v >= limit or v < low:
            raise ModelFormatError(where, "{} refers to tensor {} but the subgraph has {} "
                                   "tensors".format(what if isinstance(what, str) else
                                                    "operator {} ({}) {}".format(*what), v,
                                                    limit))
    return vals


# Field numbers in the TFLite schema (schema.fbs declaration order; a union takes two).
_M_OPCODES, _M_SUBGRAPHS, _M_BUFFERS = 1, 2, 4
_OC_DEPRECATED, _OC_CUSTOM, _OC_VERSION, _OC_BUILTIN = 0, 1, 2, 3
_SG_TENSORS, _SG_INPUTS, _SG_OUTPUTS, _SG_OPERATORS, _SG_NAME = 0, 1, 2, 3, 4
_T_SHAPE, _T_TYPE, _T_BUFFER, _T_NAME, _T_QUANT, _T_VARIABLE = 0, 1, 2, 3, 4, 5
_Q_SCALE = 2
_F32 = struct.Struct("<f")
_OP_OPCODE, _OP_INPUTS, _OP_OUTPUTS, _OP_OPT_TYPE, _OP_OPT = 0, 1, 2, 3, 4
_OP_OPT2_TYPE, _OP_OPT2 = 11, 12
_B_DATA, _B_OFFSET, _B_SIZE = 0, 1, 2


def _read_buffers(model: Table, size: int, where: str) -> np.ndarray:
    """Whether each buffer holds data; checks the data lies inside the file."""
    has_data = []
    for b, buf in enumerate(model.tables(_M_BUFFERS)):
        start, length = buf.vector(_B_DATA, 1)  # raises if the data runs past the file
        if length:
            has_data.append(True)
            continue
        n = buf.u64(_B_SIZE)
        if n and buf.u64(_B_OFFSET) + n > size:
            raise ModelFormatError(where, "truncated: buffer {} lies past the end of the "
                                   "file".format(b))
        has_data.append(n > 0)
    return np.asarray(has_data, dtype=bool)


#: no tensor of an edge model comes near this (2^40 elements: a terabyte at one byte each); a
#: larger shape is a corrupt file, not a model
MAX_TENSOR_ELEMENTS = 1 << 40


def _read_tensors(sg: Table, has_data: np.ndarray, where: str) -> List[TensorInfo]:
    types = _tensor_type_names()
    n_buffers = len(has_data)
    data = has_data.tolist()  # Python bools: indexed once per tensor
    out = []
    for i, t in enumerate(sg.tables(_SG_TENSORS)):
        shape = t.int32s(_T_SHAPE)
        elements = 1
        if shape:
            if min(shape) < 0:
                if min(shape) < -1:
                    raise ModelFormatError(where, "tensor {} has an invalid shape {}".format(
                        i, shape))
                shape = tuple(1 if d == -1 else d for d in shape)
            for d in shape:
                elements = min(elements * d, MAX_TENSOR_ELEMENTS + 1)
            if elements > MAX_TENSOR_ELEMENTS:
                shown = str(tuple(shape[:6]))[:-1] + (", ...)" if len(shape) > 6 else ")")
                raise ModelFormatError(where, "tensor {} has an implausible shape {} (rank {}, "
                                       "more than 2^40 elements)".format(i, shown, len(shape)))
        b = t.u32(_T_BUFFER)
        if b >= n_buffers:
            raise ModelFormatError(where, "tensor {} refers to buffer {} but the model has {} "
                                   "buffers".format(i, b, n_buffers))
        q = t.table(_T_QUANT)
        start, n_scales = q.vector(_Q_SCALE, 4) if q is not None else (0, 0)
        type_code = t.i8(_T_TYPE)
        dtype = types.get(type_code)
        if dtype is None:
            dtype = "TYPE_{}".format(type_code)
        out.append(TensorInfo(i, shape, dtype, bool(b > 0 and data[b] and not t.u8(_T_VARIABLE)),
                              n_scales > 0, n_scales > 1,
                              t.string(_T_NAME).decode("utf-8", "replace"),
                              _F32.unpack_from(q.buf, start)[0] if n_scales else 0.0))
    return out


def _op_names(model: Table) -> List[Tuple[str, int, int]]:
    """(name, builtin code, version) of every entry in the operator-code table."""
    known = builtin_op_names()
    out = []
    for oc in model.tables(_M_OPCODES):
        # Codes > 127 live in builtin_code; older writers only set deprecated_builtin_code.
        code = max(oc.i32(_OC_BUILTIN), oc.i8(_OC_DEPRECATED))
        if code == _CUSTOM_CODE:
            name = "CUSTOM:" + oc.string(_OC_CUSTOM).decode("utf-8", "replace")
        else:
            name = known.get(code, "BUILTIN_{}".format(code))
        out.append((name, code, oc.i32(_OC_VERSION, 1)))
    return out


def _read_ops(sg: Table, opcodes, n_tensors: int, where: str) -> List[OpNode]:
    _, opt_enum, opt2_enum, _ = _schema()
    ops = []
    for i, op in enumerate(sg.tables(_SG_OPERATORS)):
        idx = op.u32(_OP_OPCODE)
        if idx >= len(opcodes):
            raise ModelFormatError(where, "operator {} uses operator code {} but the model has "
                                   "{}".format(i, idx, len(opcodes)))
        name, code, version = opcodes[idx]
        inputs = _index_vector(op.int32s(_OP_INPUTS), n_tensors, (i, name, "input"), where,
                               True)
        outputs = _index_vector(op.int32s(_OP_OUTPUTS), n_tensors, (i, name, "output"), where,
                                True)
        options = {}
        opt_type = op.u8(_OP_OPT_TYPE)
        if opt_type:
            tab = op.table(_OP_OPT)
            if tab is not None:
                options = _read_options(tab, opt_enum, opt_type)
        else:
            opt_type = op.u8(_OP_OPT2_TYPE)
            tab = op.table(_OP_OPT2) if opt_type else None
            if tab is not None:
                options = _read_options(tab, opt2_enum, opt_type)
        ops.append(OpNode(i, name, code, version, inputs, outputs, options))
    return ops


def _parse(buf: bytes, where: str) -> OpGraph:
    model = root_table(buf)
    size = len(buf)
    subgraphs = list(model.tables(_M_SUBGRAPHS))
    if not subgraphs:
        raise ModelFormatError(where, "the model has no subgraph")
    has_data = _read_buffers(model, size, where)
    opcodes = _op_names(model)
    main = subgraphs[0]
    tensors = _read_tensors(main, has_data, where)
    nt = len(tensors)
    g_in = _index_vector(main.int32s(_SG_INPUTS), nt, "graph input", where, False)
    g_out = _index_vector(main.int32s(_SG_OUTPUTS), nt, "graph output", where, False)
    ops = _read_ops(main, opcodes, nt, where)
    others = []
    for s, sg in enumerate(subgraphs[1:], start=1):
        others.append(SubgraphInfo(
            index=s, name=sg.string(_SG_NAME).decode("utf-8", "replace"),
            operators=sg.count(_SG_OPERATORS), tensors=sg.count(_SG_TENSORS)))
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
