"""Random line faults through the real stack: pyserial, a pty, the simulator process.

One dropped or damaged byte per 2 KiB on average, in both directions. Each of 20 runs
must end in a verified image or in a clear error, and no run may report a verified image
over a memory that does not hold it: the simulated flash is compared afterwards.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tinykit.errors import FlashError
from tinykit.flash.api import FlashOptions, flash_firmware
from tinykit.flash.image import build_image
from tinykit.flash.protocols import Timing
from tinykit.flash.simulator import Faults, SimulatedBootloader

BASE = 0x0800_0000
SIZE = 8 * 1024
# Short waits: the simulator answers within a millisecond. A late answer on a busy
# machine only costs a retry, which is what these runs exercise anyway.
TIMING = Timing(ack_s=0.25, probe_s=0.04)


def one_run(seed: int) -> tuple[str, str]:
    data = random.Random(seed).randbytes(SIZE)
    image = build_image([(BASE, data)], f"run{seed}.bin", "BIN")
    faults = Faults(byte_error_rate=1 / 2048, seed=seed)
    with SimulatedBootloader(0x413, faults, initial="random", seed=seed) as sim:
        options = FlashOptions(Path(image.source), sim.port, chip_id=0x413, timing=TIMING)
        try:
            result = flash_firmware(options, image=image)
        except FlashError as exc:
            assert exc.message and exc.hint, "an error must name the problem and the way out"
            return "error", exc.message
        memory = sim.read(BASE, SIZE)
        injected = sim.stats()["faults"]
    assert result.verified, "a run without an error must end verified"
    assert memory == data, f"run {seed} reported a verified image over a wrong memory"
    return "verified", f"{injected} faults, {result.link.summary()}"


@pytest.mark.slow
def test_twenty_runs_with_random_faults():
    # Four at a time: the runs mostly wait on timeouts, not on the CPU.
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(one_run, range(20)))
    verified = [detail for kind, detail in outcomes if kind == "verified"]
    errors = [detail for kind, detail in outcomes if kind == "error"]
    print(f"{len(verified)} verified, {len(errors)} clear errors: {errors}")
    assert len(verified) + len(errors) == 20
    assert len(verified) >= 10, errors  # clear errors are allowed; a broken recovery is not
