"""`tinykit build`: data to a compressed int8 model, C arrays and a report, for one target."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command()
@click.option("--target", "-t", metavar="TARGET", default=lambda: os.environ.get(
    "TINYKIT_TARGET", "cortex-m4"), show_default="cortex-m4 or $TINYKIT_TARGET",
    help="Core or board to build for (see `tinykit targets`).")
@click.option("--config", "-c", "config", type=click.Path(path_type=Path, dir_okay=False),
              help="Project config (TOML). Default: the digits example.")
@click.option("--out", "-o", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder. Default: build/<target>.")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Cache of target-independent stages. Default: $TINYKIT_CACHE_DIR, else "
                   "cache/ beside the output folder.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set teacher.train.epochs=5 (repeatable).")
@click.option("--force", is_flag=True, help="Run every stage again, ignoring the cache.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary table.")
@click.pass_context
def build(ctx: click.Context, target: str, config: Path | None, out: Path | None,
          cache_dir: Path | None, overrides: tuple[str, ...], force: bool, quiet: bool) -> None:
    """Train a teacher, distill a student, prune, cluster and quantize it (PCQAT), convert
    to int8, evaluate every variant in tflite-runtime, check the fit on TARGET, write C
    arrays and tinykit's own C, benchmark the deployed model on TARGET's core in QEMU and
    write report.json/.md/.html. Unchanged stages are reused from the cache. Exit status 1
    when the deployed model does not fit TARGET or its outputs there differ."""
    from tinykit.build import BuildOptions
    from tinykit.build import build as run
    from tinykit.report import SUMMARY_HEADERS, summary_rows, verdict_lines

    result = run(BuildOptions(target=target, config=config, out=out, cache_dir=cache_dir,
                              overrides=overrides, force=force, quiet=quiet))
    report = result.report
    click.echo("")
    click.echo(_table(SUMMARY_HEADERS, summary_rows(report)))
    comparison = report.get("comparison") or {}
    drop = comparison.get("accuracy_drop_points")
    relation = "" if drop is None else (
        f", {abs(drop):.2f} points {'below' if drop > 0 else 'above'} the float teacher"
        if drop else ", as accurate as the float teacher")
    click.echo(f"\n* deployed: {report['deployed']}{relation}. flash, RAM and instructions "
               "of the deployed row: the linked firmware on the target; other rows: "
               "estimates from the .tflite.\n")
    click.echo("\n".join(verdict_lines(report)))
    click.echo(f"\n{result.out}: report.html, report.md, report.json, c/ (tinykit's C), "
               f"model_data.h/.c (TFLM arrays), *.tflite (build took {result.seconds:.1f} s)")
    if report["verdict"]["status"] == "FAIL":
        ctx.exit(1)  # a verdict, not an error: the reasons are printed above


def _table(headers: tuple[str, ...], rows: list[list[object]]) -> str:
    """Text table: the variant column left-aligned, the figures right-aligned."""
    cells = [list(headers), *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])
