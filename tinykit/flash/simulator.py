"""A simulated STM32 bootloader in a separate process, on a pty or a 127.0.0.1 socket.

For a person (a dry run of `tinykit flash` without a board)::

    python -m tinykit.flash.simulator --chip stm32f4-discovery
    # prints the port, e.g. /dev/pts/7; in another shell:
    tinykit flash firmware.elf --board stm32f4-discovery --port /dev/pts/7

For tests and benchmarks, `SimulatedBootloader` starts the same process with a control
channel on stdin/stdout (`dump PATH`, `stats`, `quit`) and exposes the simulated memory
afterwards. The device behind it is `tinykit.flash.simdevice.Device`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import tty
from pathlib import Path
from typing import Any

from tinykit.errors import TinykitError
from tinykit.flash.chips import CHIPS, chip_layout
from tinykit.flash.simdevice import Device, Faults

__all__ = ["Device", "Faults", "SimulatedBootloader", "main"]


# -- the process -------------------------------------------------------------------------


class _Pty:
    """The device end of a pseudo-terminal; the host opens `url` with pyserial."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: bytes pass unchanged
        # Keeping our own handle on the slave end means a host closing and reopening
        # the port never hangs the pty up (reads on the master would fail with EIO).
        self.url = os.ttyname(self._slave)

    def fds(self) -> list[int]:
        return [self.master]

    def receive(self, fd: int) -> bytes:
        return os.read(self.master, 4096)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)


class _Socket:
    """A 127.0.0.1 listener; one host connection at a time (pyserial `socket://`)."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self.conn: socket.socket | None = None

    def fds(self) -> list[int]:
        return [self.conn.fileno() if self.conn else self.listener.fileno()]

    def receive(self, fd: int) -> bytes:
        if self.conn is None:
            self.conn, _ = self.listener.accept()
            self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return b""
        data = self.conn.recv(4096)
        if not data:  # the host closed the port; the device stays powered
            self.conn.close()
            self.conn = None
        return data

    def send(self, data: bytes) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.sendall(data)


def _stats(device: Device) -> dict[str, Any]:
    counters = device.counters
    return {
        "rx": counters.rx, "tx": counters.tx, "commands": counters.commands,
        "faults": counters.faults, "resets": counters.resets, "went_to": counters.went_to,
        "protected": sorted(device.protected), "read_protected": device.read_protected,
    }


def _control(line: str, device: Device) -> str | None:
    """One control command; None means quit."""
    verb, _, argument = line.strip().partition(" ")
    if verb == "dump":
        Path(argument).write_bytes(bytes(device.flash))
        return "ok"
    if verb == "stats":
        return json.dumps(_stats(device))
    if verb == "quit":
        return None
    return f"error unknown control command '{verb}'"


def serve(device: Device, link: _Pty | _Socket, control: bool) -> None:
    """Move bytes between the host and the device until `quit`, EOF on control, or ^C."""
    while True:
        fds = link.fds() + ([sys.stdin.fileno()] if control else [])
        ready, _, _ = select.select(fds, [], [])
        if control and sys.stdin.fileno() in ready:
            line = sys.stdin.readline()
            reply = _control(line, device) if line else None
            if reply is None:
                return
            print(reply, flush=True)
        for fd in ready:
            if fd in link.fds():
                answer = device.feed(link.receive(fd))
                if answer:
                    link.send(answer)


def _chip_id(text: str) -> int:
    """A chip id (0x413) or the name of a target whose [flash] chip_id to use."""
    with contextlib.suppress(ValueError):
        return int(text, 0)
    from tinykit.targets import load_target

    chip_id = load_target(text).get("flash", "chip_id")
    if not isinstance(chip_id, int):
        raise SystemExit(f"target '{text}' has no [flash] chip_id")
    return chip_id


def main(argv: list[str] | None = None) -> int:
    known = ", ".join(f"0x{c:03X} ({CHIPS[c].name})" for c in sorted(CHIPS))
    parser = argparse.ArgumentParser(
        prog="python -m tinykit.flash.simulator",
        description=f"A simulated STM32 serial bootloader (AN3155). Chips: {known}.",
    )
    parser.add_argument("--chip", default="0x413", help="chip id or target name")
    parser.add_argument("--socket", action="store_true", help="listen on 127.0.0.1")
    parser.add_argument("--faults", default="{}", help="Faults as JSON")
    parser.add_argument("--initial", choices=("erased", "random"), default="erased",
                        help="flash content at power-up (random: an old firmware)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --initial random")
    parser.add_argument("--control", action="store_true", help="control channel on stdin")
    parser.add_argument("--dump", type=Path, help="write the flash to this file at exit")
    args = parser.parse_args(argv)
    try:
        layout = chip_layout(_chip_id(args.chip))
        faults = Faults.from_json(args.faults)
    except (TinykitError, ValueError, TypeError) as exc:
        parser.error(str(exc))
    initial = None
    if args.initial == "random":
        import random

        initial = random.Random(args.seed).randbytes(layout.flash_size)
    device = Device(layout, faults, initial)
    link: _Pty | _Socket = _Socket() if args.socket else _Pty()
    print(f"PORT {link.url}", flush=True)
    if not args.control:
        print(f"simulated {layout.describe()} bootloader on {link.url}; Ctrl-C stops it",
              file=sys.stderr, flush=True)
    try:
        serve(device, link, args.control)
    except KeyboardInterrupt:
        pass
    finally:
        if args.dump:
            args.dump.write_bytes(bytes(device.flash))
    return 0


# -- the harness -------------------------------------------------------------------------


class SimulatedBootloader:
    """Start the simulator process; `port` to flash through, `memory()` to inspect.

    Use as a context manager; the process ends when the block does.
    """

    def __init__(self, chip_id: int = 0x413, faults: Faults | None = None, *,
                 socket: bool = False, initial: str = "erased", seed: int = 0) -> None:
        self.chip_id = chip_id
        self.layout = chip_layout(chip_id)
        self._args = [
            sys.executable, "-m", "tinykit.flash.simulator", "--control",
            "--chip", hex(chip_id), "--faults", (faults or Faults()).to_json(),
            "--initial", initial, "--seed", str(seed), *(["--socket"] if socket else []),
        ]
        self._proc: subprocess.Popen[str] | None = None
        self.port = ""

    def __enter__(self) -> SimulatedBootloader:
        self._proc = subprocess.Popen(
            self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = self._line(timeout=30)
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.port = line.split(" ", 1)[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _line(self, timeout: float) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError("the simulator did not answer")
        return self._proc.stdout.readline().strip()

    def _ask(self, command: str) -> str:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        return self._line(timeout=30)

    def memory(self) -> bytes:
        """The whole simulated flash, from its first address."""
        with tempfile.TemporaryDirectory(prefix="tinykit-sim-") as tmp:
            path = Path(tmp) / "flash.bin"
            if self._ask(f"dump {path}") != "ok":
                raise RuntimeError("the simulator could not dump its memory")
            return path.read_bytes()

    def read(self, address: int, length: int) -> bytes:
        """`length` bytes of the simulated flash at an absolute address."""
        offset = address - self.layout.flash_base
        return self.memory()[offset:offset + length]

    def stats(self) -> dict[str, Any]:
        """Bytes and commands seen, faults injected, protection state, GO address."""
        result: dict[str, Any] = json.loads(self._ask("stats"))
        return result

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            assert proc.stdin is not None
            proc.stdin.write("quit\n")
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
