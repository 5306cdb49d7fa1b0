"""The build report: report.json (schema in `tinykit.report.assemble`) and report.md."""

from __future__ import annotations

import json
from typing import Any

from tinykit.fsutil import write_text_atomic
from tinykit.report.assemble import SCHEMA_VERSION, assemble
from tinykit.report.markdown import SUMMARY_HEADERS, render, summary_rows

__all__ = ["SCHEMA_VERSION", "SUMMARY_HEADERS", "assemble", "render", "report_stage",
           "summary_rows"]


def report_stage(ctx: Any) -> dict[str, Any]:
    """Last build stage: write report.md, then report.json (its presence marks a complete
    build folder); the summary is the report itself."""
    files = [p.name for p in ctx.out.iterdir() if p.is_file() and not p.name.startswith(".")]
    report = assemble(ctx, [*files, "report.json", "report.md"])
    write_text_atomic(ctx.out / "report.md", render(report))
    write_text_atomic(ctx.out / "report.json", json.dumps(report, indent=2) + "\n")
    return report
