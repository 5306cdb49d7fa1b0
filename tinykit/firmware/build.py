"""Cross-build a rendered firmware project with its Makefile and measure what it costs.

`build_project` runs `make` (the same recipe a person runs by hand) and turns a failure
into a ToolchainError showing the compiler's first error, or a BudgetError when the
linker says a memory region overflowed. `firmware_sizes` reads the ELF with
arm-none-eabi-size and -nm: flash, RAM, and how much of the flash is the model's constants.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from tinykit.errors import BudgetError, ToolchainError

CROSS = "arm-none-eabi-"
INSTALL_HINT = (
    "install the Arm cross compiler: sudo apt-get install gcc-arm-none-eabi "
    "libnewlib-arm-none-eabi make (or `make setup` in the tinykit folder)"
)
_ERROR_LINE = re.compile(
    r"(\berror\b|undefined reference|No rule to make target|cannot find)", re.IGNORECASE
)
_OVERFLOW = re.compile(r"region [`']?(\w+)'? overflowed by (\d+) bytes")
#: Sections of the firmware image and where they live.
_FLASH_SECTIONS = (".text", ".rodata", ".ARM.exidx", ".data")
_RAM_SECTIONS = (".data", ".bss", ".stack")


def tool(name: str) -> str:
    """Path of a cross tool (`gcc`, `size`, ...), or ToolchainError with the install line."""
    path = shutil.which(CROSS + name)
    if path is None:
        raise ToolchainError(f"{CROSS}{name} was not found on PATH", hint=INSTALL_HINT)
    return path


def check_toolchain() -> None:
    """Raise ToolchainError unless arm-none-eabi-gcc, its binutils and make are there."""
    for name in ("gcc", "objcopy", "size", "nm"):
        tool(name)
    if shutil.which("make") is None:
        raise ToolchainError("make was not found on PATH", hint="sudo apt-get install make")


def build_project(project_dir: str | Path, *, jobs: int = 2, extra_cflags: str = "") -> Path:
    """Run make in a rendered project; returns build/firmware.elf."""
    check_toolchain()
    folder = Path(project_dir)
    command = ["make", "-C", str(folder), f"-j{jobs}", f"CROSS={CROSS}"]
    if extra_cflags:
        command.append(f"EXTRA_CFLAGS={extra_cflags}")
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise _build_error(proc.stdout + proc.stderr, folder)
    return folder / "build" / "firmware.elf"


def _build_error(output: str, folder: Path) -> Exception:
    overflow = _OVERFLOW.findall(output)
    if overflow:
        parts = ", ".join(f"{region} by {n} bytes" for region, n in overflow)
        return BudgetError(
            f"the firmware does not fit the target: {parts} overflowed",
            hint="pick a target with more memory, or make the model smaller "
                 "(tinykit analyze shows where the bytes go)",
        )
    lines = output.splitlines()
    first = next(
        (line for line in lines if _ERROR_LINE.search(line) and not line.startswith("make")),
        None,
    )
    tail = first or "\n".join(lines[-5:])
    return ToolchainError(
        f"the firmware in {folder} did not build:\n{tail.strip()}",
        hint=f"run `make -C {folder}` to see the whole compiler output",
    )


@dataclass(frozen=True)
class FirmwareSizes:
    """Bytes of a linked firmware (sections as arm-none-eabi-size -A reports them)."""

    text: int
    rodata: int
    data: int
    bss: int
    stack: int
    #: Bytes of the model's constant objects (`<name>_const_*`): weights, biases, tables.
    model_constants: int

    @property
    def flash_bytes(self) -> int:
        return self.text + self.rodata + self.data

    @property
    def ram_bytes(self) -> int:
        return self.data + self.bss + self.stack

    @property
    def runtime_flash_bytes(self) -> int:
        """Flash that is not the model's constants: kernels, model glue, start-up, protocol."""
        return self.flash_bytes - self.model_constants

    def to_json(self) -> dict[str, int]:
        return {**asdict(self), "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes,
                "runtime_flash_bytes": self.runtime_flash_bytes}


def _run_tool(name: str, *args: str) -> str:
    proc = subprocess.run([tool(name), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"{CROSS}{name} failed on {args[-1]}: {proc.stderr.strip()}")
    return proc.stdout


def section_sizes(elf: str | Path) -> dict[str, int]:
    """Section name -> bytes, from `arm-none-eabi-size -A -d`."""
    sizes: dict[str, int] = {}
    for line in _run_tool("size", "-A", "-d", str(elf)).splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def constant_bytes(elf: str | Path, prefix: str) -> int:
    """Total size of the symbols whose name starts with `prefix` (`arm-none-eabi-nm -S`)."""
    total = 0
    for line in _run_tool("nm", "-S", "--size-sort", str(elf)).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].startswith(prefix) and parts[2] in "rRdDtT":
            total += int(parts[1], 16)
    return total


def firmware_sizes(elf: str | Path, model_name: str) -> FirmwareSizes:
    """Flash, RAM and model-constant bytes of a linked benchmark firmware."""
    sections = section_sizes(elf)
    return FirmwareSizes(
        text=sections.get(".text", 0) + sections.get(".ARM.exidx", 0),
        rodata=sections.get(".rodata", 0),
        data=sections.get(".data", 0),
        bss=sections.get(".bss", 0),
        stack=sections.get(".stack", 0),
        model_constants=constant_bytes(elf, f"{model_name}_const_"),
    )
