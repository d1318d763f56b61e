"""What the TFLite schema says: names, field numbers, builtin options, valid indices.

The generated ``tflite`` schema package (flatbuffers' Python classes) names every builtin
operator, tensor type and options table. Its per-field getters cost several Python calls each,
so :func:`read_options` reads scalar and numeric-vector fields straight from the options table
with a plan derived once per options type from the getters' own source
(:func:`options_reader`); anything else goes through the generated class. Field numbers are
the schema's declaration order (a union takes two). Shared by the
per-table reader (:mod:`edge_predictor.tflite_reader`) and the per-column one
(:mod:`edge_predictor.tflite_columns`).

Python 3.7 compatible; numpy and the ``tflite`` package only.
"""

from __future__ import annotations

import inspect
import re
import struct
from typing import Any, Dict, Tuple

import numpy as np

from .errors import ModelFormatError
from .flatbuf import Table

__all__ = ["schema", "builtin_op_names", "tensor_type_names", "options_reader", "read_options",
           "read_options_once", "clear_options_cache", "scalar_only", "check_indices",
           "check_opcode", "check_tensor", "MAX_TENSOR_ELEMENTS",
           "M_OPCODES", "M_SUBGRAPHS", "M_BUFFERS", "OC_DEPRECATED", "OC_CUSTOM", "OC_VERSION",
           "OC_BUILTIN", "SG_TENSORS", "SG_INPUTS", "SG_OUTPUTS", "SG_OPERATORS", "SG_NAME",
           "T_SHAPE", "T_TYPE", "T_BUFFER", "T_NAME", "T_QUANT", "T_VARIABLE", "Q_SCALE",
           "OP_OPCODE", "OP_INPUTS", "OP_OUTPUTS", "OP_OPT_TYPE", "OP_OPT", "OP_OPT2_TYPE",
           "OP_OPT2", "B_DATA", "B_OFFSET", "B_SIZE"]

# Field numbers in the TFLite schema (schema.fbs declaration order; a union takes two).
M_OPCODES, M_SUBGRAPHS, M_BUFFERS = 1, 2, 4
OC_DEPRECATED, OC_CUSTOM, OC_VERSION, OC_BUILTIN = 0, 1, 2, 3
SG_TENSORS, SG_INPUTS, SG_OUTPUTS, SG_OPERATORS, SG_NAME = 0, 1, 2, 3, 4
T_SHAPE, T_TYPE, T_BUFFER, T_NAME, T_QUANT, T_VARIABLE = 0, 1, 2, 3, 4, 5
Q_SCALE = 2
OP_OPCODE, OP_INPUTS, OP_OUTPUTS, OP_OPT_TYPE, OP_OPT = 0, 1, 2, 3, 4
OP_OPT2_TYPE, OP_OPT2 = 11, 12
B_DATA, B_OFFSET, B_SIZE = 0, 1, 2

#: no tensor of an edge model comes near this (2^40 elements: a terabyte at one byte each); a
#: larger shape is a corrupt file, not a model
MAX_TENSOR_ELEMENTS = 1 << 40


def schema():
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
        _CACHE["ops"] = _enum_names(schema()[0])
    return _CACHE["ops"]


def tensor_type_names() -> Dict[int, str]:
    if "types" not in _CACHE:
        _CACHE["types"] = _enum_names(schema()[3])
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


def options_reader(union_enum, type_code: int):
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


def read_options(table: Table, union_enum, type_code: int) -> Dict[str, Any]:
    """Builtin options as ``snake_case`` name -> value.

    Scalar and numeric-vector fields are read straight from the table (plans derived once per
    options type from the generated getters); anything else goes through the generated class.
    """
    reader = options_reader(union_enum, type_code)
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


def scalar_only(union_enum, type_code: int) -> bool:
    """Whether every field of an options type is a scalar read straight from its table (then
    the table's bytes alone determine its value)."""
    key = ("scalar_only", union_enum.__name__, type_code)
    if key not in _CACHE:
        reader = options_reader(union_enum, type_code)
        _CACHE[key] = reader is None or all(p is not None and p[0] == "scalar"
                                            for _, _, p in reader[1])
    return _CACHE[key]


#: options decoded so far, by content (:func:`read_options_once`); emptied when full
_DECODED: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
_DECODED_LIMIT = 4096
_HH = struct.Struct("<HH")
_I32 = struct.Struct("<i")


def clear_options_cache() -> None:
    """Forget the options decoded so far (:func:`read_options_once`)."""
    _DECODED.clear()


def read_options_once(table: Table, union_enum, type_code: int) -> Dict[str, Any]:
    """:func:`read_options`, decoded once per distinct content in the process for the types
    whose fields are all scalars (:func:`scalar_only`): their vtable and their table's bytes
    past its vtable offset determine them. A model's operators of one type, and a search
    space's candidates, mostly share their options. Returns a dict of its own."""
    if not scalar_only(union_enum, type_code):
        return read_options(table, union_enum, type_code)
    buf, pos = table.buf, table.pos
    vt = pos - _I32.unpack_from(buf, pos)[0]  # checked by Table
    vt_len, inline = _HH.unpack_from(buf, vt)
    key = (union_enum.__name__, type_code, buf[vt + 4:vt + vt_len], buf[pos + 4:pos + inline])
    out = _DECODED.get(key)
    if out is None:
        if len(_DECODED) >= _DECODED_LIMIT:
            _DECODED.clear()
        out = _DECODED[key] = read_options(table, union_enum, type_code)
    return dict(out)


def check_indices(vals: Tuple[int, ...], limit: int, what, where: str,
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


def check_opcode(i: int, index: int, n_codes: int, where: str) -> None:
    """Raise the reader's error if operator ``i`` uses an operator-code ``index`` past the
    table of ``n_codes``."""
    if index >= n_codes:
        raise ModelFormatError(where, "operator {} uses operator code {} but the model has "
                               "{}".format(i, index, n_codes))


def check_tensor(i: int, shape, buffer: int, n_buffers: int, where: str) -> None:
    """Raise the reader's error for tensor ``i`` if its shape (a -1, a dynamic batch, is
    allowed) or its buffer index is invalid; the checks of the per-table reader, in its order.

    Raises:
        ModelFormatError: a dimension below -1, more than 2^40 elements, a buffer index past
            the buffer table.
    """
    if shape and min(shape) < -1:
        raise ModelFormatError(where, "tensor {} has an invalid shape {}".format(i, tuple(shape)))
    elements = 1
    for d in shape:
        elements = min(elements * (1 if d == -1 else d), MAX_TENSOR_ELEMENTS + 1)
    if elements > MAX_TENSOR_ELEMENTS:
        shown = str(tuple(shape[:6]))[:-1] + (", ...)" if len(shape) > 6 else ")")
        raise ModelFormatError(where, "tensor {} has an implausible shape {} (rank {}, more "
                               "than 2^40 elements)".format(i, shown, len(shape)))
    if buffer >= n_buffers:
        raise ModelFormatError(where, "tensor {} refers to buffer {} but the model has {} "
                               "buffers".format(i, buffer, n_buffers))
