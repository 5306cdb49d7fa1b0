"""Wire cost and speed of `tinykit flash` through the simulated STM32 bootloader.

Flashes and verifies a 256 KiB image of random bytes (no blank blocks to skip: the worst
case) through the simulator in its own process on a pty, counting bytes at the transport
layer in both directions, read-back included. Prints bytes per image byte (the budget is
2.1), the throughput through the simulator, and what the same bytes would take on a real
UART at 115200 baud 8E1 (11 bits per byte; an estimate that leaves out the chip's erase
and programming time and the adapter's latency).

    .venv/bin/python benchmarks/bench_flash.py [--size KIB] [--chip 0x413] [--socket]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from tinykit.flash.api import FlashOptions, flash_firmware
from tinykit.flash.chips import CHIPS
from tinykit.flash.image import build_image
from tinykit.flash.simulator import SimulatedBootloader

BUDGET = 2.1


def bench(chip_id: int, size: int, socket: bool) -> None:
    layout = CHIPS[chip_id]
    data = random.Random(0).randbytes(size)
    image = build_image([(layout.flash_base, data)], "random.bin", "BIN")
    with SimulatedBootloader(chip_id, socket=socket, initial="random") as sim:
        options = FlashOptions(Path("random.bin"), sim.port, chip_id=chip_id)
        began = time.perf_counter()
        result = flash_firmware(options, image=image)
        seconds = time.perf_counter() - began
        assert result.verified and sim.read(layout.flash_base, size) == data
        commands = sim.stats()["commands"]
    wire = result.tx_bytes + result.rx_bytes
    ratio = wire / size
    uart_s = wire * 11 / 115_200
    print(f"chip             {layout.describe()} via {'socket' if socket else 'pty'}")
    print(f"image            {size:,} bytes, {len(result.erased)} sectors erased")
    print(f"host -> device   {result.tx_bytes:,} bytes")
    print(f"device -> host   {result.rx_bytes:,} bytes")
    verdict = "PASS" if ratio <= BUDGET else "FAIL"
    print(f"wire per byte    {ratio:.4f} (budget {BUDGET}: {verdict})")
    print(f"commands         {commands:,} ({commands / (size / 1024):.1f} per KiB)")
    print(f"simulated        {seconds:.2f} s, {size / 1024 / seconds:.0f} KiB/s "
          "flashed and verified")
    print(f"115200 8E1       {uart_s:.1f} s on the wire, {size / 1024 / uart_s:.2f} KiB/s "
          "(estimate: wire time only)")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image size in KiB")
    parser.add_argument("--chip", default="0x413,0x470", help="chip ids, comma-separated")
    parser.add_argument("--socket", action="store_true", help="a socket instead of a pty")
    args = parser.parse_args()
    for chip in args.chip.split(","):
        bench(int(chip, 0), args.size * 1024, args.socket)


if __name__ == "__main__":
    main()
