"""Count executed instructions by class in QEMU, with tinykit's TCG plugin, per inference.

    profiler = prepare_profiler(elf, "cortex-m4", work / "cycles")   # table + plugin
    runs = device.run(..., qemu_args=profiler.qemu_args)               # QEMU loads it
    profile = profiler.read()                                          # counts per invoke

`prepare_profiler` disassembles the firmware (arm-none-eabi-objdump), classifies every
instruction (`tinykit.emulate.isa`), decides where the core's timing relations hold
(`tinykit.emulate.cycles`) and writes the plugin's table; the plugin (plugin/tkcount.c)
is built once per source and host compiler and cached. The plugin stamps its counters
right after each load of SysTick's value register in the firmware's counter-reading
function, so the intervals it counts are the ones the firmware's SysTick stamps measure:
the plugin's totals equal the exact SysTick counts, which `attach_estimate` checks.
Interrupt handlers are excluded, as the firmware excludes its SysTick handler.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tinykit.emulate import cycles
from tinykit.emulate.cycles import CoreTiming
from tinykit.emulate.estimate import ClassCounts, CycleEstimate, build_estimate, estimate_cycles
from tinykit.emulate.isa import CLASS_INDEX, CLASSES, Insn, leaders, parse_listing
from tinykit.emulate.qemu import qemu_binary
from tinykit.emulate.results import BenchResult
from tinykit.errors import ToolchainError
from tinykit.firmware.build import tool
from tinykit.fsutil import write_bytes_atomic

PLUGIN_SOURCE = Path(__file__).with_name("plugin") / "tkcount.c"
#: The firmware's counter-reading function, and where SysTick's registers are (the PPB).
COUNTER_READ = "tkfw_counter_read"
PPB = (0xE000_0000, 0xE010_0000)
#: Interrupt handlers: the SysTick wrap handler is the counter's own cost, which the
#: firmware's counts exclude; the UART's may run at start-up inside the counter's
#: overhead measurement, between a stamp and the SysTick read.
EXCLUDED_FUNCTIONS = ("SysTick_Handler", "tkfw_uart_irq_handler", "tkfw_fault_entry")
_MAGIC, _VERSION = b"TKCT", 2
_FLAGS = {"branch": 1, "excluded": 2, "stamp": 4, "invoke_call": 8, "invoke_return": 16,
          "relation0": 32, "relation1": 64, "io": 128, "read_done": 256}
#: objdump decodes Helium only when told the architecture (ELF attributes do not suffice).
_OBJDUMP_ARCH = {"armv8.1-m.main": "armv8.1-m.main"}


def disassemble(elf: Path, arch: str = "") -> str:
    """`arm-none-eabi-objdump -d` of the firmware; raises ToolchainError on failure."""
    command = [tool("objdump"), "-d"]
    if arch in _OBJDUMP_ARCH:
        command += ["-m", _OBJDUMP_ARCH[arch]]
    proc = subprocess.run([*command, str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"arm-none-eabi-objdump could not read {elf}: "
                             f"{proc.stderr.strip()[-300:]}")
    return proc.stdout


_WORD_RE = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f]{8}) *\t\.word\t")
_IMMEDIATE_RE = re.compile(r"#(-?\d+)")
_LITERAL_RE = re.compile(r"\[pc, #-?\d+\]\s*@ \(([0-9a-f]+) ")


def literal_pool(text: str) -> dict[int, int]:
    """The 32-bit data words of an `objdump -d` listing (literal pools), by address."""
    words = {}
    for line in text.splitlines():
        match = _WORD_RE.match(line)
        if match:
            words[int(match.group(1), 16)] = int(match.group(2), 16)
    return words


def constant_address_loads(insns: list[Insn], literals: dict[int, int], function: str,
                           lo: int, hi: int) -> list[Insn]:
    """Loads of `function` whose address is a constant in [lo, hi) (a peripheral register).

    Follows the constants compilers build addresses from: MOV/MOVW/MOVT immediates and
    literal-pool loads; any other write to a register forgets its value.
    """
    known: dict[int, int] = {}
    found = []
    for insn in insns:
        if insn.function != function:
            continue
        dest = insn.writes.bit_length() - 1 if insn.writes else None
        literal = _LITERAL_RE.search(insn.operands)
        immediate = _IMMEDIATE_RE.search(insn.operands)
        if insn.cls == "load" and literal and dest is not None:
            value = literals.get(int(literal.group(1), 16))
            if value is None:
                known.pop(dest, None)
            else:
                known[dest] = value
            continue
        if insn.cls == "load" and bin(insn.address_regs).count("1") == 1:
            base = insn.address_regs.bit_length() - 1
            offset = int(immediate.group(1)) if immediate else 0
            if base in known and lo <= known[base] + offset < hi:
                found.append(insn)
        if dest is None:
            continue
        if insn.base in ("mov", "movw") and immediate and not insn.reads:
            known[dest] = int(immediate.group(1)) & 0xFFFFFFFF
        elif insn.base == "movt" and immediate and dest in known:
            known[dest] = (known[dest] & 0xFFFF) | (int(immediate.group(1)) << 16)
        else:
            for index in range(16):
                if insn.writes >> index & 1:
                    known.pop(index, None)
    return found

def relation_hits(insns: list[Insn], core: CoreTiming) -> list[tuple[bool, bool]]:
    """Where relation 0 and 1 of the core hold, per instruction, assuming execution comes
    from the instruction before (it does, except at `leaders`, where nothing holds)."""
    starts = leaders(insns)
    hits: list[tuple[bool, bool]] = []
    previous_hit0 = False
    for index, insn in enumerate(insns):
        prev = None if insn.address in starts else insns[index - 1]
        hit0 = hit1 = False
        if prev is not None:
            r0, r1 = core.relation0, core.relation1
            hit0 = r0 is not None and r0.holds(prev, insn) and \
                not (r0.disjoint and previous_hit0)
            hit1 = r1 is not None and r1.holds(prev, insn)
        hits.append((hit0, hit1))
        previous_hit0 = hit0
    return hits


def _leaves_function(insn: Insn, insns: list[Insn]) -> bool:
    """A branch out of its function: a return, an indirect branch, a tail call."""
    if not insn.branch or insn.cls in ("call", "call_reg"):
        return False
    if insn.target is None:
        return True
    return not any(i.address == insn.target and i.function == insn.function for i in insns)


def table_records(insns: list[Insn], core: CoreTiming, invoke_symbol: str,
                  io_loads: list[Insn]) -> bytes:
    """The plugin's table: a header, then one 12-byte record per instruction, by address.

    Record: address u32, size u8, class u8, registers moved u8, 0, flags u32 (`_FLAGS`).
    `io_loads` are the counter's SysTick loads: the instruction after each stamps, and
    the counter function's exits (returns, branches out) complete a read.
    """
    entries = {insn.function: insn.address for insn in reversed(insns)}
    io = {insn.address for insn in io_loads}
    stamps = {insn.fallthrough for insn in io_loads}
    invoke_address = entries.get(invoke_symbol)
    returns = {insn.fallthrough for insn in insns
               if insn.cls == "call" and insn.target == invoke_address}
    body = bytearray()
    for insn, (hit0, hit1) in zip(insns, relation_hits(insns, core), strict=True):
        flags = 0
        if insn.branch:
            flags |= _FLAGS["branch"]
        if insn.function in EXCLUDED_FUNCTIONS:
            flags |= _FLAGS["excluded"]
        if insn.address in io:
            flags |= _FLAGS["io"]
        if insn.address in stamps:
            flags |= _FLAGS["stamp"]
        if insn.function == COUNTER_READ and _leaves_function(insn, insns):
            flags |= _FLAGS["read_done"]
        if insn.cls == "call" and invoke_address is not None and insn.target == invoke_address:
            flags |= _FLAGS["invoke_call"]
        if insn.address in returns:
            flags |= _FLAGS["invoke_return"]
        flags |= (_FLAGS["relation0"] if hit0 else 0) | (_FLAGS["relation1"] if hit1 else 0)
        body += struct.pack("<IBBBxI", insn.address, insn.size, CLASS_INDEX[insn.cls],
                            min(insn.regs, 255), flags)
    header = struct.pack("<4sIII", _MAGIC, _VERSION, len(CLASSES), len(insns))
    return header + bytes(body)


def _compiler_identity(compiler: str) -> str:
    path = shutil.which(compiler) or compiler
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    return f"{os.path.realpath(path)}\0{version}"


def plugin_library(compiler: str | None = None) -> Path:
    """The built plugin (a shared object), compiled on first use and cached by source and
    compiler in the temp folder. Raises ToolchainError without a host C compiler."""
    from tinykit.emulate.host import find_host_compiler

    cc = find_host_compiler(compiler)
    source = PLUGIN_SOURCE.read_bytes()
    flags = ["-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-std=gnu11", "-Wall",
             "-Wextra", "-Werror"]
    key = hashlib.sha256(source + _compiler_identity(cc).encode() + " ".join(flags).encode())
    folder = Path(tempfile.gettempdir()) / "tinykit-qemu-plugin"
    library = folder / f"tkcount-{key.hexdigest()[:20]}.so"
    if library.is_file():
        return library
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{library.name}.{os.getpid()}.tmp"
    proc = subprocess.run([cc, *flags, str(PLUGIN_SOURCE), "-o", str(partial)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise ToolchainError(f"{cc} could not build the QEMU plugin {PLUGIN_SOURCE.name}:\n"
                             f"{proc.stderr.strip()[-1500:]}",
                             hint="this is a tinykit bug; please report it with the output")
    os.replace(partial, library)  # atomic: a cached library is always complete
    return library


@dataclass(frozen=True)
class InvokeProfile:
    """Class counts of one invoke: from the counter read before it to the one after, and
    between the layer hook's reads (one more than the layers, or none without the hook)."""

    total: ClassCounts
    stamps: tuple[ClassCounts, ...]

    @property
    def layers(self) -> list[ClassCounts]:
        return [b - a for a, b in zip(self.stamps, self.stamps[1:], strict=False)]


