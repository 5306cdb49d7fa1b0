"""The registry of flashing protocols: a target's `[flash] protocol` names one entry.

A protocol is a `Bootloader` subclass that speaks to a device through a `Transport`:
connect (and identify the chip), erase sectors, write and read blocks, start the
firmware. `tinykit.flash.flow` drives any of them the same way. Protocols that boards in
`targets/` name but tinykit does not speak are listed in `FOREIGN` with the tool to use,
so that flashing such a board is a clear error rather than a mystery.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from tinykit.errors import ConfigError, FlashError, UnsupportedError
from tinykit.flash.chips import ChipLayout, Sector
from tinykit.flash.transport import Transport


@dataclass(frozen=True)
class Timing:
    """How long to wait for a device, and how often to try again.

    The defaults suit a real board behind a USB-UART adapter (whose latency timer can
    hold a reply for 16 ms); the simulator answers within a millisecond and its tests
    use shorter waits. Erase timeouts come from the chip table, wire time from the baud.
    """

    ack_s: float = 1.0
    probe_s: float = 0.1
    attempts: int = 6
    sync_attempts: int = 2


@dataclass
class LinkStats:
    """What went wrong on the wire and was recovered from (or not)."""

    nacks: int = 0
    timeouts: int = 0
    garbled: int = 0
    resyncs: int = 0
    retries: int = 0
    events: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{n} {name}" for name, n in (
            ("NACK", self.nacks), ("timeout", self.timeouts), ("garbled reply", self.garbled),
        ) if n]
        return ", ".join(parts) if parts else "none"


class NoAnswer(FlashError):
    """Nothing (or nothing sensible) comes back: wrong port, baud, wiring or boot mode."""


class DamagedBlock(FlashError):
    """A block holds neither the intended data nor erased flash: erase and write again."""

    def __init__(self, address: int, found: bytes) -> None:
        super().__init__(f"the block at 0x{address:08X} holds damaged data")
        self.address = address
        self.found = found


@dataclass(frozen=True)
class DeviceInfo:
    """Who answered: chip id and layout, bootloader version and the commands it offers."""

    chip_id: int
    #: None when the chip id is not in tinykit's table (the caller decides what to do).
    layout: ChipLayout | None
    bootloader_version: int
    commands: tuple[int, ...]
    resumed: bool = False

    @property
    def version_text(self) -> str:
        return f"v{self.bootloader_version >> 4}.{self.bootloader_version & 0xF}"


class Bootloader(abc.ABC):
    """One flashing protocol, spoken over a `Transport`.

    Methods raise `FlashError` (a `TinykitError`) once their bounded retries are spent;
    `write` raises `DamagedBlock` when the block holds neither the data nor erased flash
    after an interrupted attempt, so that the caller can erase and write again.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    #: Serial framing the protocol needs: parity 'N' or 'E' (8 data bits, 1 stop bit).
    parity: ClassVar[str] = "N"
    max_write: ClassVar[int] = 256
    max_read: ClassVar[int] = 256

    def __init__(self, transport: Transport, baud: int, timing: Timing | None = None) -> None:
        self.transport = transport
        self.baud = baud
        self.timing = timing or Timing()
        self.stats = LinkStats()

    @abc.abstractmethod
    def connect(self) -> DeviceInfo:
        """Synchronise and identify the chip."""

    @abc.abstractmethod
    def erase(self, sectors: Sequence[Sector]) -> None:
        """Erase these sectors (all of them, or FlashError naming the first refused)."""

    @abc.abstractmethod
    def mass_erase(self) -> None:
        """Erase the whole flash."""

    @abc.abstractmethod
    def write(self, address: int, data: bytes) -> None:
        """Program at most `max_write` bytes at `address`."""

    @abc.abstractmethod
    def read(self, address: int, length: int) -> bytes:
        """Read at most `max_read` bytes at `address`."""

    @abc.abstractmethod
    def go(self, address: int) -> bool:
        """Start the code whose vector table is at `address`; True when confirmed."""

    def read_stable(self, address: int, length: int, tries: int = 6) -> bytes:
        """Read until two reads agree (the first content seen twice); FlashError when no
        two of `tries` reads do.

        READ MEMORY carries no checksum: a byte damaged on the way back looks like a bad
        flash, but two equal reads do not come from line noise."""
        seen: list[bytes] = []
        for _ in range(tries):
            current = self.read(address, length)
            if current in seen:
                return current
            seen.append(current)
        raise FlashError(
            f"the {length} bytes at 0x{address:08X} read back differently every time",
            hint="the serial link is unreliable: try a lower --baud or another adapter",
        )

    def unprotect(self) -> None:
        """Remove write protection from the whole flash (the chip may reset)."""
        raise UnsupportedError(f"the {self.name} protocol cannot remove write protection")


@dataclass(frozen=True)
class ProtocolEntry:
    """A registry row: imported only when a board uses it, so `--help` stays instant."""

    module: str
    attribute: str
    summary: str

    def load(self) -> type[Bootloader]:
        cls = getattr(importlib.import_module(self.module), self.attribute)
        assert issubclass(cls, Bootloader)
        return cls


PROTOCOLS: dict[str, ProtocolEntry] = {
    "stm32-uart": ProtocolEntry(
        "tinykit.flash.stm32", "Stm32Uart",
        "STM32 system-memory bootloader over USART (ST AN3155), 8E1",
    ),
}

#: Protocols named in targets/ that tinykit does not speak: what to use instead.
FOREIGN: dict[str, str] = {
    "none": "this target is a bare core, not a board; pass --board (or --target) with "
    "a board from `tinykit targets`, or --protocol stm32-uart",
    "bossa": "flash it with Arduino's bossac: double-tap reset, then "
    "`bossac --port=PORT -e -w -v -R firmware.bin` (or `arduino-cli upload`)",
    "uf2": "hold BOOTSEL while plugging in the board, then copy firmware.uf2 to the "
    "RPI-RP2 drive (or run `picotool load -x firmware.uf2`)",
}


def get_protocol(name: str) -> type[Bootloader]:
    """The Bootloader class registered under `name`; a clear error for anything else."""
    entry = PROTOCOLS.get(name)
    if entry is not None:
        return entry.load()
    if name in FOREIGN:
        raise UnsupportedError(
            f"tinykit cannot flash over the '{name}' protocol", hint=FOREIGN[name]
        )
    raise ConfigError(
        f"unknown flashing protocol '{name}'; known: {', '.join(PROTOCOLS)}",
        hint="set [flash] protocol in the target file, or pass --protocol",
    )
