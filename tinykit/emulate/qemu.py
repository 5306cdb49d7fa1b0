"""Start qemu-system-arm with the guest's UART on a local TCP port, and always stop it.

    with run_qemu(machine.qemu_args(flash, ram), elf, name=machine.name) as session:
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

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

    name: str
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
                f"QEMU ({self.name}) exited with status {code}"
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


def command(machine_args: Sequence[str], elf: Path, port: int, serial_index: int = 0
            ) -> list[str]:
    """The QEMU command line; the guest's UART number `serial_index` goes to the port."""
    serials: list[str] = []
    for index in range(serial_index + 1):
        backend = f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on"
        serials += ["-serial", backend if index == serial_index else "null"]
    return [qemu_binary(), *machine_args, "-kernel", str(elf), "-display", "none",
            "-monitor", "none", "-nodefaults", *serials]


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
        f"QEMU ({session.name}) did not open its serial port within "
        f"{_START_TIMEOUT_S:.0f} s",
        hint="the machine may be overloaded; try again",
    )


@contextlib.contextmanager
def run_qemu(machine_args: Sequence[str], elf: str | Path, *, name: str, serial_index: int = 0,
             attempts: int = 3) -> Iterator[QemuSession]:
    """Start QEMU (`-M ...` and other `machine_args`) on `elf`; yields the session once its
    UART listens. A port taken between choosing and binding it is retried."""
    elf_path = Path(elf)
    if not elf_path.is_file():
        raise EmulatorError(f"no firmware at {elf_path}", hint="build the firmware first")
    with tempfile.TemporaryDirectory(prefix="tinykit-qemu-") as tmp:
        session = None
        try:
            for attempt in range(attempts):
                argv = command(machine_args, elf_path, free_port(), serial_index)
                session = _start(name, argv, Path(tmp), attempt)
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


def _start(name: str, argv: list[str], tmp: Path, attempt: int) -> QemuSession:
    port = int(next(a for a in argv if a.startswith("tcp:")).split(":")[2].split(",")[0])
    log_path = tmp / f"qemu-{attempt}.log"
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
    return QemuSession(name, process, port, log_path)
