"""Instruction timings per core, as data: the figures Arm publishes, each with its source.

`TIMINGS[core]` holds, per instruction class (`tinykit.emulate.isa.CLASSES`), the cycles
the core's documentation gives (`ClassTiming`, whose `cite` names the table row or the
assumption), with the range the source allows (a pipeline refill P is 1 to 3 cycles on
the Cortex-M3/M4, a divide 2 to 12), and up to two `Relation`s with the instruction
executed just before (the Cortex-M4's load pipelining, say) that add or save cycles.
`tinykit.emulate.estimate` applies them to the counts of the QEMU plugin. Every figure
assumes zero wait states, as the TRM tables do.

Sources, by core:
- Cortex-M0+: Arm Cortex-M0+ Technical Reference Manual r0p1 (DDI 0484C), Table 3.1.
- Cortex-M3: Arm Cortex-M3 Technical Reference Manual (DDI 0337), the instruction set
  summary table and "Load/store timings".
- Cortex-M4: Arm Cortex-M4 Technical Reference Manual r0p1 (DDI 0439B), section 3.3.1
  Table 3-1 and section 3.3.2 "Load/store timings"; the FPU instruction table.
- Cortex-M33: its TRM (Arm 100230) publishes no timings: the Cortex-M4 figures (the same
  three-stage pipeline class; LLVM schedules cortex-m33 with its Cortex-M4 model).
- Cortex-M7: its TRM (DDI 0489) publishes no timings: the scheduling model Arm contributed
  to LLVM (llvm/lib/Target/ARM/ARMScheduleM7.td): dual issue, two load pipes, one MAC.
- Cortex-M55: its TRM (Arm 101051) publishes no per-instruction table: scalar code as on
  the Cortex-M4 (as LLVM's ARMScheduleM55.td says of it); Helium instructions take two
  beats and overlap with a neighbour on another pipe (ARMScheduleM55.td).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from tinykit.emulate.isa import CLASSES, Insn


@dataclass(frozen=True)
class Figure:
    """Cycles with their range: the typical value, and the lowest and highest the source allows."""

    typical: float
    low: float
    high: float


def fig(typical: float, low: float | None = None, high: float | None = None) -> Figure:
    return Figure(typical, typical if low is None else low, typical if high is None else high)


ZERO = fig(0)


@dataclass(frozen=True)
class ClassTiming:
    """Cycles of one instruction class on one core, and where they come from."""

    base: Figure
    cite: str
    per_register: Figure = ZERO
    #: Extra cycles when a branch of this class is taken (a pipeline refill).
    taken: Figure = ZERO
    #: Cycles added each time relation 0 / 1 holds (negative: saved).
    relation0: Figure = ZERO
    relation1: Figure = ZERO


ONE_CYCLE = ClassTiming(fig(1), "not in the core's table: assumed 1 cycle")


@dataclass(frozen=True)
class Relation:
    """A timing effect between an instruction and the one executed right before it."""

    name: str
    description: str
    holds: Callable[[Insn, Insn], bool] = field(compare=False)
    #: Pairs may not chain: an instruction paired with the one before cannot also pair
    #: with the next (dual issue), unlike pipelining, which chains.
    disjoint: bool = False


@dataclass(frozen=True)
class CoreTiming:
    """A core's timing model: per-class cycles, relations, where the figures come from."""

    core: str
    source: str
    assumptions: tuple[str, ...]
    classes: Mapping[str, ClassTiming]
    relation0: Relation | None = None
    relation1: Relation | None = None

    def timing(self, cls: str) -> ClassTiming | None:
        return self.classes.get(cls)


# --- relations ------------------------------------------------------------------------

_DATA_PROCESSING = frozenset(["alu", "mul", "mla", "mull", "mlal", "dsp_mac", "dsp", "div"])
_MEMORY = frozenset(["load", "load_double", "load_multiple", "store", "store_reg",
                     "store_double", "store_multiple", "pop_pc", "load_pc", "fp_load",
                     "fp_store", "fp_load_multiple", "fp_store_multiple"])


def _load_pipelining(prev: Insn, cur: Insn) -> bool:
    return prev.cls == "load" and cur.cls in ("load", "store_reg") and \
        not prev.writes & cur.address_regs


def _address_interlock(prev: Insn, cur: Insn) -> bool:
    return prev.cls in _DATA_PROCESSING and cur.cls in _MEMORY and \
        bool(prev.writes & cur.address_regs)


