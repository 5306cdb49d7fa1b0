"""report.html: one self-contained page (inline CSS and SVG plots, no script, no request).

`render_html(report)` formats every figure in Python (`tinykit.report.text`) into a view
that the Jinja2 template (`templates/report.html.jinja`, `StrictUndefined`, autoescaped)
only lays out. Plots are made here too (`plots_model`, `plots_target`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tinykit.report import text
from tinykit.report.markdown import SUMMARY_HEADERS, summary_rows, weight_cell
from tinykit.report.plotting import Plot


@dataclass(frozen=True)
class Table:
    """Headers and rows of preformatted cells; `classes` styles a row (e.g. 'deployed')."""

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    classes: Sequence[str] = ()
    note: str = ""
    numeric_from: int = 1
    css: str = ""


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    detail: str = ""
    state: str = ""          # "", "pass", "fail", "estimate"
    bar: float | None = None  # share of a budget used, 0..1+


@dataclass
class View:
    title: str
    subtitle: str
    status: str
    reasons: list[str]
    cards: list[Card]
    plots: dict[str, Plot]
    tables: dict[str, Table]
    notes: dict[str, str] = field(default_factory=dict)
    config_json: str = ""
    files: list[str] = field(default_factory=list)


def plot_makers() -> list[tuple[str, str, Any]]:
    """(key, title, function) of every plot, in page order."""
    from tinykit.report import plots_model, plots_target

    return [
        ("accuracy-flash", "Accuracy against flash", plots_model.accuracy_vs_flash),
        ("confusion", "Confusion matrix", plots_model.confusion),
        ("calibration", "Reliability diagram", plots_model.reliability),
        ("roc-pr", "ROC and precision-recall", plots_model.roc_pr),
        ("layer-cost", "Cost per layer", plots_target.layer_counts),
        ("layer-memory", "Memory per layer", plots_target.layer_memory),
        ("lifetimes", "Tensor lifetimes in the arena", plots_target.lifetimes),
        ("training", "Training curves", plots_model.training),
    ]


def make_plots(report: Mapping[str, Any]) -> list[Plot]:
    from tinykit.report.plotting import render_plots

    return render_plots(report, plot_makers())


def _cards(report: Mapping[str, Any]) -> list[Card]:
    verdict = report["verdict"]
    stats = report["statistics"]
    deployed = stats["variants"][report["deployed"]]
    cards = [Card("accuracy (test)", text.accuracy(deployed["accuracy"]),
                  f"95% CI {text.interval(deployed['accuracy_ci'])}, "
                  f"{deployed['correct']} of {deployed['samples']} right")]
    end_to_end = next((p for p in stats["pairs"] if p["a"] == "teacher_float"
                       and p["b"] == report["deployed"]), None)
    if end_to_end:
        cards.append(Card("vs float teacher", text.points(end_to_end["difference"]),
                          f"95% CI {text.interval(end_to_end['difference_ci'], True)}, "
                          f"McNemar p {text.p_value(end_to_end['mcnemar_p'])}"))
    for key, label in (("flash", "flash"), ("ram", "RAM")):
        item = verdict[key]
        state = "" if item["fits"] is None else ("pass" if item["fits"] else "fail")
        value = text.DASH if item["used"] is None else f"{item['used']:,} B"
        measured = "linked firmware" if verdict["measured"] else "estimate"
        cards.append(Card(f"{label} ({measured})", value, text.resource(item), state,
                          item["used_fraction"]))
    unit = verdict.get("count_unit") or "instructions"
    per_inference = verdict["instructions_per_inference"] if unit == "instructions" else \
        verdict["cycles_per_inference"]
    cards.append(Card(f"{unit} / inference", text.count(per_inference),
                      f"counted exactly in {verdict['runner']}" if verdict["runner"]
                      else verdict["note"]))
    if verdict.get("estimated_cycles") is not None:
        span = verdict.get("estimated_cycles_range")
        cards.append(Card("cycles (ESTIMATE)", f"~{verdict['estimated_cycles']:,}",
                          f"range {span[0]:,} to {span[1]:,}" if span else "", "estimate"))
    estimate = verdict.get("latency_estimate")
    if estimate:
        cards.append(Card("latency (ESTIMATE)", f"~{estimate['ms']:.3f} ms",
                          estimate["note"], "estimate"))
    goal = (report.get("weights") or {}).get("goal")
    if goal:
        cards.append(Card("weights in flash", f"{goal['deployed_bytes']:,} B",
                          f"{goal['ratio']:.2f}x the plain int8 student's "
                          f"{goal['baseline_bytes']:,} B (goal <= {goal['max_ratio']:g}x)",
                          "pass" if goal["met"] else "fail",
                          goal["ratio"] / goal["max_ratio"]))
    match = verdict.get("outputs_match")
    cards.append(Card("outputs on target", {True: "byte-exact", False: "DIFFER",
                                            None: "not compared"}[match],
                      text.outputs(verdict), {True: "pass", False: "fail", None: ""}[match]))
    return cards


def _tables(report: Mapping[str, Any]) -> dict[str, Table]:
    stats = report["statistics"]
    variants = Table(SUMMARY_HEADERS, [[str(c) for c in row] for row in summary_rows(report)],
                     ["deployed" if v.get("deployed") else "" for v in report["variants"]])
    pairs = Table(("comparison (a vs b)", "a", "b", "b - a", "95% CI", "only a / only b right",
                   "McNemar p", "agreement", "reading"),
                  [[p["title"], text.accuracy(p["accuracy_a"]), text.accuracy(p["accuracy_b"]),
                    text.points(p["difference"]), text.interval(p["difference_ci"], True),
                    f"{p['only_a_correct']} / {p['only_b_correct']}",
                    text.p_value(p["mcnemar_p"]), text.accuracy(p["agreement"]),
                    text.reading(p)] for p in stats["pairs"]],
                  ["significant" if p["mcnemar_p"] < text.ALPHA else "" for p in stats["pairs"]])
    deployed = stats["variants"][report["deployed"]]
    per_class = Table(("class", "precision", "recall", "F1", "support"),
                      [[c["class"], text.fraction(c["precision"]), text.fraction(c["recall"]),
                        text.fraction(c["f1"]), str(c["support"])]
                       for c in deployed["per_class"]])
    return {"variants": variants, "pairs": pairs, "per_class": per_class,
            "layers": _layer_table(report), "agreement": _agreement_table(report),
            "binary": _binary_table(stats), "data": _data_table(report["data"]),
            "training": _training_table(report["training"]),
            "timings": Table(("stage", "seconds", "cached"),
                             [[n, f"{t['seconds']:.1f}", "yes" if t["cached"] else "no"]
                              for n, t in report["timings"].items()])}


def _layer_table(report: Mapping[str, Any]) -> Table:
    unit = report["verdict"].get("count_unit") or "instructions"
    key = "cycles" if unit == "cycles" else "instructions"
    layers = report["layers"]
    total = sum(layer[key] or 0 for layer in layers) or 1
    rows = [[str(layer["step"]), layer["type"], layer["kernel"] or text.DASH,
             "x".join(map(str, layer.get("output_shape") or [])) or text.DASH,
             text.count(layer["macs"]), text.count(layer["weight_bytes"]), weight_cell(layer),
             text.count(layer["arena_bytes_in_use"]), text.count(layer[key]),
             f"{100 * (layer[key] or 0) / total:.1f}%" if layer[key] is not None else text.DASH,
             text.count(layer["estimated_cycles"])] for layer in layers]
    return Table(("step", "op", "kernel", "output", "MACs", "weight bytes", "weights in C",
                  "arena in use", key, "share", "est. cycles"), rows, numeric_from=3,
                 css="compact")


def _agreement_table(report: Mapping[str, Any]) -> Table:
    return Table(("variant", "float twin", "test split", "seeded inputs"),
                 [[v["name"], v["agreement"]["twin"], f"{v['agreement']['test']:.4f}",
                   f"{v['agreement']['check']:.4f}"] for v in report["variants"]])


def _binary_table(stats: Mapping[str, Any]) -> Table:
    if stats["positive_class"] is None:
        return Table((), [])
    return Table(("variant", "ROC AUC", "average precision"),
                 [[name, text.fraction(v["roc"]["auc"]),
                   text.fraction(v["pr"]["average_precision"])]
                  for name, v in stats["variants"].items()])


def _data_table(data: Mapping[str, Any]) -> Table:
    counts = data["class_counts"]
    return Table(("class", "train", "val", "test"),
                 [[name, str(counts["train"][i]), str(counts["val"][i]), str(counts["test"][i])]
                  for i, name in enumerate(data["class_names"])])


def _training_table(training: Mapping[str, Any]) -> Table:
    rows = []
    for name, history in training.items():
        if not history:
            continue
        last = {k: (history.get(k) or [None])[-1] for k in ("loss", "accuracy", "val_accuracy")}
        rows.append([name, str(history.get("epochs", text.DASH)),
                     *(text.DASH if v is None else f"{v:.4f}" for v in last.values()),
                     f"{history.get('seconds', 0):.1f}"])
    return Table(("fit", "epochs", "loss", "accuracy", "val accuracy", "seconds"), rows)


def _notes(report: Mapping[str, Any]) -> dict[str, str]:
    stats = report["statistics"]
    method = stats["method"]
    data = report["data"]
    on_target = report.get("on_target") or {}
    memory = report["memory"]
    cycle = (on_target.get("cycle_estimate") or {})
    return {
        "method": (f"Paired on the same {stats['test_samples']} test samples. Intervals: "
                   f"percentile bootstrap, {method['bootstrap_resamples']} resamples, seed "
                   f"{method['bootstrap_seed']}. p: exact McNemar test (two-sided binomial "
                   "on the samples only one of the two gets right)."),
        "quality": (f"Macro F1 {stats['variants'][report['deployed']]['macro_f1']:.3f}; "
                    "expected calibration error "
                    f"{stats['variants'][report['deployed']]['calibration']['ece']:.3f}."),
        "data": (f"{data['description']}; split {data['split']}: {data['sizes']['train']} "
                 f"train, {data['sizes']['val']} validation, {data['sizes']['test']} test. "
                 "Checks: " + ("; ".join(data.get("warnings") or []) or "nothing found") + "."),
        "firmware": _firmware_note(report["verdict"], memory),
        "cycles": "; ".join(cycle.get("assumptions") or []),
        "cycle_source": cycle.get("source") or "",
        "budget": (f"{report['target_budget'].get('description') or report['target']}: "
                   f"{text.size(report['target_budget']['flash_bytes'])} flash, "
                   f"{text.size(report['target_budget']['ram_bytes'])} RAM, "
                   f"{report['target_budget']['clock_hz'] / 1e6:g} MHz."),
    }


def _firmware_note(verdict: Mapping[str, Any], memory: Mapping[str, Any]) -> str:
    parts = [f"Arena {memory['arena_bytes']:,} B (lower bound {memory['lower_bound']:,} B)."]
    if verdict.get("runtime_flash_bytes") is not None:
        parts.append(f"Firmware flash: model constants {verdict['model_constant_bytes']:,} B, "
                     f"runtime (kernels, invoke code, start-up, protocol) "
                     f"{verdict['runtime_flash_bytes']:,} B.")
    return " ".join(parts)


def view(report: Mapping[str, Any], plots: Sequence[Plot]) -> View:
    verdict = report["verdict"]
    return View(
        title=f"{report['deployed']} on {report['target']}",
        subtitle=(f"tinykit {report['tinykit_version']} · config {report['config_file']} "
                  f"(sha256 {report['config_hash'][:12]}) · seed {report['seed']}"),
        status=verdict["status"], reasons=list(verdict["reasons"]) or (
            [verdict["note"]] if not verdict["measured"] and verdict["note"] else []),
        cards=_cards(report), plots={p.key: p for p in plots}, tables=_tables(report),
        notes=_notes(report), config_json=json.dumps(report["config"], indent=2),
        files=list(report["files"]))


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("tinykit.report", "templates"),
        undefined=jinja2.StrictUndefined, autoescape=True, trim_blocks=True,
        lstrip_blocks=True)
    return environment.get_template("report.html.jinja")


def stylesheet() -> str:
    from importlib import resources

    return resources.files("tinykit.report").joinpath("templates", "report.css") \
        .read_text("utf-8")


def render_html(report: Mapping[str, Any], plots: Sequence[Plot] | None = None) -> str:
    """The HTML page of a validated report."""
    made = make_plots(report) if plots is None else plots
    return str(_template().render(v=view(report, made), css=stylesheet()))
