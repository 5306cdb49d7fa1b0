"""Instruction classes from disassembly, timing relations, tables and the cycle arithmetic.

Pure logic: objdump lines as text in, classes, masks, table bytes and cycles out. The
plugin itself runs in tests/integration/test_cycle_counts.py.
"""

from __future__ import annotations

import struct

import pytest

from tinykit.emulate import classcount
from tinykit.emulate.cycles import TIMINGS, ZERO
from tinykit.emulate.estimate import KINDS, ClassCounts, build_estimate, estimate_cycles
from tinykit.emulate.isa import CLASS_INDEX, CLASSES, classify, leaders, parse_listing
from tinykit.emulate.results import BenchResult, LayerCount
from tinykit.targets import known_targets, load_target

R = {f"r{i}": 1 << i for i in range(13)} | {"sp": 1 << 13, "lr": 1 << 14, "pc": 1 << 15}


@pytest.mark.parametrize(("mnemonic", "operands", "cls"), [
    ("adds", "r1, #1", "alu"), ("movs", "r0, r1", "alu"), ("bics", "r0, r1", "alu"),
    ("lsls", "r0, r0, #2", "alu"), ("addeq", "r0, r1", "alu"), ("itte", "lt", "it"),
    ("mul", "r6, r3, r4", "mul"), ("muls", "r5, r4, r5", "mul"), ("mls", "r0, r1, r2, r3", "mla"),
    ("smull", "r0, r1, r2, r3", "mull"), ("umlal", "r0, r1, r2, r3", "mlal"),
    ("smlad", "r5, r3, r4, r5", "dsp_mac"), ("sxtb16", "r0, r1", "dsp"),
    ("ssat", "r0, #8, r1", "dsp"), ("sdiv", "r0, r1, r2", "div"),
    ("ldrsb.w", "r3, [r2, #1]!", "load"), ("ldrbeq", "r0, [r1]", "load"),
    ("ldrd", "r0, r1, [r2]", "load_double"), ("pop", "{r4, r5}", "load_multiple"),
    ("str.w", "r1, [r3], #4", "store"), ("strb", "r0, [r1, r2]", "store_reg"),
    ("strd", "r0, r1, [sp, #8]", "store_double"), ("stmdb", "sp!, {r4, lr}", "store_multiple"),
    ("b.n", "164 <Reset_Handler+0x74>", "branch"), ("bx", "lr", "branch"),
    ("bls.n", "1798 <x+0x38>", "branch_cond"), ("bne.w", "4b8 <main+0x3b4>", "branch_cond"),
    ("cbz", "r0, 152 <main+0x4e>", "branch_cond"), ("bl", "7bc <tkfw_counter_read>", "call"),
    ("blx", "r3", "call_reg"), ("pop", "{r4, pc}", "pop_pc"),
    ("ldmia.w", "sp!, {r4, r5, pc}", "pop_pc"), ("ldr.w", "pc, [sp], #4", "load_pc"),
    ("mov", "pc, lr", "branch"), ("tbh", "[pc, r3, lsl #1]", "table_branch"),
    ("le", "lr, 12e <Reset_Handler+0x3e>", "loop_end"), ("dls", "lr, lr", "loop_start"),
    ("vldr", "s0, [r0, #4]", "fp_load"), ("vmla.f32", "s0, s1, s2", "fp_mac"),
    ("vpush", "{d8-d15}", "fp_store_multiple"), ("vadd.f32", "s0, s1, s2", "fp"),
    ("vldrb.s16", "q0, [r0], #8", "mve_load"), ("vstrbt.8", "q3, [r6, #0]", "mve_store"),
    ("vmladava.s8", "r0, q0, q1", "mve_mul"), ("vqrdmulh.s32", "q0, q0, r2", "mve_mul"),
    ("vmovlb.s8", "q0, q1", "mve_int"), ("vadd.i8", "q0, q1, q2", "mve_int"),
    ("vpst", "", "mve_pred"), ("cpsid", "i", "system"), ("nop", "", "alu"),
    ("frobnicate", "r0", "other"),
])
def test_mnemonics_get_their_class(mnemonic, operands, cls):
    assert classify(0x100, 2, mnemonic, operands).cls == cls


