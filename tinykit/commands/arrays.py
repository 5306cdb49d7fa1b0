"""`tinykit arrays MODEL.tflite -o DIR`: the flatbuffer as C arrays for TensorFlow Lite Micro."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("."), show_default=True, help="Folder to write the files into.")
@click.option("--name", default="model", show_default=True,
              help="Symbol and file prefix: <name>_data.h, <name>_data[], <NAME>_DATA_LEN.")
@click.option("--labels", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Text file with one class name per line, emitted as <name>_class_names.")
def arrays(model: Path, out_dir: Path, name: str, labels: Path | None) -> None:
    """Write MODEL (.tflite) as <name>_data.h and <name>_data.c: a 16-byte-aligned const
    array with its length, input and output shapes, types, scales and zero points, the
    ops to register in a MicroMutableOpResolver and the least tensor arena TFLM needs."""
    from tinykit.codegen.arrays import write_arrays
    from tinykit.errors import ConfigError

    names: list[str] = []
    if labels is not None:
        try:
            names = [line.strip() for line in labels.read_text().splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read --labels {labels}: {exc}") from exc
    result = write_arrays(model, out_dir, name=name, labels=names)
    click.echo(f"wrote {result.header} and {result.source}: {result.model_bytes:,} bytes, "
               f"TFLM arena at least {result.arena_floor_bytes:,} bytes, "
               f"ops {', '.join(result.ops)}")
