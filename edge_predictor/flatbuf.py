"""A small, bounds-checked flatbuffer table reader for the hot path of the TFLite reader.

The generated ``tflite`` accessors re-read a table's vtable for every field and go through
several Python calls per scalar; reading a 500-operator model that way takes tens of
milliseconds. :class:`Table` reads the vtable once, and every position is checked against the
buffer, so a corrupt file raises :class:`FlatbufferError` instead of reading garbage (Python's
``struct.unpack_from`` silently accepts negative offsets, counting from the end).

Field numbers are the schema's field order (``tensor.fbs`` declaration order), not vtable byte
offsets.
"""

from __future__ import annotations

import struct
from typing import Dict, List, Optional, Tuple


__all__ = ["FlatbufferError", "Table", "root_table"]

_U8 = struct.Struct("<B")
_I8 = struct.Struct("<b")
_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class FlatbufferError(ValueError):
    """A position, length or offset that points outside the buffer."""


class Table:
    """One flatbuffer table: its position and the field offsets of its vtable.

    Args:
        buf: the whole flatbuffer.
        pos: the table's position in ``buf``.
        vtables: vtable position -> field offsets, shared by the tables of one buffer (the
            root's and everything reached from it); None: not shared.
    """

    __slots__ = ("buf", "pos", "fields", "vtables", "size")

    def __init__(self, buf: bytes, pos: int, vtables: Optional[Dict[int, Tuple[int, ...]]] = None):
        size = len(buf)
        if pos < 0 or pos + 4 > size:
            raise FlatbufferError("table at {} outside a {}-byte buffer".format(pos, size))
        vt = pos - _I32.unpack_from(buf, pos)[0]
        # tables of one type mostly share a vtable: each is read and checked once per buffer
        fields = vtables.get(vt) if vtables is not None else None
        if fields is None:
            if vt < 0 or vt + 4 > size:
                raise FlatbufferError("vtable at {} outside the buffer".format(vt))
            vt_len = _U16.unpack_from(buf, vt)[0]
            n = (vt_len - 4) // 2
            if vt_len < 4 or vt + vt_len > size:
                raise FlatbufferError("vtable of {} bytes at {} runs past the buffer".format(
                    vt_len, vt))
            fields = struct.unpack_from("<%dH" % n, buf, vt + 4) if n else ()
            if vtables is not None:
                vtables[vt] = fields
        self.buf, self.pos, self.fields, self.vtables, self.size = buf, pos, fields, vtables, size

    def _at(self, field: int, width: int) -> int:
        """Absolute position of a present field (0 if absent)."""
        fields = self.fields
        if field < len(fields):
            off = fields[field]
            if off:
                p = self.pos + off
                if p + width > self.size:
                    raise FlatbufferError("field {} runs past the buffer".format(field))
                return p
        return 0

    def u8(self, field: int, default: int = 0) -> int:
        p = self._at(field, 1)
        return _U8.unpack_from(self.buf, p)[0] if p else default

    def i8(self, field: int, default: int = 0) -> int:
        p = self._at(field, 1)
        return _I8.unpack_from(self.buf, p)[0] if p else default

    def i32(self, field: int, default: int = 0) -> int:
        p = self._at(field, 4)
        return _I32.unpack_from(self.buf, p)[0] if p else default

    def u32(self, field: int, default: int = 0) -> int:
        p = self._at(field, 4)
        return _U32.unpack_from(self.buf, p)[0] if p else default

    def u64(self, field: int, default: int = 0) -> int:
        p = self._at(field, 8)
        return _U64.unpack_from(self.buf, p)[0] if p else default

    def _indirect(self, field: int) -> int:
        """Where an offset field points (0 when absent), checked to hold 4 bytes."""
        p = self._at(field, 4)
        if not p:
            return 0
        target = p + _U32.unpack_from(self.buf, p)[0]
        if target + 4 > self.size:
            raise FlatbufferError("field {} points past the buffer".format(field))
        return target

    def table(self, field: int) -> Optional["Table"]:
        """A sub-table, or None when the field is absent."""
        p = self._indirect(field)
        return Table(self.buf, p, self.vtables) if p else None

    def vector(self, field: int, elem_size: int) -> Tuple[int, int]:
        """(start of the elements, length) of a vector field; (0, 0) when absent."""
        p = self._indirect(field)
        if not p:
            return 0, 0
        n = _U32.unpack_from(self.buf, p)[0]
        if p + 4 + n * elem_size > self.size:
            raise FlatbufferError("vector of {} elements at {} runs past the buffer".format(n, p))
        return p + 4, n

    def int32s(self, field: int) -> Tuple[int, ...]:
        """An int32 vector as a tuple of ints, empty when absent (struct, not numpy: the
        vectors here are shapes and operator inputs of a few entries, where numpy's per-call
        overhead dominates)."""
        start, n = self.vector(field, 4)
        if not n:
            return ()
        return struct.unpack_from("<%di" % n, self.buf, start)

    def string(self, field: int) -> bytes:
        start, n = self.vector(field, 1)
        return self.buf[start:start + n] if n else b""

    def tables(self, field: int) -> List["Table"]:
        """The tables of a vector-of-tables field."""
        start, n = self.vector(field, 4)
        if not n:
            return []
        buf, vtables = self.buf, self.vtables
        offsets = struct.unpack_from("<%dI" % n, buf, start)
        return [Table(buf, start + 4 * i + off, vtables) for i, off in enumerate(offsets)]

    def count(self, field: int, elem_size: int = 4) -> int:
        """Length of a vector field (0 when absent)."""
        return self.vector(field, elem_size)[1]


def root_table(buf: bytes) -> Table:
    """The root table of a flatbuffer (its offset is the first 4 bytes)."""
    if len(buf) < 8:
        raise FlatbufferError("a {}-byte buffer has no root table".format(len(buf)))
    return Table(buf, _U32.unpack_from(buf, 0)[0], {})
