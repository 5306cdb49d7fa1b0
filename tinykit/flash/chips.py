"""Memory layouts of the STM32 parts the serial bootloader can flash, keyed by chip id.

One table serves both sides: the host erases only the sectors an image covers, and the
simulated bootloader (`tinykit.flash.simulator`) models the same sectors. Figures come
from the reference manuals (RM0008, RM0090, RM0385, RM0432) and AN2606 for the
bootloader's version and erase command; the erase times are the datasheets' worst cases,
rounded up, so that a timeout never fires on a slow but healthy part.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tinykit.errors import FlashError

KIB = 1024

#: How programming treats a unit that is not erased (0xFF...): "and" clears bits only
#: (F4, F7: the result is old & new); "erased-only" refuses (F1, L4: PGERR/PROGERR,
#: except when writing all zeros), so the bootloader answers NACK.
PROGRAM_RULES = ("and", "erased-only")


@dataclass(frozen=True)
class Sector:
    """One erasable unit of flash: its bootloader page number, address and size in bytes."""

    number: int
    address: int
    size: int

    @property
    def end(self) -> int:
        """First address after the sector."""
        return self.address + self.size


@dataclass(frozen=True)
class ChipLayout:
    """What the host and the simulator need to know about one chip id."""

    chip_id: int
    name: str
    flash_base: int
    sectors: tuple[Sector, ...]
    #: 0x43 (ERASE, one-byte page numbers) or 0x44 (EXTENDED ERASE, two-byte numbers).
    erase_command: int
    #: Bootloader protocol version as GET reports it (0x22 = v2.2, 0x31 = v3.1).
    bootloader_version: int
    #: WRITE MEMORY address and length must be multiples of this many bytes.
    write_align: int
    #: Smallest unit the flash programs at once (bytes), and what happens over old data.
    program_unit: int
    program_rule: str
    #: Worst-case erase time per KiB of sector, and of a mass erase, in seconds.
    erase_s_per_kib: float
    mass_erase_s: float
    #: RAM the bootloader leaves to the host (start, end), for WRITE/READ/GO to RAM.
    ram: tuple[int, int]
    #: True when a write to a write-protected sector is ACKed and silently dropped (F1);
    #: newer bootloaders answer NACK.
    silent_protected_writes: bool = False

    @property
    def flash_size(self) -> int:
        return sum(s.size for s in self.sectors)

    @property
    def flash_end(self) -> int:
        """First address after the flash."""
        return self.flash_base + self.flash_size

    def sector_at(self, address: int) -> Sector:
        """The sector holding `address`; FlashError when it is outside the flash."""
        for sector in self.sectors:
            if sector.address <= address < sector.end:
                return sector
        raise FlashError(
            f"address 0x{address:08X} is outside the {self.name} flash "
            f"(0x{self.flash_base:08X}-0x{self.flash_end - 1:08X})"
        )

    def sectors_covering(self, ranges: Iterable[tuple[int, int]]) -> list[Sector]:
        """The sectors that the half-open address ranges [start, end) touch, in order."""
        touched: dict[int, Sector] = {}
        for start, end in ranges:
            for sector in self.sectors:
                if sector.address < end and start < sector.end:
                    touched[sector.number] = sector
        return [touched[n] for n in sorted(touched)]

    def describe(self) -> str:
        return f"{self.name} (chip id 0x{self.chip_id:03X})"


def _uniform(first: int, base: int, size: int, count: int) -> list[Sector]:
    return [Sector(first + i, base + i * size, size) for i in range(count)]


def _graded(base: int, sizes_kib: Sequence[int]) -> tuple[Sector, ...]:
    """Sectors of varying size, numbered from 0 (the F2/F4/F7 layouts)."""
    sectors, address = [], base
    for number, kib in enumerate(sizes_kib):
        sectors.append(Sector(number, address, kib * KIB))
        address += kib * KIB
    return tuple(sectors)


_FLASH = 0x0800_0000

CHIPS: dict[int, ChipLayout] = {
    layout.chip_id: layout
    for layout in (
        # STM32F10x medium density (e.g. STM32F103C8/CB): 128 pages of 1 KiB, the
        # original ERASE command, half-word programming that refuses non-erased units.
        ChipLayout(
            chip_id=0x410, name="STM32F10x medium-density", flash_base=_FLASH,
            sectors=tuple(_uniform(0, _FLASH, KIB, 128)), erase_command=0x43,
            bootloader_version=0x22, write_align=4, program_unit=2,
            program_rule="erased-only", erase_s_per_kib=0.04, mass_erase_s=1.0,
            ram=(0x2000_0200, 0x2000_5000), silent_protected_writes=True,
        ),
        # STM32F405/407/415/417: 4 x 16 + 64 + 7 x 128 KiB sectors (RM0090).
        ChipLayout(
            chip_id=0x413, name="STM32F40x/41x", flash_base=_FLASH,
            sectors=_graded(_FLASH, [16, 16, 16, 16, 64] + [128] * 7), erase_command=0x44,
            bootloader_version=0x31, write_align=4, program_unit=1, program_rule="and",
            erase_s_per_kib=0.032, mass_erase_s=40.0, ram=(0x2000_2000, 0x2002_0000),
        ),
        # STM32F745/746/756: 4 x 32 + 128 + 3 x 256 KiB sectors on AXIM (RM0385).
        ChipLayout(
            chip_id=0x449, name="STM32F74x/75x", flash_base=_FLASH,
            sectors=_graded(_FLASH, [32, 32, 32, 32, 128, 256, 256, 256]), erase_command=0x44,
            bootloader_version=0x31, write_align=4, program_unit=1, program_rule="and",
            erase_s_per_kib=0.032, mass_erase_s=40.0, ram=(0x2000_4000, 0x2005_0000),
        ),
        # STM32L4R5/L4R7/L4R9/L4S5/...: 2 MiB in the factory dual-bank mode (DBANK=1),
        # 2 banks x 256 pages of 4 KiB, pages of bank 2 numbered 256-511 (RM0432). In
        # single-bank mode (DBANK=0) the same 2 MiB are 256 pages of 8 KiB.
        ChipLayout(
            chip_id=0x470, name="STM32L4Rx/L4Sx", flash_base=_FLASH,
            sectors=tuple(_uniform(0, _FLASH, 4 * KIB, 512)), erase_command=0x44,
            bootloader_version=0x31, write_align=8, program_unit=8,
            program_rule="erased-only", erase_s_per_kib=0.007, mass_erase_s=5.0,
            ram=(0x2000_3200, 0x200A_0000),
        ),
    )
}


def chip_layout(chip_id: int) -> ChipLayout:
    """The layout of a chip id; FlashError naming the known ids otherwise."""
    layout = CHIPS.get(chip_id)
    if layout is None:
        known = ", ".join(f"0x{c:03X} {CHIPS[c].name}" for c in sorted(CHIPS))
        raise FlashError(
            f"chip id 0x{chip_id:03X} has no memory layout in tinykit; known: {known}",
            hint="add its sectors to CHIPS in tinykit/flash/chips.py (see its reference "
            "manual), or use STM32CubeProgrammer for this part",
        )
    return layout


def chip_name(chip_id: int) -> str:
    """'STM32F40x/41x (chip id 0x413)', or just the id when it is not in the table."""
    layout = CHIPS.get(chip_id)
    return layout.describe() if layout else f"chip id 0x{chip_id:03X}"
