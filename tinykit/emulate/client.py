"""Host side of the benchmark protocol over any pyserial port: QEMU's socket or a board.

`open_port("socket://127.0.0.1:4321")` and `open_port("/dev/ttyACM0")` give the same kind
of object, and everything above it (`Link`, `BenchClient`) is one code path for both.
Every wait has a deadline; a reply that does not come raises `DeviceTimeout`, an ERROR
frame raises `DeviceRefused`, both SerialErrors whose message names the request.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tinykit.emulate import protocol as p
from tinykit.errors import SerialError

DEFAULT_BAUD = 115_200
REQUEST_TIMEOUT_S = 5.0
Trace = Callable[[str], None]


class DeviceTimeout(SerialError):
    """The device did not answer a request in time."""


class DeviceRefused(SerialError):
    """The device answered a request with an ERROR frame."""

    def __init__(self, message: str, error: p.DeviceError, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.error = error


def _port_error(port: str, exc: Exception) -> SerialError:
    text = str(exc)
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT or "No such file" in text or "could not open port" in text and \
            "FileNotFoundError" in text:
        return SerialError(
            f"serial port {port} is absent",
            hint="plug the board in and check the port name: `python -m serial.tools.list_ports`",
        )
    if code in (errno.EBUSY, errno.EAGAIN) or "busy" in text.lower() or "lock" in text.lower():
        return SerialError(
            f"serial port {port} is busy (another program has it open)",
            hint="close the serial monitor or other program that uses it, then retry",
        )
    if code == errno.EACCES or "Permission denied" in text:
        return SerialError(
            f"no permission to open serial port {port}",
            hint="add yourself to the 'dialout' group (sudo usermod -aG dialout $USER) "
                 "and log in again",
        )
    return SerialError(f"cannot open serial port {port}: {text}")


@contextlib.contextmanager
def open_port(port: str, *, baud: int = DEFAULT_BAUD) -> Iterator[Any]:
    """A pyserial port for a device path or a URL (socket://host:port, rfc2217://...).

    Device paths are opened exclusively, so a port another program holds is reported as
    busy instead of two programs reading each other's bytes. Closed on exit.
    """
    import serial

    try:
        if "://" in port:
            handle = serial.serial_for_url(port, baudrate=baud, timeout=0.05)
        else:
            handle = serial.Serial(port, baudrate=baud, timeout=0.05, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise _port_error(port, exc) from exc
    try:
        yield handle
    finally:
        handle.close()


def hexdump(data: bytes, limit: int = 48) -> str:
    shown = data[:limit].hex(" ")
    return shown + (f" ... (+{len(data) - limit} B)" if len(data) > limit else "")


class Link:
    """Request/reply over a port: numbered frames, deadlines, resync after trouble."""

    def __init__(self, port: Any, *, name: str = "device", trace: Trace | None = None) -> None:
        self.port = port
        self.name = name
        self.trace = trace
        self.decoder = p.FrameDecoder()
        self._pending: list[p.Frame | p.BadFrame] = []
        self._seq = 0

    def send_raw(self, data: bytes) -> None:
        if self.trace:
            self.trace(f"-> {hexdump(data)}")
        try:
            self.port.write(data)
            self.port.flush()
        except Exception as exc:
            raise SerialError(f"writing to the {self.name} failed: {exc}") from exc

    def receive(self, timeout: float) -> p.Frame | None:
        """The next good frame within `timeout` seconds, or None (bad frames are skipped)."""
        deadline = time.monotonic() + timeout
        pending = self._pending
        while True:
            while pending:
                item = pending.pop(0)
                if isinstance(item, p.Frame):
                    if self.trace:
                        self.trace(f"<- {item!r}: {hexdump(item.payload)}")
                    return item
                if self.trace:
                    self.trace(f"<- bad frame (CRC): {hexdump(item.raw)}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            pending.extend(self.decoder.feed(self._read(min(remaining, 0.1))))

    def _read(self, timeout: float) -> bytes:
        saved = self.port.timeout
        try:
            self.port.timeout = max(timeout, 0.001)
            waiting = getattr(self.port, "in_waiting", 0) or 1
            return bytes(self.port.read(waiting))
        except Exception as exc:
            raise SerialError(f"reading from the {self.name} failed: {exc}") from exc
        finally:
            self.port.timeout = saved

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def request(self, frame_type: p.FrameType, payload: bytes = b"", *,
                timeout: float = REQUEST_TIMEOUT_S) -> p.Frame:
        """Send one request and return its reply; raises DeviceTimeout or DeviceRefused."""
        seq = self.next_seq()
        self.send_raw(p.encode_frame(frame_type, seq, payload))
        expected = frame_type | 0x80
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            frame = self.receive(remaining)
            if frame is None:
                break
            if frame.type == p.FrameType.ERROR and frame.seq in (seq, 0):
                error = p.DeviceError.parse(frame.payload)
                if error.code == p.ErrorCode.FAULT or frame.seq == seq:
                    raise DeviceRefused(
                        f"the {self.name} refused {frame_type.name}: {error.describe()}", error)
            if frame.seq == seq and frame.type == expected:
                return frame
            if self.trace:
                self.trace(f"   (ignored: not the reply to {frame_type.name} seq {seq})")
        self.resync()
        raise DeviceTimeout(
            f"the {self.name} did not answer {frame_type.name} within {timeout:g} s",
            hint="check that it runs the tinykit benchmark firmware for this model, "
                 "at 115200 baud, and raise --timeout for a slow model",
        )

    def resync(self, quiet: float = 0.05) -> None:
        """Drop whatever is in flight: read until the line stays quiet, reset the decoder."""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and self._read(quiet):
            pass
        self.decoder = p.FrameDecoder()
        self._pending.clear()


@dataclass(frozen=True)
class SampleRun:
    """One inference on the device: its outputs and raw counter stamps."""

    outputs: list[bytes]
    result: p.InvokeResult
    #: Stamps before each op and after the last (per-layer runs only), else empty.
    stamps: list[int]


class BenchClient:
    """The benchmark conversation: HELLO, write inputs, INVOKE, read outputs and stamps."""

    def __init__(self, link: Link, *, invoke_timeout: float = 120.0) -> None:
        self.link = link
        self.invoke_timeout = invoke_timeout
        self._info: p.DeviceInfo | None = None

    @property
    def info(self) -> p.DeviceInfo:
        if self._info is None:
            self._info = self.hello()
        return self._info

    def hello(self, timeout: float = REQUEST_TIMEOUT_S) -> p.DeviceInfo:
        frame = self.link.request(p.FrameType.HELLO, timeout=timeout)
        self._info = p.DeviceInfo.parse(frame.payload)
        return self._info

    def write_input(self, index: int, data: bytes) -> None:
        expected = self.info.input_bytes[index]
        if len(data) != expected:
            raise ValueError(f"input {index} takes {expected} bytes, got {len(data)}")
        chunk = self.info.max_payload - p.WRITE_INPUT_HEADER_BYTES
        for offset in range(0, len(data), chunk):
            payload = p.write_input_payload(index, offset, data[offset : offset + chunk])
            self.link.request(p.FrameType.WRITE_INPUT, payload)

    def invoke(self, per_layer: bool) -> p.InvokeResult:
        frame = self.link.request(p.FrameType.INVOKE, p.invoke_payload(per_layer),
                                  timeout=self.invoke_timeout)
        return p.InvokeResult.parse(frame.payload)

    def read_output(self, index: int) -> bytes:
        size = self.info.output_bytes[index]
        chunks = []
        for offset in range(0, size, self.info.max_payload):
            length = min(self.info.max_payload, size - offset)
            frame = self.link.request(p.FrameType.READ_OUTPUT,
                                      p.read_output_payload(index, offset, length))
            if len(frame.payload) != length:
                raise SerialError(f"the {self.link.name} sent {len(frame.payload)} bytes of "
                                  f"output {index}, expected {length}")
            chunks.append(frame.payload)
        return b"".join(chunks)

    def read_stamps(self, count: int) -> list[int]:
        per_frame = self.info.max_payload // p.STAMP_BYTES
        stamps: list[int] = []
        for first in range(0, count, per_frame):
            n = min(per_frame, count - first)
            frame = self.link.request(p.FrameType.READ_STAMPS, p.read_stamps_payload(first, n))
            stamps += p.parse_stamps(frame.payload)
        return stamps

    def read_op_types(self) -> list[str]:
        names = []
        for index in range(self.info.num_ops):
            frame = self.link.request(p.FrameType.READ_OP_TYPE, p.read_op_type_payload(index))
            names.append(frame.payload.decode("ascii", "replace"))
        return names

    def run(self, inputs: list[bytes], per_layer: bool) -> SampleRun:
        """Write every input, invoke once and read back the outputs (and stamps)."""
        for index, data in enumerate(inputs):
            self.write_input(index, data)
        result = self.invoke(per_layer)
        outputs = [self.read_output(i) for i in range(len(self.info.output_bytes))]
        stamps = self.read_stamps(result.stamps) if per_layer else []
        return SampleRun(outputs, result, stamps)
