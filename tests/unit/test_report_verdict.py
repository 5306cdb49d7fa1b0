"""The verdict against the target, from a benchmark's JSON and the budget stage's figures."""

from __future__ import annotations

from tinykit.report import text
from tinykit.report.verdict import verdict

BUDGET = {"core": "cortex-m4", "clock_hz": 80_000_000, "flash_bytes": 1_048_576,
          "ram_bytes": 262_144, "stack_bytes": 4096}
DEPLOYED = {"name": "student_int8_compressed", "flash_needed": 28_713, "ram_needed": 8_032}


def bench(**changes):
    """A benchmark result shaped as `tinykit bench --json` prints it."""
    result = {
        "target": "cortex-m4", "ran": True, "note": "", "outputs_match": True, "samples": 3,
        "runner": {"kind": "qemu", "machine": "mps2-an386", "port": None},
        "count_unit": "instructions", "instructions_per_inference": 185_812,
        "cycles_per_inference": None, "estimated_cycles": 307_027,
        "cycle_estimate": {"low": 289_516, "high": 331_915},
        "flash_bytes": 22_624, "ram_bytes": 9_344, "runtime_flash_bytes": 6_658,
        "model_constant_bytes": 15_966,
        "estimate": {"ms": 3.8378, "clock_hz": 80_000_000, "cycles_per_instruction": 1.652,
                     "note": "estimate at 80 MHz ([clock] hz of cortex-m4) of the estimated "
                             "cycles (cortex-m4 timings, zero wait states)"},
    }
    result.update(changes)
    return result


def test_measured_fit_with_byte_exact_outputs_passes_with_margins():
    result = verdict(BUDGET, DEPLOYED, bench())
    assert result["status"] == "PASS" and result["measured"] and not result["reasons"]
    assert result["flash"] == {"used": 22_624, "budget": 1_048_576, "margin": 1_025_952,
                               "used_fraction": round(22_624 / 1_048_576, 6), "fits": True,
                               "source": result["flash"]["source"]}
    assert "arm-none-eabi-size" in result["flash"]["source"]
    assert result["ram"]["margin"] == 262_144 - 9_344
    assert result["runner"] == "QEMU mps2-an386"
    assert result["estimated_cycles_range"] == [289_516, 331_915]


def test_latency_is_always_labelled_an_estimate_with_its_clock():
    result = verdict(BUDGET, DEPLOYED, bench())
    estimate = result["latency_estimate"]
    assert estimate["label"] == "estimate" and estimate["clock_hz"] == 80_000_000
    assert "80 MHz" in estimate["note"]
    assert text.latency(result) == "~3.838 ms ESTIMATE at 80 MHz"
    assert text.cost(result) == "185,812 instructions (~307,027 cycles, ESTIMATE)"


def test_over_budget_or_wrong_outputs_fail_with_the_numbers():
    over = verdict({**BUDGET, "ram_bytes": 8_000}, DEPLOYED, bench())
    assert over["status"] == "FAIL"
    assert over["reasons"] == ["RAM: needs 9,344 B, 1,344 B over budget"]
    assert text.resource(over["ram"]) == "9,344 B of 7.8 KiB (116.8%), 1,344 B OVER"
    wrong = verdict(BUDGET, DEPLOYED, bench(outputs_match=False))
    assert wrong["status"] == "FAIL"
    assert wrong["reasons"] == ["the firmware's outputs differ from tflite-runtime's"]


def test_without_a_benchmark_the_fit_rests_on_estimates_and_says_why():
    note = "target 'board-x' has no emulator (its core has no QEMU machine)"
    result = verdict(BUDGET, DEPLOYED, bench(ran=False, note=note, outputs_match=None,
                                             flash_bytes=None, ram_bytes=None, estimate=None,
                                             instructions_per_inference=None))
    assert result["status"] == "UNMEASURED" and not result["measured"]
    assert result["note"] == note
    assert result["flash"]["used"] == 28_713 and result["flash"]["source"].startswith("estimate")
    assert result["latency_estimate"] is None and text.latency(result) == "-"
    over = verdict({**BUDGET, "flash_bytes": 20_000}, DEPLOYED, None)
    assert over["status"] == "FAIL" and over["reasons"][0].startswith("flash: needs 28,713 B")


def test_paired_readings_in_words():
    pair = {"a": "teacher_float", "b": "student_int8_compressed", "difference": -0.05,
            "only_a_correct": 20, "only_b_correct": 2, "mcnemar_p": 0.0001}
    assert text.reading(pair) == "real: teacher_float is more accurate (p < 0.05)"
    assert text.reading({**pair, "mcnemar_p": 0.4}) == "within noise (p >= 0.05)"
    assert text.reading({**pair, "only_a_correct": 0, "only_b_correct": 0}) == \
        "identical on every sample"
    assert text.p_value(0.0001) == "< 0.001" and text.interval([-0.0223, 0.0028], True) == \
        "[-2.23, +0.28]"
