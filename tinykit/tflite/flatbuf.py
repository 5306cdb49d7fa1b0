"""A bounds-checked reader of FlatBuffers tables, vectors and strings.

The `flatbuffers` runtime trusts its input: an offset that points past the end raises a
bare `struct.error` or `IndexError`, and a forged vector length can make numpy or a loop
allocate gigabytes. Every read here is checked against the buffer first and fails with a
`ModelError` that says what was being read; a vector can never claim more elements than
the bytes left in the file, and the total number of decoded elements is capped at a
multiple of the file size, so a 1 KB input can never cost more than a few KB of work.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from tinykit.errors import ModelError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_WIDTH = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4,
          "d": 8}

#: Elements a file may make us decode, per byte of file (tables shared by many parents
#: are the only way to exceed 1; real converters never share more than a few).
_WORK_PER_BYTE = 16
_WORK_FLOOR = 1 << 16


class FlatBuffer:
    """A byte string with checked little-endian reads; `what` names the object for errors."""

    __slots__ = ("data", "size", "_work_left")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        self._work_left = _WORK_PER_BYTE * self.size + _WORK_FLOOR

    def fail(self, message: str) -> ModelError:
        return ModelError(
            f"corrupt TFLite file: {message}",
            hint="the file is truncated or damaged; convert or download the model again",
        )

    def need(self, pos: int, count: int, what: str) -> None:
        if pos < 0 or count < 0 or pos + count > self.size:
            raise self.fail(
                f"{what} at byte {pos} (+{count}) lies outside the file ({self.size} bytes)"
            )

    def spend(self, count: int, what: str) -> None:
        """Charge decoded elements against the work budget (guards against shared tables)."""
        self._work_left -= count
        if self._work_left < 0:
            raise self.fail(f"{what}: far more elements than a file of {self.size} bytes holds")

    def scalar(self, pos: int, fmt: str, what: str) -> Any:
        self.need(pos, _WIDTH[fmt], what)
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def uoffset(self, pos: int, what: str) -> int:
        """Follow the unsigned offset stored at `pos` (always forward in a FlatBuffer)."""
        self.need(pos, 4, what)
        target = pos + int(_U32.unpack_from(self.data, pos)[0])
        self.need(target, 4, what)
        return target

    def table(self, pos: int, what: str) -> Table:
        self.need(pos, 4, what)
        vtable = pos - int(_I32.unpack_from(self.data, pos)[0])
        self.need(vtable, 4, f"{what} (vtable)")
        vsize = int(_U16.unpack_from(self.data, vtable)[0])
        if vsize < 4 or vsize % 2:
            raise self.fail(f"{what} has a malformed vtable (size {vsize})")
        self.need(vtable, vsize, f"{what} (vtable)")
        self.spend(1, what)
        return Table(self, pos, vtable, vsize, what)

    def root(self, what: str) -> Table:
        return self.table(self.uoffset(0, f"{what} (root offset)"), what)


class Table:
    """One FlatBuffers table; fields are addressed by slot (their order in schema.fbs)."""

    __slots__ = ("buf", "pos", "vtable", "vsize", "what")

    def __init__(self, buf: FlatBuffer, pos: int, vtable: int, vsize: int, what: str) -> None:
        self.buf = buf
        self.pos = pos
        self.vtable = vtable
        self.vsize = vsize
        self.what = what

    def _field(self, slot: int) -> int:
        """Absolute position of a field, or 0 when the field is absent (default)."""
        entry = 4 + 2 * slot
        if entry + 2 > self.vsize:
            return 0
        offset = int(_U16.unpack_from(self.buf.data, self.vtable + entry)[0])
        return self.pos + offset if offset else 0

    def has(self, slot: int) -> bool:
        return self._field(slot) != 0

    def scalar(self, slot: int, fmt: str, default: Any, name: str) -> Any:
        pos = self._field(slot)
        if not pos:
            return default
        return self.buf.scalar(pos, fmt, f"{self.what}.{name}")

    def _target(self, slot: int, name: str) -> int:
        pos = self._field(slot)
        return self.buf.uoffset(pos, f"{self.what}.{name}") if pos else 0

    def table(self, slot: int, name: str) -> Table | None:
        target = self._target(slot, name)
        return self.buf.table(target, f"{self.what}.{name}") if target else None

    def vector_span(self, slot: int, width: int, name: str) -> tuple[int, int]:
        """(first element position, element count) of a vector field; (0, 0) when absent."""
        target = self._target(slot, name)
        if not target:
            return 0, 0
        what = f"{self.what}.{name}"
        count = int(_U32.unpack_from(self.buf.data, target)[0])
        self.buf.need(target + 4, count * width, f"{what} ({count} elements of {width} bytes)")
        self.buf.spend(count, what)
        return target + 4, count

    def numbers(self, slot: int, fmt: str, name: str) -> tuple[Any, ...]:
        """A vector of scalars as a tuple (empty when absent)."""
        start, count = self.vector_span(slot, _WIDTH[fmt], name)
        if not count:
            return ()
        return struct.unpack_from(f"<{count}{fmt}", self.buf.data, start)

    def raw(self, slot: int, name: str) -> bytes:
        """A [ubyte] vector as bytes (empty when absent)."""
        start, count = self.vector_span(slot, 1, name)
        return bytes(self.buf.data[start:start + count])

    def string(self, slot: int, name: str) -> str:
        """A string field, decoded as UTF-8 with invalid bytes replaced ("" when absent)."""
        start, count = self.vector_span(slot, 1, name)
        return self.buf.data[start:start + count].decode("utf-8", errors="replace")

    def tables(self, slot: int, name: str) -> list[Table]:
        """A vector of tables (empty when absent)."""
        start, count = self.vector_span(slot, 4, name)
        read: Callable[[int, str], Table] = self.buf.table
        uoffset = self.buf.uoffset
        return [
            read(uoffset(start + 4 * i, f"{self.what}.{name}[{i}]"), f"{self.what}.{name}[{i}]")
            for i in range(count)
        ]

    def strings(self, slot: int, name: str) -> tuple[str, ...]:
        """A vector of strings (empty when absent)."""
        start, count = self.vector_span(slot, 4, name)
        out = []
        for i in range(count):
            target = self.buf.uoffset(start + 4 * i, f"{self.what}.{name}[{i}]")
            length = int(_U32.unpack_from(self.buf.data, target)[0])
            self.buf.need(target + 4, length, f"{self.what}.{name}[{i}]")
            self.buf.spend(length, name)
            out.append(self.buf.data[target + 4:target + 4 + length].decode("utf-8", "replace"))
        return tuple(out)
