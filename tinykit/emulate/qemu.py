"""Start qemu-system-arm with the guest's UART on a local TCP port, and always stop it.

    with run_qemu(machine, elf, flash_bytes=..., ram_bytes=...) as session:
        port = open_port(session.url)      # socket://127.0.0.1:PORT

QEMU listens on 127.0.0.1 only (`-serial tcp:...,server=on,wait=on,nodelay=on`: the guest
starts when the host connects; without nodelay a round trip takes ~47 ms instead of a few).
The session ends QEMU on every way out of the `with` block, Ctrl-C included, and asks the
kernel to kill it should this process die first (Linux PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tinykit.emulate.machines import Machine
from tinykit.errors import EmulatorError, ToolchainError

QEMU = "qemu-system-arm"
INSTALL_HINT = "install QEMU: sudo apt-get install qemu-system-arm (or `make setup`)"
_START_TIMEOUT_S = 10.0


def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise ToolchainError(f"{QEMU} was not found on PATH", hint=INSTALL_HINT)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class QemuSession:
    """A running QEMU whose UART waits on `url`."""

    machine: Machine
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        kept = [line for line in text.splitlines() if "waiting for connection" not in line]
        return "\n".join(kept[-lines:])

    def check_alive(self) -> None:
        """Raise EmulatorError if QEMU has exited."""
        code = self.process.poll()
        if code is not None:
            tail = self.log_tail()
            raise EmulatorError(
                f"QEMU ({self.machine.name}) exited with status {code}"
                + (f":\n{tail}" if tail else ""),
                hint="the firmware may have faulted at start-up; run the project's "
                     "`make qemu` to watch it",
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def command(machine: Machine, elf: Path, port: int, flash_bytes: int, ram_bytes: int) -> list[str]:
    return [
        qemu_binary(), *machine.qemu_args(flash_bytes, ram_bytes), "-kernel", str(elf),
        "-display", "none", "-monitor", "none", "-nodefaults",
        "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
    ]


def _wait_listening(session: QemuSession, deadline: float) -> bool:
    """True once QEMU listens on its port; False if it exited (e.g. the port was taken)."""
    while time.monotonic() < deadline:
        if session.process.poll() is not None:
            return False
        if "waiting for connection" in session.log_path.read_text(errors="replace"):
            return True
        time.sleep(0.01)
    session.stop()
    raise EmulatorError(
        f"QEMU ({session.machine.name}) did not open its serial port within "
        f"{_START_TIMEOUT_S:.0f} s",
        hint="the machine may be overloaded; try again",
    )


@contextlib.contextmanager
def run_qemu(machine: Machine, elf: str | Path, *, flash_bytes: int, ram_bytes: int,
             attempts: int = 3) -> Iterator[QemuSession]:
    """Start QEMU on `elf`; yields the session once its UART port listens."""
    elf_path = Path(elf)
    if not elf_path.is_file():
        raise EmulatorError(f"no firmware at {elf_path}", hint="build the firmware first")
    with tempfile.TemporaryDirectory(prefix="tinykit-qemu-") as tmp:
        session = None
        try:
            for attempt in range(attempts):
                session = _start(machine, elf_path, flash_bytes, ram_bytes, Path(tmp), attempt)
                if _wait_listening(session, time.monotonic() + _START_TIMEOUT_S):
                    break
                if "Address already in use" not in session.log_tail(20):
                    session.check_alive()
            else:
                assert session is not None
                session.check_alive()
            yield session
        finally:
            if session is not None:
                session.stop()


def _start(machine: Machine, elf: Path, flash_bytes: int, ram_bytes: int, tmp: Path,
           attempt: int) -> QemuSession:
    port = free_port()
    log_path = tmp / f"qemu-{attempt}.log"
    argv = command(machine, elf, port, flash_bytes, ram_bytes)
    with open(log_path, "wb") as log:
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                # Own process group: the terminal's Ctrl-C reaches tinykit, which stops QEMU.
                start_new_session=True, env=dict(os.environ, LC_ALL="C"),
            )
        except OSError as exc:
            raise ToolchainError(f"cannot start {QEMU}: {exc}", hint=INSTALL_HINT) from exc
    return QemuSession(machine, process, port, log_path)