def test_registers_moved_and_dataflow_masks():
    push = classify(0, 4, "stmdb", "sp!, {r4, r5, r6, r7, r8, r9, sl, fp, lr}")
    assert push.regs == 9 and push.address_regs == R["sp"]
    assert classify(0, 2, "pop", "{r4-r7, pc}").regs == 5
    assert classify(0, 2, "vpush", "{d8-d15}").regs == 16
    assert classify(0, 4, "vldr", "d0, [r1]").regs == 2
    load = classify(0, 4, "ldr.w", "r0, [ip, #24]")
    assert (load.writes, load.address_regs) == (R["r0"], R["r12"])
    store = classify(0, 2, "str", "r5, [r2, #0]")
    assert store.writes == 0 and store.reads == R["r5"] | R["r2"] and store.address_regs == R["r2"]
    two_operand = classify(0, 2, "ands", "r0, r1")  # Thumb: r0 = r0 & r1
    assert two_operand.writes == R["r0"] and two_operand.reads == R["r0"] | R["r1"]
    move = classify(0, 2, "movs", "r0, r1")
    assert move.reads == R["r1"]
    long_mac = classify(0, 4, "smlal", "r0, r1, r2, r3")
    assert long_mac.writes == R["r0"] | R["r1"] and long_mac.accumulator == R["r0"] | R["r1"]
    assert classify(0, 4, "smlad", "r5, r3, r4, r5").accumulator == R["r5"]
    assert classify(0, 4, "smuad", "r5, r3, r4").accumulator == 0
    assert classify(0, 2, "cmp", "r0, r1").writes == 0
    call = classify(0x10, 4, "bl", "7bc <tkfw_counter_read>")
    assert call.branch and call.target == 0x7BC and call.writes == R["lr"]
    assert classify(0, 2, "bxeq", "lr").conditional


LISTING = """
firmware.elf:     file format elf32-littlearm

000007bc <tkfw_counter_read>:
     7bc:\t4b08      \tldr\tr3, [pc, #32]\t@ (7e0 <tkfw_counter_read+0x24>)
     7be:\tf04f 2ce0 \tmov.w\tip, #3758153728\t@ 0xe000e000
     7c2:\t681a      \tldr\tr2, [r3, #0]
     7c4:\tf8dc 0018 \tldr.w\tr0, [ip, #24]
     7c8:\t6819      \tldr\tr1, [r3, #0]
     7ca:\t4291      \tcmp\tr1, r2
     7cc:\td1f9      \tbne.n\t7c2 <tkfw_counter_read+0x6>
     7ce:\t0a09      \tlsrs\tr1, r1, #8
     7d0:\t4770      \tbx\tlr
     7d2:\tbf00      \tnop
     7d4:\t20000484 \t.word\t0x20000484

000007d8 <mix>:
     7d8:\t680b      \tldr\tr3, [r1, #0]
     7da:\t684c      \tldr\tr4, [r1, #4]
     7dc:\tf101 0708 \tadd.w\tr7, r1, #8
     7e0:\t683b      \tldr\tr3, [r7, #0]
     7e2:\tfb03 f604 \tmul.w\tr6, r3, r4
     7e6:\t6816      \tldr\tr6, [r2, #0]
     7e8:\t4770      \tbx\tlr
"""


def test_a_listing_parses_skips_data_and_finds_leaders():
    insns = list(parse_listing(LISTING))
    assert [i.address for i in insns][:3] == [0x7BC, 0x7BE, 0x7C2]
    assert 0x7D4 not in {i.address for i in insns}  # the literal word
    assert {i.function for i in insns} == {"tkfw_counter_read", "mix"}
    assert insns[1].size == 4 and insns[0].size == 2
    starts = leaders(insns)
    # function entries, the branch target, the instructions after each branch
    assert {0x7BC, 0x7C2, 0x7CE, 0x7D2, 0x7D8} <= starts
    assert 0x7C4 not in starts and 0x7DA not in starts


def test_the_systick_load_is_found_by_constant_propagation():
    insns = list(parse_listing(LISTING))
    found = classcount.constant_address_loads(insns, classcount.literal_pool(LISTING),
                                              "tkfw_counter_read", *classcount.PPB)
    assert [i.address for i in found] == [0x7C4]
    m0 = ("00000838 <tkfw_counter_read>:\n"
          "     838:\t4906      \tldr\tr1, [pc, #24]\t@ (854 <tkfw_counter_read+0x1c>)\n"
          "     83a:\t680c      \tldr\tr4, [r1, #0]\n"
          "     854:\te000e018 \t.word\t0xe000e018\n")
    m0_insns = list(parse_listing(m0))
    assert [i.address for i in classcount.constant_address_loads(
        m0_insns, classcount.literal_pool(m0), "tkfw_counter_read", *classcount.PPB)] == [0x83A]


