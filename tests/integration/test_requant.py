"""The one-rounding requantization of the kernels against TFLite's two roundings, in C.

`tk_requant` (tk_internal.h) replaces MultiplyByQuantizedMultiplier + zero point in every
fast kernel. It is checked here against the portable `tk_multiply_by_quantized_multiplier`
(itself TFLite's reference arithmetic) on a million seeded cases per build: on the host
with the 64-bit multiply and with the ARMv6-M 16-bit partial products forced, and in QEMU
on every core (firmware whose model is this check, talking the benchmark protocol). The
first cases' results also go back to Python and are compared with tinykit.codegen.quant.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import model_header, require_tool
from tinykit.codegen.generate import kernel_sources
from tinykit.codegen.quant import multiply_by_quantized_multiplier
from tinykit.emulate import device
from tinykit.emulate.client import BenchClient, Link, open_port
from tinykit.emulate.qemu import run_qemu
from tinykit.firmware.build import build_project, firmware_sizes
from tinykit.firmware.render import firmware_spec, render_baremetal
from tinykit.targets import load_target

pytestmark = [pytest.mark.toolchain]

CORES = ["cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
#: Cases whose results come back to Python (16 bytes each: acc, m, e | zp, result).
ECHOED = 48

# The check, shared by the host program and the firmware's model: xorshift32 cases of
# accumulator (full int32 range, small values and the neighbourhood of rounding ties),
# multiplier in [2^30, 2^31) (or 0, 2^30), exponent e in [2, 23], zero point in int8.
CHECK_C = r"""
#include <stdint.h>
#include "tk_internal.h"

static uint32_t tk_test_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* Returns the number of mismatches over `count` cases; echoes the first ECHOED. */
static uint32_t tk_test_requant(uint32_t seed, uint32_t count, int32_t *echo)
{
    uint32_t state = seed ? seed : 1u, bad = 0, i;
    for (i = 0; i < count; ++i) {
        const uint32_t kind = tk_test_next(&state) % 8u;
        const int e = 2 + (int)(tk_test_next(&state) % 22u);
        const int32_t zp = (int32_t)(tk_test_next(&state) % 256u) - 128;
        int32_t m = (int32_t)(0x40000000u | (tk_test_next(&state) & 0x3FFFFFFFu));
        int32_t acc = (int32_t)tk_test_next(&state);
        int32_t want, got;
        if (kind == 0) {
            m = 0;
        } else if (kind == 1) {
            m = 0x40000000;
        }
        if (kind >= 2 && kind < 5) {
            acc = (acc >> 11);           /* typical accumulators */
        } else if (kind >= 5 && kind < 7 && m != 0) {
            /* around a tie of the second rounding: acc * m ~ (k + 1/2) * 2^(31 + e) */
            const int64_t half = (int64_t)((int32_t)(tk_test_next(&state) % 512u) - 256) * 2 + 1;
            const int64_t near = half * ((int64_t)1 << (30 + e)) / m;
            if (near > -2000000000 && near < 2000000000) {
                acc = (int32_t)near + (int32_t)(tk_test_next(&state) % 5u) - 2;
            }
        }
        want = tk_multiply_by_quantized_multiplier(acc, m, -e) + zp;
        got = tk_requant(acc, m, tk_requant_c_hi(zp, e - 1), e - 1);
        bad += want != got;
        if (i < ECHOED) {
            echo[4 * i] = acc;
            echo[4 * i + 1] = m;
            echo[4 * i + 2] = e * 256 + (zp & 0xFF);
            echo[4 * i + 3] = got;
        }
    }
    return bad;
}
"""

HOST_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    static int32_t echo[4 * ECHOED];
    (void)argc;
    uint32_t bad = tk_test_requant((uint32_t)strtoul(argv[1], 0, 10),
                                   (uint32_t)strtoul(argv[2], 0, 10), echo);
    fwrite(&bad, 4, 1, stdout);
    fwrite(echo, 4, 4 * ECHOED, stdout);
    return 0;
}
"""

# The benchmark firmware's model API around the check: input 0 is the seed (4 bytes),
# output 0 the mismatch count then the echoed cases.
MODEL_H = model_header(1, 1, 1, 1024)

