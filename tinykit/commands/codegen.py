"""`tinykit codegen`: integer-only C99 for a .tflite, byte-exact with TFLite's kernels."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              required=True, help="Folder to write NAME.h, NAME.c and the shared kernels to.")
@click.option("--name", default="model", show_default=True,
              help="C prefix of every symbol and name of the header (NAME.h); lower case.")
@click.option("--weights", type=click.Choice(["auto", "dense", "packed"]), default="auto",
              show_default=True,
              help="Weight storage: packed (table indices, bitmaps of non-zeros) for the "
                   "layers where it saves flash, kernel code included; always dense; or "
                   "packed wherever a packed kernel runs.")
def codegen(model: Path, out_dir: Path, name: str, weights: str) -> None:
    """Generate a self-contained C99 folder that runs MODEL (.tflite) with no interpreter,
    no heap and no float in int8 paths. Build it with `cc -std=c99 -I DIR DIR/*.c app.c`.
    Several models may share one folder (and one copy of the kernels)."""
    from tinykit.codegen.generate import CodegenOptions
    from tinykit.codegen.generate import codegen as run
    from tinykit.ui import format_table, human_bytes

    result = run(CodegenOptions(model=model, out_dir=out_dir, name=name, weights=weights))
    sources = result.sources
    click.echo(f"wrote {', '.join(p.name for p in result.files)} to {result.out_dir}")
    click.echo(f"{sources.num_ops} ops, arena {sources.arena_bytes:,} bytes "
               f"({human_bytes(sources.arena_bytes)}), constant arrays "
               f"{sources.constant_bytes:,} bytes ({human_bytes(sources.constant_bytes)})")
    rows = []
    for kind, items in (("input", sources.inputs), ("output", sources.outputs)):
        for i, item in enumerate(items):
            t = item.tensor
            quant = t.quantization
            scale = f"{quant.scale[0]:.6g}" if quant and quant.scale else "-"
            zero = str(quant.zero_point[0]) if quant and quant.zero_point else "-"
            rows.append((f"{name}_{kind}({i})", t.dtype, str(list(t.shape)), t.nbytes, scale,
                         zero))
    click.echo(format_table(("buffer", "dtype", "shape", "bytes", "scale", "zero point"), rows))
    from tinykit.codegen.weights_table import weights_lines

    click.echo("\n".join(weights_lines(sources, weights)))