def test_cortex_m4_relations_pipeline_loads_and_stall_on_computed_addresses():
    insns = [i for i in parse_listing(LISTING) if i.function == "mix"]
    hits = classcount.relation_hits(insns, TIMINGS["cortex-m4"])
    by_address = {i.address: hit for i, hit in zip(insns, hits, strict=True)}
    assert by_address[0x7D8] == (False, False)  # a function entry: nothing before
    assert by_address[0x7DA] == (True, False)  # LDR after LDR, address not from r3
    assert by_address[0x7E0] == (False, True)  # address r7 from the ADD just before
    assert by_address[0x7E6] == (False, False)  # after a MUL writing r6: address is r2


def test_cortex_m7_dual_issue_pairs_do_not_chain():
    insns = [classify(a, 2, m, o, "f") for a, m, o in [
        (0, "adds", "r0, #1"), (2, "adds", "r1, #1"), (4, "adds", "r2, #1"),
        (6, "adds", "r3, #1"), (8, "adds", "r3, #1")]]
    hits = classcount.relation_hits(insns, TIMINGS["cortex-m7"])
    # 0+1 pair, 2+3 pair, 4 depends on 3: alone.
    assert [h[0] for h in hits] == [False, True, False, True, False]


def _counts(**per_class: dict[str, int]) -> ClassCounts:
    kinds = []
    for kind in KINDS:
        values = [0] * len(CLASSES)
        for cls, numbers in per_class.items():
            values[CLASS_INDEX[cls]] = numbers.get(kind, 0)
        kinds.append(tuple(values))
    return ClassCounts.of(kinds)


def test_cycles_follow_the_cortex_m4_table_with_their_range():
    counts = _counts(load={"count": 10, "relation0": 4, "relation1": 1},
                     branch_cond={"count": 5, "taken": 3},
                     store_multiple={"count": 2, "regs": 6}, div={"count": 1})
    cycles, untimed = estimate_cycles(TIMINGS["cortex-m4"], counts)
    # loads 10*2 - 4 + 1, branches 5 + 3*P, STM 2*1 + 6, SDIV 7 (2..12); P = 2 (1..3)
    assert cycles.typical == 17 + 11 + 8 + 7
    assert (cycles.low, cycles.high) == (17 + 8 + 8 + 2, 17 + 14 + 8 + 12)
    assert untimed == []
    helium = _counts(mve_load={"count": 3})
    assert estimate_cycles(TIMINGS["cortex-m4"], helium)[1] == ["mve_load"]


def test_every_core_of_every_target_has_a_timing_that_cites_its_source():
    cores = {load_target(name).core for name in known_targets()}
    assert cores <= set(TIMINGS)
    for core, timing in TIMINGS.items():
        assert timing.source and timing.assumptions, core
        assert "zero wait states" in timing.assumptions[0]
        for cls, entry in timing.classes.items():
            assert cls in CLASSES and entry.cite, (core, cls)
            assert entry.base.low <= entry.base.typical <= entry.base.high
    for core in ("cortex-m3", "cortex-m4", "cortex-m33", "cortex-m7"):
        scalar = {c for c in CLASSES if not c.startswith(("mve_", "loop_"))}
        if core == "cortex-m3":
            scalar = {c for c in scalar if not c.startswith(("fp", "dsp_mac"))}
        assert scalar <= set(TIMINGS[core].classes), core
    assert TIMINGS["cortex-m4"].classes["alu"].taken == ZERO


