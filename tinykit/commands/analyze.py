"""`tinykit analyze`: ops, MACs, the exact arena plan and, with --target, the fit verdict."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=True))
@click.option("--target", "-t", metavar="TARGET",
              help="Check flash and RAM against this target (see `tinykit targets`).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.option("--plan", "show_plan", is_flag=True,
              help="Print the arena plan: tensor, offset, size, first and last use.")
@click.option("--alignment", type=click.IntRange(min=1), default=1, show_default=True,
              help="Least byte alignment of every arena offset (a power of two up to 16); "
                   "tensors are aligned as their kernels need anyway. 16 lays the arena "
                   "out like TFLM (the C generator uses the default).")
@click.pass_context
def analyze(ctx: click.Context, model: Path, target: str | None, as_json: bool,
            show_plan: bool, alignment: int) -> None:
    """Read MODEL (.tflite): per-op shapes, quantization, weights and MACs, the memory
    plan, and with --target whether it fits. Exit status 1 means it does not fit."""
    from tinykit.errors import ConfigError
    from tinykit.tflite import render
    from tinykit.tflite.analyze import AnalyzeOptions
    from tinykit.tflite.analyze import analyze as run

    if alignment & (alignment - 1) or alignment > 16:
        raise ConfigError(f"--alignment {alignment} is not a power of two up to 16",
                          hint="use 1 (the default), 4, 8 or 16")
    result = run(AnalyzeOptions(model=model, target=target, alignment=alignment))
    click.echo(render.json_text(result) if as_json else render.text(result,
                                                                    show_plan=show_plan))
    if result.fit is not None and not result.fit.fits:
        ctx.exit(1)  # a verdict, not an error: no message beyond the numbers above
