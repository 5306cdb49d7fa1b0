"""The framed serial protocol between the host and the benchmark firmware.

One protocol serves QEMU's emulated UART and a board's serial port. A frame is

    A5 5A | type u8 | seq u8 | length u16 | payload (length bytes) | crc32 u32

little-endian, where the CRC-32 (zlib's polynomial) covers type, seq, length and payload.
The host sends one request and waits for the reply with the same `seq`: the request's
type with bit 7 set, or ERROR. The device answers a malformed frame (bad CRC, length over
its buffer, unknown type, bad arguments, a frame cut short for longer than its receive
timeout) with an ERROR frame and goes back to hunting for A5 5A, so it never hangs.

The C side (`tkfw_proto.h`) is rendered from the tables below, so both sides share one
definition. Payload layouts are documented at each `struct` format.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum

from tinykit.errors import SerialError

VERSION = 1
SYNC = b"\xa5\x5a"
#: type, seq, length: the part of the header the CRC covers along with the payload.
_HEADER = struct.Struct("<BBH")
_CRC = struct.Struct("<I")
HEADER_BYTES = len(SYNC) + _HEADER.size
OVERHEAD_BYTES = HEADER_BYTES + _CRC.size
MAX_FRAME_PAYLOAD = 0xFFFF


class FrameType(IntEnum):
    """Frame types; a reply is its request's type with bit 7 set."""

    HELLO = 0x01  # () -> INFO
    WRITE_INPUT = 0x02  # (index u8, offset u32, bytes) -> ACK
    INVOKE = 0x03  # (flags u8) -> RESULT
    READ_OUTPUT = 0x04  # (index u8, offset u32, length u16) -> DATA
    READ_STAMPS = 0x05  # (first u16, count u16) -> STAMPS
    READ_OP_TYPE = 0x06  # (index u16) -> OP_TYPE (the op's builtin name, ASCII)
    INFO = 0x81
    ACK = 0x82
    RESULT = 0x83
    DATA = 0x84
    STAMPS = 0x85
    OP_TYPE = 0x86
    ERROR = 0xFF  # (code u8, type u8, reserved u16, detail u32)


class ErrorCode(IntEnum):
    """Why the device refused a frame (the `code` of an ERROR frame)."""

    BAD_CRC = 1
    BAD_LENGTH = 2
    UNKNOWN_TYPE = 3
    TIMEOUT = 4
    BAD_ARGUMENT = 5
    INVOKE_FAILED = 6
    INIT_FAILED = 7
    FAULT = 8
    NO_STAMPS = 9


ERROR_TEXT: dict[ErrorCode, str] = {
    ErrorCode.BAD_CRC: "the frame's CRC did not match",
    ErrorCode.BAD_LENGTH: "the frame's length is over the device's buffer or wrong for its type",
    ErrorCode.UNKNOWN_TYPE: "the device does not know this frame type",
    ErrorCode.TIMEOUT: "the frame stopped arriving before it was complete",
    ErrorCode.BAD_ARGUMENT: "an index, offset or length is out of range",
    ErrorCode.INVOKE_FAILED: "the model's invoke function returned an error",
    ErrorCode.INIT_FAILED: "the model's init function returned an error",
    ErrorCode.FAULT: "the firmware took a fault",
    ErrorCode.NO_STAMPS: "no per-layer counts: the last invoke ran without the layer hook",
}


class CounterKind(IntEnum):
    """What the device's counter counts."""

    #: SysTick ticks of a QEMU machine under -icount: deterministic, converted to
    #: executed instructions by the host (see tinykit.emulate.machines).
    ICOUNT_SYSTICK = 1
    #: Core clock cycles of real hardware (DWT CYCCNT, or SysTick at the core clock).
    CYCLES = 2


#: INVOKE flag: call the layer hook before every op and keep the time stamps.
INVOKE_PER_LAYER = 0x01

