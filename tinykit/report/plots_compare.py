"""The plot of `tinykit compare`: each build's deployed accuracy, flash and latency."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinykit.report.plotting import ACCENT, MUTED, byte_axis, new_figure


def compare_plot(data: Mapping[str, Any]) -> tuple[Any, str]:
    """Three panels, one bar per build: accuracy (95% CI), flash used, estimated ms."""
    builds = data["builds"]
    names = [Path(c["build"]).name for c in builds]
    rows = list(range(len(builds)))
    figure = new_figure(9.0, 1.2 + 0.45 * len(builds))
    acc_ax, flash_ax, ms_ax = figure.subplots(1, 3, sharey=True)
    accuracy = [c["accuracy"] for c in builds]
    errors = [[a - c["accuracy_ci"][0] for a, c in zip(accuracy, builds, strict=True)],
              [c["accuracy_ci"][1] - a for a, c in zip(accuracy, builds, strict=True)]]
    acc_ax.barh(rows, [100 * a for a in accuracy], xerr=[[100 * e for e in errors[0]],
                                                         [100 * e for e in errors[1]]],
                color=ACCENT, capsize=3, height=0.6)
    acc_ax.set_xlim(max(0, 100 * min(c["accuracy_ci"][0] for c in builds) - 2), 100)
    acc_ax.set_xlabel("accuracy, % (95% CI)")
    flash = [c["verdict"]["flash"]["used"] or 0 for c in builds]
    flash_ax.barh(rows, flash, color="#2563eb", height=0.6)
    byte_axis(flash_ax.xaxis, max(flash + [1]) * 1.1)
    flash_ax.set_xlabel("flash used")
    latency = [(c["verdict"].get("latency_estimate") or {}).get("ms") for c in builds]
    ms_ax.barh(rows, [ms or 0 for ms in latency], color="#fcd34d", edgecolor="#b45309",
               height=0.6, hatch="//")
    for row, ms in zip(rows, latency, strict=True):
        ms_ax.annotate("n/a" if ms is None else f"~{ms:.3g} ms", (ms or 0, row),
                       xytext=(3, 0), textcoords="offset points", va="center", fontsize=8,
                       color=MUTED if ms is None else "#111827")
    ms_ax.set_xlabel("latency, ms (ESTIMATE)")
    ms_ax.set_xlim(0, max([ms or 0 for ms in latency] + [1e-3]) * 1.35)
    acc_ax.set_yticks(rows, names)
    acc_ax.invert_yaxis()
    for ax in (acc_ax, flash_ax, ms_ax):
        ax.grid(axis="y", visible=False)
    return figure, ("The deployed model of each build: test accuracy with its 95% bootstrap "
                    "interval, flash used on the target, and the latency ESTIMATED at the "
                    "target's clock.")
