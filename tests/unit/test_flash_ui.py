"""What a person sees: the progress bar, the hex trace, sector lists."""

from __future__ import annotations

import io

from tinykit.flash.chips import CHIPS
from tinykit.flash.flow import sector_ranges
from tinykit.flash.progress import ProgressBar
from tinykit.flash.transport import hex_trace


def test_progress_bar_live_redraws_in_place_and_ends_the_line():
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10, live=True)
    bar("write", 0, 2048)
    bar("write", 2048, 2048)
    text = stream.getvalue()
    assert text.startswith("\rwriting    [..........]        0 B / 2.0 KiB")
    assert text.endswith("\rwriting    [##########]    2.0 KiB / 2.0 KiB\n")


def test_progress_bar_in_a_log_prints_start_and_end_only():
    stream = io.StringIO()
    bar = ProgressBar(stream, live=False)
    for done in range(0, 4097, 256):
        bar("verify", done, 4096)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "verifying  4.0 KiB" and lines[1].strip().startswith("done in")
    assert len(lines) == 2


def test_hex_trace_wraps_long_frames():
    stream = io.StringIO()
    trace = hex_trace(stream)
    trace("tx", bytes([0x31, 0xCE]))
    trace("rx", bytes(range(20)))
    assert stream.getvalue().splitlines() == [
        "tx 31 ce",
        "rx 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  (20 bytes)",
        "   10 11 12 13",
    ]


def test_sector_ranges():
    assert sector_ranges([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"
    assert sector_ranges(list(CHIPS[0x413].sectors[3:5])) == "3-4"
