"""The instruction-class plugin in QEMU on a hand-written loop of known mix.

A test double of the generated-model C API runs, in op 1, an assembly loop whose every
turn executes a known set of instructions (ARMv7E-M on cortex-m4, ARMv6-M on
cortex-m0plus). Two inputs ask for different numbers of turns; the difference between
their counts is then known exactly by hand: per class, per kind (registers moved,
branches taken, timing relations) and in estimated cycles. The plugin's counts of every
interval must also equal the exact SysTick counts, and a second QEMU run must give the
same numbers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import model_header, require_tool
from tinykit.emulate import classcount, device
from tinykit.emulate.bench import BenchOptions
from tinykit.emulate.estimate import ClassCounts, estimate_cycles
from tinykit.emulate.isa import CLASS_INDEX
from tinykit.firmware.build import build_project, firmware_sizes
from tinykit.firmware.render import firmware_spec, render_baremetal
from tinykit.targets import load_target

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]

MODEL_H = model_header(1, 1, 2, 64)

# One turn of the ARMv7E-M loop (r0 turns, r1 = source, r2 = destination):
#   ldr r3,[r1]          load (a branch target: no relation)
#   ldr r4,[r1,#4]       load, pipelined after the LDR (relation 0)
#   smlad r5,r3,r4,r5    dsp_mac
#   mul r6,r3,r4         mul
#   add r7,r1,#8         alu
#   ldr r3,[r7]          load, address from the ADD just before (relation 1)
#   str r6,[r2]          store (immediate offset)
#   stmia r2,{r3,r4}     store_multiple, 2 registers
#   subs r0,r0,#1        alu
#   bne 1b               branch_cond, taken
M4_LOOP = r"""
    ".syntax unified\n"
    "push {r4-r7, lr}\n"
    "1: ldr r3, [r1]\n"
    "ldr r4, [r1, #4]\n"
    "smlad r5, r3, r4, r5\n"
    "mul r6, r3, r4\n"
    "add r7, r1, #8\n"
    "ldr r3, [r7]\n"
    "str r6, [r2]\n"
    "stmia r2, {r3, r4}\n"
    "subs r0, r0, #1\n"
    "bne 1b\n"
    "pop {r4-r7, pc}\n"
"""
M4_TURN = {"load": 3, "dsp_mac": 1, "mul": 1, "alu": 2, "store": 1, "store_multiple": 1,
           "branch_cond": 1}
# Cortex-M4 TRM: LDR 2 + (2 - 1 pipelined) + (2 + 1 interlock), SMLAD 1, MUL 1, 2 ALU,
# STR [Rn] 1, STM 1 + 2, taken B<cond> 1 + P (P = 2).
M4_TURN_CYCLES = 6 + 1 + 1 + 2 + 1 + 3 + 3

# The ARMv6-M loop: loads, a multiply, a store, a store multiple, three ALU ops, a branch.
M0_LOOP = r"""
    ".syntax unified\n"
    "push {r4-r7, lr}\n"
    "1: ldr r3, [r1, #0]\n"
    "ldr r4, [r1, #4]\n"
    "movs r5, r3\n"
    "muls r5, r4, r5\n"
    "str r5, [r2, #0]\n"
    "stm r2!, {r3, r4}\n"
    "subs r2, #8\n"
    "subs r0, #1\n"
    "bne 1b\n"
    "pop {r4-r7, pc}\n"
