"""Many flatbuffer tables of one type read at once, as numpy columns.

A TFLite model holds hundreds of tensors, operators and buffers, each a table of the same type.
Reading them one Python call per field (:mod:`edge_predictor.flatbuf`) costs microseconds per
field; :class:`Columns` reads one field of every table in a handful of numpy operations: the
vtables are gathered once, a field becomes an array of positions, a scalar field an array of
values, a vector field arrays of starts and lengths, and the elements of all the vectors of one
field a single flat array (:func:`ragged`).

Every position is checked against the buffer before it is read, as :class:`flatbuf.Table` does:
a corrupt file raises :class:`~edge_predictor.flatbuf.FlatbufferError`, never reads garbage.
Field numbers are the schema's field order, as in :mod:`edge_predictor.flatbuf`.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .flatbuf import FlatbufferError

__all__ = ["Columns", "ragged", "as_bytes", "read_at", "check_end"]

_I64 = np.int64


def as_bytes(buf: bytes) -> np.ndarray:
    """The buffer as uint8 [size] (a view, no copy)."""
    return np.frombuffer(buf, dtype=np.uint8)


_SPANS = {w: np.arange(w, dtype=_I64) for w in (2, 4, 8)}
#: the vtable entries gathered up front (every field the TFLite reader asks for is below this;
#: a later one is read on its own)
_MAX_FIELDS = 24


def read_at(u8: np.ndarray, pos: np.ndarray, dtype: str) -> np.ndarray:
    """Little-endian values of ``dtype`` at byte positions ``pos`` (int64 [n], checked by the
    caller: :func:`check_end`); any alignment. Returns an array [n] of ``dtype``."""
    width = np.dtype(dtype).itemsize
    if width == 1:
        return u8[pos].view(dtype)
    return u8[pos[:, None] + _SPANS[width]].view(dtype).reshape(-1)


def check_end(p: np.ndarray, width, size: int, what) -> None:
    """Raise unless every ``p + width`` (width: an int or an array like p) is within size; a
    negative ``p`` counts as past the end (read as unsigned)."""
    if len(p) and int((p.view(np.uint64) + width).max()) > size:
        raise FlatbufferError("{} outside the buffer".format(what))


def ragged(u8: np.ndarray, starts: np.ndarray, counts: np.ndarray, dtype: str
           ) -> Tuple[np.ndarray, np.ndarray]:
    """The elements of many vectors of one element type, concatenated.

    Args:
        u8: the buffer (:func:`as_bytes`).
        starts: int64 [n] positions of each vector's first element (checked by
            :meth:`Columns.vector`).
        counts: int64 [n] element counts.
        dtype: numpy dtype of an element, e.g. ``"<i4"``.

    Returns:
        (values [sum(counts)] of ``dtype``, offsets int64 [n + 1]): vector ``i`` is
        ``values[offsets[i]:offsets[i + 1]]``.
    """
    width = np.dtype(dtype).itemsize
    offsets = np.zeros(len(counts) + 1, dtype=_I64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        return np.zeros(0, dtype=dtype), offsets
    owner = np.repeat(np.arange(len(counts)), counts)
    pos = starts[owner] + (np.arange(total, dtype=_I64) - offsets[:-1][owner]) * width
    return read_at(u8, pos, dtype), offsets


class Columns:
    """The tables at positions ``pos`` of one buffer, their vtables read and checked.

    Args:
        u8: the buffer (:func:`as_bytes`).
        pos: int64 [n] table positions.
    """

    __slots__ = ("u8", "size", "pos", "vt", "n_fields", "offsets")

    def __init__(self, u8: np.ndarray, pos: np.ndarray):
        size = len(u8)
        pos = np.asarray(pos, dtype=_I64)
        check_end(pos, 4, size, "table")
        vt = pos - read_at(u8, pos, "<i4")
        check_end(vt, 4, size, "vtable")
        vt_len = read_at(u8, vt, "<u2").astype(_I64)
        if len(vt_len) and int(vt_len.min()) < 4:
            raise FlatbufferError("vtable shorter than its header")
        check_end(vt, vt_len, size, "vtable")
        self.u8, self.size, self.pos, self.vt = u8, size, pos, vt
        self.n_fields = (vt_len - 4) // 2
        # field offsets [n, F]: one gather for the fields every reader asks for
        width = min(int(self.n_fields.max()) if len(vt) else 0, _MAX_FIELDS)
        at = vt[:, None] + (4 + 2 * np.arange(width, dtype=_I64))
        present = at < (vt + vt_len - 1)[:, None]
        self.offsets = u8[np.where(present, at, 0)[..., None] + _SPANS[2]].view("<u2")[..., 0]
        self.offsets = np.where(present, self.offsets, 0)

    def __len__(self) -> int:
        return len(self.pos)

    def field(self, field: int, width: int) -> np.ndarray:
        """int64 [n] absolute positions of a field (0 where absent), checked to hold ``width``
        bytes."""
        if field < self.offsets.shape[1]:
            off = self.offsets[:, field]
        else:
            has = self.n_fields > field
            off = np.zeros(len(self.pos), dtype=_I64)
            if has.any():
                off[has] = read_at(self.u8, self.vt[has] + 4 + 2 * field, "<u2")
        p = np.where(off > 0, self.pos + off, 0)
        check_end(p, width, self.size, "field")
        return p

    def scalar(self, field: int, dtype: str, default=0) -> np.ndarray:
        """[n] values of a scalar field of ``dtype`` (``default`` where absent)."""
        p = self.field(field, np.dtype(dtype).itemsize)
        present = p > 0
        if present.all():
            return read_at(self.u8, p, dtype)
        out = np.full(len(p), default, dtype=dtype)
        if present.any():
            out[present] = read_at(self.u8, p[present], dtype)
        return out

    def indirect(self, field: int, rows: Optional[np.ndarray] = None) -> np.ndarray:
        """int64 [n] positions an offset field points to (0 where absent); only ``rows``
        (bool [n]) are read when given, the others are 0."""
        p = self.field(field, 4)
        if rows is not None:
            p = np.where(rows, p, 0)
        present = p > 0
        target = np.zeros(len(p), dtype=_I64)
        if present.any():
            target[present] = p[present] + read_at(self.u8, p[present], "<u4").astype(_I64)
        check_end(target, 4, self.size, "offset")
        return target

    def vector(self, field: int, elem_size: int) -> Tuple[np.ndarray, np.ndarray]:
        """(int64 [n] start of the elements, int64 [n] lengths) of a vector field; (0, 0)
        where absent. Raises FlatbufferError when a vector runs past the buffer."""
        t = self.indirect(field)
        present = t > 0
        n = np.zeros(len(t), dtype=_I64)
        if present.any():
            n[present] = read_at(self.u8, t[present], "<u4")
        check_end(t, 4 + n * elem_size, self.size, "vector")
        return np.where(present, t + 4, 0), n
