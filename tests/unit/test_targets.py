from __future__ import annotations

from pathlib import Path

import pytest

from tinykit.errors import TargetError
from tinykit.targets import known_targets, load_all, load_target

CORES = ["cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
BOARDS = ["nucleo-l4r5zi", "nano33ble", "stm32f4-discovery", "disco-f746ng", "rpi-pico"]


def test_every_required_target_exists_and_resolves():
    names = known_targets()
    for name in CORES + BOARDS:
        assert name in names
    loaded = {t.name: t for t in load_all()}
    for name in CORES:
        assert loaded[name].kind == "core"
        assert loaded[name].qemu_machine, f"{name} should name its QEMU machine"
    for name in BOARDS:
        assert loaded[name].kind == "board" and loaded[name].mcu
        assert len(loaded[name].chain) == 2


def test_board_overrides_core_and_inherits_the_rest():
    board = load_target("nucleo-l4r5zi")
    core = load_target("cortex-m4")
    assert board.clock_hz == 120_000_000 != core.clock_hz
    assert board.flash_bytes == 2 * 1024 * 1024
    assert board.cflags == core.cflags
    assert board.qemu_machine == "mps2-an386"
    assert board.get("flash", "chip_id") == 0x470
    assert board.chain == ("nucleo-l4r5zi", "cortex-m4")


def test_unknown_target_lists_known():
    with pytest.raises(TargetError) as info:
        load_target("cortex-m5")
    assert "unknown target 'cortex-m5'" in info.value.message
    assert "cortex-m4" in info.value.message


def _write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.toml").write_text(text)


BASE = """
[cpu]
core = "cortex-m4"
arch = "armv7e-m"
cflags = ["-mcpu=cortex-m4"]
[clock]
hz = 1
[memory]
flash_bytes = 1
ram_bytes = 1
[firmware]
template = "baremetal"
"""


def test_unknown_key_names_valid_ones(tmp_path):
    _write(tmp_path, "x", BASE.replace("hz = 1", "hz = 1\nmhz = 3"))
    with pytest.raises(TargetError) as info:
        load_target("x", tmp_path)
    assert "unknown key 'mhz' in [clock]; valid: hz" in info.value.message


def test_unknown_top_level_key(tmp_path):
    _write(tmp_path, "x", 'colour = "red"\n' + BASE)
    with pytest.raises(TargetError, match="unknown key 'colour' in top level; valid: extends"):
        load_target("x", tmp_path)


def test_wrong_type_is_an_error(tmp_path):
    _write(tmp_path, "x", BASE.replace("hz = 1", 'hz = "fast"'))
    with pytest.raises(TargetError, match="should be of type int"):
        load_target("x", tmp_path)


def test_extends_cycle_is_an_error(tmp_path):
    _write(tmp_path, "a", 'extends = "b"\n' + BASE)
    _write(tmp_path, "b", 'extends = "c"\n')
    _write(tmp_path, "c", 'extends = "a"\n')
    with pytest.raises(TargetError, match="cycle: a -> b -> c -> a"):
        load_target("a", tmp_path)


def test_extends_unknown_parent(tmp_path):
    _write(tmp_path, "a", 'extends = "nope"\n' + BASE)
    with pytest.raises(TargetError, match="'a' extends unknown target 'nope'"):
        load_target("a", tmp_path)


def test_missing_required_key(tmp_path):
    _write(tmp_path, "a", BASE.replace('template = "baremetal"', ""))
    with pytest.raises(TargetError, match=r"\[firmware\] template is missing"):
        load_target("a", tmp_path)


def test_environment_default(monkeypatch):
    monkeypatch.setenv("TINYKIT_TARGET", "cortex-m7")
    assert load_target().name == "cortex-m7"
