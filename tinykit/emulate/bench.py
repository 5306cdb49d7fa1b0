"""`bench_model(options)`: generate C, build the firmware, run it on QEMU or a board, compare.

The steps, each timed in `BenchResult.seconds`:
1. refuse a model over the target's flash or RAM budget, with the numbers (before building);
2. `tinykit codegen` into WORK/c, the baremetal template into WORK/firmware, `make`;
3. seeded random inputs through tflite-runtime's reference kernels on the host;
4. the same inputs through the firmware, over the serial protocol: on the target's QEMU
   machine (`port=None`) or on a board (`port`, flashed beforehand with `tinykit flash`);
5. outputs compared byte for byte; counts turned into instructions (QEMU) or cycles.

Sample 0 runs twice, once with the layer hook (per-layer counts) and once without (the
total); both runs must give the same outputs. A target without an emulator and no port
gives a result with `ran=False` and the reason, so `tinykit build` can report it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tinykit.codegen.packing import weights_mode
from tinykit.emulate import budget, classcount, device, reference
from tinykit.emulate.results import BenchResult
from tinykit.errors import ModelError, ToolchainError
from tinykit.firmware.build import build_project, check_toolchain, firmware_sizes
from tinykit.firmware.render import firmware_spec, model_id_of, render_baremetal
from tinykit.targets import Target, load_target

Progress = Callable[[str], None]
#: C name of the model inside the benchmark firmware (functions model_init, ...).
MODEL_NAME = "model"
INVOKE_SYMBOL = f"{MODEL_NAME}_invoke"


@dataclass(frozen=True)
class BenchOptions:
    """What to benchmark where. `port` None means the target's core in QEMU."""

    model: Path
    target: str | None = None
    port: str | None = None
    samples: int = 3
    seed: int = 0
    #: Where the generated C and the firmware project go (kept for flashing or reading).
    work_dir: Path | None = None
    opt: str = "-O2"
    #: Seconds one inference may take before the device counts as hung.
    timeout: float = 120.0
    baud: int = 115_200
    #: Build the firmware a board would be flashed with (the board's own, for a board
    #: target), and stop there.
    build_only: bool = False
    #: Count executed instructions by class in QEMU (a TCG plugin) and estimate cycles.
    cycle_estimate: bool = True
    #: auto (packed weights where they save flash), dense or packed (tinykit.codegen.packing)
    weights: str = "auto"
    trace: Callable[[str], None] | None = field(default=None, compare=False)


def default_work_dir(model: Path, target: str) -> Path:
    return Path("build") / "bench" / f"{model.stem}-{target}"


def bench_model(options: BenchOptions, progress: Progress | None = None) -> BenchResult:
    """Benchmark one model on one target; see the module docstring for the steps."""
    say = progress or (lambda _message: None)
    target = load_target(options.target)
    model_path = Path(options.model)
    if not model_path.is_file():
        raise ModelError(f"model file {model_path} does not exist",
                         hint="pass the path of a .tflite file")
    if options.samples < 1:
        raise ModelError(f"--samples must be at least 1, not {options.samples}")
    emulated = options.port is None
    base = BenchResult(target=target.name, model=str(model_path), port=options.port or "",
                       flash_budget=target.flash_bytes, ram_budget=target.ram_bytes,
                       clock_hz=target.clock_hz)
    if emulated and not target.has_emulator:
        return replace(base, note=f"target '{target.name}' has no emulator (its core has no "
                                  "QEMU machine); benchmark it on the board with --port")
    check_toolchain()
    if emulated:
        device.require_qemu()
    seconds: dict[str, float] = {}
    model, prepared = prepare(options, target, seconds, say)
    work = _work_dir(options, target)
    with _timed(seconds, "host_reference"):
        say("running the host reference (tflite-runtime, reference kernels)")
        samples = reference.make_samples(model, options.samples, options.seed)
        expected, reference_note = reference.host_reference(
            model_path, model, samples, seed=options.seed, c_dir=work / "c", name=MODEL_NAME)
    profiler, why_not = _profiler(options, target, prepared, work) if emulated else (None, "")
    with _timed(seconds, "device"):
        inputs = [[np.ascontiguousarray(a).tobytes() for a in sample] for sample in samples]
        runs = device.run(prepared, inputs, options, say,
                          qemu_args=profiler.qemu_args if profiler else ())
    result = device.assemble(
        replace(base, model_sha256=model.sha256, seconds=seconds), prepared, runs,
        samples=samples, reference=expected, reference_note=reference_note,
    )
    machine = prepared.spec.machine
    overhead = device.interval(runs.info, machine, 0, runs.info.overhead) if machine else None
    return classcount.attach_estimate(result, profiler, why_not, overhead)