#: INFO payload: version u8, counter_kind u8, max_payload u16, model_id u32, counter_hz u32,
#: init_status i32, inputs u16, outputs u16, ops u16, isr_instructions u8, name_length u8,
#: overhead u32, arena_bytes u32; then u32 bytes per input, per output, then the name.
_INFO = struct.Struct("<BBHIIiHHHBBII")
#: RESULT payload: status i32, flags u8, start u64, end u64, stamps u16.
_RESULT = struct.Struct("<iBQQH")
_ERROR = struct.Struct("<BBHI")
_WRITE_INPUT = struct.Struct("<BI")
_READ_OUTPUT = struct.Struct("<BIH")
_READ_STAMPS = struct.Struct("<HH")


def crc32(data: bytes) -> int:
    """CRC-32 as zlib computes it (reflected, polynomial 0xEDB88320)."""
    return binascii.crc32(data) & 0xFFFFFFFF


def encode_frame(frame_type: int, seq: int, payload: bytes = b"") -> bytes:
    """The bytes of one frame. Raises ValueError for a payload over 65535 bytes."""
    if len(payload) > MAX_FRAME_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes is over {MAX_FRAME_PAYLOAD}")
    body = _HEADER.pack(frame_type & 0xFF, seq & 0xFF, len(payload)) + payload
    return SYNC + body + _CRC.pack(crc32(body))


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    type: int
    seq: int
    payload: bytes = field(repr=False)

    def __repr__(self) -> str:
        name = FrameType(self.type).name if self.type in FrameType._value2member_map_ else "?"
        return f"Frame({name} 0x{self.type:02x}, seq={self.seq}, {len(self.payload)} B)"


@dataclass(frozen=True)
class BadFrame:
    """Bytes that looked like a frame but failed the CRC (kept for tracing)."""

    raw: bytes


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get frames out, resync on junk.

    Bytes before A5 5A are skipped; a frame whose CRC fails yields `BadFrame` and the
    decoder resumes hunting one byte after its start, so a corrupted length cannot make
    it swallow the frames behind it. `max_payload` bounds the length it will wait for.
    """

    def __init__(self, max_payload: int = MAX_FRAME_PAYLOAD) -> None:
        self._buffer = bytearray()
        self.max_payload = max_payload
        self.skipped = 0

    def feed(self, data: bytes) -> Iterator[Frame | BadFrame]:
        self._buffer += data
        while True:
            item = self._next()
            if item is None:
                return
            yield item

    def _next(self) -> Frame | BadFrame | None:
        buf = self._buffer
        start = buf.find(SYNC)
        if start < 0:
            keep = 1 if buf.endswith(SYNC[:1]) else 0
            self.skipped += len(buf) - keep
            del buf[: len(buf) - keep]
            return None
        self.skipped += start
        del buf[:start]
        if len(buf) < HEADER_BYTES:
            return None
        frame_type, seq, length = _HEADER.unpack_from(buf, len(SYNC))
        if length > self.max_payload:
            raw = bytes(buf[:HEADER_BYTES])
            del buf[:1]
            return BadFrame(raw)
        end = HEADER_BYTES + length + _CRC.size
        if len(buf) < end:
            return None
        body = bytes(buf[len(SYNC) : HEADER_BYTES + length])
        (expected,) = _CRC.unpack_from(buf, HEADER_BYTES + length)
        if crc32(body) != expected:
            raw = bytes(buf[:end])
            del buf[:1]
            return BadFrame(raw)
        payload = bytes(buf[HEADER_BYTES : HEADER_BYTES + length])
        del buf[:end]
        return Frame(frame_type, seq, payload)


# --- request payloads --------------------------------------------------------------


def write_input_payload(index: int, offset: int, data: bytes) -> bytes:
    return _WRITE_INPUT.pack(index, offset) + data


def invoke_payload(per_layer: bool) -> bytes:
    return bytes([INVOKE_PER_LAYER if per_layer else 0])


def read_output_payload(index: int, offset: int, length: int) -> bytes:
    return _READ_OUTPUT.pack(index, offset, length)


def read_stamps_payload(first: int, count: int) -> bytes:
    return _READ_STAMPS.pack(first, count)


def read_op_type_payload(index: int) -> bytes:
    return struct.pack("<H", index)


WRITE_INPUT_HEADER_BYTES = _WRITE_INPUT.size
STAMP_BYTES = 8


# --- reply payloads ----------------------------------------------------------------


class PayloadError(SerialError):
    """A reply payload has the wrong size for its type (firmware from another tinykit?)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="rebuild the firmware with this tinykit (tinykit bench "
                                       "--build-only) and flash it again")


