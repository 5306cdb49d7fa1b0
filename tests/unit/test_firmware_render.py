"""Rendering the baremetal firmware, the machine table and the board-support table."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykit.emulate.machines import MACHINES, get_machine
from tinykit.errors import BudgetError, ConfigError, EmulatorError, ToolchainError
from tinykit.firmware import build
from tinykit.firmware.boards import BOARD_SUPPORT, emulator_support, hardware_support
from tinykit.firmware.render import firmware_spec, model_id_of, render_baremetal
from tinykit.firmware.templating import environment, render_tree
from tinykit.targets import load_all, load_target

HEADER = """#include <stddef.h>
#define MODEL_NUM_INPUTS 1
#define MODEL_NUM_OUTPUTS 1
#define MODEL_NUM_OPS 2
#define MODEL_ARENA_BYTES 64
"""


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "model.h").write_text(HEADER)
    (folder / "model.c").write_text("/* body */\n")
    (folder / "notes.txt").write_text("not copied")
    return folder


def test_every_core_target_has_a_machine_and_a_layer():
    for target in load_all():
        if target.kind == "core":
            support, machine = emulator_support(target)
            assert support.emulated and machine.cpu.startswith(target.core.replace("plus", ""))


def test_every_board_with_a_layer_renders_and_rp2040_says_it_has_none(model_dir, tmp_path):
    for target in load_all():
        if target.kind != "board":
            continue
        if target.get("firmware", "bsp") == "rp2040":
            with pytest.raises(ConfigError, match="no board-support layer"):
                hardware_support(target)
            continue
        spec = firmware_spec(target, emulated=False, model_name="model", model_id=1)
        out = render_baremetal(spec, model_dir, tmp_path / target.name)
        linker = (out / "linker.ld").read_text()
        assert f"ORIGIN = 0x{target.get('memory', 'flash_origin'):08X}" in linker
        assert f"LENGTH = {target.flash_bytes}" in linker
        config = (out / "src" / "tkfw_config.h").read_text()
        assert re.search(r"TKFW_COUNTER_KIND\s+2u", config)  # cycles on hardware
        assert (out / "src" / f"bsp_{spec.support.name}.c").is_file()
        assert not (out / "src" / "tkfw_counter_systick.c").exists()


def test_emulated_render_sizes_memory_to_the_budget_and_wires_the_uart(model_dir, tmp_path):
    target = load_target("cortex-m0plus")
    spec = firmware_spec(target, emulated=True, model_name="model", model_id=0x1A2B3C4D)
    out = render_baremetal(spec, model_dir, tmp_path / "fw")
    assert spec.ram.length == target.ram_bytes  # the microbit's SRAM is sized by QEMU
    config = (out / "src" / "tkfw_config.h").read_text()
    assert re.search(r"TKFW_MODEL_ID\s+0x1A2B3C4Du", config)
    assert re.search(r"TKFW_UART_IRQ\s+2u", config)
    vectors = (out / "src" / "tkfw_vectors.c").read_text()
    entries = re.findall(r"^    \(uint32_t\)(\S+),$", vectors, re.M)
    assert entries[0] == "&__StackTop" and entries[15] == "SysTick_Handler"
    assert entries[16 + 2] == "tkfw_uart_irq_handler" and len(entries) == 19
    assert sorted(p.name for p in (out / "model").iterdir()) == ["model.c", "model.h"]
    makefile = (out / "Makefile").read_text()
    assert "-global nrf51-soc.sram-size=32768" in makefile
    assert "-mcpu=cortex-m0plus" in makefile


def test_machines_without_sizing_get_the_smaller_of_machine_and_budget():
    m55 = get_machine("mps3-an547")
    assert m55.sized_regions(2 * 2**20, 2**20) == (512 * 1024, 512 * 1024)
    assert get_machine("mps2-an386").sized_regions(1000, 2000) == (1000, 2000)
    with pytest.raises(EmulatorError, match="known: "):
        get_machine("mps2-an999")


@pytest.mark.parametrize("name", sorted(MACHINES))
@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 10**9), phase=st.fractions(0, 1))
def test_ticks_convert_back_to_the_exact_instruction_count(name, n, phase):
    # SysTick ticks whenever virtual time crosses a tick boundary; the interval of n
    # instructions starts at any phase of a tick.
    machine = MACHINES[name]
    r = machine.ticks_per_instruction
    assert r >= 2
    ticks = math.floor(Fraction(phase) + n * r) - math.floor(Fraction(phase))
    assert machine.instructions(ticks) == n


def test_wrap_interrupts_are_taken_out():
    machine = get_machine("mps2-an386")
    assert machine.instructions(320, wraps=2, isr_instructions=5) == 100 - 10


def test_uart_mismatch_and_missing_memory_origin_are_config_errors(tmp_path):
    board = load_target("nucleo-l4r5zi")
    table = {**board.table, "firmware": {**board.table["firmware"], "uart": "USART3"}}
    with pytest.raises(ConfigError, match="LPUART1"):
        hardware_support(_with(board, table))
    table = {**board.table, "memory": {"flash_bytes": 1, "ram_bytes": 1}}
    with pytest.raises(ConfigError, match="flash_origin"):
        hardware_support(_with(board, table))


def _with(target, table):
    from dataclasses import replace

    return replace(target, table=table)


def test_templates_refuse_a_missing_value(tmp_path):
    env = environment("baremetal")
    with pytest.raises(jinja2.UndefinedError):
        render_tree(env, ["linker.ld.jinja"], {"version": "x"}, tmp_path)


def test_model_id_is_the_first_four_bytes_of_the_sha256(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(b"abc")
    assert model_id_of(path) == 0xBA7816BF  # sha256("abc") = ba7816bf...


def test_board_support_table_names_existing_files():
    folder = Path(__file__).resolve().parents[2] / "firmware_templates" / "baremetal" / "bsp"
    for support in BOARD_SUPPORT.values():
        assert (folder / support.source).is_file(), support.source


@pytest.mark.parametrize("output, kind, words", [
    ("model/x.c:3:5: error: 'y' undeclared\nmake: *** [x] Error 1", ToolchainError,
     "'y' undeclared"),
    ("/tmp/cc.s:38: Error: instruction not supported in Thumb16 mode", ToolchainError,
     "Thumb16"),
    ("ld: region `RAM' overflowed by 1234 bytes\ncollect2: error: ld returned 1",
     BudgetError, "RAM by 1234 bytes"),
])
def test_build_failures_show_the_first_error(output, kind, words, tmp_path):
    error = build._build_error(output, tmp_path)
    assert isinstance(error, kind) and words in error.message