"""
M0_TURN = {"load": 2, "alu": 3, "mul": 1, "store": 1, "store_multiple": 1, "branch_cond": 1}
# Cortex-M0+ TRM: LDR 2 + 2, MOVS 1, MULS 1, STR 2, STM 1 + 2, 2 SUBS, taken B<cond> 2.
M0_TURN_CYCLES = 4 + 1 + 1 + 2 + 3 + 2 + 2

MODEL_C = """#include <stdint.h>
#include "model.h"
static int32_t arena[16];
static void (*hook)(int);
int model_init(void) { return 0; }
void *model_input(int i) { (void)i; return arena; }
size_t model_input_bytes(int i) { (void)i; return 4u; }
void *model_output(int i) { (void)i; return arena + 8; }
size_t model_output_bytes(int i) { (void)i; return 8u; }
const char *model_op_type(int i) { return i == 0 ? "SETUP" : "MIX"; }
void model_set_op_hook(void (*h)(int)) { hook = h; }
__attribute__((naked, noinline)) static void mix_loop(uint32_t n, const int32_t *src,
                                                       int32_t *dst)
{
    (void)n; (void)src; (void)dst;
    __asm volatile(
LOOP);
}
int model_invoke(void) {
    uint32_t turns = (uint32_t)(uint8_t)((const int8_t *)arena)[0] * 100u + 1u;
    if (hook) hook(0);
    arena[4] = 3; arena[5] = 5; arena[6] = 7;
    if (hook) hook(1);
    mix_loop(turns, arena + 4, arena + 8);
    if (hook) hook(2);
    return 0;
}
"""

CASES = {"cortex-m4": (M4_LOOP, M4_TURN, M4_TURN_CYCLES, 10),
         "cortex-m0plus": (M0_LOOP, M0_TURN, M0_TURN_CYCLES, 9)}
FEW, MANY = 2, 30  # input byte: turns = 100 * byte + 1


@pytest.fixture(scope="module")
def tools():
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "qemu-system-arm")
    require_tool("cc", "gcc")


def _build(core: str, loop: str, root: Path) -> device.Prepared:
    (root / "c").mkdir(parents=True)
    (root / "c" / "model.h").write_text(MODEL_H)
    (root / "c" / "model.c").write_text(MODEL_C.replace("LOOP", loop))
    target = load_target(core)
    spec = firmware_spec(target, emulated=True, model_name="model", model_id=0x0C0C0C0C)
    project = render_baremetal(spec, root / "c", root / "firmware")
    elf = build_project(project, extra_cflags="-Werror")
    return device.Prepared(spec, project, elf, firmware_sizes(elf, "model"))


def _run(prepared: device.Prepared, core: str, folder: Path):
    """Run FEW then MANY turns in one QEMU session; the plugin's profile and the runs."""
    profiler = classcount.prepare_profiler(prepared.elf, core, folder,
                                           arch=load_target(core).arch)
    inputs = [[bytes([FEW, 0, 0, 0])], [bytes([MANY, 0, 0, 0])]]
    runs = device.run(prepared, inputs, BenchOptions(model=Path("double.tflite"), timeout=30),
                      qemu_args=profiler.qemu_args)
    return profiler, runs


def _delta(a: ClassCounts, b: ClassCounts, kind: str) -> dict[str, int]:
    values = getattr(b - a, kind)
    return {cls: values[i] for cls, i in CLASS_INDEX.items() if values[i]}


@pytest.mark.parametrize("core", sorted(CASES))
def test_class_counts_equal_a_hand_count_and_systick(tools, core, tmp_path):
    loop, turn, turn_cycles, turn_instructions = CASES[core]
    prepared = _build(core, loop, tmp_path)
    profiler, runs = _run(prepared, core, tmp_path / "cycles")
    machine = prepared.spec.machine
    counts = tuple(device.inference_count(runs.info, machine, run) for run in runs.plain)
    stamps = runs.layered.stamps
    layer_counts = [device.interval(runs.info, machine, a, b)
                    for a, b in zip(stamps, stamps[1:], strict=False)]
    overhead = device.interval(runs.info, machine, 0, runs.info.overhead)
    estimate = classcount.estimates(profiler, counts, layer_counts, overhead)
    # Every interval the plugin counted equals SysTick's: whole invokes and layers.
    assert estimate.matches_instruction_count, estimate.note
    profile = profiler.read()
    few, many = (run.total - profile.overhead for run in profile.invokes[1:])
    assert [layer.instructions for layer in profile.invokes[0].layers] == layer_counts
    turns = 100 * (MANY - FEW)
    assert counts[1] - counts[0] == turns * turn_instructions
    assert many.instructions - few.instructions == turns * turn_instructions
    # The hand count of one turn, times the extra turns.
    assert _delta(few, many, "count") == {cls: n * turns for cls, n in turn.items()}
    assert _delta(few, many, "taken") == {"branch_cond": turns}
    assert _delta(few, many, "regs") == {"store_multiple": 2 * turns}
    relations = ({"load": turns}, {"load": turns}) if core == "cortex-m4" else ({}, {})
    assert (_delta(few, many, "relation0"), _delta(few, many, "relation1")) == relations
    cycles = [estimate_cycles(profiler.core, counts_)[0].typical for counts_ in (few, many)]
    assert cycles[1] - cycles[0] == turns * turn_cycles
    assert estimate.cycles == round(cycles[1]) and estimate.label == "estimate"

    # Deterministic: another QEMU run of the same inputs counts the same, class by class
    # (interrupt handlers aside: where SysTick wraps depends on when the host connects).
    again, _ = _run(prepared, core, tmp_path / "again")

    def measured(counts_: ClassCounts) -> ClassCounts:
        return replace(counts_, excluded=0)

    assert [measured(run.total) for run in again.read().invokes] == \
        [measured(run.total) for run in profile.invokes]
    assert measured(again.read().overhead) == measured(profile.overhead)
    assert classcount.estimates(again, counts, layer_counts, overhead) == estimate
