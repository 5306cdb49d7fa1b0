"""`tinykit verify`: run the generated C on the host and compare it with tflite-runtime."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--samples", "-n", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many seeded inputs to run.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the inputs.")
@click.option("--cc", metavar="COMPILER", help="Host C compiler (default: $CC, cc, gcc, clang).")
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False),
              help="Keep the generated C and the host build in this folder.")
@click.option("--weights", type=click.Choice(["auto", "dense", "packed"]), default="auto",
              show_default=True,
              help="Weight storage: packed where it saves flash, always dense, or packed "
                   "wherever a packed kernel runs.")
def verify(model: Path, samples: int, seed: int, cc: str | None, keep: Path | None,
           weights: str) -> None:
    """Generate MODEL's C, build it with the host compiler, run seeded inputs through it
    and through tflite-runtime (reference kernels), and print per output the fraction of
    exactly equal elements and the largest difference. Exit status 1 on any mismatch."""
    from tinykit.codegen.verify import VerifyOptions
    from tinykit.codegen.verify import verify as run
    from tinykit.ui import format_table

    def progress(message: str) -> None:
        click.echo(f"... {message}", err=True)

    result = run(VerifyOptions(model=model, samples=samples, seed=seed, cc=cc, keep=keep,
                               weights=weights), progress)
    rows = [
        (c.index, c.name[:40], c.dtype, str(list(c.shape)), f"{100 * c.exact_fraction:.2f}%",
         f"{c.max_abs_diff:g}", f"{c.mismatched_samples}/{result.samples}")
        for c in result.outputs
    ]
    click.echo(format_table(("output", "name", "dtype", "shape", "exact", "max diff",
                             "samples differing"), rows))
    for warning in result.warnings:
        click.secho(f"note: {warning}", fg="yellow")
    t = result.timings
    timing = ", ".join(f"{key} {value:.2f} s" for key, value in t.items())
    if result.ok:
        click.secho(f"PASS: every output byte of {result.samples} samples matches "
                    f"tflite-runtime (reference kernels) [{timing}]", fg="green")
    else:
        if result.first_divergence:
            click.echo(result.first_divergence)
        click.secho(f"FAIL: the generated C differs from tflite-runtime [{timing}]", fg="red")
        raise SystemExit(1)
