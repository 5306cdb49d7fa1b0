"""Figures as text, shared by report.md, report.html, the build summary and `compare`.

Every number a report shows passes through here, so the Markdown, the HTML and the
terminal say the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tinykit.ui import human_bytes

DASH = "-"
#: Below this p-value a paired difference is called significant (two-sided, 5%).
ALPHA = 0.05


def accuracy(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.2f}%"


def interval(ci: list[float] | None, points: bool = False) -> str:
    """[low, high] as percentages (or signed percentage points)."""
    if not ci:
        return DASH
    if points:
        return f"[{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]"
    return f"[{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]"


def accuracy_ci(figures: Mapping[str, Any]) -> str:
    return f"{accuracy(figures['accuracy'])} {interval(figures['accuracy_ci'])}"


def points(difference: float) -> str:
    return f"{100 * difference:+.2f} pt"


def p_value(p: float) -> str:
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


def fraction(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def size(value: int | None) -> str:
    """Exact bytes and a readable size: '24,400 B (23.8 KiB)'."""
    if value is None:
        return DASH
    readable = human_bytes(value)
    return f"{value:,} B" if readable.endswith(" B") else f"{value:,} B ({readable})"


def reading(pair: Mapping[str, Any]) -> str:
    """What a paired comparison says, in words."""
    if pair["only_a_correct"] + pair["only_b_correct"] == 0:
        return "identical on every sample"
    if pair["mcnemar_p"] < ALPHA:
        better = pair["b"] if pair["difference"] > 0 else pair["a"]
        return f"real: {better} is more accurate (p < {ALPHA:g})"
    return f"within noise (p >= {ALPHA:g})"


def resource(item: Mapping[str, Any]) -> str:
    """'24,400 B of 1.0 MiB (2.3%), margin 1,024,176 B'."""
    if item["used"] is None:
        return "not known"
    share = f" ({100 * item['used_fraction']:.1f}%)" if item["used_fraction"] is not None else ""
    margin = item["margin"]
    where = f"margin {margin:,} B" if margin >= 0 else f"{-margin:,} B OVER"
    return f"{item['used']:,} B of {human_bytes(item['budget'])}{share}, {where}"


def fits(value: bool | None) -> str:
    return DASH if value is None else ("PASS" if value else "FAIL")


def latency(verdict: Mapping[str, Any]) -> str:
    """'~3.269 ms ESTIMATE at 80 MHz' or a dash."""
    estimate = verdict.get("latency_estimate")
    if not estimate:
        return DASH
    mhz = (estimate.get("clock_hz") or 0) / 1e6
    return f"~{estimate['ms']:.3f} ms ESTIMATE at {mhz:g} MHz"


def cost(verdict: Mapping[str, Any]) -> str:
    """Instructions (or cycles) per inference, with the cycle estimate when there is one."""
    unit = verdict.get("count_unit")
    value = verdict.get("instructions_per_inference") if unit == "instructions" else \
        verdict.get("cycles_per_inference")
    if value is None:
        return DASH
    text = f"{value:,} {unit}"
    if unit == "instructions" and verdict.get("estimated_cycles") is not None:
        text += f" (~{verdict['estimated_cycles']:,} cycles, ESTIMATE)"
    return text


def outputs(verdict: Mapping[str, Any]) -> str:
    match = verdict.get("outputs_match")
    if match is None:
        return "not compared" + (f": {verdict['note']}" if verdict.get("note") else "")
    if match:
        return (f"byte-exact with tflite-runtime's reference kernels on {verdict['samples']} "
                "seeded inputs")
    return "DIFFER from tflite-runtime's reference kernels"