LOAD_PIPELINING = Relation(
    "load pipelining",
    "an LDR, or an STR with a register offset, right after an LDR whose loaded register "
    "does not form its address: one cycle less (M4 TRM 3.3.2)", _load_pipelining)
ADDRESS_INTERLOCK = Relation(
    "address interlock",
    "a load or store whose address uses the result of the data-processing instruction "
    "just before: one cycle more, there is no forwarding path (M4 TRM 3.3.2)",
    _address_interlock)

_MVE_PIPE = {"mve_load": "load/store", "mve_store": "load/store", "mve_int": "integer",
             "mve_mul": "float/multiply"}


def _beat_overlap(prev: Insn, cur: Insn) -> bool:
    pipe = _MVE_PIPE.get(cur.cls)
    return pipe is not None and prev.cls in _MVE_PIPE and _MVE_PIPE[prev.cls] != pipe


def _m55_relation0(prev: Insn, cur: Insn) -> bool:
    return _load_pipelining(prev, cur) or _beat_overlap(prev, cur)


M55_OVERLAP = Relation(
    "load pipelining / beat overlap",
    "scalar: as on the Cortex-M4; Helium: a vector instruction right after one on another "
    "pipe (load/store, integer, float/multiply) overlaps one of its two beats",
    _m55_relation0)

# Cortex-M7 dual issue, after ARMScheduleM7.td: these issue alone...
_M7_SINGLE_ISSUE = frozenset(["load_double", "store_double", "load_multiple", "store_multiple",
                              "pop_pc", "div", "table_branch", "system", "fp_load_multiple",
                              "fp_store_multiple", "fp_div"])
# ...these only in the first slot (SIMD and shifter ops marked BeginGroup)...
_M7_FIRST_SLOT_BASES = frozenset("clz bfi bfc rbit rev rev16 revsh sbfx ubfx sxtb sxth uxtb "
                                 "uxth".split())
# ...and a pair may hold at most one of each of these units (two ALUs, two load pipes).
_M7_UNITS = {"mul": "mac", "mla": "mac", "mull": "mac", "mlal": "mac", "dsp_mac": "mac",
             "dsp": "simd", "store": "store", "store_reg": "store", "fp_store": "store",
             "branch": "branch", "branch_cond": "branch", "call": "branch",
             "call_reg": "branch", "load_pc": "branch", "fp": "vfp", "fp_mac": "vfp",
             "fp_move": "vfp", "fp_load": "vfp"}
_M7_SLOW_LOADS = frozenset("ldrb ldrh ldrsb ldrsh ldrbt ldrht ldrsbt ldrsht ldrexb ldrexh"
                           .split())
_M7_MAC = frozenset(["mul", "mla", "mull", "mlal", "dsp_mac"])


def _m7_dual_issue(prev: Insn, cur: Insn) -> bool:
    if prev.cls in _M7_SINGLE_ISSUE or cur.cls in _M7_SINGLE_ISSUE:
        return False
    if cur.cls == "dsp" or cur.base in _M7_FIRST_SLOT_BASES:
        return False
    unit = _M7_UNITS.get(cur.cls)
    if unit is not None and unit == _M7_UNITS.get(prev.cls):
        return False
    return not prev.writes & cur.reads


def _m7_late_result(prev: Insn, cur: Insn) -> bool:
    uses = prev.writes & cur.reads
    if not uses:
        return False
    if prev.cls == "load":
        return prev.base in _M7_SLOW_LOADS
    if prev.cls in _M7_MAC:
        # The accumulator input is read a cycle late: MAC chains do not wait.
        return bool(uses & ~(cur.accumulator if cur.cls in _M7_MAC else 0))
    if prev.cls in ("alu", "dsp"):
        return bool(prev.writes & cur.address_regs)  # addresses are needed a cycle early
    return False


M7_DUAL_ISSUE = Relation(
    "dual issue",
    "issued together with the instruction before (no register dependency, not both on the "
    "MAC, store, branch or FP unit, neither single-issue, this one not first-slot-only)",
    _m7_dual_issue, disjoint=True)
M7_LATE_RESULT = Relation(
    "result latency",
    "uses, right away, a result that comes a cycle late: a byte or halfword load's, a "
    "multiply's (but for the accumulator of the next multiply-accumulate), or an ALU "
    "result as an address (ARMScheduleM7.td latencies and early reads)",
    _m7_late_result)

# --- per-core tables -------------------------------------------------------------------

P = fig(2, 1, 3)  # Cortex-M3/M4 pipeline refill: "1 to 3 depending on alignment and width"
_PLUS_ONE, _MINUS_ONE = fig(1), fig(-1)


