"""Read any ``.tflite`` flatbuffer into an :class:`~edge_predictor.graph.OpGraph`.

The reader trusts nothing in the file: every table index is checked against the table it points
into, every vector length against the file size, and every low-level decoding failure becomes a
:class:`~edge_predictor.errors.ModelFormatError` that names the file and the reason. Reading uses
the generated accessors of the ``tflite`` schema package (no TensorFlow) and vectorised
``...AsNumpy()`` reads where the schema offers them.
"""

from __future__ import annotations

import inspect
import os
import re
import struct
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from .errors import ModelFormatError
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
    from tflite.Model import Model
    from tflite.TensorType import TensorType
    return Model, BuiltinOperator, BuiltinOptions, BuiltinOptions2, TensorType


def _enum_names(enum_cls) -> Dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


_CACHE: Dict[str, Any] = {}


def builtin_op_names() -> Dict[int, str]:
    """Every member of the schema's ``BuiltinOperator`` enum.

    Returns:
        dict builtin code -> operator name, e.g. ``{3: "CONV_2D", ...}``.
    """
    if "ops" not in _CACHE:
        _CACHE["ops"] = _enum_names(_schema()[1])
    return _CACHE["ops"]


def _tensor_type_names() -> Dict[int, str]:
    if "types" not in _CACHE:
        _CACHE["types"] = _enum_names(_schema()[4])
    return _CACHE["types"]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _options_reader(union_enum, type_code: int):
    """(class, [(getter, snake name)]) for one options union member, cached per type code."""
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
            getters.append((attr, _snake(label)))
        entry = (cls, getters)
    _CACHE[key] = entry
    return entry


def _read_options(table, union_enum, type_code: int) -> Dict[str, Any]:
    reader = _options_reader(union_enum, type_code)
    if reader is None or table is None:
        return {}
    cls, getters = reader
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    out = {}
    for attr, label in getters:
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


def _count(n: int, what: str, size: int, where: str, elem_bytes: int = 4) -> int:
    if n < 0 or n * elem_bytes > size:
        raise ModelFormatError(where, "truncated or corrupt: {} claims {} entries in a {}-byte "
                               "file".format(what, n, size))
    return n


def _index_vector(arr, n: int, limit: int, what: str, where: str, allow_minus_one: bool):
    """Tensor-index vector as a tuple, every entry checked to lie inside its table."""
    if isinstance(arr, int):  # the generated accessor returns 0 for an absent vector
        return ()
    vals = tuple(int(v) for v in arr.tolist())
    if len(vals) != n:
        raise ModelFormatError(where, "corrupt {} vector".format(what))
    for v in vals:
        if v >= limit or v < (-1 if allow_minus_one else 0):
            raise ModelFormatError(where, "{} refers to tensor {} but the subgraph has {} "
                                   "tensors".format(what, v, limit))
    return vals


def _read_buffers(model, size: int, where: str) -> np.ndarray:
    """Whether each buffer holds data; checks the data lies inside the file."""
    n = _count(model.BuffersLength(), "the buffer table", size, where)
    has_data = np.zeros(n, dtype=bool)
    for b in range(n):
        buf = model.Buffers(b)
        length = buf.DataLength()
        if length:
            o = buf._tab.Offset(4)
            start = buf._tab.Vector(o)
            if start + length > size:
                raise ModelFormatError(where, "truncated: buffer {} needs bytes up to {} but the "
                                       "file has {}".format(b, start + length, size))
            has_data[b] = True
        elif buf.Size() > 0:
            if buf.Offset() + buf.Size() > size:
                raise ModelFormatError(where, "truncated: buffer {} lies past the end of the "
                                       "file".format(b))
            has_data[b] = True
    return has_data


def _read_tensors(sg, has_data: np.ndarray, size: int, where: str) -> List[TensorInfo]:
    types = _tensor_type_names()
    n = _count(sg.TensorsLength(), "the tensor table", size, where)
    out = []
    for i in range(n):
        t = sg.Tensors(i)
        shape_arr = t.ShapeAsNumpy()
        shape = () if isinstance(shape_arr, int) else tuple(int(d) for d in shape_arr.tolist())
        if any(d < -1 for d in shape):
            raise ModelFormatError(where, "tensor {} has an invalid shape {}".format(i, shape))
        shape = tuple(1 if d == -1 else d for d in shape)
        b = t.Buffer()
        if b >= len(has_data):
            raise ModelFormatError(where, "tensor {} refers to buffer {} but the model has {} "
                                   "buffers".format(i, b, len(has_data)))
        q = t.Quantization()
        n_scales = q.ScaleLength() if q is not None else 0
        type_code = t.Type()
        out.append(TensorInfo(
            index=i, shape=shape, dtype=types.get(type_code, "TYPE_{}".format(type_code)),
            is_constant=bool(b > 0 and has_data[b] and not t.IsVariable()),
            quantized=n_scales > 0, per_channel=n_scales > 1,
            name=(t.Name() or b"").decode("utf-8", "replace")))
    return out


