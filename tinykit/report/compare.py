"""`tinykit compare`: several builds side by side, from their report.json files.

Each build is one column: target and budget, config, the deployed model's accuracy with
its interval, flash and RAM against the budget, instructions (and estimated cycles and
latency) per inference, outputs on the target and the verdict. When two builds evaluated
their deployed models on the very same test samples (equal labels in predictions.npz),
each later build is also compared with the first one, paired: the accuracy difference
with its bootstrap interval and the exact McNemar p-value. The same model on two targets
gives identical predictions, so only the costs differ; two configs give a real test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinykit.errors import ReportError
from tinykit.report import text
from tinykit.report.validate import load_report


@dataclass(frozen=True)
class Build:
    folder: Path
    report: dict[str, Any]

    @property
    def label(self) -> str:
        return self.folder.name or str(self.folder)


def load_builds(folders: Sequence[str | Path]) -> list[Build]:
    """The validated reports of each folder (ReportError names the one that fails)."""
    if len(folders) < 2:
        raise ReportError("compare needs at least two build folders",
                          hint="e.g. `tinykit compare build/cortex-m4 build/cortex-m7`")
    builds = []
    for folder in folders:
        path = Path(folder)
        builds.append(Build(path if path.is_dir() else path.parent, load_report(path)))
    return builds


def _paired(first: Build, other: Build) -> dict[str, Any] | None:
    from tinykit.report.predictions import compare_deployed, load_predictions

    try:
        a = load_predictions(first.folder / "predictions.npz")
        b = load_predictions(other.folder / "predictions.npz")
    except ReportError:
        return None
    return compare_deployed(a, b, first.report["deployed"], other.report["deployed"])


def comparison(builds: Sequence[Build]) -> dict[str, Any]:
    """The comparison as JSON-able data (what `--json` prints)."""
    columns = []
    for number, build in enumerate(builds):
        report = build.report
        deployed = next(v for v in report["variants"] if v["name"] == report["deployed"])
        figures = report["statistics"]["variants"][report["deployed"]]
        columns.append({
            "build": str(build.folder), "target": report["target"],
            "budget": report["target_budget"], "config_file": report["config_file"],
            "config_hash": report["config_hash"], "deployed": report["deployed"],
            "model_sha256": deployed["sha256"], "tflite_bytes": deployed["tflite_bytes"],
            "accuracy": figures["accuracy"], "accuracy_ci": figures["accuracy_ci"],
            "test_samples": figures["samples"], "verdict": report["verdict"],
            "vs_first": _paired(builds[0], build) if number else None,
        })
    same_model = len({c["model_sha256"] for c in columns}) == 1
    return {"builds": columns, "same_model": same_model}


def _rows(data: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    columns = data["builds"]

    def each(fn: Any) -> list[str]:
        return [fn(c) for c in columns]

    def clock(c: Mapping[str, Any]) -> str:
        return f"{c['budget']['core']}, {c['budget']['clock_hz'] / 1e6:g} MHz"

    def paired(c: Mapping[str, Any]) -> str:
        pair = c["vs_first"]
        if c is columns[0]:
            return "(reference)"
        if pair is None:
            return "not paired: different test samples"
        return (f"{text.points(pair['difference'])} "
                f"{text.interval(pair['difference_ci'], points=True)}, "
                f"McNemar p {text.p_value(pair['mcnemar_p'])}")

    return [
        ("target", each(lambda c: c["target"])),
        ("core, clock", each(clock)),
        ("config", each(lambda c: f"{c['config_file']} ({c['config_hash'][:10]})")),
        ("deployed model", each(lambda c: f"{c['deployed']} ({c['model_sha256'][:10]})")),
        ("accuracy, 95% CI", each(lambda c: f"{text.accuracy(c['accuracy'])} "
                                  f"{text.interval(c['accuracy_ci'])}")),
        ("vs the first build", each(paired)),
        ("flash", each(lambda c: text.resource(c["verdict"]["flash"]))),
        ("RAM", each(lambda c: text.resource(c["verdict"]["ram"]))),
        ("per inference", each(lambda c: text.cost(c["verdict"]))),
        ("latency", each(lambda c: text.latency(c["verdict"]))),
        ("outputs on target", each(lambda c: {True: "byte-exact", False: "DIFFER",
                                              None: "not compared"}[
                                                  c["verdict"]["outputs_match"]])),
        ("verdict", each(lambda c: c["verdict"]["status"])),
    ]


def render_text(data: Mapping[str, Any]) -> str:
    """The comparison for a terminal: one row per figure, one column per build."""
    from tinykit.ui import format_table

    headers = ["", *[Path(c["build"]).name for c in data["builds"]]]
    table = format_table(headers, [[label, *cells] for label, cells in _rows(data)])
    return table + "\n\n" + _footnote(data)


def _footnote(data: Mapping[str, Any]) -> str:
    lines = ["Latency is an ESTIMATE at each target's clock; flash and RAM are the linked "
             "firmware's where the build benchmarked it."]
    if data["same_model"]:
        lines.append("Every build deploys the same model (equal SHA-256): accuracy is the "
                     "same, only the costs on the targets differ.")
    return " ".join(lines)


def render_markdown(data: Mapping[str, Any]) -> str:
    headers = ["", *[f"`{c['build']}`" for c in data["builds"]]]
    lines = ["# tinykit compare", "", "| " + " | ".join(headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join([label, *cells]).replace("\n", " ") + " |"
              for label, cells in _rows(data)]
    return "\n".join([*lines, "", _footnote(data), ""])


def render_html(data: Mapping[str, Any]) -> str:
    """A self-contained page: the table and the accuracy/cost plot of every build."""
    from html import escape

    from tinykit.report.html import stylesheet
    from tinykit.report.plots_compare import compare_plot
    from tinykit.report.plotting import style, to_svg

    with style():
        figure, caption = compare_plot(data)
        svg = to_svg(figure, "compare")
    head = "".join(f"<th>{escape(Path(c['build']).name)}</th>" for c in data["builds"])
    body = "".join(f"<tr><th>{escape(label)}</th>"
                   + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>"
                   for label, cells in _rows(data))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\"><title>tinykit compare</title><style>"
            f"{stylesheet()}</style></head><body><header><div class=\"brand\">tinykit</div>"
            "<h1>Builds side by side</h1></header><main><section><div class=\"table-wrap\">"
            f"<table class=\"compare\"><thead><tr><th></th>{head}</tr></thead><tbody>{body}"
            f"</tbody></table></div><p class=\"note\">{escape(_footnote(data))}</p>"
            f"<figure class=\"plot\" data-plot=\"compare\">{svg}<figcaption>"
            f"{escape(caption)}</figcaption></figure></section></main></body></html>\n")


#: Output suffix -> renderer, for `tinykit compare -o FILE`.
RENDERERS = {".md": render_markdown, ".html": render_html}
