"""The verdict against the target: does the deployed model fit, is it right, what it costs.

Flash and RAM are the linked benchmark firmware's (`arm-none-eabi-size`: flash = text +
rodata + data, RAM = data + bss + stack reserve) when the benchmark ran, else the budget
stage's estimate from the .tflite (constants + runtime estimate; arena + stack). The
latency is always an estimate: QEMU counts instructions, and the cycles are either the
instruction-class estimate or one cycle per instruction, at the target's `[clock] hz`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _resource(used: int | None, budget: int, source: str) -> dict[str, Any]:
    if used is None:
        return {"used": None, "budget": budget, "margin": None, "used_fraction": None,
                "fits": None, "source": source}
    return {"used": int(used), "budget": int(budget), "margin": int(budget - used),
            "used_fraction": round(used / budget, 6) if budget else None,
            "fits": bool(used <= budget), "source": source}


def verdict(budget: Mapping[str, Any], deployed: Mapping[str, Any],
            bench: Mapping[str, Any] | None) -> dict[str, Any]:
    """The verdict section of report.json (see the schema for the fields).

    `status` is FAIL when flash or RAM is over budget or the firmware's outputs differ,
    PASS when the linked firmware was measured and nothing failed, else UNMEASURED.
    """
    measured = bool(bench and bench.get("ran") and bench.get("flash_bytes") is not None)
    if measured and bench is not None:
        where = "linked benchmark firmware (arm-none-eabi-size)"
        flash = _resource(bench["flash_bytes"], budget["flash_bytes"],
                          where + ": text + rodata + data")
        ram = _resource(bench["ram_bytes"], budget["ram_bytes"],
                        where + ": data + bss + stack reserve")
    else:
        flash = _resource(deployed.get("flash_needed"), budget["flash_bytes"],
                          "estimate from the .tflite: constants + runtime estimate")
        ram = _resource(deployed.get("ram_needed"), budget["ram_bytes"],
                        "estimate from the .tflite: planned arena + stack reserve")
    bench = bench or {}
    outputs_match = bench.get("outputs_match")
    reasons = []
    if flash["fits"] is False:
        reasons.append(f"flash: needs {flash['used']:,} B, {-flash['margin']:,} B over budget")
    if ram["fits"] is False:
        reasons.append(f"RAM: needs {ram['used']:,} B, {-ram['margin']:,} B over budget")
    if outputs_match is False:
        reasons.append("the firmware's outputs differ from tflite-runtime's")
    # PASS needs the firmware measured and, where it was compared, equal outputs; a fit
    # that rests on estimates alone is UNMEASURED, with the estimates shown.
    status = "FAIL" if reasons else ("PASS" if measured else "UNMEASURED")
    return {
        "status": status, "reasons": reasons, "measured": measured,
        "note": "" if measured else (bench.get("note") or "the benchmark did not run"),
        "model": deployed.get("name", ""), "flash": flash, "ram": ram,
        "outputs_match": outputs_match, "samples": bench.get("samples") or 0,
        "runner": _runner(bench),
        "count_unit": bench.get("count_unit"),
        "instructions_per_inference": bench.get("instructions_per_inference"),
        "cycles_per_inference": bench.get("cycles_per_inference"),
        "estimated_cycles": bench.get("estimated_cycles"),
        "estimated_cycles_range": _cycle_range(bench),
        "latency_estimate": _latency(bench),
        "runtime_flash_bytes": bench.get("runtime_flash_bytes"),
        "model_constant_bytes": bench.get("model_constant_bytes"),
    }


def _runner(bench: Mapping[str, Any]) -> str:
    runner = bench.get("runner") or {}
    if runner.get("machine"):
        return f"QEMU {runner['machine']}"
    return f"board on {runner['port']}" if runner.get("port") else ""


def _cycle_range(bench: Mapping[str, Any]) -> list[int] | None:
    estimate = bench.get("cycle_estimate") or {}
    if estimate.get("low") is None or estimate.get("high") is None:
        return None
    return [int(estimate["low"]), int(estimate["high"])]


def _latency(bench: Mapping[str, Any]) -> dict[str, Any] | None:
    """Milliseconds per inference, always labelled an estimate, with where it comes from."""
    estimate = bench.get("estimate")
    if not estimate or estimate.get("ms") is None:
        return None
    return {"label": "estimate", "ms": estimate["ms"], "clock_hz": estimate.get("clock_hz"),
            "cycles_per_instruction": estimate.get("cycles_per_instruction"),
            "note": estimate.get("note", "")}
