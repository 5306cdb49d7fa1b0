"""The library entry point of `tinykit flash`: options resolved from a target, one call.

`resolve_options(...)` fills what the command line left out from the target's `[flash]`
table and from `TINYKIT_PORT` / `TINYKIT_TARGET`; `flash_firmware(options)` loads the
image, opens the port, runs the board's boot sequence, and flashes with the protocol the
registry names. Both raise `TinykitError`s only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tinykit.errors import ConfigError, TargetError
from tinykit.flash.boot import parse_boot_sequence, run_steps
from tinykit.flash.chips import CHIPS
from tinykit.flash.flow import (
    Announce,
    FlashPlan,
    FlashResult,
    Progress,
    check_fits,
    flash_image,
    no_announce,
    no_progress,
)
from tinykit.flash.image import Image, detect_kind, load_image
from tinykit.flash.protocols import NoAnswer, Timing, get_protocol
from tinykit.flash.transport import Trace, open_port

if TYPE_CHECKING:
    from tinykit.targets import Target

DEFAULT_BAUD = 115_200


@dataclass(frozen=True)
class FlashOptions:
    """Everything one flash needs; `resolve_options` builds it from CLI and target."""

    firmware: Path
    port: str
    protocol: str = "stm32-uart"
    baud: int = DEFAULT_BAUD
    address: int | None = None
    chip_id: int | None = None
    target: str = ""
    boot_sequence: str = "none"
    #: Where the board's bootloader listens, for the hint when nothing answers.
    bootloader_uart: str = ""
    verify: bool = True
    go: bool = False
    mass_erase: bool = False
    unprotect: bool = False
    timing: Timing = field(default_factory=Timing)


def _pick_target(target: str | None, board: str | None) -> Target | None:
    from tinykit.targets import load_target

    if target and board:
        raise ConfigError("pass --target or --board, not both")
    name = board or target or os.environ.get("TINYKIT_TARGET")
    if not name:
        return None
    loaded = load_target(name)
    if board and loaded.kind != "board":
        raise TargetError(
            f"'{board}' is a {loaded.kind}, not a board",
            hint="pick a board from `tinykit targets` (kind 'board'), or use --target",
        )
    return loaded


def resolve_options(
    firmware: str | os.PathLike[str], *, port: str | None = None, target: str | None = None,
    board: str | None = None, protocol: str | None = None, baud: int | None = None,
    address: int | None = None, chip_id: int | None = None,
    boot_sequence: str | None = None, verify: bool = True, go: bool = False,
    mass_erase: bool = False, unprotect: bool = False, timing: Timing | None = None,
) -> FlashOptions:
    """Options from explicit values, then the target's [flash] table, then defaults."""
    chosen = _pick_target(target, board)
    table = dict(chosen.table.get("flash", {})) if chosen is not None else {}

    port = port or os.environ.get("TINYKIT_PORT")
    if not port:
        raise ConfigError(
            "no serial port given",
            hint="pass --port /dev/ttyUSB0 (or COM3, socket://host:port), or set "
            "TINYKIT_PORT; `python -m serial.tools.list_ports` lists the ports",
        )
    path = Path(firmware)
    if address is None and path.is_file():
        with open(path, "rb") as handle:
            head = handle.read(512)
        if detect_kind(head, path) == "bin":
            address = table.get("address")
    return FlashOptions(
        firmware=path, port=port,
        protocol=protocol or table.get("protocol", "stm32-uart"),
        baud=baud or table.get("baud", DEFAULT_BAUD),
        address=address,
        chip_id=chip_id if chip_id is not None else table.get("chip_id"),
        target=chosen.name if chosen is not None else "",
        boot_sequence=boot_sequence or table.get("boot_sequence", "none"),
        bootloader_uart=table.get("bootloader_uart", ""),
        verify=verify, go=go, mass_erase=mass_erase, unprotect=unprotect,
        timing=timing or Timing(),
    )


def prepare(options: FlashOptions) -> Image:
    """Check what can be checked before touching the board; the image to flash."""
    get_protocol(options.protocol)  # a clear error for bossa, uf2, none, typos
    parse_boot_sequence(options.boot_sequence)
    image = load_image(options.firmware, options.address)
    layout = CHIPS.get(options.chip_id) if options.chip_id is not None else None
    if layout is not None:
        check_fits(image, layout)
    return image


def flash_firmware(
    options: FlashOptions, progress: Progress | None = None, trace: Trace | None = None,
    image: Image | None = None, announce: Announce | None = None,
) -> FlashResult:
    """Flash `options.firmware`; the result says whether the read-back matched."""
    image = image or prepare(options)
    protocol = get_protocol(options.protocol)
    sequence = parse_boot_sequence(options.boot_sequence)
    source = f"target {options.target}" if options.target else "--chip-id"
    plan = FlashPlan(
        verify=options.verify, mass_erase=options.mass_erase, go=options.go,
        unprotect=options.unprotect, expected_chip_id=options.chip_id, expected_from=source,
    )
    with open_port(options.port, options.baud, parity=protocol.parity, trace=trace) as link:
        run_steps(link, sequence.entry)
        loader = protocol(link, options.baud, options.timing)
        try:
            result = flash_image(
                loader, image, plan, progress or no_progress, announce or no_announce
            )
        except NoAnswer as exc:
            if options.bootloader_uart:
                exc.hint = f"{exc.hint}; this board's bootloader: {options.bootloader_uart}"
            raise
        if not options.go:
            run_steps(link, sequence.exit)  # release BOOT0 and reset: the firmware runs
        result.tx_bytes, result.rx_bytes = link.tx_bytes, link.rx_bytes
        result.framing = link.framing
    return result
