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

from tinykit.emulate import budget, device
from tinykit.emulate.client import DeviceRefused, DeviceTimeout
from tinykit.emulate.results import BenchResult
from tinykit.errors import EmulatorError, ModelError, SerialError
from tinykit.firmware.build import build_project, check_toolchain, firmware_sizes
from tinykit.firmware.render import firmware_spec, model_id_of, render_baremetal
from tinykit.targets import Target, load_target

Progress = Callable[[str], None]
#: C name of the model inside the benchmark firmware (functions model_init, ...).
MODEL_NAME = "model"


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
    with _timed(seconds, "budget"):
        model = budget.check_before_build(model_path, target)
    work = Path(options.work_dir or default_work_dir(model_path, target.name))
    prepared = _prepare(options, target, model, work, seconds, say)
    with _timed(seconds, "host_reference"):
        say("running the host reference (tflite-runtime, reference kernels)")
        samples = make_samples(model, options.samples, options.seed)
        reference, reference_note = host_reference(model_path, samples)
    with _timed(seconds, "device"):
        runs = _run_device(options, target, prepared, samples, say)
    return device.assemble(
        replace(base, model_sha256=model.sha256, seconds=seconds), prepared, runs,
        samples=samples, reference=reference, reference_note=reference_note,
    )


@contextlib.contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        seconds[name] = time.monotonic() - start


def _prepare(options: BenchOptions, target: Target, model: Any, work: Path,
             seconds: dict[str, float], say: Progress) -> device.Prepared:
    # A core target has no board of its own: with --port it talks to its QEMU firmware
    # started by hand (`make qemu` in the project), so that is what gets built.
    emulated = options.port is None or target.kind == "core"
    c_dir = work / "c"
    with _timed(seconds, "codegen"):
        say(f"generating C into {c_dir}")
        arena = device.generate_c(model, c_dir, MODEL_NAME)
        budget.check_needs(target, constants=budget.constant_bytes(model), arena=arena)
    spec = firmware_spec(target, emulated=emulated, model_name=MODEL_NAME,
                         model_id=model_id_of(options.model), opt=options.opt)
    with _timed(seconds, "build"):
        where = f"QEMU {spec.machine.name}" if spec.machine else spec.support.title
        say(f"building the firmware for {where} in {work / 'firmware'}")
        project = render_baremetal(spec, c_dir, work / "firmware")
        elf = build_project(project)
        sizes = firmware_sizes(elf, MODEL_NAME)
    return device.Prepared(spec=spec, project=project, elf=elf, sizes=sizes)


def make_samples(model: Any, count: int, seed: int) -> list[list[np.ndarray]]:
    """Seeded random inputs in each input's dtype and shape (full range for integers)."""
    rng = np.random.default_rng(seed)
    subgraph = model.main
    samples = []
    for _ in range(count):
        sample = []
        for index in subgraph.inputs:
            tensor = subgraph.tensors[index]
            dtype = np.dtype(tensor.dtype)
            if np.issubdtype(dtype, np.integer):
                info = np.iinfo(dtype)
                array = rng.integers(info.min, int(info.max) + 1, size=tensor.shape, dtype=dtype)
            else:
                array = rng.uniform(-1.0, 1.0, size=tensor.shape).astype(dtype)
            sample.append(array)
        samples.append(sample)
    return samples


def host_reference(model_path: Path, samples: list[list[np.ndarray]]
                   ) -> tuple[list[list[np.ndarray]] | None, str]:
    """Outputs from tflite-runtime's reference kernels, or None with the reason."""
    from tinykit.tflite import litert

    try:
        return litert.run_model(model_path, samples), \
            "tflite-runtime, reference kernels (BUILTIN_REF)"
    except ModelError as exc:
        return None, f"no host reference: {exc.message}"


def _run_device(options: BenchOptions, target: Target, prepared: device.Prepared,
                samples: list[list[np.ndarray]], say: Progress) -> device.DeviceRuns:
    inputs = [[np.ascontiguousarray(a).tobytes() for a in sample] for sample in samples]
    spec = prepared.spec
    if options.port is None:
        machine = spec.machine
        assert machine is not None
        say(f"running {len(samples)} sample(s) in QEMU {machine.name}")
        try:
            return device.run_in_qemu(prepared, inputs, options)
        except DeviceTimeout as exc:
            raise EmulatorError(
                f"QEMU ({machine.name}) stopped answering: {exc.message}; it was stopped",
                hint=f"raise --timeout (now {options.timeout:g} s) if the model is that slow; "
                     f"else debug the firmware with `make -C {prepared.project} qemu`",
            ) from exc
        except DeviceRefused as exc:
            raise device.explain_refusal(exc, prepared, EmulatorError) from exc
    say(f"running {len(samples)} sample(s) on the board at {options.port}")
    try:
        return device.run_on_port(prepared, inputs, options)
    except DeviceRefused as exc:
        raise device.explain_refusal(exc, prepared, SerialError) from exc
