"""`tinykit monitor`: a plain serial console for what a board prints."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", "-p", envvar="TINYKIT_PORT", show_envvar=True, required=True,
              help="Serial port: /dev/ttyACM0, COM3, socket://host:port.")
@click.option("--baud", type=click.IntRange(1200, 4_000_000), default=115_200,
              show_default=True, help="Baud rate (8N1).")
def monitor(port: str, baud: int) -> None:
    """Show what the board prints (device output to stdout); Ctrl-C leaves."""
    from tinykit.flash.monitor import run_monitor

    def opened() -> None:
        click.echo(f"monitor  {port} at {baud} baud 8N1; Ctrl-C leaves", err=True)

    copied = run_monitor(port, baud, opened=opened)
    click.echo(f"\nmonitor  closed {port} ({copied:,} bytes received)", err=True)
