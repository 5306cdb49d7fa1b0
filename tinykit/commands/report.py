"""`tinykit report`: report.md and report.html of a build again, from its report.json."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command()
@click.argument("build_dir", type=click.Path(path_type=Path), metavar="[BUILD_DIR]",
                default=lambda: Path("build") / os.environ.get("TINYKIT_TARGET", "cortex-m4"))
@click.option("--check", is_flag=True,
              help="Only validate report.json against the schema; write nothing.")
def report(build_dir: Path, check: bool) -> None:
    """Validate BUILD_DIR/report.json against the report schema and write report.md and
    report.html (plots embedded, no network) beside it. BUILD_DIR defaults to
    build/$TINYKIT_TARGET (build/cortex-m4). Exit status 2 when the report is damaged or
    from another schema version."""
    from tinykit.report import load_report, render_build, verdict_lines

    if check:
        loaded = load_report(build_dir)
        click.echo(f"{build_dir}: report.json is valid (schema v{loaded['schema_version']}, "
                   f"tinykit {loaded['tinykit_version']})")
        return
    result = render_build(build_dir)
    click.echo("\n".join(verdict_lines(result.report)))
    total = sum(result.seconds.values())
    click.echo(f"\n{result.folder}: report.md, report.html (rendered in {total:.1f} s)")