MODEL_C = """
#include <string.h>
#include "model.h"
static union { uint32_t words[256]; uint8_t bytes[1024]; } arena;
static void (*hook)(int);
int model_init(void) { return 0; }
void *model_input(int i) { (void)i; return arena.bytes; }
size_t model_input_bytes(int i) { (void)i; return 4u; }
void *model_output(int i) { (void)i; return arena.bytes + 16; }
size_t model_output_bytes(int i) { (void)i; return 4u + 16u * ECHOED; }
const char *model_op_type(int i) { (void)i; return "REQUANT"; }
void model_set_op_hook(void (*h)(int)) { hook = h; }
int model_invoke(void)
{
    uint32_t seed, bad;
    memcpy(&seed, arena.bytes, 4);
    if (hook) hook(0);
    bad = tk_test_requant(seed, CASES, (int32_t *)(void *)(arena.bytes + 20));
    memcpy(arena.bytes + 16, &bad, 4);
    if (hook) hook(1);
    return 0;
}
"""


def _check_source(cases: int) -> str:
    return f"#define ECHOED {ECHOED}\n#define CASES {cases}u\n" + CHECK_C


def _expect(payload: bytes, count: int) -> None:
    """No mismatch, and the echoed cases equal TFLite's arithmetic in Python."""
    bad = struct.unpack_from("<I", payload)[0]
    assert bad == 0, f"{bad} of {count} cases differ from tk_multiply_by_quantized_multiplier"
    for i in range(ECHOED):
        acc, m, packed, got = struct.unpack_from("<iiii", payload, 4 + 16 * i)
        e, zp = packed >> 8, (packed & 0xFF) - 256 * ((packed & 0xFF) > 127)
        assert got == multiply_by_quantized_multiplier(acc, m, -e) + zp, (acc, m, e, zp)


def _runtime(folder: Path) -> None:
    for name, text in kernel_sources().items():
        (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("v6m", [False, True], ids=["mul64", "armv6m-16bit"])
def test_requant_on_the_host(tmp_path, v6m):
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no host C compiler")
    _runtime(tmp_path)
    (tmp_path / "check.c").write_text(_check_source(0) + HOST_MAIN)
    sources = [str(tmp_path / "check.c"), str(tmp_path / "tinykit_kernels.c")]
    flags = ["-DTK_ISA_V6M=1"] if v6m else []
    subprocess.run([compiler, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", *flags,
                    "-I", str(tmp_path), *sources, "-o", str(tmp_path / "check"), "-lm"],
                   check=True)
    count = 2_000_000
    out = subprocess.run([str(tmp_path / "check"), "20240611", str(count)],
                         capture_output=True, check=True).stdout
    _expect(out, count)


@pytest.fixture(scope="module")
def requant_firmware(tmp_path_factory):
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "qemu-system-arm")
    root = tmp_path_factory.mktemp("requant")
    c_dir = root / "c"
    c_dir.mkdir()
    _runtime(c_dir)
    (c_dir / "model.h").write_text(MODEL_H)
    (c_dir / "model.c").write_text(_check_source(200_000) + MODEL_C)
    built: dict[str, device.Prepared] = {}

    def get(name: str) -> device.Prepared:
        if name not in built:
            spec = firmware_spec(load_target(name), emulated=True, model_name="model",
                                 model_id=0x52455155)
            project = render_baremetal(spec, c_dir, root / name)
            elf = build_project(project, extra_cflags="-Werror")
            built[name] = device.Prepared(spec, project, elf, firmware_sizes(elf, "model"))
        return built[name]

    return get


@pytest.mark.emulator
@pytest.mark.parametrize("core", CORES)
def test_requant_in_qemu_on_every_core(requant_firmware, core):
    prepared = requant_firmware(core)
    machine = prepared.spec.machine
    assert machine is not None
    args = machine.qemu_args(prepared.spec.flash.length, prepared.spec.ram.length)
    with run_qemu(args, prepared.elf, name=machine.name) as session, \
            open_port(session.url) as port:
        client = BenchClient(Link(port))
        client.hello()
        for seed in (7, 31337):
            run = client.run([struct.pack("<I", seed)], per_layer=False)
            _expect(run.outputs[0], 200_000)
