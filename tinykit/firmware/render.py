"""Render the baremetal benchmark firmware: a project a person can also build with `make`.

Every decision and every number is made and formatted here; the Jinja2 templates under
firmware_templates/baremetal only lay them out (StrictUndefined: a missing value is an
error, never an empty string). The rendered folder holds Makefile, linker.ld, README.md,
src/ (start-up, protocol, board support) and model/ (the generated C, copied).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tinykit import __version__
from tinykit.emulate import protocol
from tinykit.emulate.machines import Machine
from tinykit.firmware.boards import BAUD, BoardSupport, emulator_support, hardware_support
from tinykit.firmware.templating import environment, render_tree, sync_tree
from tinykit.targets import Target

#: Receive buffer of the firmware: the largest frame payload it accepts.
DEFAULT_MAX_PAYLOAD = 1024
DEFAULT_OPT = "-O2"
_EXCEPTIONS = (
    "NMI", "HardFault", "MemManage", "BusFault", "UsageFault", "SecureFault",
    None, None, None, "SVCall", "DebugMonitor", None, "PendSV", "SysTick",
)


@dataclass(frozen=True)
class Region:
    origin: int
    length: int


@dataclass(frozen=True)
class FirmwareSpec:
    """What the benchmark firmware is built for: target, layer, memory map, model."""

    target: Target
    support: BoardSupport
    machine: Machine | None
    flash: Region
    ram: Region
    stack_bytes: int
    model_name: str
    model_id: int
    opt: str = DEFAULT_OPT
    max_payload: int = DEFAULT_MAX_PAYLOAD

    @property
    def counter_hz(self) -> int:
        return self.machine.systick_hz if self.machine else self.support.core_hz


def model_id_of(model_path: str | Path) -> int:
    """The first 4 bytes of a file's SHA-256 as a number (0x1a2b3c4d for '1a2b3c4d...')."""
    digest = hashlib.sha256(Path(model_path).read_bytes()).digest()
    return int.from_bytes(digest[:4], "big")


def firmware_spec(
    target: Target,
    *,
    emulated: bool,
    model_name: str,
    model_id: int,
    opt: str = DEFAULT_OPT,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
) -> FirmwareSpec:
    """The spec for QEMU (`emulated`) or for the target's real board."""
    stack = int(target.get("memory", "stack_bytes", 4096))
    if emulated:
        support, machine = emulator_support(target)
        flash_bytes, ram_bytes = machine.sized_regions(target.flash_bytes, target.ram_bytes)
        flash = Region(machine.flash_origin, flash_bytes)
        ram = Region(machine.ram_origin, ram_bytes)
        return FirmwareSpec(target, support, machine, flash, ram, stack, model_name, model_id,
                            opt, max_payload)
    support = hardware_support(target)
    flash = Region(int(target.get("memory", "flash_origin")), target.flash_bytes)
    ram = Region(int(target.get("memory", "ram_origin")), target.ram_bytes)
    return FirmwareSpec(target, support, None, flash, ram, stack, model_name, model_id,
                        opt, max_payload)


def _vectors(spec: FirmwareSpec) -> tuple[list[str], list[str]]:
    """Vector table entries (C expressions) and the extra handlers they name."""
    systick = "SysTick_Handler" if spec.support.counter == "systick" else "tkfw_fault_entry"
    entries = ["&__StackTop", "Reset_Handler"]
    for name in _EXCEPTIONS:
        if name is None:
            entries.append("0")
        else:
            entries.append(systick if name == "SysTick" else "tkfw_fault_entry")
    extra = ["SysTick_Handler"] if systick == "SysTick_Handler" else []
    if spec.machine is not None:
        entries += ["tkfw_fault_entry"] * spec.machine.uart_irq + ["tkfw_uart_irq_handler"]
        extra.append("tkfw_uart_irq_handler")
    return entries, extra


def qemu_command(spec: FirmwareSpec, elf: str = "build/firmware.elf",
                 port: str = "$(PORT)") -> str:
    """The command line a person runs to start this firmware in QEMU (for the Makefile)."""
    if spec.machine is None:
        return ""
    args = spec.machine.qemu_args(spec.flash.length, spec.ram.length)
    return " ".join([
        "qemu-system-arm", *args, "-kernel", elf, "-display none -monitor none",
        f"-serial tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
    ])


