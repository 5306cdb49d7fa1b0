"""Erase, write, read back, repair: the flashing sequence any `Bootloader` goes through.

`flash_image(loader, image, plan)` never reports a verified image unless every block
was read back equal to the image. A block that reads wrong is read again until two
reads agree (a byte flipped on the way back is not a bad flash); a block that stays
wrong has its sector erased and written again, a bounded number of times; then the
error names the address.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tinykit.errors import FlashError
from tinykit.flash.chips import ChipLayout, Sector, chip_name
from tinykit.flash.image import Image, ImageError, Segment
from tinykit.flash.protocols import Bootloader, DamagedBlock, DeviceInfo, LinkStats

#: progress(phase, done_bytes, total_bytes); phases: "erase", "write", "verify".
Progress = Callable[[str, int, int], None]
#: announce(label, text): one line for people, e.g. ("device", "STM32F40x/41x ...").
Announce = Callable[[str, str], None]


@dataclass(frozen=True)
class FlashPlan:
    """What to do once connected."""

    verify: bool = True
    mass_erase: bool = False
    go: bool = False
    unprotect: bool = False
    #: The chip id the target expects (None: accept whatever answers).
    expected_chip_id: int | None = None
    expected_from: str = ""
    repair_rounds: int = 2


@dataclass
class FlashResult:
    """What happened; `verified` is True only when the read-back matched everywhere."""

    device: DeviceInfo
    image: Image
    erased: list[Sector] = field(default_factory=list)
    mass_erased: bool = False
    written: int = 0
    skipped_blank: int = 0
    verified: bool = False
    repaired: list[int] = field(default_factory=list)
    started: bool = False
    start_confirmed: bool = False
    seconds: float = 0.0
    tx_bytes: int = 0
    rx_bytes: int = 0
    framing: str = ""
    link: LinkStats = field(default_factory=LinkStats)


def no_progress(phase: str, done: int, total: int) -> None:
    return None


def no_announce(label: str, text: str) -> None:
    return None


def check_chip(info: DeviceInfo, plan: FlashPlan) -> ChipLayout:
    """The layout of the chip that answered; FlashError naming both ids on a mismatch."""
    expected = plan.expected_chip_id
    if expected is not None and info.chip_id != expected:
        source = f" ({plan.expected_from})" if plan.expected_from else ""
        raise FlashError(
            f"the bootloader reports {chip_name(info.chip_id)}, but the target expects "
            f"{chip_name(expected)}{source}",
            hint="check that the port leads to the board you meant, or pass the matching "
            "--board / --target (or --chip-id)",
        )
    if info.layout is None:
        from tinykit.flash.chips import chip_layout

        return chip_layout(info.chip_id)  # raises, naming the known ids
    return info.layout


def check_fits(image: Image, layout: ChipLayout) -> None:
    """ImageError when any byte of the image falls outside the chip's flash."""
    for segment in image.segments:
        if segment.address < layout.flash_base or segment.end > layout.flash_end:
            raise ImageError(
                f"{image.source}: data at 0x{segment.address:08X}-0x{segment.end - 1:08X} "
                f"lies outside the {layout.name} flash "
                f"(0x{layout.flash_base:08X}-0x{layout.flash_end - 1:08X})",
                hint="link the firmware for this chip (its flash origin and size), or "
                "pass --address for a BIN",
            )


def flash_image(
    loader: Bootloader, image: Image, plan: FlashPlan, progress: Progress = no_progress,
    announce: Announce = no_announce,
) -> FlashResult:
    """Connect, erase what the image covers, write, verify (and repair), optionally GO."""
    began = time.monotonic()
    info = loader.connect()
    layout = check_chip(info, plan)
    resumed = " (already synced by an earlier session)" if info.resumed else ""
    announce("device", f"{layout.describe()}, bootloader {info.version_text}{resumed}")
    check_fits(image, layout)
    result = FlashResult(info, image, link=loader.stats)
    if plan.unprotect:
        loader.unprotect()
        announce("unprotect", "write protection removed from the whole flash")
    blocks = image.blocks(loader.max_write, layout.write_align)
    _erase(loader, layout, image, plan, result, progress)
    if result.mass_erased:
        announce("erased", f"the whole flash ({layout.flash_size:,} bytes, mass erase)")
    else:
        size = sum(s.size for s in result.erased)
        announce("erased", f"{len(result.erased)} sector(s) {sector_ranges(result.erased)}, "
                 f"{size:,} bytes")
    damaged = _write(loader, blocks, result, progress)
    if plan.verify:
        _verify_and_repair(loader, layout, blocks, damaged, plan, result, progress)
    elif damaged:
        raise FlashError(
            f"the block at 0x{min(damaged):08X} was left damaged by a failed write",
            hint="flash again without --no-verify, which repairs such blocks",
        )
    if plan.go:
        result.started = True
        result.start_confirmed = loader.go(image.start)
    result.seconds = time.monotonic() - began
    return result