def _m4_classes() -> dict[str, ClassTiming]:
    """Cortex-M4 TRM (DDI 0439B) Table 3-1, section 3.3.2 and the FPU table."""
    interlock = {"relation1": _PLUS_ONE}  # 3.3.2: address from the previous ALU result

    def multiple(what: str) -> ClassTiming:
        return ClassTiming(fig(1), f"{what}: 1 + N (N registers)", per_register=fig(1),
                           **interlock)

    def branch(what: str, base: float = 1) -> ClassTiming:
        return ClassTiming(fig(base), f"{what}; P = 1 to 3, taken as 2", taken=P)

    return {
        "alu": ClassTiming(fig(1), "MOV, ADD, logical, shift, compare, extend, bit field: 1"),
        "it": ClassTiming(fig(1, 0, 1), "IT: assumed 1, 0 when folded into the previous "
                                        "16-bit instruction"),
        "mul": ClassTiming(fig(1), "MUL: 1"), "mla": ClassTiming(fig(1), "MLA, MLS: 1"),
        "mull": ClassTiming(fig(1), "SMULL, UMULL: 1"),
        "mlal": ClassTiming(fig(1), "SMLAL, UMLAL, UMAAL: 1"),
        "dsp_mac": ClassTiming(fig(1), "SMLAD, SMUAD, SMLAxy, SMULxy, SMMUL, ...: 1"),
        "dsp": ClassTiming(fig(1), "SIMD add/subtract, saturate, pack, SXTB16, SEL: 1"),
        "div": ClassTiming(fig(7, 2, 12), "SDIV, UDIV: 2 to 12 (early termination), taken "
                                          "as 7"),
        "load": ClassTiming(fig(2), "LDR: 2; 1 pipelined after an LDR (3.3.2)",
                            relation0=_MINUS_ONE, **interlock),
        "load_double": multiple("LDRD"), "load_multiple": multiple("LDM, POP"),
        "store": ClassTiming(fig(1, 1, 2), "STR Rx,[Ry,#imm]: 'always one cycle' (3.3.2); "
                                           "2 if the write buffer is full", **interlock),
        "store_reg": ClassTiming(fig(2), "STR, register offset: 2; 1 pipelined after an "
                                         "LDR (3.3.2)", relation0=_MINUS_ONE, **interlock),
        "store_double": multiple("STRD"), "store_multiple": multiple("STM, PUSH"),
        "branch": branch("B, BX, MOV PC: 1 + P"),
        "branch_cond": branch("B<cond>, CBZ, CBNZ: 1, or 1 + P when taken"),
        "call": branch("BL: 1 + P"), "call_reg": branch("BLX: 1 + P"),
        "pop_pc": ClassTiming(fig(1), "POP/LDM with PC: 1 + N + P", per_register=fig(1),
                              taken=P, **interlock),
        "load_pc": ClassTiming(fig(2), "LDR PC: 2 + P", taken=P, **interlock),
        "table_branch": branch("TBB, TBH: 2 + P", base=2),
        "system": ClassTiming(fig(1, 1, 4), "MRS, MSR, CPS: 1 or 2; barriers 1 + B"),
        "fp": ClassTiming(fig(1), "VADD, VSUB, VMUL, VABS, VNEG, VCVT, VCMP: 1"),
        "fp_mac": ClassTiming(fig(3), "VMLA, VMLS, VFMA, VFMS, ...: 3"),
        "fp_div": ClassTiming(fig(14), "VDIV, VSQRT: 14"),
        "fp_move": ClassTiming(fig(1, 1, 2), "VMOV, VMRS, VMSR: 1 or 2"),
        "fp_load": multiple("VLDR (2 single, 3 double)"),
        "fp_store": multiple("VSTR (2 single, 3 double)"),
        "fp_load_multiple": multiple("VLDM, VPOP"),
        "fp_store_multiple": multiple("VSTM, VPUSH"),
        "other": ONE_CYCLE,
    }


def _m3_classes() -> dict[str, ClassTiming]:
    """Cortex-M3 TRM (DDI 0337): the Cortex-M4's figures but for these multiplies."""
    classes = _m4_classes()
    classes.update(mla=ClassTiming(fig(2), "MLA, MLS: 2"),
                   mull=ClassTiming(fig(4, 3, 5), "SMULL, UMULL: 3 to 5 (early "
                                                  "termination), taken as 4"),
                   mlal=ClassTiming(fig(5.5, 4, 7), "SMLAL, UMLAL: 4 to 7, taken as 5.5"))
    for name in ("dsp_mac", "fp", "fp_mac", "fp_div", "fp_move", "fp_load", "fp_store",
                 "fp_load_multiple", "fp_store_multiple"):
        del classes[name]  # not in ARMv7-M without the DSP and FP extensions
    return classes


