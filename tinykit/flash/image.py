"""Firmware images: ELF, Intel HEX or raw BIN, as address-ordered segments of bytes.

`load_image(path, address=None)` picks the reader from the file's content (an ELF magic,
a HEX record mark) and falls back on the suffix; a BIN needs the address it goes to.
Every damaged, empty or ambiguous input is an `ImageError` naming the file and, for HEX,
the line. ELF loadable segments are placed at their physical (load) address `p_paddr`
for `p_filesz` bytes: that is where the startup code copies `.data` from.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tinykit.errors import FlashError


class ImageError(FlashError):
    """A firmware file is missing, empty, corrupt or does not fit the chip."""


@dataclass(frozen=True)
class Segment:
    """Bytes that go to one contiguous address range."""

    address: int
    data: bytes

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass(frozen=True)
class Image:
    """A firmware image: non-overlapping segments sorted by address, adjacent ones merged."""

    segments: tuple[Segment, ...]
    source: str
    kind: str

    @property
    def size(self) -> int:
        """Bytes of data (gaps between segments are not counted)."""
        return sum(len(s.data) for s in self.segments)

    @property
    def start(self) -> int:
        return self.segments[0].address

    @property
    def end(self) -> int:
        """First address after the last byte."""
        return self.segments[-1].end

    @property
    def crc32(self) -> int:
        """CRC-32 (zlib) of the segments' bytes in address order."""
        crc = 0
        for segment in self.segments:
            crc = zlib.crc32(segment.data, crc)
        return crc

    def ranges(self) -> list[tuple[int, int]]:
        return [(s.address, s.end) for s in self.segments]

    def blocks(self, size: int, align: int = 4) -> list[Segment]:
        """The image cut into blocks of at most `size` bytes that never cross a `size`
        boundary; each block is widened to `align` with 0xFF, which leaves erased flash
        as it is."""
        out: list[Segment] = []
        for segment in self.segments:
            address = segment.address
            while address < segment.end:
                stop = min(segment.end, (address // size + 1) * size)
                out.append(Segment(address, segment.data[address - segment.address:
                                                         stop - segment.address]))
                address = stop
        return [_pad(block, align) for block in _merge_blocks(out, size)]


def _merge_blocks(blocks: list[Segment], size: int) -> list[Segment]:
    """Join blocks of different segments that share one `size` window (a small gap)."""
    merged: list[Segment] = []
    for block in blocks:
        last = merged[-1] if merged else None
        if last is not None and last.address // size == block.address // size:
            gap = b"\xff" * (block.address - last.end)
            merged[-1] = Segment(last.address, last.data + gap + block.data)
        else:
            merged.append(block)
    return merged


def _pad(block: Segment, align: int) -> Segment:
    start = block.address - block.address % align
    end = -(-block.end // align) * align
    data = b"\xff" * (block.address - start) + block.data + b"\xff" * (end - block.end)
    return Segment(start, data)


def build_image(pieces: Iterable[tuple[int, bytes]], source: str, kind: str) -> Image:
    """Sort pieces, merge adjacent ones and refuse overlaps; ImageError when empty."""
    ordered = sorted((a, bytes(d)) for a, d in pieces if d)
    if not ordered:
        raise ImageError(
            f"{source}: the {kind} image holds no data to flash",
            hint="check that the build produced code (an ELF needs PT_LOAD segments)",
        )
    segments: list[Segment] = []
    for address, data in ordered:
        if address < 0 or address + len(data) > 1 << 32:
            raise ImageError(f"{source}: data at 0x{address:X} lies outside 32-bit memory")
        if segments and address < segments[-1].end:
            raise ImageError(
                f"{source}: data at 0x{address:08X} overlaps the data at "
                f"0x{segments[-1].address:08X}-0x{segments[-1].end - 1:08X}"
            )
        if segments and address == segments[-1].end:
            segments[-1] = Segment(segments[-1].address, segments[-1].data + data)
        else:
            segments.append(Segment(address, data))
    return Image(tuple(segments), source, kind)


# ELF32 ---------------------------------------------------------------------------------

_PT_LOAD = 1
_EM_ARM = 40


def read_elf(raw: bytes, source: str) -> Image:
    """The PT_LOAD segments of a 32-bit ELF at their physical addresses."""
    if len(raw) < 52:
        raise ImageError(f"{source}: truncated ELF header ({len(raw)} bytes)")
    if raw[4] != 1:
        raise ImageError(
            f"{source}: a 64-bit ELF; firmware for a Cortex-M is ELF32",
            hint="pass the firmware built with arm-none-eabi-gcc, not a host program",
        )
    order = {1: "<", 2: ">"}.get(raw[5])
    if order is None:
        raise ImageError(f"{source}: ELF header names no byte order (EI_DATA={raw[5]})")
    (e_type, e_machine, _, _, e_phoff, _, _, _, e_phentsize, e_phnum) = struct.unpack_from(
        order + "HHIIIIIHHH", raw, 16
    )
    if e_machine != _EM_ARM:
        raise ImageError(
            f"{source}: ELF for machine {e_machine}, not ARM ({_EM_ARM})",
            hint="pass the firmware built with arm-none-eabi-gcc",
        )
    if e_phnum == 0 or e_phentsize < 32 or e_phoff + e_phnum * e_phentsize > len(raw):
        raise ImageError(f"{source}: ELF program header table is missing or truncated")
    pieces = []
    for index in range(e_phnum):
        p_type, p_offset, _, p_paddr, p_filesz, _, _, _ = struct.unpack_from(
            order + "8I", raw, e_phoff + index * e_phentsize
        )
        if p_type != _PT_LOAD or p_filesz == 0:
            continue
        if p_offset + p_filesz > len(raw):
            raise ImageError(
                f"{source}: ELF segment {index} runs past the end of the file (truncated?)"
            )
        pieces.append((p_paddr, raw[p_offset:p_offset + p_filesz]))
    return build_image(pieces, source, "ELF")


# Intel HEX -----------------------------------------------------------------------------


def read_hex(raw: bytes, source: str) -> Image:
    """Intel HEX records 00-05 with their checksums checked; an EOF record is required."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ImageError(
            f"{source}: not an Intel HEX file (non-ASCII byte at {exc.start})"
        ) from None
    base, pieces, ended = 0, [], False
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if ended:
            raise ImageError(f"{source}:{number}: data after the end-of-file record")
        kind, offset, payload = _hex_record(line, f"{source}:{number}")
        if kind == 0:
            pieces.append((base + offset, payload))
        elif kind == 1:
            ended = True
        elif kind == 2:
            base = int.from_bytes(_exact(payload, 2, source, number), "big") << 4
        elif kind == 4:
            base = int.from_bytes(_exact(payload, 2, source, number), "big") << 16
        elif kind in (3, 5):
            _exact(payload, 4, source, number)  # start address: not needed to flash
        else:
            raise ImageError(f"{source}:{number}: unknown record type {kind:02X}")
    if not ended:
        raise ImageError(
            f"{source}: no end-of-file record (:00000001FF); the file is truncated",
            hint="rebuild or copy the file again",
        )
    return build_image(_merge_hex(pieces, source), source, "HEX")


def _hex_record(line: str, where: str) -> tuple[int, int, bytes]:
    if not line.startswith(":"):
        raise ImageError(f"{where}: a record must start with ':'")
    try:
        record = bytes.fromhex(line[1:])
    except ValueError:
        raise ImageError(f"{where}: not hexadecimal") from None
    if len(record) < 5 or len(record) != record[0] + 5:
        raise ImageError(f"{where}: record length does not match its byte count")
    if sum(record) & 0xFF:
        expected = (-sum(record[:-1])) & 0xFF
        raise ImageError(
            f"{where}: checksum {record[-1]:02X} is wrong (should be {expected:02X})",
            hint="the file is damaged; rebuild or copy it again",
        )
    return record[3], int.from_bytes(record[1:3], "big"), record[4:-1]


def _exact(payload: bytes, size: int, source: str, number: int) -> bytes:
    if len(payload) != size:
        raise ImageError(f"{source}:{number}: address record should hold {size} bytes")
    return payload


def _merge_hex(pieces: list[tuple[int, bytes]], source: str) -> list[tuple[int, bytes]]:
    """Records are small; join the runs that follow each other before `build_image`."""
    runs: list[tuple[int, bytearray]] = []
    for address, data in sorted(pieces):
        if runs and address == runs[-1][0] + len(runs[-1][1]):
            runs[-1][1].extend(data)
        else:
            runs.append((address, bytearray(data)))
    return [(a, bytes(d)) for a, d in runs]


# Dispatch ------------------------------------------------------------------------------

Reader = Callable[[bytes, str], Image]

#: Content sniffers first (a magic number is evidence), then the suffix.
READERS: dict[str, Reader] = {"elf": read_elf, "hex": read_hex}
SUFFIXES: dict[str, str] = {
    ".elf": "elf", ".axf": "elf", ".out": "elf", ".hex": "hex", ".ihex": "hex",
    ".ihx": "hex", ".bin": "bin",
}


def detect_kind(raw: bytes, path: Path) -> str:
    """'elf', 'hex' or 'bin' from the content, else from the suffix."""
    if raw.startswith(b"\x7fELF"):
        return "elf"
    if raw.lstrip()[:1] == b":" and all(c < 0x80 for c in raw[:256]):
        return "hex"
    return SUFFIXES.get(path.suffix.lower(), "bin")


def load_image(path: str | os.PathLike[str], address: int | None = None) -> Image:
    """Read a firmware file; a BIN goes to `address`, which ELF and HEX must not be given."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ImageError(
            f"cannot read firmware {file}: {exc.strerror or exc}",
            hint="pass the .elf, .hex or .bin your build wrote",
        ) from exc
    if not raw:
        raise ImageError(f"{file}: the file is empty", hint="rebuild the firmware")
    kind = detect_kind(raw, file)
    if kind == "bin":
        if address is None:
            raise ImageError(
                f"{file}: a raw binary carries no address",
                hint="pass --address 0x08000000 (or where it belongs), or flash the .elf/.hex",
            )
        return build_image([(address, raw)], str(file), "BIN")
    if address is not None:
        raise ImageError(
            f"{file}: an {kind.upper()} file carries its own addresses; --address is for BIN",
            hint="drop --address",
        )
    return READERS[kind](raw, str(file))
