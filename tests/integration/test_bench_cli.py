"""`tinykit bench` from the command line: JSON, trace, and every user error it names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tinykit.cli import main
from tinykit.codegen.generate import generate_sources
from tinykit.errors import ToolchainError
from tinykit.firmware.build import build_project
from tinykit.firmware.render import firmware_spec, render_baremetal
from tinykit.paths import targets_dir
from tinykit.targets import load_target
from tinykit.tflite.reader import read_model

HELLO = "tflm_hello_world_int8.tflite"


@pytest.fixture()
def tools():
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "qemu-system-arm")


@pytest.mark.toolchain
@pytest.mark.emulator
def test_json_output_and_frame_trace(tools, shared_model, tmp_path, capsys):
    code = main(["bench", str(shared_model(HELLO)), "--target", "cortex-m3", "--json",
                 "--samples", "2", "-o", str(tmp_path), "--trace", "--qemu"])
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["target"] == "cortex-m3" and payload["outputs_match"] is True
    assert isinstance(payload["instructions_per_inference"], int)
    assert [layer["type"] for layer in payload["per_layer"]] == ["FULLY_CONNECTED"] * 3
    assert all(isinstance(layer["instructions"], int) for layer in payload["per_layer"])
    assert payload["flash_bytes"] > 0 and payload["ram_bytes"] > 0
    assert payload["runner"] == {"kind": "qemu", "machine": "mps2-an385", "port": None}
    assert "-> a5 5a 01" in err and "<- Frame(INFO" in err  # --trace hex-dumps frames
    assert (tmp_path / "firmware" / "build" / "firmware.elf").is_file()


@pytest.mark.toolchain
def test_over_budget_is_refused_before_building(shared_model, tmp_path, capsys):
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    model = shared_model("mlperf_vww_mobilenetv1_int8.tflite")
    code = main(["bench", str(model), "--target", "cortex-m0plus", "-o", str(tmp_path / "w"),
                 "--qemu"])
    err = capsys.readouterr().err
    assert code == 2
    # The figure is the arena the generated C would lay out, kernels' scratch included.
    arena = generate_sources(read_model(model), name="model").arena_bytes
    assert f"does not fit cortex-m0plus: RAM: tensor arena {arena:,} B + stack 2,048 B" in err
    assert "the budget is 32,768 B" in err and "hint:" in err
    assert not (tmp_path / "w").exists()


def test_a_target_without_an_emulator_says_so(shared_model, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "targets"
    shutil.copytree(targets_dir(), folder)
    (folder / "bare-board.toml").write_text(
        'extends = "cortex-m4"\nkind = "board"\n\n[emulator]\nqemu_machine = ""\n')
    monkeypatch.setenv("TINYKIT_TARGETS_DIR", str(folder))
    code = main(["bench", str(shared_model(HELLO)), "--target", "bare-board", "--json",
                 "--qemu"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["ran"] is False
    assert "has no emulator" in payload["note"] and "--port" in payload["note"]


def test_missing_cross_compiler_gives_the_install_command(shared_model, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    code = main(["bench", str(shared_model(HELLO)), "--qemu"])
    err = capsys.readouterr().err
    assert code == 2
    assert "arm-none-eabi-gcc was not found" in err
    assert "apt-get install gcc-arm-none-eabi" in err


@pytest.mark.toolchain
def test_an_absent_port_is_named(shared_model, tmp_path, capsys):
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    code = main(["bench", str(shared_model(HELLO)), "--target", "nucleo-l4r5zi",
                 "--port", "/dev/ttyNOPE7", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "serial port /dev/ttyNOPE7 is absent" in err
    # The board firmware was built, ready to flash.
    assert (tmp_path / "firmware" / "build" / "firmware.bin").is_file()


@pytest.mark.toolchain
def test_build_only_builds_the_boards_firmware(shared_model, tmp_path, capsys):
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    code = main(["bench", str(shared_model(HELLO)), "--target", "disco-f746ng",
                 "--build-only", "--json", "-o", str(tmp_path)])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["bsp"] == "stm32f7"
    assert Path(payload["firmware"]).is_file() and payload["flash_bytes"] > 0


def test_missing_model_file(capsys, tmp_path):
    assert main(["bench", str(tmp_path / "nope.tflite"), "--qemu"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.toolchain
def test_a_build_failure_shows_the_compilers_first_error(tmp_path):
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    c_dir = tmp_path / "c"
    c_dir.mkdir()
    header = "".join(f"#define MODEL_{key} 1\n" for key in
                     ("NUM_INPUTS", "NUM_OUTPUTS", "NUM_OPS", "ARENA_BYTES"))
    header += "#include <stddef.h>\nint model_init(void);\n"
    (c_dir / "model.h").write_text(header)
    (c_dir / "model.c").write_text("int model_init(void) { return undeclared_thing; }\n")
    spec = firmware_spec(load_target("cortex-m4"), emulated=True, model_name="model",
                         model_id=0)
    project = render_baremetal(spec, c_dir, tmp_path / "fw")
    with pytest.raises(ToolchainError) as info:
        build_project(project, jobs=1)
    assert "error: 'undeclared_thing' undeclared" in info.value.message
    assert f"make -C {project}" in (info.value.hint or "")


def test_help_lists_the_options(capsys):
    assert main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--target", "--port", "--samples", "--json", "--timeout", "--qemu"):
        assert option in out