def _op_names(model, size: int, where: str) -> List[Tuple[str, int, int]]:
    """(name, builtin code, version) of every entry in the operator-code table."""
    known = builtin_op_names()
    n = _count(model.OperatorCodesLength(), "the operator-code table", size, where)
    out = []
    for i in range(n):
        oc = model.OperatorCodes(i)
        # Codes > 127 live in builtin_code; older writers only set deprecated_builtin_code.
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        if code == _CUSTOM_CODE:
            custom = (oc.CustomCode() or b"").decode("utf-8", "replace")
            name = "CUSTOM:" + custom
        else:
            name = known.get(code, "BUILTIN_{}".format(code))
        out.append((name, code, int(oc.Version())))
    return out


def _read_ops(sg, opcodes, n_tensors: int, size: int, where: str) -> List[OpNode]:
    _, _, opt_enum, opt2_enum, _ = _schema()
    n = _count(sg.OperatorsLength(), "the operator list", size, where)
    ops = []
    for i in range(n):
        op = sg.Operators(i)
        idx = op.OpcodeIndex()
        if idx >= len(opcodes):
            raise ModelFormatError(where, "operator {} uses operator code {} but the model has "
                                   "{}".format(i, idx, len(opcodes)))
        name, code, version = opcodes[idx]
        n_in = _count(op.InputsLength(), "an operator's inputs", size, where)
        n_out = _count(op.OutputsLength(), "an operator's outputs", size, where)
        what = "operator {} ({})".format(i, name)
        inputs = _index_vector(op.InputsAsNumpy(), n_in, n_tensors, what + " input", where, True)
        outputs = _index_vector(op.OutputsAsNumpy(), n_out, n_tensors, what + " output", where,
                                True)
        options = _read_options(op.BuiltinOptions(), opt_enum, op.BuiltinOptionsType())
        if not options and op.BuiltinOptions2Type():
            options = _read_options(op.BuiltinOptions2(), opt2_enum, op.BuiltinOptions2Type())
        ops.append(OpNode(i, name, code, version, inputs, outputs, options))
    return ops


def _parse(buf: bytes, where: str) -> OpGraph:
    model_cls = _schema()[0]
    model = model_cls.GetRootAs(buf, 0)
    size = len(buf)
    n_sub = _count(model.SubgraphsLength(), "the subgraph table", size, where)
    if n_sub == 0:
        raise ModelFormatError(where, "the model has no subgraph")
    has_data = _read_buffers(model, size, where)
    opcodes = _op_names(model, size, where)
    main = model.Subgraphs(0)
    tensors = _read_tensors(main, has_data, size, where)
    nt = len(tensors)
    g_in = _index_vector(main.InputsAsNumpy(), main.InputsLength(), nt, "graph input", where,
                         False)
    g_out = _index_vector(main.OutputsAsNumpy(), main.OutputsLength(), nt, "graph output", where,
                          False)
    ops = _read_ops(main, opcodes, nt, size, where)
    others = []
    for s in range(1, n_sub):
        sg = model.Subgraphs(s)
        others.append(SubgraphInfo(
            index=s, name=(sg.Name() or b"").decode("utf-8", "replace"),
            operators=_count(sg.OperatorsLength(), "a subgraph's operators", size, where),
            tensors=_count(sg.TensorsLength(), "a subgraph's tensors", size, where)))
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
    except (struct.error, IndexError):
        raise ModelFormatError(where, "truncated or corrupt: a table points past the end of the "
                               "{}-byte file".format(len(buf))) from None
    except _DECODE_ERRORS as err:
        detail = str(err).splitlines()[0][:80] if str(err) else "no detail"
        raise ModelFormatError(where, "corrupt flatbuffer ({}: {})".format(
            type(err).__name__, detail)) from None
