"""Plots about the deployed model on the target: cost per layer, memory, tensor lifetimes.

Layers are in execution order (the `layers` section of the report), labelled
`step: OP_TYPE`. Each function returns (figure, caption) or None when the report has
nothing to show (no benchmark ran, no arena).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.patches import Rectangle

from tinykit.report.plotting import ACCENT, GRID, MUTED, WARN, byte_axis, human, new_figure

Made = tuple[Any, str] | None
_OP_COLOURS = {"CONV_2D": "#2563eb", "DEPTHWISE_CONV_2D": "#0891b2",
               "FULLY_CONNECTED": "#7c3aed", "SOFTMAX": "#db2777", "MEAN": "#d97706",
               "AVERAGE_POOL_2D": "#d97706", "MAX_POOL_2D": "#d97706", "ADD": "#65a30d"}


def _labels(layers: list[Mapping[str, Any]]) -> list[str]:
    return [f"{layer['step']}: {layer['type']}" for layer in layers]


def _height(count: int) -> float:
    return min(9.0, 1.4 + 0.32 * count)


def layer_counts(report: Mapping[str, Any]) -> Made:
    layers = report["layers"]
    unit = report["verdict"].get("count_unit")
    key = "cycles" if unit == "cycles" else "instructions"
    if not layers or all(layer[key] is None for layer in layers):
        return None
    counts = [layer[key] or 0 for layer in layers]
    estimated = [layer["estimated_cycles"] for layer in layers]
    has_estimate = key == "instructions" and all(e is not None for e in estimated)
    figure = new_figure(5.0, _height(len(layers)))
    ax = figure.add_subplot()
    rows = list(range(len(layers)))
    height = 0.38 if has_estimate else 0.7
    offset = height / 2 if has_estimate else 0.0
    ax.barh([r - offset for r in rows], counts, height=height, color=ACCENT,
            label=f"{key} (counted)")
    if has_estimate:
        ax.barh([r + offset for r in rows], estimated, height=height, color="#a7f3d0",
                edgecolor=ACCENT, lw=0.6, label="cycles (ESTIMATE)")
    total = sum(counts) or 1
    for row, count in zip(rows, counts, strict=True):
        ax.annotate(f"{count:,} ({100 * count / total:.0f}%)", (count, row - offset),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=7.5)
    ax.set_yticks(rows, _labels(layers))
    ax.invert_yaxis()
    ax.set_xlim(0, max([*counts, *(e or 0 for e in estimated)]) * 1.28)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x / 1000:g}k" if x else "0")
    ax.set_xlabel(f"{key} per inference")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right")
    verdict = report["verdict"]
    what = ("executed instructions counted exactly in " + verdict["runner"]
            if key == "instructions" else "cycles measured on the board")
    caption = (f"Cost of each layer of the deployed model: {what} (the layer hook's own "
               "cost included)")
    if has_estimate:
        caption += ("; light bars are cycles ESTIMATED from the executed instruction "
                    "classes and the core's published timings")
    return figure, caption + "."


def layer_memory(report: Mapping[str, Any]) -> Made:
    layers = report["layers"]
    if not layers:
        return None
    figure = new_figure(5.0, _height(len(layers)))
    ax = figure.add_subplot()
    rows = list(range(len(layers)))
    weights = [layer["weight_bytes"] for layer in layers]
    arena = [layer["arena_bytes_in_use"] for layer in layers]
    ax.barh([r - 0.19 for r in rows], weights, height=0.38, color="#2563eb",
            label="weights and constants (flash)")
    ax.barh([r + 0.19 for r in rows], arena, height=0.38, color="#f59e0b",
            label="arena in use during the layer (RAM)")
    for row, (w, a) in enumerate(zip(weights, arena, strict=True)):
        ax.annotate(human(w), (w, row - 0.19), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=7)
        ax.annotate(human(a), (a, row + 0.19), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=7)
    ax.set_yticks(rows, _labels(layers))
    ax.invert_yaxis()
    top = max([*weights, *arena, 1]) * 1.3
    ax.set_xlim(0, top)
    byte_axis(ax.xaxis, top)
    ax.set_xlabel("bytes")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right")
    return figure, ("Memory per layer of the deployed model: the weights it reads from "
                    "flash, and the highest arena byte in use while it runs (live tensors "
                    "and kernel scratch, from the memory plan the generated C uses).")


def lifetimes(report: Mapping[str, Any]) -> Made:
    memory = report["memory"]
    layers = report["layers"]
    tensors = [t for t in memory["tensors"] if t["alias_of"] is None and t["size"]]
    if not tensors or not layers:
        return None
    steps = len(layers)
    figure = new_figure(7.6, 3.2)
    ax = figure.add_subplot()
    for tensor in tensors:
        first, last = tensor["first_step"], tensor["last_step"]
        producer = layers[first]["type"] if 0 <= first < steps else "input"
        colour = _OP_COLOURS.get(producer, "#64748b" if producer == "input" else MUTED)
        left, right = max(first - 0.45, -0.55), min(last + 0.45, steps - 0.45)
        ax.add_patch(Rectangle((left, tensor["offset"]), right - left, tensor["size"],
                               facecolor=colour, alpha=0.55, edgecolor="white", lw=0.8))
        if tensor["size"] >= memory["arena_bytes"] * 0.06:
            ax.text((left + right) / 2, tensor["offset"] + tensor["size"] / 2,
                    human(tensor["size"]), ha="center", va="center", fontsize=7)
    for item in memory["scratch"]:
        ax.add_patch(Rectangle((item["step"] - 0.45, item["offset"]), 0.9, item["size"],
                               facecolor="none", edgecolor=MUTED, hatch="///", lw=0.6))
    ax.axhline(memory["arena_bytes"], color=WARN, lw=1, ls=":")
    ax.annotate(f"arena {human(memory['arena_bytes'])} (lower bound "
                f"{human(memory['lower_bound'])})", (steps - 0.5, memory["arena_bytes"]),
                ha="right", va="bottom", fontsize=8, color=WARN,
                xytext=(0, 2), textcoords="offset points")
    ax.set_xlim(-0.6, steps - 0.4)
    top = memory["arena_bytes"] * 1.12
    ax.set_ylim(0, top)
    byte_axis(ax.yaxis, top)
    ax.set_xticks(range(steps), _labels(layers), rotation=30, ha="right", fontsize=7.5)
    ax.set_ylabel("arena offset")
    ax.grid(axis="x", color=GRID)
    return figure, ("Tensor lifetimes in the arena over the op sequence: each box is one "
                    "tensor, from the step that writes it to the last step that reads it, "
                    "at its planned offset; colour shows the op that produced it (grey: "
                    "the model's input). Hatched boxes are kernel scratch. Boxes that touch "
                    "in one step are outputs streamed over the input they read.")
