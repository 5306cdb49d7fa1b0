"""Plots about the model: accuracy against flash, confusion, calibration, ROC/PR, training.

Each function takes the report dict and returns (figure, caption) or None when the
report has nothing to show (e.g. ROC curves of a task with more than two classes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tinykit.report.plotting import (
    ACCENT,
    MUTED,
    WARN,
    binary_log_axis,
    human,
    new_figure,
    short,
    variant_colour,
)

Made = tuple[Any, str] | None


def flash_of(variant: Mapping[str, Any]) -> int:
    """The flash a variant needs on the target (estimate), else its .tflite size."""
    return int(variant.get("flash_needed") or variant["tflite_bytes"])


def pareto_front(variants: list[Mapping[str, Any]]) -> list[str]:
    """Names of variants no other beats on both flash (smaller) and accuracy (higher)."""
    front = []
    for v in variants:
        beaten = any(flash_of(o) <= flash_of(v) and o["accuracy"] >= v["accuracy"]
                     and (flash_of(o), -o["accuracy"]) != (flash_of(v), -v["accuracy"])
                     for o in variants)
        if not beaten:
            front.append(v["name"])
    return front


def accuracy_vs_flash(report: Mapping[str, Any]) -> Made:
    variants = report["variants"]
    stats = report["statistics"]["variants"]
    front = set(pareto_front(variants))
    budget = report["target_budget"]["flash_bytes"]
    verdict = report["verdict"]
    figure = new_figure(8.4, 3.5)
    ax = figure.add_subplot()
    names = [v["name"] for v in variants]
    xs = [flash_of(v) for v in variants] + [budget]
    if verdict["measured"]:
        xs.append(verdict["flash"]["used"])
    low, high = min(xs) / 1.5, max(xs) * 1.5
    points = sorted((flash_of(v), v["accuracy"]) for v in variants if v["name"] in front)
    # The front as a staircase that runs on to the right edge: nothing beyond it is better.
    ax.step([p[0] for p in points] + [high], [p[1] for p in points] + [points[-1][1]],
            where="post", color=ACCENT, lw=1.2, ls="--", alpha=0.8, label="Pareto front")
    for number, v in enumerate(sorted(variants, key=flash_of)):
        ci_low, ci_high = stats[v["name"]]["accuracy_ci"]
        x, y = float(flash_of(v)), v["accuracy"]
        colour = variant_colour(v["name"], names)
        label = short(v["name"]) + (" (deployed)" if v["deployed"] else "")
        # Points of equal flash would hide each other's bars: nudge by a few percent.
        x *= 1.0 + 0.035 * (number % 3 - 1) * any(
            abs(flash_of(o) / flash_of(v) - 1) < 0.05 for o in variants if o is not v)
        ax.errorbar([x], [y], yerr=[[y - ci_low], [ci_high - y]], fmt="o",
                    ms=8 if v["deployed"] else 6, color=colour, capsize=3, lw=1.2, zorder=3,
                    mec="#111827" if v["name"] in front else colour, mew=1.4, label=label)
    if verdict["measured"]:
        deployed = next(v["accuracy"] for v in variants if v["deployed"])
        ax.plot([verdict["flash"]["used"]], [deployed], marker="D", ms=6, mfc="none",
                mec=ACCENT, mew=1.4, ls="none", label="deployed, linked firmware", zorder=3)
    ax.axvline(budget, color=WARN, lw=1.2, ls=":")
    ax.annotate(f"flash budget {human(budget)}", (budget, 0.97),
                xycoords=("data", "axes fraction"), ha="right", va="top", color=WARN,
                fontsize=8, xytext=(-4, 0), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    binary_log_axis(ax.xaxis, low, high)
    ax.set_xlabel("flash needed on the target (log scale)")
    ax.set_ylabel("test accuracy (95% CI)")
    ax.yaxis.set_major_formatter(lambda y, _pos: f"{100 * y:.4g}%")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    caption = ("Accuracy against flash for every variant. Error bars are 95% bootstrap "
               "intervals; the dashed staircase is the Pareto front (ringed points: no other "
               "variant is both smaller and more accurate); the dotted line is the target's "
               "flash budget. Flash is the estimate from the .tflite (constants + runtime)"
               + ("; the diamond is the deployed model's linked firmware." if
                  verdict["measured"] else "."))
    return figure, caption


def confusion(report: Mapping[str, Any]) -> Made:
    name = report["deployed"]
    stats = report["statistics"]
    matrix = np.asarray(stats["variants"][name]["confusion"], dtype=np.float64)
    classes = stats["class_names"]
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = min(6.0, max(3.6, 2.0 + 0.25 * len(classes)))
    figure = new_figure(size + 0.8, size)
    ax = figure.add_subplot()
    image = ax.imshow(share, cmap="Greens", vmin=0, vmax=1)
    ax.grid(False)
    ticks = range(len(classes))
    ax.set_xticks(list(ticks), classes, rotation=90 if max(map(len, classes)) > 3 else 0)
    ax.set_yticks(list(ticks), classes)
    if len(classes) <= 20:
        for i in ticks:
            for j in ticks:
                if matrix[i, j]:
                    ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center",
                            fontsize=8.5 if len(classes) <= 12 else 7,
                            color="white" if share[i, j] > 0.55 else "#111827")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    figure.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    return figure, (f"Confusion matrix of the deployed model ({short(name)}) on the "
                    f"{stats['test_samples']} test samples: counts, coloured by the share "
                    "of each true class (row).")


def reliability(report: Mapping[str, Any]) -> Made:
    stats = report["statistics"]
    shown = [v["name"] for v in report["variants"] if v["deployed"] or
             v["name"] == "teacher_float"]
    names = [v["name"] for v in report["variants"]]
    figure = new_figure(4.6, 4.4)
    ax, counts_ax = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ax.plot([0, 1], [0, 1], color=MUTED, lw=1, ls=":", label="perfect calibration")
    width = 1 / stats["method"]["calibration_bins"] / (len(shown) + 0.5)
    for number, name in enumerate(shown):
        calibration = stats["variants"][name]["calibration"]
        colour = variant_colour(name, names)
        bins = [b for b in calibration["bins"] if b["count"]]
        # Marker area follows the samples in the bin: a lone sample cannot look like a trend.
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], lw=1,
                color=colour, alpha=0.7, marker="o", ms=4,
                label=f"{short(name)} (ECE {calibration['ece']:.3f})")
        ax.scatter([b["confidence"] for b in bins], [b["accuracy"] for b in bins],
                   s=[15 + 220 * (b["count"] / stats["test_samples"]) ** 0.5 for b in bins],
                   color=colour, alpha=0.8, zorder=3)
        counts_ax.bar([b["lower"] + (number + 0.75) * width for b in calibration["bins"]],
                      [b["count"] for b in calibration["bins"]], width=width, color=colour)
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.04)
    ax.set_ylabel("accuracy in the bin")
    ax.legend(loc="upper left")
    counts_ax.set_yscale("log")
    counts_ax.set_ylabel("samples")
    counts_ax.set_xlabel("confidence (top probability)")
    bins = stats["method"]["calibration_bins"]
    return figure, (f"Reliability diagram: test samples binned by confidence ({bins} equal "
                    "bins; marker size and the lower panel show how many fall in each); a "
                    "calibrated model lies on the diagonal. ECE is the sample-weighted gap "
                    "between accuracy and confidence.")


def roc_pr(report: Mapping[str, Any]) -> Made:
    stats = report["statistics"]
    if stats["positive_class"] is None:
        return None
    figure = new_figure(8.0, 3.7)
    roc_ax, pr_ax = figure.subplots(1, 2)
    names = [v["name"] for v in report["variants"]]
    for name in names:
        figures = stats["variants"][name]
        colour = variant_colour(name, names)
        roc, pr = figures["roc"], figures["pr"]
        auc = "n/a" if roc["auc"] is None else f"{roc['auc']:.3f}"
        ap = "n/a" if pr["average_precision"] is None else f"{pr['average_precision']:.3f}"
        roc_ax.plot(roc["fpr"], roc["tpr"], color=colour, lw=1.4, drawstyle="default",
                    label=f"{short(name)} (AUC {auc})")
        pr_ax.plot(pr["recall"], pr["precision"], color=colour, lw=1.4, drawstyle="steps-pre",
                   label=f"{short(name)} (AP {ap})")
    roc_ax.plot([0, 1], [0, 1], color=MUTED, ls=":", lw=1, label="chance")
    prevalence = stats["variants"][names[0]]["pr"]["prevalence"]
    pr_ax.axhline(prevalence, color=MUTED, ls=":", lw=1, label=f"chance ({prevalence:.2f})")
    for ax, (x, y, title) in zip((roc_ax, pr_ax), (("false positive rate", "true positive rate",
                                                    "ROC"),
                                                   ("recall", "precision", "precision-recall"))
                                 , strict=True):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.02)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(title)
        ax.legend(loc="lower right" if title == "ROC" else "lower left", fontsize=7.5)
    positive = stats["positive_class"]
    return figure, (f"ROC and precision-recall curves on the test split, with the score of "
                    f"class '{positive}' (the positive class) from each variant's output. "
                    "AUC: area under the ROC curve; AP: average precision.")


def training(report: Mapping[str, Any]) -> Made:
    from matplotlib.lines import Line2D

    fits = [(name, h) for name, h in report["training"].items() if h and h.get("loss")]
    if not fits:
        return None
    figure = new_figure(8.0, 3.4)
    acc_ax, loss_ax = figure.subplots(1, 2, sharex=True)
    start = 0
    palette = ["#2563eb", "#7c3aed", "#d97706", "#0891b2", "#059669", "#db2777"]
    for number, (name, history) in enumerate(fits):
        colour = palette[number % len(palette)]
        epochs = np.arange(start + 1, start + len(history["loss"]) + 1)
        for ax, key in ((acc_ax, "accuracy"), (loss_ax, "loss")):
            ax.plot(epochs, history[key], color=colour, lw=1.3)
            if history.get(f"val_{key}"):
                ax.plot(epochs, history[f"val_{key}"], color=colour, lw=1.1, ls="--")
            if start:
                ax.axvline(start + 0.5, color="#d1d5db", lw=0.8)
            ax.annotate(name, (start + 1, 0.03), xycoords=("data", "axes fraction"),
                        rotation=90, fontsize=7.5, color=colour, va="bottom")
        start += len(history["loss"])
    acc_ax.set_ylabel("accuracy")
    loss_ax.set_ylabel("loss (log scale)")
    loss_ax.set_yscale("log")
    for ax in (acc_ax, loss_ax):
        ax.set_xlabel("epoch, fits end to end")
    loss_ax.legend([Line2D([], [], color="#374151", lw=1.3),
                    Line2D([], [], color="#374151", lw=1.1, ls="--")],
                   ["training split", "validation split"], loc="upper right")
    return figure, ("Training and fine-tuning curves of every fit in order (teacher, "
                    "distilled student, pruning, clustering, quantization-aware training): "
                    "solid lines on the training split, dashed on the validation split. "
                    "The student's training loss is the distillation loss (soft targets "
                    "mixed with labels), so its scale differs from the other fits'.")