def sector_ranges(sectors: list[Sector] | list[int]) -> str:
    """Sectors 0, 1, 2, 5 -> '0-2, 5'."""
    numbers = sorted({s if isinstance(s, int) else s.number for s in sectors})
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _erase(loader: Bootloader, layout: ChipLayout, image: Image, plan: FlashPlan,
           result: FlashResult, progress: Progress) -> None:
    if plan.mass_erase:
        progress("erase", 0, layout.flash_size)
        loader.mass_erase()
        result.mass_erased = True
        progress("erase", layout.flash_size, layout.flash_size)
        return
    sectors = layout.sectors_covering(image.ranges())
    total = sum(s.size for s in sectors)
    progress("erase", 0, total)
    loader.erase(sectors)
    result.erased = sectors
    progress("erase", total, total)


def _write(loader: Bootloader, blocks: list[Segment], result: FlashResult,
           progress: Progress) -> set[int]:
    """Program every block that is not blank; the addresses of damaged blocks."""
    total, done = sum(len(b.data) for b in blocks), 0
    damaged: set[int] = set()
    progress("write", 0, total)
    for block in blocks:
        if block.data.count(0xFF) == len(block.data):
            result.skipped_blank += len(block.data)  # erased flash already reads 0xFF
        else:
            try:
                loader.write(block.address, block.data)
            except DamagedBlock as exc:
                damaged.add(exc.address)
            result.written += len(block.data)
        done += len(block.data)
        progress("write", done, total)
    return damaged


def _verify_and_repair(loader: Bootloader, layout: ChipLayout, blocks: list[Segment],
                       damaged: set[int], plan: FlashPlan, result: FlashResult,
                       progress: Progress) -> None:
    bad = damaged | _verify(loader, blocks, progress)
    for _ in range(plan.repair_rounds):
        if not bad:
            break
        sectors = layout.sectors_covering((a, a + 1) for a in bad)
        result.repaired.extend(s.number for s in sectors)
        loader.erase(sectors)
        again = [b for b in blocks if any(s.address <= b.address < s.end for s in sectors)]
        bad = _write(loader, again, FlashResult(result.device, result.image), no_progress)
        bad |= _verify(loader, again, no_progress)
    if bad:
        raise _mismatch(loader, blocks, min(bad))
    result.verified = True


def _verify(loader: Bootloader, blocks: list[Segment], progress: Progress) -> set[int]:
    """Read every block back; the addresses of blocks that stay wrong."""
    total, done = sum(len(b.data) for b in blocks), 0
    bad: set[int] = set()
    progress("verify", 0, total)
    for block in blocks:
        found = loader.read(block.address, len(block.data))
        if found != block.data and loader.read_stable(block.address, len(block.data)) \
                != block.data:
            bad.add(block.address)
        done += len(block.data)
        progress("verify", done, total)
    return bad


def _mismatch(loader: Bootloader, blocks: list[Segment], address: int) -> FlashError:
    block = next(b for b in blocks if b.address == address)
    found = loader.read_stable(block.address, len(block.data))
    offset = next((i for i, (a, b) in enumerate(zip(found, block.data, strict=True))
                   if a != b), None)
    if offset is None:
        detail = "it reads back differently from one read to the next"
        where = block.address
    else:
        where = block.address + offset
        detail = f"wrote 0x{block.data[offset]:02X}, read back 0x{found[offset]:02X}"
    return FlashError(
        f"verify failed at 0x{where:08X}: {detail}; the flash does not hold the image",
        hint="the sector may be write-protected (try --unprotect) or worn out; "
        "run again with --trace to see the exchange",
    )