@dataclass(frozen=True)
class Profile:
    """Everything the plugin saw: the counter's own overhead and every invoke, in order."""

    overhead: ClassCounts
    invokes: tuple[InvokeProfile, ...]


def _vector(fields: list[str]) -> ClassCounts:
    n = len(CLASSES)
    values = [int(v) for v in fields]
    if len(values) != 2 + 5 * n:
        raise ValueError(f"a plugin line has {len(values)} numbers, expected {2 + 5 * n}")
    kinds = [tuple(values[2 + k * n: 2 + (k + 1) * n]) for k in range(5)]
    return ClassCounts.of(kinds, untabled=values[0], excluded=values[1])


def parse_output(text: str) -> Profile:
    """The plugin's lines (O, S, H, E; see plugin/tkcount.c) as a `Profile`.

    Raises ValueError when they do not form: two O lines, then S [H...] E per invoke.
    """
    overhead_stamps: list[ClassCounts] = []
    invokes: list[InvokeProfile] = []
    start: ClassCounts | None = None
    hooks: list[ClassCounts] = []
    for line in text.splitlines():
        tag, *fields = line.split()
        counts = _vector(fields)
        if tag == "O":
            overhead_stamps.append(counts)
        elif tag == "S":
            start, hooks = counts, []
        elif tag == "H" and start is not None:
            hooks.append(counts)
        elif tag == "E" and start is not None:
            invokes.append(InvokeProfile(counts - start, tuple(hooks)))
            start = None
        else:
            raise ValueError(f"unexpected plugin line {tag!r}")
    if len(overhead_stamps) != 2:
        raise ValueError(f"{len(overhead_stamps)} overhead stamps, expected 2")
    return Profile(overhead_stamps[1] - overhead_stamps[0], tuple(invokes))