def _m55_classes() -> dict[str, ClassTiming]:
    """Cortex-M4 figures for scalar code; ARMScheduleM55.td for Helium."""
    beats = ClassTiming(fig(2), "two beats of 64 bits (ARMScheduleM55.td ReleaseAtCycles=2); "
                                "1 overlapped with a vector instruction on another pipe",
                        relation0=fig(-1, -1, 0))
    return {**_m4_classes(), "mve_load": beats, "mve_store": beats, "mve_int": beats,
            "mve_mul": beats,
            "mve_pred": ClassTiming(fig(1), "VPST, VCTP, VPNOT: one cycle on the "
                                            "control pipe (ARMScheduleM55.td)"),
            "loop_end": ClassTiming(fig(0, 0, 1), "LE: no cost after the first pass (loop "
                                                  "cache); high end a taken branch",
                                    taken=fig(0, 0, 3)),
            "loop_start": ClassTiming(fig(1), "DLS, WLS: 1 (+ P when WLS branches)", taken=P)}


def _m7_classes() -> dict[str, ClassTiming]:
    """ARMScheduleM7.td: one slot each, dual issue and late results as relations."""
    dual = fig(-1, -1, 0)  # high end: no dual issue at all
    late = fig(1, 0, 1)  # a late result used right away
    predicted = fig(0, 0, 6)  # BTAC-predicted; mispredict 4-6 (ARMScheduleM7.td)
    # Single-issue classes never meet relation 0; the figure is harmless there.
    classes = {name: ClassTiming(fig(1), "one issue slot (ARMScheduleM7.td)", relation0=dual,
                                 relation1=late)
               for name in CLASSES if not name.startswith(("mve_", "loop_"))}
    multiple = replace(classes["alu"], per_register=fig(0.5, 0.5, 1),
                       cite="1 + N/2: two registers a cycle on the 64-bit path (assumed; "
                            "high end 1 + N)")
    for name in ("load_multiple", "store_multiple", "fp_load_multiple", "fp_store_multiple"):
        classes[name] = multiple
    for name in ("branch", "branch_cond", "call", "call_reg", "load_pc"):
        classes[name] = replace(classes[name], taken=predicted,
                                cite="1; taken: predicted, high end mispredicted (+6)")
    classes.update({
        "div": replace(classes["div"], base=fig(7, 2, 12), cite="SDIV, UDIV: latency 7, "
                                                                 "single issue"),
        "fp_div": replace(classes["fp_div"], base=fig(16, 14, 16), cite="VDIV, VSQRT: 16"),
        "pop_pc": replace(multiple, taken=predicted, cite="1 + N/2, taken as predicted"),
        "table_branch": replace(classes["table_branch"], base=fig(2), taken=predicted,
                                cite="TBB, TBH: two issue cycles"),
        "system": replace(classes["system"], base=fig(1, 1, 3),
                          cite="MRS, MSR, barriers: single issue, up to 3"),
    })
    return classes


def _m0plus_classes() -> dict[str, ClassTiming]:
    """Cortex-M0+ TRM (DDI 0484C) Table 3.1."""

    def multiple(what: str) -> ClassTiming:
        return ClassTiming(fig(1), f"{what}: 1 + N", per_register=fig(1))

    return {
        "alu": ClassTiming(fig(1), "MOVS, ADDS, logical, shift, compare, extend: 1"),
        "mul": ClassTiming(fig(1, 1, 32), "MULS: 1 or 32 (the multiplier is a build "
                                          "option; high end 32)"),
        "load": ClassTiming(fig(2), "LDR, LDRH, LDRB, LDRSH, LDRSB: 2"),
        "store": ClassTiming(fig(2), "STR, STRH, STRB: 2"),
        "store_reg": ClassTiming(fig(2), "STR, STRH, STRB register offset: 2"),
        "load_multiple": multiple("LDM, POP"), "store_multiple": multiple("STM, PUSH"),
        # N counts PC here, so 2 + N is the table's 3 + N over the other registers.
        "pop_pc": ClassTiming(fig(2), "POP {..., PC}: 3 + N", per_register=fig(1)),
        "branch": ClassTiming(fig(1), "B, BX, MOV PC: 2", taken=fig(1)),
        "branch_cond": ClassTiming(fig(1), "B<cond>: 1, or 2 when taken", taken=fig(1)),
        "call": ClassTiming(fig(2), "BL: 3", taken=fig(1)),
        "call_reg": ClassTiming(fig(1), "BLX: 2", taken=fig(1)),
        "system": ClassTiming(fig(3, 1, 3), "MRS, MSR, DMB, DSB, ISB: 3; CPS: 1"),
        "other": ONE_CYCLE,
    }


