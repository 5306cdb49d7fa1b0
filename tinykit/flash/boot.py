"""DTR/RTS sequences that put a board in its bootloader (BOOT0 high + reset) and back.

A board's `[flash] boot_sequence` is a preset name or a sequence written out:
`ENTRY[:EXIT]`, each a comma-separated list of steps `dtr=0|1`, `rts=0|1`, `wait=MS`.
`dtr=1` asserts the line (pyserial `port.dtr = True`); on most USB-UART adapters an
asserted line is a low pin, so how that reaches BOOT0 and NRST depends on the wiring:
write the sequence the circuit needs. EXIT runs after flashing unless `--go` started
the firmware already.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tinykit.errors import ConfigError
from tinykit.flash.transport import Transport

#: Named sequences for the usual wirings (DTR or RTS on BOOT0, the other on NRST).
PRESETS: dict[str, str] = {
    "none": "",
    "dtr-boot0-rts-reset": "dtr=1,rts=1,wait=100,rts=0,wait=100:dtr=0,rts=1,wait=100,rts=0",
    "rts-boot0-dtr-reset": "rts=1,dtr=1,wait=100,dtr=0,wait=100:rts=0,dtr=1,wait=100,dtr=0",
}

Step = tuple[str, int]


@dataclass(frozen=True)
class BootSequence:
    """Steps that enter the bootloader, and steps that leave it (run the firmware)."""

    text: str
    entry: tuple[Step, ...]
    exit: tuple[Step, ...]

    @property
    def is_empty(self) -> bool:
        return not self.entry and not self.exit


def parse_boot_sequence(text: str) -> BootSequence:
    """Parse a preset name or an `ENTRY[:EXIT]` sequence; ConfigError when malformed."""
    name = text.strip()
    spelled = PRESETS.get(name, name)
    parts = spelled.split(":")
    if len(parts) > 2:
        raise _bad(text, "more than one ':' (ENTRY:EXIT)")
    entry = _steps(parts[0], text)
    exit_steps = _steps(parts[1], text) if len(parts) == 2 else ()
    return BootSequence(name, entry, exit_steps)


def _steps(spelled: str, text: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    for item in filter(None, (s.strip() for s in spelled.split(","))):
        key, _, value = item.partition("=")
        if key in ("dtr", "rts") and value in ("0", "1"):
            steps.append((key, int(value)))
        elif key == "wait" and value.isdigit() and int(value) <= 10_000:
            steps.append((key, int(value)))
        else:
            raise _bad(text, f"step '{item}' is not dtr=0|1, rts=0|1 or wait=MS (<= 10000)")
    return tuple(steps)


def _bad(text: str, why: str) -> ConfigError:
    presets = ", ".join(PRESETS)
    return ConfigError(
        f"boot sequence '{text}': {why}",
        hint=f"use a preset ({presets}) or steps like 'dtr=1,rts=1,wait=100,rts=0:dtr=0'",
    )


def run_steps(transport: Transport, steps: tuple[Step, ...]) -> None:
    """Drive the lines step by step (SerialError when the port has no DTR/RTS)."""
    for key, value in steps:
        if key == "wait":
            time.sleep(value / 1000)
        elif key == "dtr":
            transport.set_lines(dtr=bool(value))
        else:
            transport.set_lines(rts=bool(value))
