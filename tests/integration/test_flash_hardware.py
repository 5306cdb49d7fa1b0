"""Flash a small image to a real board (never in CI: marker `hardware`).

Needs TINYKIT_PORT (the USB-UART adapter wired to the bootloader's USART) and
TINYKIT_TARGET (a board with [flash] protocol = "stm32-uart"), and the board in its
bootloader (BOOT0 high, reset) unless its boot_sequence drives that. Run with
`.venv/bin/python -m pytest -m hardware tests/integration/test_flash_hardware.py`.
"""

from __future__ import annotations

import os
import struct

import pytest

from tinykit.flash.api import flash_firmware, resolve_options
from tinykit.flash.chips import chip_layout
from tinykit.flash.protocols import get_protocol
from tinykit.flash.transport import open_port
from tinykit.targets import load_target

pytestmark = pytest.mark.hardware


@pytest.fixture()
def board():
    port, target = os.environ.get("TINYKIT_PORT"), os.environ.get("TINYKIT_TARGET")
    if not port or not target:
        pytest.skip("set TINYKIT_PORT and TINYKIT_TARGET to a board in its bootloader")
    loaded = load_target(target)
    if loaded.flash_protocol != "stm32-uart":
        pytest.skip(f"{target} is not flashed over stm32-uart")
    return port, loaded


def test_flash_a_small_image_and_read_it_back_independently(board, tmp_path):
    port, target = board
    layout = chip_layout(target.get("flash", "chip_id"))
    base = layout.flash_base
    # A vector table (stack pointer, reset handler) and `b .`: a firmware that idles.
    firmware = struct.pack("<II", layout.ram[0] + 0x400, base + 8 + 1) + b"\xfe\xe7" * 4
    firmware += os.urandom(1000 - len(firmware)) + b"\x00" * 24
    path = tmp_path / "small.bin"
    path.write_bytes(firmware)
    result = flash_firmware(resolve_options(path, port=port, target=target.name))
    assert result.verified and result.device.chip_id == target.get("flash", "chip_id")
    # A second session reads the flash back on its own.
    protocol = get_protocol("stm32-uart")
    baud = target.get("flash", "baud", 115_200)
    with open_port(port, baud, parity=protocol.parity) as link:
        loader = protocol(link, baud)
        loader.connect()
        found = b"".join(loader.read(base + offset, 256) for offset in range(0, 1024, 256))
    assert found == firmware
