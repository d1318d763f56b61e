"""A large model's buffers, tensors and operators read a field at a time (numpy columns).

:mod:`edge_predictor.tflite_reader` reads a table at a time in Python: a few microseconds per
field, ~10 us per tensor and per operator. This module reads one field of every table of a
kind at once with :mod:`edge_predictor.flatbuf_columns`: a numpy call costs 0.5-2 us whatever
its length, so a column costs 5-20 us. That pays from about a hundred tables of a kind; the
reader switches here from :data:`edge_predictor.tflite_reader.TENSOR_COLUMNS_FROM` tensors
(``OPERATOR_COLUMNS_FROM`` operators). Both paths give the same graph (the tests read every
fixture both ways).

The checks are the per-table reader's: every index against its table, every vector against the
file. Where a file has several faults, the per-table reader reports the first in file order; this
one may report another (all are :class:`~edge_predictor.errors.ModelFormatError`).

Python 3.7 compatible; numpy only.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

from .errors import ModelFormatError
from .flatbuf import Table
from .flatbuf_columns import Columns, as_bytes, ragged, read_at
from .graph import OpNode, TensorInfo
from .tflite_schema import (B_DATA, B_OFFSET, B_SIZE, M_BUFFERS, OP_INPUTS, OP_OPCODE, OP_OPT,
                            OP_OPT2, OP_OPT2_TYPE, OP_OPT_TYPE, OP_OUTPUTS, Q_SCALE,
                            SG_OPERATORS, SG_TENSORS, T_BUFFER, T_NAME, T_QUANT, T_SHAPE, T_TYPE,
                            T_VARIABLE, check_indices, check_opcode, check_tensor,
                            read_options_once, schema, tensor_type_names)

__all__ = ["read_buffers", "read_tensors", "read_ops"]


def _vector_tables(table: Table, field: int) -> Columns:
    """The tables of a vector-of-tables field of a (row-read) table, as columns."""
    start, n = table.vector(field, 4)
    u8 = as_bytes(table.buf)
    slots = start + 4 * np.arange(n, dtype=np.int64)
    return Columns(u8, slots + read_at(u8, slots, "<u4").astype(np.int64))


def _int_vectors(cols: Columns, field: int) -> List[Tuple[int, ...]]:
    """An int32 vector field of every table, as tuples of ints (empty where absent)."""
    start, n = cols.vector(field, 4)
    values, offsets = ragged(cols.u8, start, n, "<i4")
    flat, ends = values.tolist(), offsets.tolist()
    return [tuple(flat[a:b]) for a, b in zip(ends[:-1], ends[1:])]


def read_buffers(model: Table, where: str) -> np.ndarray:
    """bool [B]: whether each buffer holds data (inline, or by offset and size).

    Raises:
        ModelFormatError: a buffer's data lies past the end of the file.
        FlatbufferError: a table or vector points outside the file.
    """
    bufs = _vector_tables(model, M_BUFFERS)
    size = bufs.size
    _, length = bufs.vector(B_DATA, 1)  # raises if the data runs past the file
    n = bufs.scalar(B_SIZE, "<u8")
    off = bufs.scalar(B_OFFSET, "<u8")
    limit = np.uint64(size)
    outside = (length == 0) & (n > 0) & ((off > limit) | (n > limit - np.minimum(off, limit)))
    if outside.any():
        raise ModelFormatError(where, "truncated: buffer {} lies past the end of the "
                               "file".format(int(np.flatnonzero(outside)[0])))
    return (length > 0) | (n > 0)


def read_tensors(sg: Table, has_data: np.ndarray, where: str) -> List[TensorInfo]:
    """The subgraph's tensors, as :func:`edge_predictor.tflite_reader.read_model` reads them.

    Args:
        sg: the subgraph table.
        has_data: bool [B] from :func:`read_buffers`.
        where: the file, for errors.

    Raises:
        ModelFormatError: an invalid shape or buffer index (:func:`check_tensor`).
        FlatbufferError: a table or vector points outside the file.
    """
    cols = _vector_tables(sg, SG_TENSORS)
    n, n_buffers = len(cols), len(has_data)
    start, rank = cols.vector(T_SHAPE, 4)
    dims, ends = ragged(cols.u8, start, rank, "<i4")
    buffers = cols.scalar(T_BUFFER, "<u4").astype(np.int64)
    # every tensor checked at once; a flagged one exactly, in file order
    suspect = buffers >= n_buffers
    if len(dims):
        owner = np.repeat(np.arange(n), rank)
        suspect[owner[dims < 0]] = True
        log2 = np.bincount(owner, np.log2(np.maximum(dims, 1).astype(np.float64)), n)
        suspect |= log2 > 39.5  # over 2^40 elements for sure, or near it
    flat, bounds = dims.tolist(), ends.tolist()
    shapes = [tuple(flat[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    for i in np.flatnonzero(suspect).tolist():
        check_tensor(i, shapes[i], int(buffers[i]), n_buffers, where)
        shapes[i] = tuple(1 if d == -1 else d for d in shapes[i])
    variable = cols.scalar(T_VARIABLE, "u1") != 0
    constant = ((buffers > 0) & has_data[np.minimum(buffers, max(n_buffers - 1, 0))]
                & ~variable) if n_buffers else np.zeros(n, dtype=bool)
    quant = cols.indirect(T_QUANT)
    has_q = np.flatnonzero(quant > 0)
    n_scales = np.zeros(n, dtype=np.int64)
    scale = np.zeros(n, dtype=np.float64)
    if len(has_q):
        q_start, q_n = Columns(cols.u8, quant[has_q]).vector(Q_SCALE, 4)
        n_scales[has_q] = q_n
        first = q_n > 0
        scale[has_q[first]] = read_at(cols.u8, q_start[first], "<f4")
    name_start, name_len = cols.vector(T_NAME, 1)
    data = cols.u8.data
    types = tensor_type_names()
    out = []
    for i, (shape, code, const, k, s, a, m) in enumerate(zip(
            shapes, cols.scalar(T_TYPE, "i1").tolist(), constant.tolist(), n_scales.tolist(),
            scale.tolist(), name_start.tolist(), name_len.tolist())):
        dtype = types.get(code)
        if dtype is None:
            dtype = "TYPE_{}".format(code)
        name = bytes(data[a:a + m]).decode("utf-8", "replace") if m else ""
        out.append(TensorInfo(i, shape, dtype, const, k > 0, k > 1, name, s))
    return out


def read_ops(sg: Table, opcodes: List[Tuple[str, int, int]], n_tensors: int, where: str
             ) -> List[OpNode]:
    """The subgraph's operators, as :func:`edge_predictor.tflite_reader.read_model` reads them.

    Options are decoded once per distinct content (:func:`read_options_once`).

    Raises:
        ModelFormatError: an operator code or a tensor index past its table.
        FlatbufferError: a table or vector points outside the file.
    """
    cols = _vector_tables(sg, SG_OPERATORS)
    n = len(cols)
    idx = cols.scalar(OP_OPCODE, "<u4").astype(np.int64).tolist()
    inputs, outputs = _int_vectors(cols, OP_INPUTS), _int_vectors(cols, OP_OUTPUTS)
    n_codes = len(opcodes)
    for i in range(n):  # in file order: the first bad operator names the error
        check_opcode(i, idx[i], n_codes, where)
        name = opcodes[idx[i]][0]
        check_indices(inputs[i], n_tensors, (i, name, "input"), where, True)
        check_indices(outputs[i], n_tensors, (i, name, "output"), where, True)
    _, opt_enum, opt2_enum, _ = schema()
    opt_type = cols.scalar(OP_OPT_TYPE, "u1").astype(np.int64)
    opt2_type = np.where(opt_type == 0, cols.scalar(OP_OPT2_TYPE, "u1").astype(np.int64), 0)
    options: List[Dict[str, Any]] = [{} for _ in range(n)]
    buf = sg.buf
    for enum, field, types in ((opt_enum, OP_OPT, opt_type), (opt2_enum, OP_OPT2, opt2_type)):
        pos = cols.indirect(field, rows=types > 0)
        rows = np.flatnonzero(pos > 0)
        for k, code, p in zip(rows.tolist(), types[rows].tolist(), pos[rows].tolist()):
            options[k] = read_options_once(Table(buf, p), enum, code)
    return [OpNode(i, opcodes[idx[i]][0], opcodes[idx[i]][1], opcodes[idx[i]][2], inputs[i],
                   outputs[i], options[i]) for i in range(n)]
