"""The device half of a benchmark: talk to the firmware (QEMU or a board), build the result.

`run_in_qemu` and `run_on_port` differ only in where the pyserial port comes from;
`_converse` is the one conversation both use. `assemble` turns raw counter stamps into
instructions or cycles and compares outputs with the host.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tinykit.emulate import protocol as p
from tinykit.emulate.client import (
    BenchClient,
    DeviceRefused,
    DeviceTimeout,
    Link,
    SampleRun,
    open_port,
)
from tinykit.emulate.machines import Machine
from tinykit.emulate.qemu import qemu_binary, run_qemu
from tinykit.emulate.results import BenchResult, LayerCount, OutputMismatch
from tinykit.errors import EmulatorError, SerialError, TinykitError
from tinykit.firmware.build import FirmwareSizes, tool
from tinykit.firmware.render import FirmwareSpec

Progress = Callable[[str], None]
_HELLO_ATTEMPTS = 3
_HELLO_TIMEOUT_S = 2.0
_EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage fault", 5: "BusFault",
               6: "UsageFault", 7: "SecureFault"}


@dataclass(frozen=True)
class Prepared:
    """A built benchmark firmware."""

    spec: FirmwareSpec
    project: Path
    elf: Path
    sizes: FirmwareSizes
    #: The kernel and version each step runs ("tk_conv2d_im2col_s8 (dsp)"; "" for views).
    op_kernels: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceRuns:
    """Everything the device said: its INFO, op types, a per-layer run and plain runs."""

    info: p.DeviceInfo
    op_types: list[str]
    layered: SampleRun
    plain: list[SampleRun]


def require_qemu() -> None:
    qemu_binary()


def generate_c(model: Any, out_dir: Path, name: str) -> Any:
    """Write the model's C (tinykit codegen) into `out_dir`; returns its GeneratedSources."""
    from tinykit.codegen.generate import generate_sources, write_sources

    sources = generate_sources(model, name)
    write_sources(sources, out_dir)
    return sources


def _quiet(_message: str) -> None:
    pass


def run(prepared: Prepared, inputs: list[list[bytes]], options: Any,
        say: Progress = _quiet, qemu_args: Sequence[str] = ()) -> DeviceRuns:
    """Run every sample on the device (`options.port`, else QEMU); user errors on trouble.

    A guest that stops answering becomes an EmulatorError (QEMU is stopped by then), a
    fault names the function it happened in. `qemu_args` go to QEMU (a plugin).
    """
    machine = prepared.spec.machine
    if options.port is None:
        assert machine is not None
        say(f"running {len(inputs)} sample(s) in QEMU {machine.name}")
        try:
            return run_in_qemu(prepared, inputs, options, say, qemu_args)
        except DeviceTimeout as exc:
            raise EmulatorError(
                f"QEMU ({machine.name}) stopped answering: {exc.message}; it was stopped",
                hint=f"raise --timeout (now {options.timeout:g} s) if the model is that slow; "
                     f"else debug the firmware with `make -C {prepared.project} qemu`",
            ) from exc
        except DeviceRefused as exc:
            raise explain_refusal(exc, prepared, EmulatorError) from exc
    say(f"running {len(inputs)} sample(s) on the device at {options.port}")
    try:
        return run_on_port(prepared, inputs, options, say)
    except DeviceRefused as exc:
        raise explain_refusal(exc, prepared, SerialError) from exc


def run_in_qemu(prepared: Prepared, inputs: list[list[bytes]], options: Any,
                say: Progress = _quiet, qemu_args: Sequence[str] = ()) -> DeviceRuns:
    machine = prepared.spec.machine
    assert machine is not None
    args = [*machine.qemu_args(prepared.spec.flash.length, prepared.spec.ram.length),
            *qemu_args]
    with run_qemu(args, prepared.elf, name=machine.name) as session:
        with open_port(session.url) as port:
            link = Link(port, name=f"firmware in QEMU {machine.name}", trace=options.trace)
            try:
                return _converse(BenchClient(link, invoke_timeout=options.timeout),
                                 prepared, inputs, say)
            except DeviceTimeout:
                session.check_alive()  # QEMU itself died: say so, with its last words
                raise


def run_on_port(prepared: Prepared, inputs: list[list[bytes]], options: Any,
                say: Progress = _quiet) -> DeviceRuns:
    with open_port(options.port, baud=options.baud) as port:
        link = Link(port, name=f"device on {options.port}", trace=options.trace)
        return _converse(BenchClient(link, invoke_timeout=options.timeout), prepared, inputs,
                         say)


def _hello(client: BenchClient) -> p.DeviceInfo:
    # A board may still be booting (or resetting as the port opens): ask a few times.
    for attempt in range(_HELLO_ATTEMPTS):
        try:
            return client.hello(timeout=_HELLO_TIMEOUT_S)
        except DeviceTimeout:
            if attempt == _HELLO_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _converse(client: BenchClient, prepared: Prepared, inputs: list[list[bytes]],
              say: Progress) -> DeviceRuns:
    info = _hello(client)
    check_info(info, prepared, [len(b) for b in inputs[0]])
    op_types = client.read_op_types()
    layered = client.run(inputs[0], per_layer=True)
    plain = []
    for index, sample in enumerate(inputs):
        plain.append(client.run(sample, per_layer=False))
        if len(inputs) > 1:
            say(f"  sample {index + 1}/{len(inputs)} done")
    return DeviceRuns(info, op_types, layered, plain)


