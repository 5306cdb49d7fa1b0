"""`tinykit compare`: several builds side by side (targets, configs), from their reports."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("build_dirs", nargs=-1, required=True, metavar="BUILD_DIR BUILD_DIR...",
                type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the comparison to FILE: .html (self-contained, with a plot) "
                   "or .md.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def compare(build_dirs: tuple[Path, ...], output: Path | None, as_json: bool) -> None:
    """Put the builds in BUILD_DIRs side by side: accuracy with its interval, flash, RAM,
    instructions and estimated latency on each target, and the verdict. Builds tested on
    the same samples are also compared paired (difference interval, McNemar p)."""
    from tinykit.errors import ConfigError
    from tinykit.fsutil import write_text_atomic
    from tinykit.report.compare import RENDERERS, comparison, load_builds, render_text

    renderer = None
    if output is not None:
        renderer = RENDERERS.get(output.suffix.lower())
        if renderer is None:
            raise ConfigError(f"cannot write a comparison as '{output.suffix}'",
                              hint=f"name the file with one of: {', '.join(RENDERERS)}")
    data = comparison(load_builds(build_dirs))
    click.echo(json.dumps(data, indent=2) if as_json else render_text(data))
    if output is not None and renderer is not None:
        write_text_atomic(output, renderer(data))
        if not as_json:
            click.echo(f"\nwritten: {output}")