def _context(spec: FirmwareSpec, model_sources: list[str]) -> dict[str, object]:
    support, machine, target = spec.support, spec.machine, spec.target
    vectors, extra = _vectors(spec)
    if machine is not None:
        bsp_title = f"{machine.description} in QEMU"
        counter_note = (f"SysTick ticks at {machine.systick_hz} Hz under -icount "
                        f"shift={machine.icount_shift}")
        bsp_defines = [("TKFW_UART_BASE", f"0x{machine.uart_base:08X}u"),
                       ("TKFW_UART_IRQ", f"{machine.uart_irq}u")]
        memory_note = (f"{machine.name}, sized to the {target.name} budget: flash "
                       f"{target.flash_bytes} B, RAM {target.ram_bytes} B.")
    else:
        bsp_title = f"{support.title} on {target.name}"
        counter_note = f"DWT cycles at the {support.core_hz} Hz core clock"
        bsp_defines = [("TKFW_CORE_HZ", f"{support.core_hz}u"), ("TKFW_BAUD", f"{BAUD}u")]
        memory_note = f"{target.mcu or target.name}: [memory] of targets/{target.name}.toml."
    sources = ["src/startup.c", "src/tkfw_vectors.c", "src/main.c", "src/tkfw_frame.c",
               f"src/tkfw_counter_{support.counter}.c", f"src/{support.source}", *model_sources]
    return {
        "version": __version__, "target": target.name, "bsp": support.name,
        "bsp_title": bsp_title, "model_name": spec.model_name,
        "macro_prefix": spec.model_name.upper(), "model_id": f"0x{spec.model_id:08X}",
        "max_payload": str(spec.max_payload), "counter_kind": str(int(support.counter_kind)),
        "counter_note": counter_note, "counter_hz": str(spec.counter_hz),
        "counter_isr_insns": "5" if support.counter == "systick" else "0",
        "rx_timeout_counts": str(spec.counter_hz // 2), "bsp_defines": bsp_defines,
        "constants": protocol.c_constants(), "vectors": vectors, "extra_handlers": extra,
        "flash_origin": f"0x{spec.flash.origin:08X}", "flash_length": str(spec.flash.length),
        "ram_origin": f"0x{spec.ram.origin:08X}", "ram_length": str(spec.ram.length),
        "stack_bytes": str(spec.stack_bytes), "memory_note": memory_note,
        "cpu_flags": " ".join(target.cflags), "opt": spec.opt, "extra_cflags": "",
        "sources": sources, "qemu_command": qemu_command(spec),
        "wiring": support.wiring, "baud": str(BAUD),
        "machine": machine.name if machine else "",
    }


def render_baremetal(spec: FirmwareSpec, model_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the benchmark firmware project for `spec` into `out_dir`.

    `model_dir` holds the output of `tinykit codegen` (NAME.c/.h and the kernels); its .c
    and .h files are copied to model/. The project is rendered aside, then only changed
    files are replaced (each atomically), so a second run leaves `make` little to do.
    Returns `out_dir`.
    """
    model_files = sorted(p for p in Path(model_dir).iterdir() if p.suffix in (".c", ".h"))
    model_sources = [f"model/{p.name}" for p in model_files if p.suffix == ".c"]
    context = _context(spec, model_sources)
    env = environment("baremetal")
    support = spec.support
    keep = {
        "Makefile.jinja", "linker.ld.jinja", "README.md.jinja", "src/startup.c",
        "src/main.c", "src/tkfw_frame.c", "src/tkfw_bsp.h", "src/tkfw_config.h.jinja",
        "src/tkfw_proto.h.jinja", "src/tkfw_vectors.c.jinja",
        f"src/tkfw_counter_{support.counter}.c", f"bsp/{support.source}",
    }
    with tempfile.TemporaryDirectory(prefix="tinykit-render-") as folder:
        tmp = Path(folder)
        render_tree(env, keep, context, tmp, rename={f"bsp/{support.source}":
                                                     f"src/{support.source}"})
        (tmp / "model").mkdir()
        for path in model_files:
            shutil.copyfile(path, tmp / "model" / path.name)
        sync_tree(tmp, Path(out_dir))
    return Path(out_dir)
