"""report.md: the build report for a terminal or a pull request, rendered from report.json.

The same sections as report.html without the plots. `summary_rows` and `SUMMARY_HEADERS`
are also the table `tinykit build` ends with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tinykit.report import text
from tinykit.ui import human_bytes

SUMMARY_HEADERS = ("variant", "accuracy", "95% CI", ".tflite bytes", "sparsity",
                   "unique/channel", "weights in C", "flash", "RAM", "instructions", "fits")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |"
              for row in rows]
    return lines


def summary_rows(report: Mapping[str, Any]) -> list[list[Any]]:
    """Rows of the variant table shared by report.md and the CLI summary.

    Flash and RAM are the linked firmware's for the deployed variant when the benchmark
    ran, else the estimate from the .tflite; instructions are per inference on the target.
    "weights in C": bytes of the weights in tinykit's generated C (int8 variants; packed
    where it saves flash).
    """
    stats = report["statistics"]["variants"]
    verdict = report["verdict"]
    rows = []
    for v in report["variants"]:
        flash, ram, fits = v.get("flash_needed"), v.get("ram_needed"), v.get("fits")
        instructions: Any = text.DASH
        if v.get("deployed") and verdict["measured"]:
            flash, ram = verdict["flash"]["used"], verdict["ram"]["used"]
            fits = verdict["status"] == "PASS"
            instructions = text.count(verdict["instructions_per_inference"]
                                      if verdict["count_unit"] == "instructions"
                                      else verdict["cycles_per_inference"])
        rows.append([
            v["name"] + (" *" if v.get("deployed") else ""),
            text.accuracy(v["accuracy"]),
            text.interval(stats[v["name"]]["accuracy_ci"]) if v["name"] in stats else "-",
            f"{v['tflite_bytes']:,}",
            f"{v['sparsity']:.1%}",
            v["max_unique_weights_per_channel"],
            text.count(v.get("weight_bytes")),
            text.DASH if flash is None else f"{flash:,}",
            text.DASH if ram is None else f"{ram:,}",
            instructions,
            text.fits(fits),
        ])
    return rows


def verdict_lines(report: Mapping[str, Any]) -> list[str]:
    """The verdict as 'label  value' pairs, for Markdown and the terminal."""
    verdict = report["verdict"]
    stats = report["statistics"]["variants"].get(report["deployed"])
    where = verdict["runner"] or "not run"
    lines = [
        ("verdict", verdict["status"] + (": " + "; ".join(verdict["reasons"])
                                         if verdict["reasons"] else "")),
        ("model", f"{report['deployed']} on {report['target']} ({where})"),
        ("accuracy", text.accuracy_ci(stats) + " (95% bootstrap CI)" if stats else text.DASH),
        ("flash", f"{text.resource(verdict['flash'])} [{verdict['flash']['source']}]"),
        ("RAM", f"{text.resource(verdict['ram'])} [{verdict['ram']['source']}]"),
        ("outputs", text.outputs(verdict)),
        ("per inference", text.cost(verdict)),
        ("latency", text.latency(verdict)),
    ]
    goal = (report.get("weights") or {}).get("goal")
    if goal:
        lines.insert(4, ("weights", weights_goal(goal)))
    estimate = verdict.get("latency_estimate")
    if estimate:
        lines.append(("", f"({estimate['note']})"))
    if not verdict["measured"]:
        lines.append(("note", verdict["note"]))
    return [f"{label:<14}{value}" if label else f"{'':<14}{value}" for label, value in lines]


def weights_goal(goal: Mapping[str, Any]) -> str:
    """The deployed weights against the goal, e.g. '6,626 B in flash, 0.48x the plain int8
    student's 13,684 B (goal <= 0.5x): PASS'."""
    return (f"{goal['deployed_bytes']:,} B in flash, {goal['ratio']:.2f}x the plain int8 "
            f"student's {goal['baseline_bytes']:,} B (goal <= {goal['max_ratio']:g}x): "
            f"{'PASS' if goal['met'] else 'FAIL'}")


def weight_cell(layer: Mapping[str, Any]) -> str:
    """A layer's weights in the generated C: '4,618 B sparse+idx4' (dash: none)."""
    size = layer.get("weight_flash_bytes")
    return text.DASH if size is None else f"{size:,} B {layer.get('weights') or ''}".strip()