_ZERO_WAIT = "zero wait states: no flash wait states, caches or bus contention"
_M4_SOURCE = ("Arm Cortex-M4 TRM r0p1 (DDI 0439B), Table 3-1 and 3.3.2 'Load/store "
              "timings'; FPU instruction table")
_M4_ASSUMPTIONS = (
    _ZERO_WAIT,
    "a taken branch refills the pipeline in P = 2 cycles (the TRM's range: 1 to 3)",
    "a divide takes 7 cycles (the TRM's range: 2 to 12)",
)

TIMINGS: dict[str, CoreTiming] = {
    "cortex-m0plus": CoreTiming(
        "cortex-m0plus",
        "Arm Cortex-M0+ TRM r0p1 (DDI 0484C), Table 3.1 'Cortex-M0+ instruction summary'",
        (_ZERO_WAIT, "single-cycle multiplier (the 32-cycle option is the high end)",
         "QEMU runs the same ARMv6-M code on its Cortex-M0"),
        _m0plus_classes()),
    "cortex-m3": CoreTiming(
        "cortex-m3",
        "Arm Cortex-M3 TRM (DDI 0337), instruction set summary table and 'Load/store "
        "timings'", (*_M4_ASSUMPTIONS, "long multiplies at the middle of their range"),
        _m3_classes(), LOAD_PIPELINING, ADDRESS_INTERLOCK),
    "cortex-m4": CoreTiming("cortex-m4", _M4_SOURCE, _M4_ASSUMPTIONS, _m4_classes(),
                            LOAD_PIPELINING, ADDRESS_INTERLOCK),
    "cortex-m33": CoreTiming(
        "cortex-m33", "Cortex-M4 figures: " + _M4_SOURCE,
        (*_M4_ASSUMPTIONS, "the Cortex-M33 TRM (Arm 100230) publishes no instruction "
         "timings; it has the Cortex-M4's 3-stage pipeline and LLVM schedules it with "
         "its Cortex-M4 model; its limited dual issue of 16-bit pairs is not modelled"),
        _m4_classes(), LOAD_PIPELINING, ADDRESS_INTERLOCK),
    "cortex-m55": CoreTiming(
        "cortex-m55",
        "scalar: Cortex-M4 figures (" + _M4_SOURCE + "); Helium: the Cortex-M55 model Arm "
        "contributed to LLVM (ARMScheduleM55.td)",
        (*_M4_ASSUMPTIONS, "the Cortex-M55 TRM (Arm 101051) publishes no per-instruction "
         "timings; scalar code as on the Cortex-M4 (ARMScheduleM55.td: 'a lot like the "
         "M4/M33'); dual issue of 16-bit pairs not modelled",
         "a Helium instruction takes two beats; one beat overlaps the previous vector "
         "instruction when that one used another pipe",
         "low-overhead loops: LE costs nothing after the first pass (the loop cache)"),
        _m55_classes(), M55_OVERLAP, ADDRESS_INTERLOCK),
    "cortex-m7": CoreTiming(
        "cortex-m7",
        "the Cortex-M7 model Arm contributed to LLVM (ARMScheduleM7.td); the Cortex-M7 "
        "TRM (DDI 0489) publishes no instruction timings",
        (_ZERO_WAIT + " (code and data in TCM)",
         "one instruction per cycle, two when a pair may dual-issue (high end: never)",
         "taken branches predicted (no cost); high end: every one mispredicted (6 cycles)",
         "load/store multiple move two registers a cycle (64-bit path; high end: one)",
         "a result used right away stalls one cycle when it comes late (byte/halfword "
         "loads, multiplies, ALU results used as addresses); others are not modelled",
         "a divide takes 7 cycles (2 to 12)"),
        _m7_classes(), M7_DUAL_ISSUE, M7_LATE_RESULT),
}


def core_timing(core: str) -> CoreTiming | None:
    """The timing model of a core (`cortex-m4`), or None when tinykit has none."""
    return TIMINGS.get(core)
