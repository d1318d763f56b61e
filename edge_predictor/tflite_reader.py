"""Read any ``.tflite`` flatbuffer into an :class:`~edge_predictor.graph.OpGraph`.

The reader trusts nothing in the file: every table index is checked against the table it points
into, every vector length against the file size, and every low-level decoding failure becomes a
:class:`~edge_predictor.errors.ModelFormatError` that names the file and the reason. The root and
subgraph tables are read with the bounds-checked :mod:`edge_predictor.flatbuf`; the many tables
of one kind (buffers, tensors, operators, the options of one operator type) a field at a time
for all of them with :mod:`edge_predictor.flatbuf_columns` (numpy); builtin options' fields are
planned once per options type from the generated classes of the ``tflite`` schema package (no
TensorFlow).
"""

from __future__ import annotations

import inspect
import os
import re
import struct
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .errors import ModelFormatError
from .flatbuf import FlatbufferError, Table, root_table
from .flatbuf_columns import Columns, _check_end, _read, as_bytes, ragged
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
_OP_OPCODE, _OP_INPUTS, _OP_OUTPUTS, _OP_OPT_TYPE, _OP_OPT = 0, 1, 2, 3, 4
_OP_OPT2_TYPE, _OP_OPT2 = 11, 12
_B_DATA, _B_OFFSET, _B_SIZE = 0, 1, 2


def _read_buffers(model: Columns, size: int, where: str) -> np.ndarray:
    """Whether each buffer holds data; checks the data lies inside the file."""
    bufs = model.tables(0, _M_BUFFERS)
    _, length = bufs.vector(_B_DATA, 1)  # raises if the data runs past the file
    n = bufs.scalar(_B_SIZE, "<u8")
    off = bufs.scalar(_B_OFFSET, "<u8")
    outside = (length == 0) & (n > 0) & ((off > size) | (n > np.uint64(size) - np.minimum(
        off, np.uint64(size))))
    if outside.any():
        raise ModelFormatError(where, "truncated: buffer {} lies past the end of the "
                               "file".format(int(np.flatnonzero(outside)[0])))
    return (length > 0) | (n > 0)


#: no tensor of an edge model comes near this (2^40 elements: a terabyte at one byte each); a
#: larger shape is a corrupt file, not a model
MAX_TENSOR_ELEMENTS = 1 << 40


def _int_vectors(cols: Columns, field: int, rows: Optional[np.ndarray] = None
                 ) -> List[Tuple[int, ...]]:
    """An int32 vector field of every table, as tuples of ints (empty where absent)."""
    start, n = cols.vector(field, 4, rows)
    values, offsets = ragged(cols.u8, start, n, "<i4")
    flat, ends = values.tolist(), offsets.tolist()
    return [tuple(flat[a:b]) for a, b in zip(ends[:-1], ends[1:])]


def _strings(cols: Columns, field: int) -> List[str]:
    start, n = cols.vector(field, 1)
    buf = cols.u8.data
    return [bytes(buf[s:s + k]).decode("utf-8", "replace") if k else ""
            for s, k in zip(start.tolist(), n.tolist())]


def _check_tensor(i: int, shape: Tuple[int, ...], b: int, n_buffers: int, where: str) -> None:
    """Raise the reader's error for tensor ``i`` if its shape or buffer index is invalid."""
    if shape and min(shape) < -1:
        raise ModelFormatError(where, "tensor {} has an invalid shape {}".format(i, shape))
    elements = 1
    for d in shape:
        elements = min(elements * (1 if d == -1 else d), MAX_TENSOR_ELEMENTS + 1)
    if elements > MAX_TENSOR_ELEMENTS:
        shown = str(tuple(shape[:6]))[:-1] + (", ...)" if len(shape) > 6 else ")")
        raise ModelFormatError(where, "tensor {} has an implausible shape {} (rank {}, more "
                               "than 2^40 elements)".format(i, shown, len(shape)))
    if b >= n_buffers:
        raise ModelFormatError(where, "tensor {} refers to buffer {} but the model has {} "
                               "buffers".format(i, b, n_buffers))