def render(report: Mapping[str, Any]) -> str:
    """The Markdown text."""
    budget = report["target_budget"]
    lines = [
        f"# tinykit build for {report['target']}", "",
        f"tinykit {report['tinykit_version']}, config `{report['config_file']}` "
        f"(sha256 `{report['config_hash'][:16]}`), seed {report['seed']}. "
        "Plots: `report.html`.", "",
        f"Target budget: {human_bytes(budget['flash_bytes'])} flash, "
        f"{human_bytes(budget['ram_bytes'])} RAM, {budget['clock_hz'] / 1e6:g} MHz "
        f"{budget['core']}.", "",
        "## Verdict", "", "```", *verdict_lines(report), "```", "",
        "## Variants", "",
        *_table(SUMMARY_HEADERS, summary_rows(report)), "",
        f"`*` deployed: `{report['deployed']}`. Accuracy is top-1 on the "
        f"{report['statistics']['test_samples']} test samples, run in tflite-runtime "
        "(reference kernels), with a 95% bootstrap interval. Flash and RAM: the linked "
        "firmware's for the deployed variant when it was benchmarked, else the estimate "
        "from the .tflite (constants + runtime; arena + stack).", "",
    ]
    lines += _pairs_section(report["statistics"])
    lines += _quality_section(report)
    lines += _target_section(report)
    lines += _agreement_section(report)
    lines += _data_section(report["data"])
    lines += _training_section(report["training"])
    lines += ["## Timings", "",
              *_table(("stage", "seconds", "cached"),
                      [[name, f"{t['seconds']:.1f}", "yes" if t["cached"] else "no"]
                       for name, t in report["timings"].items()]), "",
              "## Files", "", *[f"- `{name}`" for name in report["files"]], ""]
    return "\n".join(lines)


def _pairs_section(stats: Mapping[str, Any]) -> list[str]:
    method = stats["method"]
    rows = [[p["title"], text.accuracy(p["accuracy_a"]), text.accuracy(p["accuracy_b"]),
             text.points(p["difference"]), text.interval(p["difference_ci"], points=True),
             f"{p['only_a_correct']} / {p['only_b_correct']}", text.p_value(p["mcnemar_p"]),
             text.accuracy(p["agreement"]), text.reading(p)] for p in stats["pairs"]]
    return ["## Is a difference real?", "",
            *_table(("comparison (a vs b)", "a", "b", "b - a", "95% CI", "only a / only b right",
                     "McNemar p", "agreement", "reading"), rows), "",
            f"Paired on the same {stats['test_samples']} test samples: the interval of the "
            f"difference is a percentile bootstrap ({method['bootstrap_resamples']} "
            f"resamples, seed {method['bootstrap_seed']}), the p-value the exact McNemar "
            "test on the samples only one of the two gets right; agreement is the share of "
            "samples where both predict the same class.", ""]


def _quality_section(report: Mapping[str, Any]) -> list[str]:
    stats = report["statistics"]
    deployed = stats["variants"][report["deployed"]]
    rows = [[c["class"], text.fraction(c["precision"]), text.fraction(c["recall"]),
             text.fraction(c["f1"]), c["support"]] for c in deployed["per_class"]]
    lines = ["## Deployed model per class", "",
             *_table(("class", "precision", "recall", "F1", "support"), rows), "",
             f"Macro F1 {deployed['macro_f1']:.3f}; expected calibration error "
             f"{deployed['calibration']['ece']:.3f}.", ""]
    if stats["positive_class"] is not None:
        rows = [[name, text.fraction(v["roc"]["auc"]), text.fraction(v["pr"]["average_precision"])]
                for name, v in stats["variants"].items()]
        lines += [f"Binary task, positive class `{stats['positive_class']}`:", "",
                  *_table(("variant", "ROC AUC", "average precision"), rows), ""]
    return lines


def _target_section(report: Mapping[str, Any]) -> list[str]:
    layers = report["layers"]
    unit = report["verdict"].get("count_unit") or "instructions"
    key = "cycles" if unit == "cycles" else "instructions"
    total = sum(layer[key] or 0 for layer in layers) or 1
    rows = [[layer["step"], layer["type"], layer["kernel"] or text.DASH,
             text.count(layer["macs"]), text.count(layer["weight_bytes"]), weight_cell(layer),
             text.count(layer["arena_bytes_in_use"]), text.count(layer[key]),
             f"{100 * (layer[key] or 0) / total:.1f}%" if layer[key] is not None else text.DASH,
             text.count(layer["estimated_cycles"])] for layer in layers]
    memory = report["memory"]
    return ["## Per layer on the target", "",
            *_table(("step", "op", "kernel", "MACs", "weight bytes", "weights in C",
                     "arena in use", key, "share", "est. cycles"), rows), "",
            f"Arena {memory['arena_bytes']:,} B (lower bound {memory['lower_bound']:,} B). "
            "Counts include the layer hook; estimated cycles are an ESTIMATE.", ""]


def _agreement_section(report: Mapping[str, Any]) -> list[str]:
    rows = [[v["name"], v["agreement"]["twin"], f"{v['agreement']['test']:.4f}",
             f"{v['agreement']['check']:.4f}"] for v in report["variants"]]
    return ["## Agreement with the float twin", "",
            *_table(("variant", "twin", "test", "seeded inputs"), rows), ""]


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
