"""`tinykit flash` and `tinykit monitor` end to end: the CLI, pyserial, a pty or a socket,
and the simulated bootloader in a process of its own; memory is checked afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import tty
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tinykit.cli import main
from tinykit.flash.simulator import Faults, SimulatedBootloader

BASE = 0x0800_0000
LINKER = """
MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 1M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 128K }
SECTIONS {
  .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } > FLASH
  .data : { *(.data*) } > RAM AT > FLASH
  .bss : { *(.bss*) } > RAM
}
"""
SOURCE = """
extern void reset(void);
__attribute__((section(".vectors"))) void (*const vectors[2])(void) =
    { (void (*)(void))0x20001000, reset };
volatile unsigned counter = 0x12345678;   /* .data: stored in flash after .text */
static const unsigned char table[3000] = { [0] = 1, [1499] = 2, [2999] = 3 };
void reset(void) { for (;;) counter += table[counter % 3000]; }
"""


@pytest.fixture(scope="module")
def firmware(tmp_path_factory) -> tuple[Path, bytes]:
    """A real ELF from arm-none-eabi-gcc and its flash bytes according to objcopy."""
    gcc = require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    folder = tmp_path_factory.mktemp("fw")
    (folder / "fw.c").write_text(SOURCE)
    (folder / "fw.ld").write_text(LINKER)
    elf = folder / "fw.elf"
    subprocess.run([gcc, "-mcpu=cortex-m4", "-mthumb", "-Os", "-nostdlib", "-T",
                    str(folder / "fw.ld"), str(folder / "fw.c"), "-o", str(elf)], check=True)
    binary = folder / "fw.bin"
    subprocess.run([gcc.replace("gcc", "objcopy"), "-O", "binary", str(elf), str(binary)],
                   check=True)
    return elf, binary.read_bytes()


@pytest.mark.toolchain
def test_flash_an_elf_over_a_pty(firmware, capsys):
    elf, expected = firmware
    with SimulatedBootloader(0x413, initial="random") as sim:
        code = main(["flash", str(elf), "--board", "stm32f4-discovery", "--port", sim.port])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert sim.read(BASE, len(expected)) == expected
        assert sim.read(BASE + len(expected), 64) == b"\xff" * 64  # rest of sector 0 erased
    assert out.startswith(f"verified {len(expected):,} bytes at 0x08000000")
    assert "device    STM32F40x/41x (chip id 0x413), bootloader v3.1" in err
    assert "erased    1 sector(s) 0, 16,384 bytes" in err


def _hex_of(data: bytes, address: int) -> str:
    lines = [":02000004" + f"{address >> 16:04X}"
             + f"{(-(2 + 4 + (address >> 24) + ((address >> 16) & 0xFF))) & 0xFF:02X}"]
    for offset in range(0, len(data), 16):
        chunk = data[offset:offset + 16]
        low = (address + offset) & 0xFFFF
        body = bytes([len(chunk), low >> 8, low & 0xFF, 0]) + chunk
        lines.append(":" + (body + bytes([(-sum(body)) & 0xFF])).hex().upper())
    return "\n".join([*lines, ":00000001FF", ""])


def test_flash_hex_over_a_socket_then_go(tmp_path, capsys):
    data = bytes(range(256)) * 20
    hexfile = tmp_path / "fw.hex"
    hexfile.write_text(_hex_of(data, BASE + 0x8000))
    with SimulatedBootloader(0x449, socket=True) as sim:
        code = main(["flash", str(hexfile), "--board", "disco-f746ng", "--port", sim.port,
                     "--go"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert sim.read(BASE + 0x8000, len(data)) == data
        assert sim.stats()["went_to"] == BASE + 0x8000
    assert "go       0x08008000: started" in out
    assert "erased    1 sector(s) 1, 32,768 bytes" in err


def test_bin_defaults_from_the_target_and_environment(tmp_path, capsys, monkeypatch):
    data = os.urandom(3000)
    binary = tmp_path / "fw.bin"
    binary.write_bytes(data)
    with SimulatedBootloader(0x470) as sim:
        monkeypatch.setenv("TINYKIT_PORT", sim.port)
        monkeypatch.setenv("TINYKIT_TARGET", "nucleo-l4r5zi")
        assert main(["flash", str(binary)]) == 0  # address, chip id, baud from the target
        assert sim.read(BASE, 3000) == data
    assert "verified 3,000 bytes" in capsys.readouterr().out


def test_no_verify_says_so(tmp_path, capsys):
    binary = tmp_path / "fw.bin"
    binary.write_bytes(b"\x01" * 1000)
    with SimulatedBootloader(0x413) as sim:
        code = main(["flash", str(binary), "--port", sim.port, "--address", "0x0800_0000",
                     "--chip-id", "0x413", "--no-verify"])
    out = capsys.readouterr().out
    assert code == 0 and "NOT verified" in out and "verified 1" not in out


def test_trace_prints_frames_as_hex(tmp_path, capsys):
    binary = tmp_path / "fw.bin"
    binary.write_bytes(b"\x10\x20\x30\x40")
    with SimulatedBootloader(0x413) as sim:
        assert main(["flash", str(binary), "--port", sim.port, "--address", "0x08000000",
                     "--trace"]) == 0
    err = capsys.readouterr().err
    assert "tx 7f\nrx 79\n" in err
    assert "tx 31 ce\nrx 79\ntx 08 00 00 00 08\nrx 79\ntx 03 10 20 30 40 43\nrx 79" in err


@pytest.mark.parametrize(
    ("faults", "args", "message"),
    [
        (Faults(reported_chip_id=0x449), ["--board", "stm32f4-discovery"],
         "reports STM32F74x/75x (chip id 0x449), but the target expects STM32F40x/41x "
         "(chip id 0x413) (target stm32f4-discovery)"),
        (Faults(silent=True), ["--board", "stm32f4-discovery", "--timeout", "0.2"],
         "this board's bootloader: USART1: PA9 TX, PA10 RX"),
        (Faults(protected_sectors=(0,)), ["--chip-id", "0x413", "--timeout", "0.3"],
         "refused ERASE of sector(s) 0-0 (0x08000000-0x08003FFF)"),
    ],
)
def test_failures_exit_2_with_a_message_and_a_hint(tmp_path, capsys, faults, args, message):
    binary = tmp_path / "fw.bin"
    binary.write_bytes(b"\x5a" * 512)
    with SimulatedBootloader(0x413, faults, initial="random", seed=5) as sim:
        before = sim.read(BASE, 512)
        code = main(["flash", str(binary), "--port", sim.port, "--address", "0x08000000",
                     *args])
        after = sim.read(BASE, 512)
    out, err = capsys.readouterr()
    assert code == 2 and message in err and "\nhint: " in err
    assert "verified" not in out and before == after


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--board", "nano33ble"], "cannot flash over the 'bossa' protocol"),
        (["--board", "rpi-pico"], "cannot flash over the 'uf2' protocol"),
        (["--board", "cortex-m4"], "'cortex-m4' is a core, not a board"),
        (["--address", "0x09000000", "--chip-id", "0x413"], "lies outside the STM32F40x/41x"),
        (["--address", "0x08000000", "--boot-sequence", "dtr=3"], "boot sequence 'dtr=3'"),
    ],
)
def test_user_errors_before_touching_the_port(tmp_path, capsys, args, message):
    binary = tmp_path / "fw.bin"
    binary.write_bytes(b"\x00" * 16)
    assert main(["flash", str(binary), "--port", "/dev/nonexistent", *args]) == 2
    assert message in capsys.readouterr().err


def test_absent_port_is_a_clear_error(tmp_path, capsys):
    binary = tmp_path / "fw.bin"
    binary.write_bytes(b"\x00" * 16)
    code = main(["flash", str(binary), "--port", str(tmp_path / "ttyUSB9"),
                 "--address", "0x08000000", "--chip-id", "0x413"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot open serial port" in err and "list_ports" in err


def test_missing_port_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TINYKIT_PORT", raising=False)
    binary = tmp_path / "fw.bin"
    binary.write_bytes(b"\x00" * 16)
    assert main(["flash", str(binary), "--address", "0x08000000"]) == 2
    err = capsys.readouterr().err
    assert "no serial port given" in err and "TINYKIT_PORT" in err


def test_flash_does_not_import_tensorflow(tmp_path):
    binary = tmp_path / "fw.bin"
    binary.write_bytes(b"\x00" * 64)
    with SimulatedBootloader(0x413) as sim:
        code = textwrap.dedent(f"""
            import sys
            from tinykit.cli import main
            rc = main(["flash", {str(binary)!r}, "--port", {sim.port!r},
                       "--address", "0x08000000"])
            heavy = [m for m in ("tensorflow", "tf_keras", "keras", "tflite_runtime")
                     if m in sys.modules]
            print(rc, heavy)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []"


def test_monitor_prints_the_device_output_and_leaves_on_ctrl_c():
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinykit.cli", "monitor", "--port", os.ttyname(slave)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while b"Ctrl-C" not in (proc.stderr.peek() if hasattr(proc.stderr, "peek") else b""):
            assert time.monotonic() < deadline, "monitor did not start"
            time.sleep(0.05)
        os.write(master, b"hello from the board\r\n\x00\xff")
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    assert out == b"hello from the board\r\n\x00\xff"
    assert b"Traceback" not in err and b"(24 bytes received)" in err