def check_info(info: p.DeviceInfo, prepared: Prepared, input_bytes: Sequence[int]) -> None:
    """SerialError unless the device runs this firmware's protocol, model and counter."""
    spec = prepared.spec
    flash_hint = f"flash {prepared.project / 'build' / 'firmware.bin'} (tinykit flash) first"
    if info.version != p.VERSION:
        raise SerialError(f"the device speaks protocol version {info.version}, tinykit "
                          f"{p.VERSION}", hint=flash_hint)
    if info.model_id != spec.model_id:
        raise SerialError(
            f"the device runs firmware for another model (id 0x{info.model_id:08x}, this "
            f"model is 0x{spec.model_id:08x})", hint=flash_hint)
    if tuple(input_bytes) != info.input_bytes:
        raise SerialError(f"the device's inputs take {list(info.input_bytes)} bytes, the "
                          f"model's {list(input_bytes)}", hint=flash_hint)
    if info.counter_kind is p.CounterKind.ICOUNT_SYSTICK and (
            spec.machine is None or info.counter_hz != spec.machine.systick_hz):
        raise SerialError("the device counts QEMU SysTick ticks of another machine than "
                          f"this target's ({info.bsp}, {info.counter_hz} Hz)", hint=flash_hint)
    if info.init_status != 0:
        raise SerialError(f"the model's init function failed on the device "
                          f"(status {info.init_status})")


def explain_refusal(exc: DeviceRefused, prepared: Prepared,
                    kind: type[TinykitError]) -> TinykitError:
    """Turn an ERROR frame into a user error; a fault names the function it happened in."""
    error = exc.error
    if error.code != p.ErrorCode.FAULT:
        return kind(exc.message, hint=exc.hint)
    where = symbolize(prepared.elf, error.detail)
    name = _EXCEPTIONS.get(error.frame_type, f"exception {error.frame_type}")
    return kind(
        f"the firmware took a {name} at 0x{error.detail:08x}{where}",
        hint="this is a bug in the generated C or the firmware; please report it with the "
             f"model (the firmware is in {prepared.project})",
    )


def symbolize(elf: Path, address: int) -> str:
    """' in function (file:line)' for an address of the firmware, or '' if unknown."""
    try:
        out = subprocess.run([tool("addr2line"), "-f", "-e", str(elf), f"0x{address:x}"],
                             capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (TinykitError, OSError, subprocess.TimeoutExpired):
        return ""
    if len(out) >= 2 and out[0] and out[0] != "??":
        return f" in {out[0]} ({Path(out[1].split(' ')[0]).name})"
    return ""


# --- turning stamps into counts ------------------------------------------------------


def interval(info: p.DeviceInfo, machine: Machine | None, start: int, end: int) -> int:
    """Instructions (QEMU) or cycles (a board) between two raw counter stamps."""
    if info.counter_kind is p.CounterKind.ICOUNT_SYSTICK:
        assert machine is not None
        wraps = (end >> 24) - (start >> 24)
        return machine.instructions(end - start, wraps, info.isr_instructions)
    return end - start


def inference_count(info: p.DeviceInfo, machine: Machine | None, run: SampleRun) -> int:
    """One invoke, less the counter reads' own cost (measured by the device at start-up)."""
    total = interval(info, machine, run.result.start, run.result.end)
    return total - interval(info, machine, 0, info.overhead)


def compare_outputs(device: Sequence[SampleRun], host: Sequence[Sequence[np.ndarray]]
                    ) -> list[OutputMismatch]:
    mismatches = []
    for s, (run, expected) in enumerate(zip(device, host, strict=True)):
        for o, (got, want_array) in enumerate(zip(run.outputs, expected, strict=True)):
            want = np.ascontiguousarray(want_array).tobytes()
            if got == want:
                continue
            a = np.frombuffer(got, np.uint8)
            b = np.frombuffer(want, np.uint8) if len(want) == len(got) else a * 0
            diff = np.flatnonzero(a != b)
            first = int(diff[0]) if diff.size else 0
            mismatches.append(OutputMismatch(s, o, first, int(diff.size), int(a[first]),
                                             int(b[first])))
    return mismatches


def assemble(base: BenchResult, prepared: Prepared, runs: DeviceRuns, *,
             samples: Sequence[Any], reference: Sequence[Sequence[np.ndarray]] | None,
             reference_note: str) -> BenchResult:
    info, machine = runs.info, prepared.spec.machine
    counts = tuple(inference_count(info, machine, run) for run in runs.plain)
    stamps = runs.layered.stamps
    per_layer = tuple(
        LayerCount(i, runs.op_types[i], interval(info, machine, a, b),
                   prepared.op_kernels[i] if i < len(prepared.op_kernels) else "")
        for i, (a, b) in enumerate(zip(stamps, stamps[1:], strict=False))
    )
    hooked = inference_count(info, machine, runs.layered)
    note = base.note
    if runs.layered.outputs != runs.plain[0].outputs:
        note = "the run with the layer hook gave other outputs than the run without it"
    mismatches = compare_outputs(runs.plain, reference) if reference is not None else []
    outputs_match = None if reference is None else (not mismatches and not note)
    emulated = info.counter_kind is p.CounterKind.ICOUNT_SYSTICK
    return replace(
        base, ran=True, note=note, runner="qemu" if machine and emulated else "serial",
        machine=machine.name if machine and emulated else "",
        count_unit="instructions" if emulated else "cycles", samples=len(samples),
        outputs_match=outputs_match, reference=reference_note, mismatches=tuple(mismatches),
        counts=counts, per_layer=per_layer, hook_overhead=hooked - counts[0],
        sizes=prepared.sizes, counter_hz=info.counter_hz, firmware_elf=str(prepared.elf),
        project_dir=str(prepared.project),
    )
