"""`tinykit bench`: run a model as firmware on the target's core in QEMU, or on a board."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--target", "-t", envvar="TINYKIT_TARGET", default=None,
              help="Target name (tinykit targets); default $TINYKIT_TARGET or cortex-m4.")
@click.option("--port", "-p", envvar="TINYKIT_PORT", default=None,
              help="Serial port of a board flashed with the benchmark firmware (/dev/ttyACM0, "
                   "or a pyserial URL such as socket://127.0.0.1:4321); default $TINYKIT_PORT. "
                   "Without it the target's core runs in QEMU.")
@click.option("--qemu", "force_qemu", is_flag=True,
              help="Run in QEMU even when $TINYKIT_PORT is set.")
@click.option("--samples", "-n", default=3, show_default=True, type=click.IntRange(1, 1000),
              help="Random inputs to run and compare with the host.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--out", "-o", "work_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for the generated C and the firmware project "
                   "[default: build/bench/MODEL-TARGET].")
@click.option("--opt", default="-O2", show_default=True,
              type=click.Choice(["-O0", "-O1", "-O2", "-O3", "-Os", "-Oz"]),
              help="Optimisation level of the firmware build.")
@click.option("--timeout", default=120.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds one inference may take before the device counts as hung.")
@click.option("--baud", default=115_200, show_default=True, help="Baud rate of --port.")
@click.option("--build-only", is_flag=True,
              help="Only build the firmware (a board target's own, ready to flash) and say "
                   "where it is.")
@click.option("--cycle-estimate/--no-cycle-estimate", default=True, show_default=True,
              help="In QEMU, count executed instructions by class (a TCG plugin built with "
                   "the host C compiler) and estimate cycles from the core's published "
                   "timings.")
@click.option("--weights", type=click.Choice(["auto", "dense", "packed"]), default="auto",
              show_default=True,
              help="Weight storage: packed (table indices, bitmaps of non-zeros) where it "
                   "saves flash, always dense, or packed wherever a packed kernel runs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.option("--trace", is_flag=True, help="Hex-dump every frame to stderr.")
def bench(model: Path, target: str | None, port: str | None, force_qemu: bool, samples: int,
          seed: int, work_dir: Path | None, opt: str, timeout: float, baud: int,
          build_only: bool, cycle_estimate: bool, weights: str, as_json: bool,
          trace: bool) -> None:
    """Build MODEL as firmware for the target and run it: in QEMU, or on a board with --port.

    Reports whether every output equals the host run (tflite-runtime's reference kernels)
    byte for byte, the instructions (QEMU) or cycles (board) per inference in total and
    per layer, in QEMU the executed instructions by class and the cycles they would take
    on the core (an estimate from Arm's published timings), and the firmware's flash and
    RAM. Exits 1 when the outputs differ or the
    firmware is over the target's budget.
    """
    from tinykit.emulate.bench import BenchOptions, bench_model, prepare
    from tinykit.targets import load_target

    def say(message: str) -> None:
        click.echo(f"tinykit bench: {message}", err=True)

    def trace_frame(line: str) -> None:
        click.echo(f"  {line}", err=True)

    options = BenchOptions(
        model=model, target=target, port=None if force_qemu else port, samples=samples,
        seed=seed, work_dir=work_dir, opt=opt, timeout=timeout, baud=baud,
        build_only=build_only, cycle_estimate=cycle_estimate, weights=weights,
        trace=trace_frame if trace else None,
    )
    if build_only:
        _model, prepared = prepare(options, load_target(target), progress=say)
        sizes = prepared.sizes
        if as_json:
            payload = {"firmware": str(prepared.elf), "project": str(prepared.project),
                       "bsp": prepared.spec.support.name, **sizes.to_json()}
            click.echo(json.dumps(payload, indent=2))
        else:
            click.echo(f"{prepared.elf.with_suffix('.bin')} ({prepared.spec.support.title}): "
                       f"flash {sizes.flash_bytes:,} B, RAM {sizes.ram_bytes:,} B")
        return
    result = bench_model(options, progress=say)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(result.summary())
    if result.ran and (result.outputs_match is False or result.fits is False):
        raise click.exceptions.Exit(1)
