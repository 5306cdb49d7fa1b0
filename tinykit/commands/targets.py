"""`tinykit targets`: the cores and boards tinykit knows, as a table or JSON."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def targets(as_json: bool) -> None:
    """List the targets in targets/: core, clock, flash and RAM budget, emulator, flashing."""
    from tinykit.targets import load_all
    from tinykit.ui import format_table

    loaded = load_all()
    if as_json:
        payload = {
            t.name: {
                "kind": t.kind, "extends": list(t.chain[1:]), "core": t.core, "mcu": t.mcu,
                "clock_hz": t.clock_hz, "flash_bytes": t.flash_bytes, "ram_bytes": t.ram_bytes,
                "qemu_machine": t.qemu_machine, "firmware_template": t.firmware_template,
                "flash_protocol": t.flash_protocol, "cflags": list(t.cflags),
            }
            for t in loaded
        }
        click.echo(json.dumps(payload, indent=2))
        return
    rows = [
        (
            t.name, t.kind, t.core, t.mcu or "-", t.clock_hz // 1_000_000,
            t.flash_bytes // 1024, t.ram_bytes // 1024, t.qemu_machine or "-",
            t.firmware_template, t.flash_protocol,
        )
        for t in loaded
    ]
    headers = ("target", "kind", "core", "mcu", "MHz", "flash KiB", "RAM KiB", "emulator",
               "template", "flashing")
    click.echo(format_table(headers, rows))
