"""The frame protocol's host side: encoding, CRC, decoding with resync, payload layouts."""

from __future__ import annotations

import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykit.emulate import protocol as p
from tinykit.paths import templates_dir


def test_crc_is_zlib_crc32():
    assert p.crc32(b"123456789") == 0xCBF43926


def test_frame_layout_is_sync_type_seq_length_payload_crc():
    frame = p.encode_frame(p.FrameType.HELLO, 7, b"\x01\x02")
    assert frame[:2] == b"\xa5\x5a"
    assert frame[2:6] == bytes([0x01, 7, 2, 0])
    assert frame[6:8] == b"\x01\x02"
    assert struct.unpack("<I", frame[8:])[0] == p.crc32(frame[2:8])
    assert len(frame) == p.OVERHEAD_BYTES + 2


def test_encode_refuses_oversized_payload():
    with pytest.raises(ValueError, match="65535"):
        p.encode_frame(1, 0, bytes(70_000))


@settings(max_examples=60, deadline=None)
@given(
    frames=st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300)),
                    min_size=1, max_size=5),
    junk=st.binary(max_size=40),
    cuts=st.lists(st.integers(1, 50), max_size=30),
)
def test_decoder_finds_every_frame_whatever_the_chunking(frames, junk, cuts):
    stream = junk.replace(b"\xa5", b"") + b"".join(p.encode_frame(*f) for f in frames)
    decoder = p.FrameDecoder()
    got = []
    position = 0
    for cut in [*cuts, len(stream)]:
        got += list(decoder.feed(stream[position : position + cut]))
        position += cut
    assert [(f.type, f.seq, f.payload) for f in got] == frames


def test_decoder_reports_a_corrupt_frame_and_keeps_the_next_one():
    good = p.encode_frame(p.FrameType.HELLO, 1)
    bad = bytearray(p.encode_frame(p.FrameType.INVOKE, 2, b"\x00"))
    bad[6] ^= 0xFF
    items = list(p.FrameDecoder().feed(bytes(bad) + good))
    assert isinstance(items[0], p.BadFrame)
    frames = [i for i in items if isinstance(i, p.Frame)]
    assert [(f.type, f.seq) for f in frames] == [(p.FrameType.HELLO, 1)]


def test_decoder_does_not_wait_for_a_length_over_its_limit():
    header = p.SYNC + struct.pack("<BBH", 1, 1, 5000)
    decoder = p.FrameDecoder(max_payload=1024)
    items = list(decoder.feed(header + p.encode_frame(p.FrameType.HELLO, 3)))
    assert isinstance(items[0], p.BadFrame)
    assert isinstance(items[-1], p.Frame) and items[-1].seq == 3


def _info_payload(name: bytes = b"cmsdk") -> bytes:
    head = struct.pack("<BBHIIiHHHBBII", 1, 1, 1024, 0xDEADBEEF, 25_000_000, 0, 1, 2, 13, 5,
                       len(name), 57, 16000)
    return head + struct.pack("<3I", 490, 12, 4) + name


def test_device_info_parses_every_field():
    info = p.DeviceInfo.parse(_info_payload())
    assert info.counter_kind is p.CounterKind.ICOUNT_SYSTICK
    assert (info.max_payload, info.model_id, info.counter_hz) == (1024, 0xDEADBEEF, 25_000_000)
    assert (info.num_ops, info.isr_instructions, info.overhead) == (13, 5, 57)
    assert info.input_bytes == (490,) and info.output_bytes == (12, 4)
    assert (info.arena_bytes, info.bsp) == (16000, "cmsdk")


def test_device_info_refuses_a_payload_that_does_not_add_up():
    with pytest.raises(p.PayloadError):
        p.DeviceInfo.parse(_info_payload()[:-1])
    with pytest.raises(p.PayloadError):
        p.DeviceInfo.parse(b"\x01\x01")


def test_result_error_and_stamps_payloads():
    result = p.InvokeResult.parse(struct.pack("<iBQQH", 0, 1, 10, 99, 14))
    assert (result.start, result.end, result.stamps) == (10, 99, 14)
    error = p.DeviceError.parse(struct.pack("<BBHI", p.ErrorCode.BAD_CRC, 2, 0, 77))
    assert "BAD_CRC" in error.describe() and "detail 77" in error.describe()
    assert p.parse_stamps(struct.pack("<2Q", 1, 2**40)) == [1, 2**40]
    with pytest.raises(p.PayloadError):
        p.parse_stamps(b"\x00" * 7)


def test_every_error_code_has_a_text():
    assert set(p.ERROR_TEXT) == set(p.ErrorCode)


def test_c_constants_are_unique_and_every_one_is_used_by_the_firmware():
    constants = p.c_constants()
    names = [name for name, _ in constants]
    assert len(names) == len(set(names))
    folder = templates_dir() / "baremetal"
    c_text = "".join(path.read_text() for path in folder.rglob("*.c"))
    used = set(re.findall(r"\bTKFW_(?:FRAME|ERR)_[A-Z_]+", c_text))
    # The firmware names each request type and each error it can send by its constant.
    requests = {f"TKFW_FRAME_{t.name}" for t in p.FrameType if t < 0x80}
    assert requests <= used
    assert used <= set(names)
