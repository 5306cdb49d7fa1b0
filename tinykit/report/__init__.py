"""The build report: report.json (schema: tinykit/report/schema/report-v1.json), report.md
and report.html (one self-contained page with plots).

    report_stage(ctx)          the last build stage: assemble, validate, write all three
    render_build(build_dir)    `tinykit report`: report.md and report.html again from report.json
    load_report(path)          a validated report.json (ReportError when it is not)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinykit.fsutil import write_text_atomic
from tinykit.report.assemble import SCHEMA_VERSION, assemble
from tinykit.report.markdown import SUMMARY_HEADERS, render, summary_rows, verdict_lines
from tinykit.report.validate import check_report, load_report, schema_problems

__all__ = ["SCHEMA_VERSION", "SUMMARY_HEADERS", "RenderResult", "assemble", "check_report",
           "load_report", "render", "render_build", "report_stage", "summary_rows",
           "verdict_lines", "write_pages"]

REPORT_FILES = ("report.json", "report.md", "report.html")


@dataclass(frozen=True)
class RenderResult:
    """What `render_build` wrote and how long each part took (seconds)."""

    folder: Path
    files: tuple[Path, ...]
    seconds: dict[str, float]
    report: dict[str, Any]


def write_pages(report: dict[str, Any], folder: Path) -> tuple[dict[str, float], tuple[Path, ...]]:
    """Write report.md and report.html of a validated report into `folder`."""
    from tinykit.report.html import make_plots, render_html

    seconds = {}
    start = time.perf_counter()
    markdown = render(report)
    seconds["markdown"] = time.perf_counter() - start
    start = time.perf_counter()
    plots = make_plots(report)
    seconds["plots"] = time.perf_counter() - start
    start = time.perf_counter()
    page = render_html(report, plots)
    seconds["html"] = time.perf_counter() - start
    written = (write_text_atomic(folder / "report.md", markdown),
               write_text_atomic(folder / "report.html", page))
    return seconds, written


def render_build(build_dir: str | Path) -> RenderResult:
    """`tinykit report`: read and validate report.json, write report.md and report.html."""
    folder = Path(build_dir)
    start = time.perf_counter()
    report = load_report(folder)
    seconds = {"load": time.perf_counter() - start}
    folder = folder if folder.is_dir() else folder.parent
    more, files = write_pages(report, folder)
    seconds.update(more)
    return RenderResult(folder, files, seconds, report)


def report_stage(ctx: Any) -> dict[str, Any]:
    """Last build stage: write report.md and report.html, then report.json (its presence
    marks a complete build folder); the summary is the report itself."""
    files = [p.name for p in ctx.out.iterdir() if p.is_file() and not p.name.startswith(".")]
    files += [f"c/{p.name}" for p in sorted((ctx.out / "c").glob("*"))] \
        if (ctx.out / "c").is_dir() else []
    report = assemble(ctx, sorted({*files, *REPORT_FILES}))
    problems = schema_problems(report)
    if problems:  # tinykit wrote it: a bug, not something the user can fix
        raise RuntimeError("tinykit bug: the report it assembled does not match its schema: "
                           + "; ".join(problems))
    seconds, _ = write_pages(report, ctx.out)
    ctx.progress.info(f"report.md, report.html ({sum(seconds.values()):.1f} s): "
                      f"verdict {report['verdict']['status']}")
    write_text_atomic(ctx.out / "report.json", json.dumps(report, indent=2) + "\n")
    return report