def test_the_plugin_table_flags_the_stamps_the_invoke_and_excluded_code():
    text = LISTING + ("\n00000800 <main>:\n     800:\tf000 f810 \tbl\t824 <model_invoke>\n"
                      "     804:\t9002      \tstr\tr0, [sp, #8]\n"
                      "00000824 <model_invoke>:\n     824:\t4770      \tbx\tlr\n"
                      "00000830 <SysTick_Handler>:\n     830:\t4770      \tbx\tlr\n")
    insns = list(parse_listing(text))
    io = classcount.constant_address_loads(insns, classcount.literal_pool(text),
                                           classcount.COUNTER_READ, *classcount.PPB)
    table = classcount.table_records(insns, TIMINGS["cortex-m4"], "model_invoke", io)
    magic, version, n_classes, n = struct.unpack_from("<4sIII", table)
    assert (magic, n_classes, n) == (b"TKCT", len(CLASSES), len(insns))
    flags = {}
    for index in range(n):
        address, _size, _cls, _regs, value = struct.unpack_from("<IBBBxI", table, 16 + 12 * index)
        flags[address] = value
    f = classcount._FLAGS
    assert flags[0x7C4] & f["io"] and flags[0x7C8] & f["stamp"]
    assert flags[0x7D0] & f["read_done"] and not flags[0x7CC] & f["read_done"]
    assert flags[0x800] & f["invoke_call"] and flags[0x804] & f["invoke_return"]
    assert flags[0x830] & f["excluded"]


def _line(tag: str, count: int, **extra: int) -> str:
    values = [0] * (2 + 5 * len(CLASSES))
    values[2 + CLASS_INDEX["alu"]] = count
    values[1] = extra.get("excluded", 0)
    return " ".join([tag, *map(str, values)])


def test_plugin_output_becomes_overhead_invokes_and_layers():
    text = "\n".join([_line("O", 10), _line("O", 24), _line("S", 100), _line("H", 110),
                      _line("H", 150), _line("H", 175), _line("E", 190), _line("S", 300),
                      _line("E", 380, excluded=5)])
    profile = classcount.parse_output(text)
    assert profile.overhead.instructions == 14
    hooked, plain = profile.invokes
    assert [layer.instructions for layer in hooked.layers] == [40, 25]
    assert hooked.total.instructions == 90 and plain.total.instructions == 80
    assert plain.total.excluded == 5
    with pytest.raises(ValueError, match="overhead stamps"):
        classcount.parse_output(_line("O", 1))
    with pytest.raises(ValueError, match="numbers"):
        classcount.parse_output("O 1 2 3")


def test_the_report_labels_cycles_an_estimate_and_names_its_source():
    counts = _counts(alu={"count": 900}, load={"count": 300})
    layers = [_counts(alu={"count": 600}), _counts(alu={"count": 300}, load={"count": 300})]
    estimate = build_estimate(TIMINGS["cortex-m4"], counts, layers)
    assert (estimate.cycles, estimate.per_layer) == (1500, (600, 900))
    assert estimate.per_layer_classes == ({"alu": 600}, {"alu": 300, "load": 300})
    result = BenchResult(target="cortex-m4", model="m.tflite", ran=True, runner="qemu",
                         machine="mps2-an386", count_unit="instructions", samples=1,
                         counts=(1200,), clock_hz=80_000_000, cycle_estimate=estimate,
                         per_layer=(LayerCount(0, "CONV_2D", 600),
                                    LayerCount(1, "FULLY_CONNECTED", 600)))
    payload = result.to_json()
    assert payload["estimated_cycles"] == 1500
    assert payload["cycle_estimate"]["label"] == "estimate"
    assert "DDI 0439B" in payload["cycle_estimate"]["source"]
    assert payload["per_layer"][1]["estimated_cycles"] == 900
    assert payload["cycle_estimate"]["per_layer_classes"][1] == {"alu": 300, "load": 300}
    assert payload["estimate"]["ms"] == pytest.approx(1500 / 80e6 * 1e3, abs=1e-4)
    text = result.summary()
    assert "~1,500 per inference, an ESTIMATE" in text and "est. cycles" in text
    assert "load single" in text  # the per-class table
    without = BenchResult(target="cortex-m4", model="m.tflite", ran=True, count_unit="instructions",
                          counts=(1,), cycle_estimate_note="no cycle estimate: no compiler")
    assert without.to_json()["cycle_estimate"]["note"] == "no cycle estimate: no compiler"


def test_a_core_without_a_timing_model_gives_no_profiler_and_says_why(tmp_path):
    with pytest.raises(classcount.Unavailable, match="no timing model for cortex-m85"):
        classcount.prepare_profiler(tmp_path / "firmware.elf", "cortex-m85", tmp_path)
