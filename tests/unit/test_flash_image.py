"""Firmware image readers: ELF32 program headers, Intel HEX records, raw BIN, blocks."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykit.flash.chips import CHIPS
from tinykit.flash.flow import check_fits
from tinykit.flash.image import ImageError, build_image, load_image, read_elf, read_hex


def make_elf(segments: list[tuple[int, int, int, bytes, int]], machine: int = 40,
             elf_class: int = 1) -> bytes:
    """An ELF32 LE file: segments are (p_type, p_vaddr, p_paddr, bytes, p_memsz)."""
    header_size, ph_size = 52, 32
    offset = header_size + ph_size * len(segments)
    headers, payload = b"", b""
    for p_type, vaddr, paddr, data, memsz in segments:
        headers += struct.pack("<8I", p_type, offset + len(payload), vaddr, paddr,
                               len(data), memsz, 5, 4)
        payload += data
    ident = b"\x7fELF" + bytes([elf_class, 1, 1]) + bytes(9)
    header = ident + struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, 0x08000101, header_size,
                                 0, 0, header_size, ph_size, len(segments), 40, 0, 0)
    return header + headers + payload


def hex_record(kind: int, offset: int, payload: bytes) -> str:
    body = bytes([len(payload)]) + offset.to_bytes(2, "big") + bytes([kind]) + payload
    return ":" + (body + bytes([(-sum(body)) & 0xFF])).hex().upper()


def make_hex(pieces: list[tuple[int, bytes]], width: int = 16) -> str:
    """Intel HEX with type-04 records whenever the upper 16 address bits change."""
    lines, upper = [], -1
    for address, data in pieces:
        for start in range(0, len(data), width):
            here = address + start
            chunk = data[start:start + width]
            # A record must not cross a 64 KiB boundary.
            chunk = chunk[:0x10000 - (here & 0xFFFF)]
            if here >> 16 != upper:
                upper = here >> 16
                lines.append(hex_record(4, 0, upper.to_bytes(2, "big")))
            lines.append(hex_record(0, here & 0xFFFF, chunk))
            rest = data[start + len(chunk):start + width]
            if rest:
                upper = (here + len(chunk)) >> 16
                lines.append(hex_record(4, 0, upper.to_bytes(2, "big")))
                lines.append(hex_record(0, 0, rest))
    lines.append(hex_record(5, 0, (0x08000101).to_bytes(4, "big")))
    lines.append(":00000001FF")
    return "\n".join(lines) + "\n"


def test_elf_places_segments_at_their_load_address():
    text = bytes(range(64))
    data = b"\xaa" * 12
    raw = make_elf([
        (1, 0x0800_0000, 0x0800_0000, text, len(text)),
        # .data: runs from RAM (vaddr), is stored in flash after .text (paddr).
        (1, 0x2000_0000, 0x0800_0040, data, len(data)),
        (1, 0x2000_0010, 0x2000_0010, b"", 256),  # .bss: nothing to load
        (0x6474E551, 0, 0, b"", 0),  # PT_GNU_STACK
    ])
    image = read_elf(raw, "fw.elf")
    assert [(s.address, s.data) for s in image.segments] == [(0x0800_0000, text + data)]
    assert image.size == 76 and image.kind == "ELF"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x7fELF\x01", "truncated ELF header"),
        (make_elf([(1, 0, 0x0800_0000, b"x", 1)], elf_class=2), "64-bit ELF"),
        (make_elf([(1, 0, 0, b"x", 1)], machine=62), "machine 62, not ARM"),
        (make_elf([(1, 0, 0x0800_0000, b"", 64)]), "holds no data"),
        (make_elf([(1, 0, 0x0800_0000, b"abcd" * 8, 32)])[:-8], "runs past the end"),
        (make_elf([(1, 0, 0x0800_0000, b"abcd", 4), (1, 0, 0x0800_0002, b"ef", 2)]),
         "overlaps"),
    ],
)
def test_elf_errors_name_the_problem(raw, message):
    with pytest.raises(ImageError, match=message):
        read_elf(raw, "fw.elf")


def test_hex_with_extended_addresses_and_start_record():
    pieces = [(0x0800_0000, bytes(range(40))), (0x0801_FFF8, bytes(range(100, 116)))]
    image = read_hex(make_hex(pieces).encode(), "fw.hex")
    assert [(s.address, s.data) for s in image.segments] == pieces


def test_hex_segment_address_record_02():
    text = hex_record(2, 0, (0x1000).to_bytes(2, "big")) + "\n" + \
        hex_record(0, 0x10, b"\x01\x02") + "\n:00000001FF\n"
    image = read_hex(text.encode(), "fw.hex")
    assert image.segments[0].address == 0x10010


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (":0400000001020304F1\n:00000001FF\n", r"fw.hex:1: checksum F1 is wrong \(should be F2\)"),
        (":0400000001020304F2\n", "no end-of-file record"),
        (":00000001FF\n:0100000000FF\n", "fw.hex:2: data after the end-of-file record"),
        ("0400000001020304F2\n:00000001FF\n", "fw.hex:1: a record must start with ':'"),
        (":0500000001020304F2\n:00000001FF\n", "length does not match"),
        (hex_record(7, 0, b"\x07") + "\n:00000001FF\n", "unknown record type 07"),
        (":00000001FF\n", "holds no data"),
        (hex_record(0, 0, b"\x01\x02\x03\x04") + "\n" + hex_record(0, 2, b"\x05\x06")
         + "\n:00000001FF\n", "overlaps"),
    ],
)
def test_hex_errors_name_the_line(text, message):
    with pytest.raises(ImageError, match=message):
        read_hex(text.encode(), "fw.hex")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0x3F), st.binary(min_size=1, max_size=300)),
                min_size=1, max_size=6, unique_by=lambda t: t[0]))
def test_hex_round_trip(chunks):
    # Chunks in separate 4 KiB slots, so they never overlap; some cross 64 KiB lines.
    pieces = [(0x0800_F800 + slot * 0x1000, data) for slot, data in sorted(chunks)]
    image = read_hex(make_hex(pieces, width=32).encode(), "fw.hex")
    flat = {a + i: b for a, d in pieces for i, b in enumerate(d)}
    assert {s.address + i: b for s in image.segments for i, b in enumerate(s.data)} == flat


def test_load_image_dispatches_on_content(tmp_path: Path):
    elf = tmp_path / "firmware.bin"  # an ELF, whatever the suffix says
    elf.write_bytes(make_elf([(1, 0, 0x0800_0000, b"\x01\x02\x03\x04", 4)]))
    assert load_image(elf).kind == "ELF"
    hexfile = tmp_path / "firmware.txt"
    hexfile.write_text(make_hex([(0x0800_0000, b"abcd")]))
    assert load_image(hexfile).kind == "HEX"
    binfile = tmp_path / "firmware.bin2"
    binfile.write_bytes(b"\x00\x10\x00\x20")
    image = load_image(binfile, address=0x0800_4000)
    assert image.kind == "BIN" and image.start == 0x0800_4000


def test_load_image_errors(tmp_path: Path):
    binfile = tmp_path / "fw.bin"
    binfile.write_bytes(b"\x01\x02")
    with pytest.raises(ImageError, match="carries no address") as info:
        load_image(binfile)
    assert "--address" in (info.value.hint or "")
    hexfile = tmp_path / "fw.hex"
    hexfile.write_text(make_hex([(0x0800_0000, b"abcd")]))
    with pytest.raises(ImageError, match="carries its own addresses"):
        load_image(hexfile, address=0x0800_0000)
    empty = tmp_path / "empty.elf"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="the file is empty"):
        load_image(empty)
    with pytest.raises(ImageError, match="cannot read firmware"):
        load_image(tmp_path / "missing.elf")


def test_blocks_stay_inside_256_byte_windows_and_pad_with_erased_bytes():
    image = build_image([(0x0800_00FE, b"\x11" * 5), (0x0800_0105, b"\x22" * 2),
                         (0x0800_0400, b"\x33")], "x", "BIN")
    blocks = image.blocks(256, align=8)
    assert [(b.address, b.data) for b in blocks] == [
        (0x0800_00F8, b"\xff" * 6 + b"\x11" * 2),
        (0x0800_0100, b"\x11" * 3 + b"\xff\xff" + b"\x22" * 2 + b"\xff"),
        (0x0800_0400, b"\x33" + b"\xff" * 7),
    ]
    for block in image.blocks(256, align=4):
        assert block.address % 4 == 0 and len(block.data) % 4 == 0
        assert block.address // 256 == (block.end - 1) // 256


def test_image_outside_the_flash_is_an_error_naming_both_ranges():
    layout = CHIPS[0x413]
    image = build_image([(0x080F_FF00, b"\x00" * 512)], "big.bin", "BIN")
    with pytest.raises(ImageError, match=r"0x080FFF00-0x081000FF lies outside the "
                       r"STM32F40x/41x flash \(0x08000000-0x080FFFFF\)"):
        check_fits(image, layout)
    check_fits(build_image([(0x080F_FF00, b"\x00" * 256)], "ok.bin", "BIN"), layout)
