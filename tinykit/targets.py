"""Targets as data: one TOML file per core or board in `targets/`, boards extend cores.

A file may name `extends = "<other target>"`; the child's keys override the parent's,
table by table. Unknown keys, wrong types and `extends` cycles are errors that list what
is valid. `load_target("cortex-m4")` returns a frozen, fully resolved `Target`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinykit.errors import TargetError
from tinykit.paths import targets_dir

# The schema: section -> key -> (type, what it means). Top-level keys use section "".
SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], str]]] = {
    "": {
        "extends": (str, "name of the target this one builds on"),
        "description": (str, "one line for people"),
        "kind": (str, "'core' (a generic core) or 'board' (a real board)"),
        "mcu": (str, "the microcontroller part number of a board"),
    },
    "cpu": {
        "core": (str, "Arm core, e.g. cortex-m4"),
        "arch": (str, "architecture, e.g. armv7e-m"),
        "features": (list, "ISA features: dsp, fpu-sp, fpu-dp, mve"),
        "cflags": (list, "compiler flags that select the core and its float ABI"),
    },
    "clock": {
        "hz": (int, "core clock in Hz (used for latency estimates)"),
    },
    "memory": {
        "flash_bytes": (int, "flash budget for the firmware"),
        "ram_bytes": (int, "RAM budget for data, bss, arena and stack"),
        "flash_origin": (int, "first flash address"),
        "ram_origin": (int, "first RAM address"),
        "stack_bytes": (int, "stack reserved in RAM"),
    },
    "emulator": {
        "qemu_machine": (str, "qemu-system-arm -M machine for this core ('' when none)"),
        "bsp": (str, "board-support layer used in the emulator"),
    },
    "firmware": {
        "template": (str, "firmware template family: baremetal, cmake-lib, arduino"),
        "bsp": (str, "board-support layer of the real part"),
        "uart": (str, "UART peripheral the benchmark firmware talks on"),
    },
    "flash": {
        "protocol": (str, "flashing protocol: stm32-uart, none, ..."),
        "chip_id": (int, "chip id the bootloader reports (STM32 GET ID)"),
        "baud": (int, "bootloader baud rate"),
        "address": (int, "where the image is written"),
        "boot_sequence": (str, "how DTR/RTS drive BOOT0 and reset: none, dtr-boot0-rts-reset"),
        "bootloader_uart": (str, "where the system bootloader listens (for people: pins)"),
    },
}

KINDS = ("core", "board")


@dataclass(frozen=True)
class Target:
    """A resolved target: a core, or a board with its real clock and memory."""

    name: str
    description: str
    kind: str
    core: str
    arch: str
    features: tuple[str, ...]
    cflags: tuple[str, ...]
    clock_hz: int
    flash_bytes: int
    ram_bytes: int
    qemu_machine: str
    emulator_bsp: str
    firmware_template: str
    firmware_bsp: str
    flash_protocol: str
    mcu: str = ""
    chain: tuple[str, ...] = ()
    #: The merged table as read, for keys a stage needs beyond the fields above.
    table: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    path: Path | None = field(default=None, compare=False)

    @property
    def has_emulator(self) -> bool:
        return bool(self.qemu_machine)

    def get(self, section: str, key: str, default: Any = None) -> Any:
        """A key of the merged table, e.g. `target.get("flash", "chip_id")`."""
        return self.table.get(section, {}).get(key, default)


def known_targets(directory: Path | None = None) -> list[str]:
    """Sorted names of every target file."""
    folder = directory or targets_dir()
    return sorted(p.stem for p in folder.glob("*.toml"))


def _unknown(name: str, directory: Path) -> TargetError:
    known = ", ".join(known_targets(directory)) or "(none)"
    return TargetError(
        f"unknown target '{name}'; known: {known}",
        hint="run `tinykit targets` to see them with their clock, flash and RAM",
    )


def _read(name: str, directory: Path) -> dict[str, Any]:
    path = directory / f"{name}.toml"
    if not path.is_file():
        raise _unknown(name, directory)
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{path}: not valid TOML: {exc}") from exc
    _validate(table, path)
    return table


def _validate(table: Mapping[str, Any], path: Path) -> None:
    for key, value in table.items():
        if key in SCHEMA and key != "":
            if not isinstance(value, dict):
                raise TargetError(f"{path}: [{key}] must be a table")
            _check_keys(value, SCHEMA[key], f"[{key}]", path)
        else:
            _check_keys({key: value}, SCHEMA[""], "top level", path)
    kind = table.get("kind")
    if kind is not None and kind not in KINDS:
        raise TargetError(f"{path}: kind = '{kind}' is not valid; valid: {', '.join(KINDS)}")


def _check_keys(
    values: Mapping[str, Any],
    schema: Mapping[str, tuple[type | tuple[type, ...], str]],
    where: str,
    path: Path,
) -> None:
    for key, value in values.items():
        if key not in schema:
            sections = [f"[{s}]" for s in SCHEMA if s]
            valid = ", ".join(schema) if where != "top level" else ", ".join([*schema, *sections])
            raise TargetError(f"{path}: unknown key '{key}' in {where}; valid: {valid}")
        expected, _ = schema[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            type_name = getattr(expected, "__name__", str(expected))
            raise TargetError(
                f"{path}: {where} {key} = {value!r} should be of type {type_name}"
            )
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise TargetError(f"{path}: {where} {key} must be a list of strings")


def _merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in parent.items()}
    for key, value in child.items():
        if isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return merged


def _resolve(name: str, directory: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    chain: list[str] = []
    tables: list[dict[str, Any]] = []
    current: str | None = name
    while current is not None:
        if current in chain:
            cycle = " -> ".join([*chain, current])
            raise TargetError(
                f"targets extend each other in a cycle: {cycle}",
                hint="make one of them extend a core target (cortex-m*) instead",
            )
        if chain and not (directory / f"{current}.toml").is_file():
            raise TargetError(
                f"target '{chain[-1]}' extends unknown target '{current}'; "
                f"known: {', '.join(known_targets(directory))}"
            )
        chain.append(current)
        table = _read(current, directory)
        tables.append(table)
        current = table.get("extends")
    merged: dict[str, Any] = {}
    for table in reversed(tables):
        merged = _merge(merged, table)
    merged.pop("extends", None)
    return merged, tuple(chain)


_REQUIRED = (
    ("cpu", "core"), ("cpu", "arch"), ("cpu", "cflags"), ("clock", "hz"),
    ("memory", "flash_bytes"), ("memory", "ram_bytes"), ("firmware", "template"),
)


def load_target(name: str | None = None, directory: Path | None = None) -> Target:
    """Load and resolve a target by name (default: `$TINYKIT_TARGET`, else cortex-m4)."""
    folder = directory or targets_dir()
    name = name or os.environ.get("TINYKIT_TARGET") or "cortex-m4"
    if name.endswith(".toml") or "/" in name:
        raise TargetError(
            f"target '{name}' should be a name, not a path",
            hint=f"put the file in {folder} and pass its name without .toml",
        )
    table, chain = _resolve(name, folder)
    path = folder / f"{name}.toml"
    for section, key in _REQUIRED:
        if key not in table.get(section, {}):
            raise TargetError(f"{path}: [{section}] {key} is missing (and no parent sets it)")
    cpu, memory = table["cpu"], table["memory"]
    emulator, firmware = table.get("emulator", {}), table["firmware"]
    return Target(
        name=name,
        description=table.get("description", ""),
        kind=table.get("kind", "core"),
        mcu=table.get("mcu", ""),
        core=cpu["core"],
        arch=cpu["arch"],
        features=tuple(cpu.get("features", ())),
        cflags=tuple(cpu["cflags"]),
        clock_hz=table["clock"]["hz"],
        flash_bytes=memory["flash_bytes"],
        ram_bytes=memory["ram_bytes"],
        qemu_machine=emulator.get("qemu_machine", ""),
        emulator_bsp=emulator.get("bsp", ""),
        firmware_template=firmware["template"],
        firmware_bsp=firmware.get("bsp", emulator.get("bsp", "")),
        flash_protocol=table.get("flash", {}).get("protocol", "none"),
        chain=chain,
        table=table,
        path=path,
    )


def load_all(directory: Path | None = None) -> list[Target]:
    """Every target, resolved, sorted by name."""
    return [load_target(name, directory) for name in known_targets(directory)]
