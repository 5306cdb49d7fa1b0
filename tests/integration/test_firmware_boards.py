"""The board firmware: it cross-builds and links against each board's real memory map, and
the STM32F407 one runs unchanged on QEMU's netduinoplus2 (an STM32F405: same USART2, RCC
and GPIO addresses), where `tinykit bench --port` talks to it like to a board.

QEMU models no DWT, so that board reports 0 cycles there; on the real board the same code
counts cycles (test_bench_hardware.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tinykit.emulate.bench import BenchOptions, bench_model, prepare
from tinykit.emulate.qemu import run_qemu
from tinykit.errors import ConfigError
from tinykit.firmware.build import build_project, firmware_sizes, tool
from tinykit.firmware.render import firmware_spec, render_baremetal
from tinykit.targets import load_target

pytestmark = pytest.mark.toolchain

BOARDS = ["nucleo-l4r5zi", "stm32f4-discovery", "disco-f746ng", "nano33ble"]
KWS = "mlperf_kws_dscnn_int8.tflite"


@pytest.fixture(scope="module")
def kws_c(shared_model, tmp_path_factory) -> Path:
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    from tinykit.codegen.generate import generate_sources, write_sources
    from tinykit.tflite.reader import read_model

    folder = tmp_path_factory.mktemp("kws") / "c"
    write_sources(generate_sources(read_model(shared_model(KWS)), "model"), folder)
    return folder


def _symbols(elf: Path) -> dict[str, int]:
    out = subprocess.run([tool("nm"), str(elf)], capture_output=True, text=True).stdout
    return {parts[2]: int(parts[0], 16) for parts in map(str.split, out.splitlines())
            if len(parts) == 3}


@pytest.mark.parametrize("board", BOARDS)
def test_board_firmware_links_at_the_boards_addresses(kws_c, board, tmp_path):
    target = load_target(board)
    spec = firmware_spec(target, emulated=False, model_name="model", model_id=1)
    elf = build_project(render_baremetal(spec, kws_c, tmp_path / "fw"), extra_cflags="-Werror")
    symbols = _symbols(elf)
    flash_origin = target.get("memory", "flash_origin")
    ram_origin = target.get("memory", "ram_origin")
    assert symbols["tkfw_vectors"] == flash_origin  # the vector table opens the image
    assert ram_origin < symbols["__StackTop"] <= ram_origin + target.ram_bytes
    assert symbols["tkfw_counter_read"] and "SysTick_Handler" not in symbols  # DWT
    sizes = firmware_sizes(elf, "model")
    assert sizes.flash_bytes <= target.flash_bytes and sizes.ram_bytes <= target.ram_bytes
    assert sizes.model_constants > 20_000
    assert (elf.parent / "firmware.bin").stat().st_size == sizes.flash_bytes


def test_a_board_without_a_layer_is_refused_with_the_way_out(tmp_path):
    with pytest.raises(ConfigError, match="rp2040") as info:
        firmware_spec(load_target("rpi-pico"), emulated=False, model_name="model",
                      model_id=1)
    assert "QEMU" in (info.value.hint or "")


@pytest.mark.emulator
@pytest.mark.slow
def test_the_f407_firmware_answers_bench_over_a_serial_port(shared_model, tmp_path):
    require_tool("qemu-system-arm", "qemu-system-arm")
    options = BenchOptions(model=shared_model(KWS), target="stm32f4-discovery", samples=2,
                           work_dir=tmp_path, port="socket://127.0.0.1:1")
    # Build exactly what `bench --port` builds, then start it where a board would be.
    _model, prepared = prepare(options, load_target("stm32f4-discovery"))
    with run_qemu(["-M", "netduinoplus2"], prepared.elf, name="netduinoplus2",
                  serial_index=1) as session:
        result = bench_model(BenchOptions(model=options.model, target="stm32f4-discovery",
                                          samples=2, work_dir=tmp_path, port=session.url))
    assert result.outputs_match is True, result.summary()
    assert result.count_unit == "cycles" and result.counter_hz == 16_000_000
    assert [layer.type for layer in result.per_layer][-1] == "SOFTMAX"
    assert result.runner == "serial" and result.port == session.url