def _read_tensors(sg: Columns, row: int, has_data: np.ndarray, where: str) -> List[TensorInfo]:
    types = _tensor_type_names()
    n_buffers = len(has_data)
    cols = sg.tables(row, _SG_TENSORS)
    n = len(cols)
    start, rank = cols.vector(_T_SHAPE, 4)
    dims, ends = ragged(cols.u8, start, rank, "<i4")
    buffers = cols.scalar(_T_BUFFER, "<u4").astype(np.int64)
    # the checks for every tensor at once; a flagged tensor is checked exactly, in file order
    suspect = buffers >= n_buffers
    if len(dims):
        owner = np.repeat(np.arange(n), rank)
        suspect[owner[dims < -1]] = True
        log2 = np.bincount(owner, np.log2(np.maximum(dims, 1).astype(np.float64)), n)
        suspect |= log2 > 39.5  # over 2^40 elements for sure, or near it
    flat, ends = dims.tolist(), ends.tolist()
    shapes = [tuple(flat[a:b]) for a, b in zip(ends[:-1], ends[1:])]
    for i in np.flatnonzero(suspect).tolist():
        _check_tensor(i, shapes[i], int(buffers[i]), n_buffers, where)
    type_codes = cols.scalar(_T_TYPE, "i1").tolist()
    variable = cols.scalar(_T_VARIABLE, "u1") != 0
    constant = ((buffers > 0) & has_data[np.minimum(buffers, n_buffers - 1)] & ~variable
                if n_buffers else np.zeros(n, dtype=bool)).tolist()
    quant = cols.indirect(_T_QUANT)
    n_scales = np.zeros(n, dtype=np.int64)
    if (quant > 0).any():
        n_scales[quant > 0] = Columns(cols.u8, quant[quant > 0]).vector(_Q_SCALE, 4)[1]
    names = _strings(cols, _T_NAME)
    out = []
    for i, (shape, code, const, scales, name) in enumerate(zip(
            shapes, type_codes, constant, n_scales.tolist(), names)):
        if -1 in shape:
            shape = tuple(1 if d == -1 else d for d in shape)
        dtype = types.get(code)
        if dtype is None:
            dtype = "TYPE_{}".format(code)
        out.append(TensorInfo(i, shape, dtype, const, scales > 0, scales > 1, name))
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


def _scalar_only(union_enum, type_code: int) -> bool:
    """Whether every field of an options type is a scalar read straight from its table (then
    the table's bytes determine its value)."""
    reader = _options_reader(union_enum, type_code)
    return reader is None or all(p is not None and p[0] == "scalar" for _, _, p in reader[1])


def _read_ops(buf: bytes, sg: Columns, row: int, opcodes, n_tensors: int, where: str) -> List[OpNode]:
    _, opt_enum, opt2_enum, _ = _schema()
    cols = sg.tables(row, _SG_OPERATORS)
    n = len(cols)
    idx = cols.scalar(_OP_OPCODE, "<u4").astype(np.int64)
    inputs, outputs = _int_vectors(cols, _OP_INPUTS), _int_vectors(cols, _OP_OUTPUTS)
    n_codes = len(opcodes)
    for i in range(n):  # the checks in file order: the first bad operator names the error
        if idx[i] >= n_codes:
            raise ModelFormatError(where, "operator {} uses operator code {} but the model has "
                                   "{}".format(i, int(idx[i]), n_codes))
        name = opcodes[idx[i]][0]
        _index_vector(inputs[i], n_tensors, (i, name, "input"), where, True)
        _index_vector(outputs[i], n_tensors, (i, name, "output"), where, True)
    opt_type = cols.scalar(_OP_OPT_TYPE, "u1").astype(np.int64)
    opt2_type = np.where(opt_type == 0, cols.scalar(_OP_OPT2_TYPE, "u1").astype(np.int64), 0)
    options: List[Dict[str, Any]] = [{} for _ in range(n)]
    # operators of one type mostly share their options: a scalar-only options table is read
    # once per distinct content (its vtable and its inline bytes)
    seen: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
    for enum, field, types in ((opt_enum, _OP_OPT, opt_type), (opt2_enum, _OP_OPT2, opt2_type)):
        pos = cols.indirect(field, rows=types > 0)
        rows = np.flatnonzero(pos > 0)
        if not len(rows):
            continue
        tabs = Columns(cols.u8, pos[rows])
        inline = _read(cols.u8, tabs.vt + 2, "<u2").astype(np.int64)  # the table's inline size
        _check_end(tabs.pos, inline, len(buf), "options table")
        vt_end = tabs.vt + 4 + 2 * tabs.n_fields
        for k, code, p, vt, ve, size in zip(rows.tolist(), types[rows].tolist(),
                                           tabs.pos.tolist(), tabs.vt.tolist(),
                                           vt_end.tolist(), (tabs.pos + inline).tolist()):
            if not _scalar_only(enum, code):
                options[k] = _read_options(Table(buf, p), enum, code)
                continue
            key = (field, code, buf[vt:ve], buf[p:size])
            cached = seen.get(key)
            if cached is None:
                cached = seen[key] = _read_options(Table(buf, p), enum, code)
            options[k] = dict(cached)
    ops = []
    for i in range(n):
        name, code, version = opcodes[idx[i]]
        ops.append(OpNode(i, name, code, version, inputs[i], outputs[i], options[i]))
    return ops


def _parse(buf: bytes, where: str) -> OpGraph:
    model = root_table(buf)
    size = len(buf)
    subgraphs = list(model.tables(_M_SUBGRAPHS))
    if not subgraphs:
        raise ModelFormatError(where, "the model has no subgraph")
    u8 = as_bytes(buf)
    has_data = _read_buffers(Columns(u8, np.array([model.pos])), size, where)
    opcodes = _op_names(model)
    main = subgraphs[0]
    main_cols = Columns(u8, np.array([main.pos]))
    tensors = _read_tensors(main_cols, 0, has_data, where)
    nt = len(tensors)
    g_in = _index_vector(main.int32s(_SG_INPUTS), nt, "graph input", where, False)
    g_out = _index_vector(main.int32s(_SG_OUTPUTS), nt, "graph output", where, False)
    ops = _read_ops(buf, main_cols, 0, opcodes, nt, where)
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
