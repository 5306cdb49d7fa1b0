"""A plain serial console: what the board prints goes to stdout, Ctrl-C leaves."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import BinaryIO

from tinykit.flash.transport import open_port


def run_monitor(port: str, baud: int, out: BinaryIO | None = None, poll_s: float = 0.1,
                opened: Callable[[], None] | None = None) -> int:
    """Copy bytes from `port` (8N1) to `out` until Ctrl-C; the number of bytes copied.

    `opened` is called once the port is open (opening drops what arrived before).
    Bytes pass unchanged (no decoding), so a board printing binary or a half-finished
    UTF-8 sequence cannot break the console. SerialError when the port goes away.
    """
    sink = out or sys.stdout.buffer
    copied = 0
    with open_port(port, baud) as link:
        if opened is not None:
            opened()
        try:
            while True:
                data = link.read_some(poll_s)
                if data:
                    sink.write(data)
                    sink.flush()
                    copied += len(data)
        except KeyboardInterrupt:
            pass
        except BrokenPipeError:  # `tinykit monitor | head` closed its end
            pass
    return copied
