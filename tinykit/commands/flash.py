"""`tinykit flash`: write firmware to a board over serial, read it back, say what happened.

The command parses options and prints; `tinykit.flash.api` does the work. It never says
"verified" unless every block read back equal to the image. Nothing here imports
TensorFlow, and the flash package is imported only when the command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from tinykit.flash.flow import FlashResult



def _integer(text: str | None) -> int | None:
    """0x08000000, 134217728 or 0x0800_0000 -> int; click.BadParameter otherwise."""
    if text is None:
        return None
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise click.BadParameter(f"'{text}' is not a number (e.g. 0x08000000)") from None


@click.command()
@click.argument("firmware", type=click.Path(dir_okay=False, path_type=str))
@click.option("--port", "-p", envvar="TINYKIT_PORT", show_envvar=True,
              help="Serial port: /dev/ttyUSB0, COM3, socket://host:port.")
@click.option("--target", "-t", help="Target whose [flash] table gives the defaults.")
@click.option("--board", "-b", help="Like --target, but must be a board.")
@click.option("--protocol", help="Flashing protocol (default: the target's).")
@click.option("--baud", type=click.IntRange(1200, 4_000_000),
              help="Baud rate (default: the target's, else 115200).")
@click.option("--address", help="Where a raw .bin goes, e.g. 0x08000000.")
@click.option("--chip-id", help="Chip id to expect, e.g. 0x413 (default: the target's).")
@click.option("--boot-sequence", help="DTR/RTS sequence into the bootloader (see docs).")
@click.option("--no-verify", is_flag=True, help="Skip the read-back (then nothing is "
              "verified, and the output says so).")
@click.option("--mass-erase", is_flag=True, help="Erase the whole flash, not only the "
              "sectors the image covers.")
@click.option("--unprotect", is_flag=True, help="Remove write protection first (the chip "
              "resets).")
@click.option("--go", is_flag=True, help="Start the firmware after flashing.")
@click.option("--timeout", type=click.FloatRange(0.01, 60.0), default=1.0, show_default=True,
              help="Seconds to wait for each answer (erases add the chip's worst case).")
@click.option("--trace", is_flag=True, help="Print every frame on the wire as hex.")
def flash(firmware: str, port: str | None, target: str | None, board: str | None,
          protocol: str | None, baud: int | None, address: str | None, chip_id: str | None,
          boot_sequence: str | None, no_verify: bool, mass_erase: bool, unprotect: bool,
          go: bool, timeout: float, trace: bool) -> None:
    """Write FIRMWARE (.elf, .hex or .bin) to a board's flash and verify it.

    Uses the STM32 serial bootloader (AN3155) for stm32-uart boards: put the board in
    its bootloader (BOOT0 high, reset) unless its [flash] boot_sequence does that.
    """
    from tinykit.flash.api import flash_firmware, prepare, resolve_options
    from tinykit.flash.progress import ProgressBar
    from tinykit.flash.protocols import Timing
    from tinykit.flash.transport import hex_trace

    options = resolve_options(
        firmware, port=port, target=target, board=board, protocol=protocol, baud=baud,
        address=_integer(address), chip_id=_integer(chip_id), boot_sequence=boot_sequence,
        verify=not no_verify, go=go, mass_erase=mass_erase, unprotect=unprotect,
        timing=Timing(ack_s=timeout, probe_s=min(0.1, timeout / 4)),
    )
    image = prepare(options)
    spans = ", ".join(f"0x{s.address:08X}-0x{s.end - 1:08X}" for s in image.segments[:4])
    more = f" (+{len(image.segments) - 4} more)" if len(image.segments) > 4 else ""
    _say("image", f"{image.source} ({image.kind}): {image.size:,} bytes at {spans}{more}")
    _say("port", f"{options.port} at {options.baud} baud, protocol {options.protocol}"
         + (f", target {options.target}" if options.target else ""))
    progress = None if trace else ProgressBar()
    result = flash_firmware(options, progress=progress, image=image, announce=_say,
                            trace=hex_trace() if trace else None)
    _report(result)


def _say(label: str, text: str) -> None:
    click.echo(f"{label:<9} {text}", err=True)


def _report(result: FlashResult) -> None:
    """The closing lines: what was recovered, the wire cost, and the verdict."""
    from tinykit.flash.flow import sector_ranges

    if result.link.retries or result.repaired:
        repaired = ""
        if result.repaired:
            repaired = f"; erased and rewrote sector(s) {sector_ranges(result.repaired)}"
        _say("recovered", f"{result.link.summary()} ({result.link.retries} retries)"
             f"{repaired}")
    wire = result.tx_bytes + result.rx_bytes
    image = result.image
    _say("wire", f"{wire:,} bytes ({result.framing}) for {image.size:,} image bytes "
         f"({wire / image.size:.2f} per byte) in {result.seconds:.1f} s")
    if result.verified:
        click.echo(f"verified {image.size:,} bytes at 0x{image.start:08X}: the read-back "
                   f"matches (CRC-32 0x{image.crc32:08X})")
    else:
        click.echo(f"written  {image.size:,} bytes at 0x{image.start:08X}, NOT verified "
                   "(--no-verify): the flash may not hold the image")
    if result.started:
        state = "started" if result.start_confirmed else \
            "GO sent; the bootloader stopped answering (the firmware is probably running)"
        click.echo(f"go       0x{image.start:08X}: {state}")
