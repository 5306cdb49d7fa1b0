"""A progress bar on stderr for erase, write and verify, in bytes.

On a terminal the bar redraws in place; elsewhere (a CI log, a pipe) it prints one
line when a phase starts and one when it ends, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tinykit.ui import human_bytes

_LABELS = {"erase": "erasing", "write": "writing", "verify": "verifying"}


class ProgressBar:
    """Callable as `progress(phase, done, total)` (see `tinykit.flash.flow.Progress`)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30,
                 live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.live = self.stream.isatty() if live is None else live
        self._phase = ""
        self._started = 0.0
        self._drawn = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            self._phase, self._started = phase, time.monotonic()
            if not self.live:
                self._line(f"{_LABELS.get(phase, phase):<10} {human_bytes(total)}")
        finished = done >= total
        if self.live:
            now = time.monotonic()
            if finished or now - self._drawn > 0.05:
                self._drawn = now
                self._draw(phase, done, total, finished)
        elif finished:
            seconds = time.monotonic() - self._started
            self._line(f"{'':<10} done in {seconds:.1f} s")

    def _draw(self, phase: str, done: int, total: int, finished: bool) -> None:
        filled = self.width if total == 0 else self.width * done // total
        bar = "#" * filled + "." * (self.width - filled)
        text = f"\r{_LABELS.get(phase, phase):<10} [{bar}] {human_bytes(done):>10} / " \
               f"{human_bytes(total)}"
        self.stream.write(text + ("\n" if finished else ""))
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
