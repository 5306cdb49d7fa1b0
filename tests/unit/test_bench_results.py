"""BenchResult's JSON and summary, the budget refusal, and turning stamps into counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinykit.emulate import budget, device
from tinykit.emulate import protocol as p
from tinykit.emulate.client import SampleRun
from tinykit.emulate.machines import get_machine
from tinykit.emulate.results import BenchResult, LayerCount
from tinykit.errors import BudgetError
from tinykit.firmware.build import FirmwareSizes
from tinykit.targets import load_target

SIZES = FirmwareSizes(text=5000, rodata=30000, data=8, bss=17000, stack=4096,
                      model_constants=28000)


def _result(**changes) -> BenchResult:
    base = dict(
        target="cortex-m4", model="kws.tflite", ran=True, runner="qemu",
        machine="mps2-an386", count_unit="instructions", samples=2, outputs_match=True,
        reference="tflite-runtime", counts=(1000, 1200),
        per_layer=(LayerCount(0, "CONV_2D", 900), LayerCount(1, "SOFTMAX", 320)),
        hook_overhead=20, sizes=SIZES, flash_budget=1 << 20, ram_budget=1 << 18,
        clock_hz=80_000_000,
    )
    base.update(changes)
    return BenchResult(**base)


def test_json_has_the_fields_the_issue_names():
    payload = json.loads(json.dumps(_result().to_json()))
    assert payload["target"] == "cortex-m4"
    assert payload["outputs_match"] is True
    assert payload["instructions_per_inference"] == 1200  # the worst sample
    assert payload["per_layer"][0] == {"index": 0, "type": "CONV_2D", "kernel": None,
                                       "instructions": 900, "cycles": None}
    assert payload["flash_bytes"] == 35008 and payload["ram_bytes"] == 21104
    assert payload["runtime_flash_bytes"] == 35008 - 28000
    assert payload["fits"] is True


def test_milliseconds_are_an_estimate_that_names_clock_and_assumption():
    estimate = _result().estimate()
    assert estimate is not None
    assert estimate["ms"] == pytest.approx(1200 / 80e6 * 1e3)
    assert "estimate at 80 MHz" in estimate["note"]
    assert "1 cycle per instruction" in estimate["note"]
    summary = _result().summary()
    assert "~0.015 ms (estimate at 80 MHz" in summary and "CONV_2D" in summary


def test_cycles_on_a_board_give_a_measured_time_too():
    result = _result(count_unit="cycles", counter_hz=16_000_000, machine="", port="/dev/x")
    payload = result.to_json()
    assert payload["instructions_per_inference"] is None
    assert payload["cycles_per_inference"] == 1200
    assert payload["measured_ms"] == pytest.approx(1200 / 16e6 * 1e3)
    assert "measured at 16 MHz" in payload["estimate"]["note"]


def test_a_target_that_did_not_run_says_why():
    result = BenchResult(target="x", model="m", note="no emulator")
    assert result.to_json()["ran"] is False
    assert "not run: no emulator" in result.summary()


def test_over_budget_fails_the_verdict_and_mismatches_are_shown():
    result = _result(ram_budget=1000)
    assert result.fits is False and "FAIL" in result.summary()


def test_budget_refuses_with_the_numbers():
    target = load_target("cortex-m0plus")
    with pytest.raises(BudgetError) as info:
        budget.check_needs(target, constants=300_000, arena=40_000)
    message = info.value.message
    assert "constants alone take 300,000 B; the budget is 262,144 B" in message
    assert "arena 40,000 B + stack 2,048 B = 42,048 B; the budget is 32,768 B" in message
    budget.check_needs(target, constants=1000, arena=1000)


def _info(kind=p.CounterKind.ICOUNT_SYSTICK, overhead=64, isr=5) -> p.DeviceInfo:
    return p.DeviceInfo(1, kind, 1024, 0, 25_000_000, 0, 2, isr, overhead, 64, (4,), (2,),
                        "cmsdk")


def test_counts_take_out_wrap_interrupts_and_the_counter_reads():
    machine = get_machine("mps2-an386")  # 3.2 ticks per instruction
    info = _info()
    start, end = (3 << 24) + 100, (5 << 24) + 100  # two wraps, 2 * 2^24 ticks
    run = SampleRun([b"\x00\x00"], p.InvokeResult(0, 0, start, end, 0), [])
    expected = round(2 * 2**24 / 3.2) - 2 * 5 - round(64 / 3.2)
    assert device.inference_count(info, machine, run) == expected
    cycles = _info(p.CounterKind.CYCLES, overhead=7, isr=0)
    assert device.inference_count(cycles, None, run) == end - start - 7


def test_compare_outputs_names_the_first_differing_byte():
    runs = [SampleRun([bytes([1, 2, 3])], p.InvokeResult(0, 0, 0, 0, 0), [])]
    assert device.compare_outputs(runs, [[np.array([1, 2, 3], np.int8)]]) == []
    (mismatch,) = device.compare_outputs(runs, [[np.array([1, 9, 3], np.int8)]])
    assert (mismatch.first_byte, mismatch.device, mismatch.host) == (1, 2, 9)