@dataclass(frozen=True)
class DeviceInfo:
    """What the firmware says about itself in reply to HELLO."""

    version: int
    counter_kind: CounterKind
    max_payload: int
    model_id: int
    counter_hz: int
    init_status: int
    num_ops: int
    isr_instructions: int
    overhead: int
    arena_bytes: int
    input_bytes: tuple[int, ...]
    output_bytes: tuple[int, ...]
    bsp: str

    @classmethod
    def parse(cls, payload: bytes) -> DeviceInfo:
        if len(payload) < _INFO.size:
            raise PayloadError(f"INFO payload of {len(payload)} bytes, expected >= {_INFO.size}")
        (version, kind, max_payload, model_id, counter_hz, init_status, n_in, n_out, n_ops,
         isr, name_len, overhead, arena) = _INFO.unpack_from(payload)
        sizes_end = _INFO.size + 4 * (n_in + n_out)
        if len(payload) != sizes_end + name_len:
            raise PayloadError(f"INFO payload of {len(payload)} bytes does not match its counts")
        sizes = struct.unpack_from(f"<{n_in + n_out}I", payload, _INFO.size)
        try:
            counter_kind = CounterKind(kind)
        except ValueError as exc:
            raise PayloadError(f"unknown counter kind {kind}") from exc
        return cls(
            version=version, counter_kind=counter_kind, max_payload=max_payload,
            model_id=model_id, counter_hz=counter_hz, init_status=init_status,
            num_ops=n_ops, isr_instructions=isr, overhead=overhead, arena_bytes=arena,
            input_bytes=tuple(sizes[:n_in]), output_bytes=tuple(sizes[n_in:]),
            bsp=payload[sizes_end:].decode("ascii", "replace"),
        )


@dataclass(frozen=True)
class InvokeResult:
    """Reply to INVOKE: raw counter stamps around the model's invoke call."""

    status: int
    flags: int
    start: int
    end: int
    stamps: int

    @classmethod
    def parse(cls, payload: bytes) -> InvokeResult:
        if len(payload) != _RESULT.size:
            raise PayloadError(f"RESULT payload of {len(payload)} bytes, expected {_RESULT.size}")
        return cls(*_RESULT.unpack(payload))


@dataclass(frozen=True)
class DeviceError:
    """Payload of an ERROR frame."""

    code: int
    frame_type: int
    detail: int

    @classmethod
    def parse(cls, payload: bytes) -> DeviceError:
        if len(payload) != _ERROR.size:
            raise PayloadError(f"ERROR payload of {len(payload)} bytes, expected {_ERROR.size}")
        code, frame_type, _reserved, detail = _ERROR.unpack(payload)
        return cls(code, frame_type, detail)

    def describe(self) -> str:
        try:
            code = ErrorCode(self.code)
        except ValueError:
            return f"unknown error code {self.code} (detail {self.detail})"
        return f"{code.name}: {ERROR_TEXT[code]} (frame type 0x{self.frame_type:02x}, " \
               f"detail {self.detail})"


def parse_stamps(payload: bytes) -> list[int]:
    if len(payload) % STAMP_BYTES:
        raise PayloadError(f"STAMPS payload of {len(payload)} bytes is not a multiple of 8")
    return list(struct.unpack(f"<{len(payload) // STAMP_BYTES}Q", payload))


def c_constants() -> list[tuple[str, int]]:
    """(name, value) of every constant the C side needs, for rendering tkfw_proto.h."""
    rows: list[tuple[str, int]] = [
        ("TKFW_PROTO_VERSION", VERSION), ("TKFW_SYNC0", SYNC[0]), ("TKFW_SYNC1", SYNC[1]),
        ("TKFW_INVOKE_PER_LAYER", INVOKE_PER_LAYER),
    ]
    rows += [(f"TKFW_FRAME_{t.name}", int(t)) for t in FrameType]
    rows += [(f"TKFW_ERR_{e.name}", int(e)) for e in ErrorCode]
    rows += [(f"TKFW_COUNTER_{k.name}", int(k)) for k in CounterKind]
    return rows
