"""report.md: the build report for people, rendered from the report dict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tinykit.ui import human_bytes


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def summary_rows(report: Mapping[str, Any]) -> list[list[Any]]:
    """Rows of the variant table shared by report.md and the CLI summary."""
    rows = []
    for v in report["variants"]:
        fits = v.get("fits")
        rows.append([
            v["name"] + (" *" if v.get("deployed") else ""),
            f"{v['accuracy']:.4f}",
            f"{v['tflite_bytes']:,}",
            f"{v['sparsity']:.1%}",
            v["max_unique_weights_per_channel"],
            f"{v['arena_bytes']:,}" if v.get("arena_bytes") is not None else "-",
            "-" if fits is None else ("PASS" if fits else "FAIL"),
        ])
    return rows


SUMMARY_HEADERS = ("variant", "accuracy", ".tflite bytes", "sparsity", "unique/channel",
                   "arena bytes", "fits")


def render(report: Mapping[str, Any]) -> str:
    """The Markdown text."""
    budget = report["target_budget"]
    data = report["data"]
    lines = [
        f"# tinykit build for {report['target']}", "",
        f"tinykit {report['tinykit_version']}, config `{report['config_file']}` "
        f"(sha256 `{report['config_hash'][:16]}`), seed {report['seed']}.", "",
        f"Target budget: {human_bytes(budget['flash_bytes'])} flash, "
        f"{human_bytes(budget['ram_bytes'])} RAM, {budget['clock_hz'] / 1e6:g} MHz "
        f"{budget['core']}.", "",
        "## Variants", "",
        *_table(SUMMARY_HEADERS, summary_rows(report)), "",
        f"`*` deployed: `{report['deployed']}`. Accuracy is top-1 on the "
        f"{data['sizes']['test']} test samples, run in tflite-runtime (reference kernels). "
        "Sparsity and unique values count conv and dense kernels of the .tflite. "
        "`fits` compares flash (weights + runtime estimate) and RAM (arena + stack) "
        "with the target budget.", "",
    ]
    comparison = report.get("comparison") or {}
    if comparison:
        drop = comparison["accuracy_drop_points"]
        relation = f"{abs(drop):.2f} points {'below' if drop > 0 else 'above'}" if drop else (
            "as accurate as")
        lines += [f"The deployed model is {relation} the float teacher and "
                  f"{comparison['size_ratio_vs_teacher']:.1%} of its .tflite size.", ""]
    lines += ["## Agreement with the float twin", "",
              *_table(("variant", "twin", "test", "seeded inputs"),
                      [[v["name"], v["agreement"]["twin"], f"{v['agreement']['test']:.4f}",
                        f"{v['agreement']['check']:.4f}"] for v in report["variants"]]), ""]
    lines += _data_section(data)
    lines += _training_section(report["training"])
    lines += ["## Timings", "",
              *_table(("stage", "seconds", "cached"),
                      [[name, f"{t['seconds']:.1f}", "yes" if t["cached"] else "no"]
                       for name, t in report["timings"].items()]), "",
              "## Files", "", *[f"- `{name}`" for name in report["files"]], ""]
    return "\n".join(lines)


def _data_section(data: Mapping[str, Any]) -> list[str]:
    sizes = data["sizes"]
    lines = ["## Data", "", f"{data['description']}; split: {data['split']}; "
             f"{sizes['train']} train, {sizes['val']} validation, {sizes['test']} test.", ""]
    counts = data["class_counts"]
    lines += _table(("class", "train", "val", "test"),
                    [[name, counts["train"][i], counts["val"][i], counts["test"][i]]
                     for i, name in enumerate(data["class_names"])])
    weights = data.get("class_weights")
    lines += ["", "Class weights: " + (", ".join(f"{k}: {v:.3f}" for k, v in weights.items())
                                       if weights else "none (classes are balanced)"), ""]
    notes = data.get("warnings") or []
    lines += ["Data checks: " + ("; ".join(notes) if notes else "nothing found") + ".", ""]
    return lines


def _training_section(training: Mapping[str, Any]) -> list[str]:
    rows = []
    for name, history in training.items():
        if not history:
            continue
        def last(key: str, h: Mapping[str, Any] = history) -> str:
            values = h.get(key) or []
            return f"{values[-1]:.4f}" if values else "-"
        rows.append([name, history.get("epochs", "-"), last("loss"), last("accuracy"),
                     last("val_accuracy"), f"{history.get('seconds', 0):.1f}"])
    return ["## Training", "",
            *_table(("fit", "epochs", "loss", "accuracy", "val accuracy", "seconds"), rows),
            ""]