def _profiler(options: BenchOptions, target: Target, prepared: device.Prepared, work: Path
              ) -> tuple[classcount.Profiler | None, str]:
    """The instruction-class profiler for this run, or None and why there is none."""
    if not options.cycle_estimate:
        return None, ""
    try:
        profiler = classcount.prepare_profiler(prepared.elf, target.core, work / "cycles",
                                               arch=target.arch, invoke_symbol=INVOKE_SYMBOL)
    except ToolchainError as exc:
        return None, f"no cycle estimate: {exc.message}"
    except classcount.Unavailable as exc:
        return None, f"no cycle estimate: {exc}"
    spec = prepared.spec
    assert spec.machine is not None
    refusal = classcount.plugin_refusal(
        profiler, spec.machine.qemu_args(spec.flash.length, spec.ram.length))
    if refusal:
        return None, f"no cycle estimate: {refusal}"
    return profiler, ""


@contextlib.contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        seconds[name] = time.monotonic() - start


def _work_dir(options: BenchOptions, target: Target) -> Path:
    return Path(options.work_dir or default_work_dir(Path(options.model), target.name))


def prepare(options: BenchOptions, target: Target, seconds: dict[str, float] | None = None,
            progress: Progress | None = None) -> tuple[Any, device.Prepared]:
    """Check the budget, generate the C and build the benchmark firmware; no device yet.

    Returns the model (IR) and the built firmware. Raises BudgetError before building
    when the model cannot fit, ToolchainError when the compiler is missing or fails.
    """
    say = progress or (lambda _message: None)
    seconds = {} if seconds is None else seconds
    check_toolchain()
    with _timed(seconds, "budget"):
        model = budget.check_before_build(Path(options.model), target)
    work = _work_dir(options, target)
    # A core target has no board of its own: with --port it talks to its QEMU firmware
    # started by hand (`make qemu` in the project), so that is what gets built.
    on_board = options.port is not None or options.build_only
    emulated = not on_board or target.kind == "core"
    c_dir = work / "c"
    with _timed(seconds, "codegen"):
        say(f"generating C into {c_dir}")
        with weights_mode(options.weights):
            sources = device.generate_c(model, c_dir, MODEL_NAME)
        budget.check_needs(target, constants=budget.constant_bytes(model),
                           arena=int(sources.arena_bytes))
    spec = firmware_spec(target, emulated=emulated, model_name=MODEL_NAME,
                         model_id=model_id_of(options.model), opt=options.opt)
    with _timed(seconds, "build"):
        where = f"QEMU {spec.machine.name}" if spec.machine else spec.support.title
        say(f"building the firmware for {where} in {work / 'firmware'}")
        project = render_baremetal(spec, c_dir, work / "firmware")
        elf = build_project(project)
        sizes = firmware_sizes(elf, MODEL_NAME)
    return model, device.Prepared(spec=spec, project=project, elf=elf, sizes=sizes,
                                  op_kernels=_op_kernels(sources, target))


def _op_kernels(sources: Any, target: Target) -> tuple[str, ...]:
    """The kernel and version each step runs on this target (what `model_op_kernel` says),
    and the format of packed weights ("tk_conv2d_packed_s8 (dsp) [sparse+idx4]")."""
    from tinykit.codegen.kernels import kernel_label

    formats = tuple(sources.op_weights) or ("",) * len(sources.op_kernels)
    return tuple(kernel_label(k, target.features, target.arch) +
                 (f" [{w}]" if w not in ("", "dense") else "")
                 for k, w in zip(sources.op_kernels, formats, strict=True))
