"""The benchmark firmware's protocol and counter in QEMU, with a test double of the model.

The double implements the generated-model C API with ops whose instruction counts are
known by construction (a two-instruction loop run input-chosen times), so the counts can
be checked exactly, and with inputs that make it hang, fault or fail on purpose. The
real models run in test_bench_*.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import model_header, require_tool
from tinykit.emulate import device
from tinykit.emulate import protocol as p
from tinykit.emulate.bench import BenchOptions
from tinykit.emulate.client import BenchClient, Link, open_port
from tinykit.emulate.qemu import qemu_binary, run_qemu
from tinykit.errors import EmulatorError, SerialError, ToolchainError
from tinykit.firmware.build import build_project, firmware_sizes
from tinykit.firmware.render import firmware_spec, render_baremetal
from tinykit.targets import load_target

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]

CORES = ["cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]

DOUBLE_H = model_header(2, 1, 3, 1536)

# Op 0 spins in1[0] * 1000 times, op 1 in1[1] * 1000 times (two instructions a turn);
# op 2 writes out[j] = in0[j] + in1[j % 4]. in1[3] = 125 faults, 126 hangs, 127 fails.
DOUBLE_C = """#include <stdint.h>
#include "model.h"
static int8_t arena[MODEL_ARENA_BYTES];
static void (*hook)(int);
int model_init(void) { return 0; }
void *model_input(int i) { return i == 0 ? (void *)arena : (void *)(arena + 1024); }
size_t model_input_bytes(int i) { return i == 0 ? 1000u : 4u; }
void *model_output(int i) { (void)i; return arena + 1100; }
size_t model_output_bytes(int i) { (void)i; return 300u; }
const char *model_op_type(int i) {
    static const char *names[] = {"SPIN", "SPIN", "ADD"};
    return names[i];
}
void model_set_op_hook(void (*h)(int)) { hook = h; }
static void spin(uint32_t n) {
    if (n) __asm volatile(".syntax unified\\n1: subs %0, %0, #1\\n bne 1b" : "+l"(n));
}
int model_invoke(void) {
    const int8_t *in0 = model_input(0), *in1 = model_input(1);
    int8_t *out = model_output(0);
    if (in1[3] == 125) *(volatile uint32_t *)0xFFFFFFF0u = 1;
    while (in1[3] == 126) {}
    if (hook) hook(0);
    spin((uint32_t)(uint8_t)in1[0] * 1000u);
    if (hook) hook(1);
    spin((uint32_t)(uint8_t)in1[1] * 1000u);
    if (hook) hook(2);
    for (int j = 0; j < 300; j++) out[j] = (int8_t)(in0[j] + in1[j % 4]);
    if (hook) hook(3);
    return in1[3] == 127 ? 7 : 0;
}
"""

IN0 = bytes(range(250)) * 4


def _expected(in1: bytes) -> bytes:
    return bytes((IN0[j] + in1[j % 4]) & 0xFF for j in range(300))


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    """target name -> a built Prepared of the double (each built once per module)."""
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "qemu-system-arm")
    root = tmp_path_factory.mktemp("double")
    (root / "c").mkdir()
    (root / "c" / "model.h").write_text(DOUBLE_H)
    (root / "c" / "model.c").write_text(DOUBLE_C)
    built: dict[str, device.Prepared] = {}

    def get(name: str) -> device.Prepared:
        if name not in built:
            spec = firmware_spec(load_target(name), emulated=True, model_name="model",
                                 model_id=0x12345678)
            project = render_baremetal(spec, root / "c", root / name)
            elf = build_project(project, extra_cflags="-Werror")
            built[name] = device.Prepared(spec, project, elf, firmware_sizes(elf, "model"))
        return built[name]

    return get


def _session(prepared: device.Prepared):
    machine = prepared.spec.machine
    assert machine is not None
    args = machine.qemu_args(prepared.spec.flash.length, prepared.spec.ram.length)
    return run_qemu(args, prepared.elf, name=machine.name)


def _expect_error(link: Link, code: p.ErrorCode, timeout: float = 3.0) -> p.DeviceError:
    frame = link.receive(timeout)
    assert frame is not None, f"no answer, expected {code.name}"
    assert frame.type == p.FrameType.ERROR, frame
    error = p.DeviceError.parse(frame.payload)
    assert error.code == code, error.describe()
    return error


def test_malformed_frames_are_answered_with_errors_and_the_device_recovers(firmware):
    with _session(firmware("cortex-m4")) as session, open_port(session.url) as port:
        link = Link(port)
        client = BenchClient(link)
        assert client.hello().model_id == 0x12345678
        bad_crc = bytearray(p.encode_frame(p.FrameType.HELLO, 9))
        bad_crc[-1] ^= 0x55
        link.send_raw(bytes(bad_crc))
        assert _expect_error(link, p.ErrorCode.BAD_CRC).frame_type == p.FrameType.HELLO
        link.send_raw(p.SYNC + bytes([p.FrameType.WRITE_INPUT, 10]) + (60000).to_bytes(2, "little"))
        assert _expect_error(link, p.ErrorCode.BAD_LENGTH).detail == 0
        link.resync()
        link.send_raw(p.encode_frame(0x42, 11))
        assert _expect_error(link, p.ErrorCode.UNKNOWN_TYPE).frame_type == 0x42
        start = time.monotonic()
        link.send_raw(p.encode_frame(p.FrameType.WRITE_INPUT, 12, b"\x00" * 20)[:12])
        _expect_error(link, p.ErrorCode.TIMEOUT, timeout=5.0)
        assert time.monotonic() - start < 4.0
        link.send_raw(b"\x00\x11\x5a\xa5\x33 not a frame \xff" * 3)
        assert client.hello().num_ops == 3

        refusals = [
            (p.FrameType.WRITE_INPUT, p.write_input_payload(9, 0, b"x"), p.ErrorCode.BAD_ARGUMENT),
            (p.FrameType.WRITE_INPUT, p.write_input_payload(1, 3, b"xy"), p.ErrorCode.BAD_ARGUMENT),
            (p.FrameType.WRITE_INPUT, b"\x00\x00", p.ErrorCode.BAD_LENGTH),
            (p.FrameType.INVOKE, b"", p.ErrorCode.BAD_LENGTH),
            (p.FrameType.READ_OUTPUT, p.read_output_payload(0, 290, 20), p.ErrorCode.BAD_ARGUMENT),
            (p.FrameType.READ_STAMPS, p.read_stamps_payload(0, 4), p.ErrorCode.NO_STAMPS),
            (p.FrameType.READ_OP_TYPE, p.read_op_type_payload(3), p.ErrorCode.BAD_ARGUMENT),
        ]
        for frame_type, payload, code in refusals:
            link.send_raw(p.encode_frame(frame_type, 20, payload))
            assert _expect_error(link, code).frame_type == frame_type

        run = client.run([IN0, bytes([1, 2, 3, 4])], per_layer=True)
        assert run.outputs == [_expected(bytes([1, 2, 3, 4]))]
        assert client.read_op_types() == ["SPIN", "SPIN", "ADD"]


@pytest.mark.slow
@pytest.mark.parametrize("core", CORES)
def test_instruction_counts_are_exact_on_every_core(firmware, core):
    prepared = firmware(core)
    machine = prepared.spec.machine
    with _session(prepared) as session, open_port(session.url) as port:
        client = BenchClient(Link(port))
        info = client.hello()
        runs = {}
        for k in (1, 3):
            in1 = bytes([k, 2, 5, 9])
            layered = client.run([IN0, in1], per_layer=True)
            plain = client.run([IN0, in1], per_layer=False)
            assert layered.outputs == plain.outputs == [_expected(in1)]
            stamps = layered.stamps
            per_layer = [device.interval(info, machine, a, b)
                         for a, b in zip(stamps, stamps[1:], strict=False)]
            runs[k] = (per_layer, device.inference_count(info, machine, plain))
    # Two more thousand turns of a two-instruction loop: exactly 4000 more instructions.
    (layers1, total1), (layers3, total3) = runs[1], runs[3]
    assert layers3[0] - layers1[0] == 4000
    assert layers3[1:] == layers1[1:]
    assert total3 - total1 == 4000
    assert layers1[1] >= 4000 and total1 > sum(layers1) - 200


def _options(**changes) -> BenchOptions:
    return BenchOptions(model=Path("double.tflite"), **changes)


def _qemu_children() -> list[str]:
    out = subprocess.run(["pgrep", "-P", str(os.getpid()), "qemu"], capture_output=True,
                         text=True).stdout
    return out.split()


def test_a_hung_guest_is_stopped_with_a_clear_error(firmware):
    prepared = firmware("cortex-m4")
    start = time.monotonic()
    with pytest.raises(EmulatorError, match="stopped answering: .*INVOKE within 1 s"):
        device.run(prepared, [[IN0, bytes([1, 1, 1, 126])]], _options(timeout=1.0))
    assert time.monotonic() - start < 15
    assert _qemu_children() == []


def test_a_fault_is_reported_with_the_function_it_happened_in(firmware):
    prepared = firmware("cortex-m3")
    with pytest.raises(EmulatorError, match=r"HardFault at 0x[0-9a-f]{8} in model_invoke"):
        device.run(prepared, [[IN0, bytes([1, 1, 1, 125])]], _options())
    with pytest.raises(EmulatorError, match="INVOKE_FAILED.*detail 7"):
        device.run(prepared, [[IN0, bytes([1, 1, 1, 127])]], _options())


def test_ctrl_c_inside_a_session_stops_qemu(firmware):
    prepared = firmware("cortex-m4")
    with pytest.raises(KeyboardInterrupt), _session(prepared) as session:
        process = session.process
        raise KeyboardInterrupt
    assert process.poll() is not None


def test_a_board_path_is_a_tty_device_which_is_exclusive(firmware, tmp_path):
    """QEMU's -serial pty is a real tty: the same host code as a board's /dev/ttyACM0."""
    prepared = firmware("cortex-m4")
    machine = prepared.spec.machine
    assert machine is not None
    argv = [qemu_binary(), *machine.qemu_args(prepared.spec.flash.length,
                                              prepared.spec.ram.length),
            "-kernel", str(prepared.elf), "-display", "none", "-monitor", "none",
            "-nodefaults", "-serial", "pty"]
    log = tmp_path / "qemu.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not (match := re.search(r"/dev/pts/\d+", log.read_text())):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        path = match.group(0)
        with open_port(path) as port:
            assert BenchClient(Link(port)).hello().bsp == "cmsdk"
            with pytest.raises(SerialError, match="busy"), open_port(path):
                pass
    finally:
        process.kill()
        process.wait()
    with pytest.raises(SerialError, match="absent") as info:
        with open_port("/dev/ttyNOPE42"):
            pass
    assert "list_ports" in (info.value.hint or "")


def test_qemu_missing_names_the_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolchainError) as info:
        qemu_binary()
    assert "apt-get install qemu-system-arm" in (info.value.hint or "")