@dataclass(frozen=True)
class Profiler:
    """A firmware ready to be profiled: its table, the plugin and where the counts go."""

    core: CoreTiming
    table: Path
    output: Path
    library: Path

    @property
    def qemu_args(self) -> list[str]:
        def escape(path: Path) -> str:
            return str(path).replace(",", ",,")  # QEMU's option syntax

        return ["-plugin", f"{escape(self.library)},table={escape(self.table)},"
                f"out={escape(self.output)}", "-d", "plugin"]

    def read(self) -> Profile:
        """The counts of the last QEMU run; ValueError when absent or malformed."""
        if not self.output.is_file():
            raise ValueError("the plugin wrote no counts")
        return parse_output(self.output.read_text())


def plugin_refusal(profiler: Profiler, machine_args: Sequence[str]) -> str:
    """Why this QEMU will not load the plugin, or "" when it does.

    QEMU loads plugins before the kernel: started with a kernel that does not exist, it
    stops at once, saying which of the two it could not load.
    """
    missing = profiler.table.with_name("no-kernel.elf")
    command = [qemu_binary(), *machine_args, "-display", "none", "-monitor", "none",
               "-nodefaults", *profiler.qemu_args, "-kernel", str(missing)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"QEMU could not be started with the plugin: {exc}"
    for line in proc.stderr.splitlines():
        if "plugin" in line.lower():
            return line.strip()
    return ""


class Unavailable(Exception):
    """No class counts for this firmware; the message says why."""


def prepare_profiler(elf: Path, core: str, folder: Path, *, arch: str = "",
                     invoke_symbol: str = "model_invoke") -> Profiler:
    """Table and plugin for counting `elf`'s instructions by class.

    Raises Unavailable when tinykit has no timing model for `core` or the firmware has
    no SysTick read to stamp at, ToolchainError without objdump or a host C compiler.
    """
    timing = cycles.core_timing(core)
    if timing is None:
        raise Unavailable(f"tinykit has no timing model for {core}")
    listing = disassemble(elf, arch)
    insns = list(parse_listing(listing))
    io_loads = constant_address_loads(insns, literal_pool(listing), COUNTER_READ, *PPB)
    if not io_loads:
        raise Unavailable(f"no SysTick read found in {COUNTER_READ} of {elf.name}")
    table = write_bytes_atomic(folder / "classes.bin",
                               table_records(insns, timing, invoke_symbol, io_loads))
    output = folder / "counts.txt"
    output.unlink(missing_ok=True)
    return Profiler(timing, table, output, plugin_library())


def estimates(profiler: Profiler, counts: tuple[int, ...], layer_counts: list[int],
              counter_overhead: int | None = None) -> CycleEstimate:
    """The estimate of the slowest plain inference, with the layers of the hooked run.

    `counts` are the SysTick instruction counts of the plain runs (the hooked run comes
    first in the plugin's output, then one per count), `layer_counts` the hooked run's
    per-layer counts, `counter_overhead` the instructions the firmware measured for its
    two counter reads and took out of `counts`. The plugin's counts of the same
    intervals must be equal; the estimate says whether they are.
    """
    profile = profiler.read()
    if len(profile.invokes) != len(counts) + 1:
        raise ValueError(f"the plugin saw {len(profile.invokes)} invokes, expected "
                         f"{len(counts) + 1}")
    hooked, plain = profile.invokes[0], profile.invokes[1:]
    overhead = profile.overhead.instructions
    firmware_overhead = overhead if counter_overhead is None else counter_overhead
    totals = [run.total - profile.overhead for run in plain]
    worst = max(range(len(totals)),
                key=lambda i: estimate_cycles(profiler.core, totals[i])[0].typical)
    layers = hooked.layers
    estimate = build_estimate(profiler.core, totals[worst], layers=layers)
    # Compare whole intervals: the overheads are measured apart (see `overhead_note`).
    same = [layer.instructions for layer in layers] == list(layer_counts) and all(
        run.total.instructions == count + firmware_overhead
        for run, count in zip(plain, counts, strict=True))
    notes = [estimate.note, "" if same else "the plugin's counts differ from SysTick's",
             overhead_note(overhead, firmware_overhead)]
    return replace(estimate, matches_instruction_count=same,
                   note="; ".join(note for note in notes if note))


def overhead_note(plugin: int, firmware: int) -> str:
    """Why the totals may differ by a few instructions when both count the same intervals.

    The firmware measures its counter reads' cost once at start-up, and an interrupt
    there (the UART's, as the host connects) inflates it; the plugin leaves handlers out.
    """
    if plugin == firmware:
        return ""
    low = firmware - plugin
    return (f"the firmware measured its counter overhead as {firmware} instructions, the "
            f"plugin {plugin} (an interrupt at start-up): the SysTick instruction counts "
            f"are {abs(low)} too {'low' if low > 0 else 'high'}")


def attach_estimate(result: BenchResult, profiler: Profiler | None, why_not: str = "",
                    counter_overhead: int | None = None) -> BenchResult:
    """`result` with its cycle estimate, or with the reason there is none (never raises)."""
    if profiler is None or not result.ran or result.count_unit != "instructions":
        return replace(result, cycle_estimate_note=why_not) if why_not else result
    try:
        estimate = estimates(profiler, result.counts,
                             [layer.count for layer in result.per_layer], counter_overhead)
    except ValueError as exc:
        return replace(result, cycle_estimate_note=f"no cycle estimate: {exc}")
    return replace(result, cycle_estimate=estimate)
