"""Serial transports: a pyserial port with byte counters, per-read timeouts and a trace.

`open_port(url, ...)` is a context manager over anything pyserial opens: a device path
(`/dev/ttyUSB0`, a pty such as `/dev/pts/5`) or a URL (`socket://127.0.0.1:4000`). Every
read names its own timeout; the port's timeout is restored in `finally`, so an error in
the middle of a long erase never leaves a port with a 40-second timeout behind. Bytes
are counted here, at the lowest layer, so the wire budget counts every byte that moved.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from tinykit.errors import SerialError

Trace = Callable[[str, bytes], None]


def hex_trace(stream: TextIO | None = None) -> Trace:
    """A trace that prints each frame as hex, 16 bytes per line: 'tx 7f' / 'rx 79'."""

    def emit(direction: str, data: bytes) -> None:
        out = stream or sys.stderr
        for offset in range(0, len(data), 16):
            chunk = data[offset:offset + 16].hex(" ")
            lead = f"{direction} " if offset == 0 else "   "
            suffix = f"  ({len(data)} bytes)" if offset == 0 and len(data) > 16 else ""
            out.write(f"{lead}{chunk}{suffix}\n")
        out.flush()

    return emit


class Transport:
    """A byte pipe to a device; the protocols talk to this, never to pyserial directly."""

    def __init__(self, port, url: str, trace: Trace | None = None) -> None:
        self.port = port
        self.url = url
        self.trace = trace
        self.tx_bytes = 0
        self.rx_bytes = 0
        self.framing = "8N1"

    def write(self, data: bytes) -> None:
        """Send bytes; SerialError when the port went away."""
        if self.trace:
            self.trace("tx", data)
        try:
            self.port.write(data)
            self.port.flush()
        except (OSError, _serial_exception()) as exc:
            raise _lost(self.url, exc) from exc
        self.tx_bytes += len(data)

    def read(self, count: int, timeout: float) -> bytes:
        """Up to `count` bytes, waiting at most `timeout` seconds in all (may be short)."""
        data = bytearray()
        deadline = time.monotonic() + timeout
        old = self.port.timeout
        try:
            first = True
            while len(data) < count:
                left = deadline - time.monotonic()
                if left <= 0 and not first:
                    break
                first = False
                self.port.timeout = max(left, 0.0)
                chunk = self.port.read(count - len(data))
                if not chunk:
                    break
                data.extend(chunk)
        except (OSError, _serial_exception()) as exc:
            raise _lost(self.url, exc) from exc
        finally:
            self.port.timeout = old
        self.rx_bytes += len(data)
        if self.trace and data:
            self.trace("rx", bytes(data))
        return bytes(data)

    def read_some(self, timeout: float) -> bytes:
        """Whatever arrives: waits up to `timeout` for a first byte, then takes the rest
        already buffered (for consoles, where frames have no length)."""
        first = self.read(1, timeout)
        if not first:
            return b""
        try:
            waiting = self.port.in_waiting
        except (OSError, _serial_exception()) as exc:
            raise _lost(self.url, exc) from exc
        return first + (self.read(waiting, 0.0) if waiting else b"")

    def discard_input(self, quiet: float, limit: int = 4096) -> bytes:
        """Read and drop bytes until the line has been quiet for `quiet` seconds."""
        dropped = bytearray()
        while len(dropped) < limit:
            chunk = self.read(limit - len(dropped), quiet)
            if not chunk:
                break
            dropped.extend(chunk)
        return bytes(dropped)

    def set_lines(self, dtr: bool | None = None, rts: bool | None = None) -> None:
        """Drive the modem control lines (None leaves a line as it is)."""
        try:
            if dtr is not None:
                self.port.dtr = dtr
            if rts is not None:
                self.port.rts = rts
        except (OSError, _serial_exception()) as exc:
            raise SerialError(
                f"{self.url} cannot drive DTR/RTS: {exc}",
                hint="set [flash] boot_sequence = \"none\" (or --boot-sequence none) and put "
                "the board in its bootloader by hand (BOOT0 high, then reset)",
            ) from exc


def _serial_exception() -> type[Exception]:
    import serial

    return serial.SerialException


def _lost(url: str, exc: Exception) -> SerialError:
    return SerialError(
        f"serial port {url} failed: {exc}",
        hint="the board or adapter may have been unplugged or reset; reconnect and retry",
    )


def is_pty(url: str) -> bool:
    """True for a pseudo-terminal (the simulator's end, `/dev/pts/N`)."""
    try:
        device = os.stat(url).st_rdev
    except OSError:
        return False
    # UNIX98 pty slaves have major numbers 136-143 on Linux.
    return stat.S_ISCHR(os.stat(url).st_mode) and 136 <= os.major(device) <= 143


@contextlib.contextmanager
def open_port(
    url: str, baud: int, *, parity: str = "N", trace: Trace | None = None
) -> Iterator[Transport]:
    """Open `url` at `baud` with 8 data bits, `parity` ('N' or 'E') and 1 stop bit.

    A pty carries bytes, not UART frames, and some kernels refuse parity settings on
    one; there the parity is left off (`Transport.framing` says which was used)."""
    import serial

    if parity != "N" and is_pty(url):
        parity = "N"

    try:
        port = serial.serial_for_url(url, do_not_open=True)
        port.baudrate = baud
        port.bytesize = serial.EIGHTBITS
        port.parity = parity
        port.stopbits = serial.STOPBITS_ONE
        port.timeout = 0
        port.write_timeout = 5.0
        port.dsrdtr = False
        port.rtscts = False
        port.xonxoff = False
        port.open()
    except (OSError, ValueError, serial.SerialException) as exc:
        raise SerialError(
            f"cannot open serial port {url}: {exc}",
            hint="check --port (or TINYKIT_PORT); close any monitor using it; list the "
            "ports with `python -m serial.tools.list_ports`",
        ) from exc
    transport = Transport(port, url, trace)
    transport.framing = f"8{parity}1"
    try:
        yield transport
    finally:
        with contextlib.suppress(Exception):
            port.close()
