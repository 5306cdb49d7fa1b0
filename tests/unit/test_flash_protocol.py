"""The host side of AN3155 and the flashing sequence, against the simulated bootloader.

These run the real `Stm32Uart` and `flash_image` against the real simulated device over
an in-process wire (`DeviceLink`): no pty and no clock, so every fault is replayable.
The process-backed runs over a pty and a socket are in tests/integration.
"""

from __future__ import annotations

import random

import pytest

from tinykit.errors import FlashError
from tinykit.flash.chips import CHIPS
from tinykit.flash.flow import FlashPlan, FlashResult, flash_image
from tinykit.flash.image import Image, build_image
from tinykit.flash.simdevice import Device, DeviceLink, Faults
from tinykit.flash.stm32 import Stm32Uart, address_frame

BASE = 0x0800_0000


def old_firmware(chip_id: int, seed: int = 7) -> bytes:
    """Flash content left by an earlier firmware: a missing erase would show."""
    return random.Random(seed).randbytes(CHIPS[chip_id].flash_size)


def image_of(size: int, seed: int = 1, address: int = BASE) -> Image:
    return build_image([(address, random.Random(seed).randbytes(size))], "test.bin", "BIN")


def run(image: Image, chip_id: int = 0x413, faults: Faults | None = None,
        plan: FlashPlan | None = None, device: Device | None = None
        ) -> tuple[FlashResult, Device, DeviceLink]:
    device = device or Device(CHIPS[chip_id], faults, old_firmware(chip_id))
    link = DeviceLink(device)
    result = flash_image(Stm32Uart(link, 115_200), image, plan or FlashPlan())
    return result, device, link


def holds(device: Device, image: Image) -> bool:
    base = device.layout.flash_base
    return all(device.flash[s.address - base:s.end - base] == s.data for s in image.segments)


def test_connect_reports_chip_version_and_commands():
    device = Device(CHIPS[0x449])
    info = Stm32Uart(DeviceLink(device), 115_200).connect()
    assert (info.chip_id, info.layout, info.version_text) == (0x449, CHIPS[0x449], "v3.1")
    assert 0x44 in info.commands and not info.resumed
    # A second session finds the bootloader synced already: 0x7F then makes a NACK.
    assert Stm32Uart(DeviceLink(device), 115_200).connect().resumed


@pytest.mark.parametrize("chip_id", sorted(CHIPS))
def test_flash_erases_only_the_covered_sectors(chip_id):
    layout = CHIPS[chip_id]
    image = build_image([(BASE + 0x100, b"\x5a" * 3000), (BASE + 0x4000, b"\xa5" * 100)],
                        "two.bin", "BIN")
    result, device, _ = run(image, chip_id)
    assert result.verified and holds(device, image)
    erased = {s.number for s in result.erased}
    assert erased == {s.number for s in layout.sectors_covering(image.ranges())}
    old = old_firmware(chip_id)
    for sector in layout.sectors:
        start, end = sector.address - BASE, sector.end - BASE
        if sector.number not in erased:
            assert device.flash[start:end] == old[start:end], "an untouched sector changed"
    first = layout.sectors[0]
    assert device.flash[0:0x100] == b"\xff" * 0x100 and first.number in erased


def test_wire_budget_for_256_kib():
    image = image_of(256 * 1024)
    result, device, link = run(image)
    assert result.verified and holds(device, image)
    ratio = (link.tx_bytes + link.rx_bytes) / image.size
    assert ratio <= 2.1, f"{ratio:.4f} bytes on the wire per image byte"


@pytest.mark.parametrize("kind", ["drop_rx", "drop_tx", "corrupt_rx", "corrupt_tx"])
def test_one_fault_at_every_13th_byte_ends_verified(kind):
    image = image_of(1024)
    _, _, clean = run(image)
    length = clean.tx_bytes if kind.endswith("rx") else clean.rx_bytes
    for index in range(kind.startswith("corrupt"), length, 13):
        result, device, _ = run(image, faults=Faults(**{kind: (index,)}, seed=index))
        assert result.verified and holds(device, image), f"{kind} at byte {index}"


def test_nack_of_any_command_is_retried():
    image = image_of(2048)
    _, clean_device, _ = run(image)
    for number in range(1, clean_device.counters.commands + 1):
        result, device, _ = run(image, faults=Faults(nack_commands=(number,)))
        assert result.verified and holds(device, image) and result.link.nacks == 1


@pytest.mark.parametrize("seed", range(20))
def test_random_faults_end_verified_or_in_a_clear_error(seed):
    """One dropped or damaged byte per 2 KiB on average, in both directions."""
    image = image_of(24 * 1024, seed)
    faults = Faults(byte_error_rate=1 / 2048, seed=seed)
    device = Device(CHIPS[0x413], faults, old_firmware(0x413, seed))
    try:
        result, device, _ = run(image, device=device)
    except FlashError as exc:
        assert exc.message and exc.hint
        return
    assert device.counters.faults > 0
    assert result.verified and holds(device, image)


def test_silent_device_is_a_clear_error():
    with pytest.raises(FlashError, match="no answer from an STM32 bootloader") as info:
        run(image_of(64), faults=Faults(silent=True))
    assert "BOOT0" in (info.value.hint or "")


def test_wrong_chip_id_names_both():
    plan = FlashPlan(expected_chip_id=0x413, expected_from="target stm32f4-discovery")
    with pytest.raises(FlashError) as info:
        run(image_of(64), faults=Faults(reported_chip_id=0x449), plan=plan)
    assert info.value.message == (
        "the bootloader reports STM32F74x/75x (chip id 0x449), but the target expects "
        "STM32F40x/41x (chip id 0x413) (target stm32f4-discovery)")


def test_write_protected_sector_is_named_and_left_alone():
    image = image_of(40 * 1024)  # sectors 0-2 of an F407
    device = Device(CHIPS[0x413], Faults(protected_sectors=(1,)), old_firmware(0x413))
    with pytest.raises(FlashError, match=r"refused ERASE of sector\(s\) 0-2 "
                       r"\(0x08000000-0x0800BFFF\)") as info:
        run(image, device=device)
    assert "write-protected" in (info.value.hint or "")
    old = old_firmware(0x413)
    assert device.flash[0x4000:0x8000] == old[0x4000:0x8000]
    # --unprotect clears the protection (the chip resets and is synced again).
    result, device, _ = run(image, device=device, plan=FlashPlan(unprotect=True))
    assert result.verified and holds(device, image) and not device.protected


def test_a_sector_that_does_not_erase_is_never_reported_verified():
    device = Device(CHIPS[0x413], Faults(unerasable_sectors=(2,)), old_firmware(0x413))
    with pytest.raises(FlashError, match=r"verify failed at 0x080080\w\w: wrote 0x\w\w, "
                       r"read back 0x\w\w"):
        run(image_of(48 * 1024), device=device)
    assert device.counters.commands > 0


def test_no_verify_reports_unverified():
    result, device, link = run(image_of(4096), plan=FlashPlan(verify=False))
    assert not result.verified and holds(device, image_of(4096))
    assert link.rx_bytes < link.tx_bytes / 10  # nothing was read back


def test_go_starts_the_firmware_and_a_lost_ack_is_not_claimed():
    image = image_of(1024)
    result, device, _ = run(image, plan=FlashPlan(go=True))
    assert result.started and result.start_confirmed and device.counters.went_to == BASE
    _, clean, _ = run(image)
    last_ack = clean.counters.tx + 1  # GO: ACK, ACK; the second one is lost
    result, device, _ = run(image, plan=FlashPlan(go=True), faults=Faults(drop_tx=(last_ack,)))
    assert device.counters.went_to == BASE and not result.start_confirmed


def test_mass_erase_erases_everything():
    image = image_of(1024)
    result, device, _ = run(image, plan=FlashPlan(mass_erase=True))
    assert result.mass_erased and result.verified and holds(device, image)
    assert device.flash[0x10_0000 - 64:] == b"\xff" * 64


def test_legacy_erase_and_erased_only_flash():
    image = image_of(5000)
    result, device, _ = run(image, chip_id=0x410)  # ERASE 0x43, 1 KiB pages
    assert result.verified and holds(device, image)
    assert [s.number for s in result.erased] == [0, 1, 2, 3, 4]


def test_lost_write_ack_on_ecc_flash_is_read_back_not_rewritten():
    """L4: writing the same double words again fails, so a retry must look first."""
    image = image_of(512)
    device = Device(CHIPS[0x470], None, old_firmware(0x470))
    session = DeviceLink(device)
    loader = Stm32Uart(session, 115_200)
    loader.connect()
    loader.erase(CHIPS[0x470].sectors[:1])
    device.faults.drop_tx = (device.counters.tx + 2,)  # WRITE: ACK, ACK, then this one
    loader.write(BASE, image.segments[0].data[:256])
    assert loader.stats.timeouts == 1 and bytes(device.flash[:256]) == image.segments[0].data[:256]


def test_bootloader_left_inside_a_frame_by_an_earlier_session():
    device = Device(CHIPS[0x413], None, old_firmware(0x413))
    device.feed(b"\x7f" + bytes([0x31, 0xCE]) + address_frame(BASE) + b"\xff" + b"\x00" * 40)
    image = image_of(1024)
    result, device, _ = run(image, device=device)
    assert result.verified and holds(device, image)


def test_trace_sees_every_byte():
    frames: list[tuple[str, bytes]] = []
    device = Device(CHIPS[0x413])
    link = DeviceLink(device)
    link.trace = lambda direction, data: frames.append((direction, data))
    flash_image(Stm32Uart(link, 115_200), image_of(300), FlashPlan())
    assert frames[0] == ("tx", b"\x7f") and frames[1] == ("rx", b"\x79")
    assert sum(len(d) for k, d in frames if k == "tx") == link.tx_bytes
    assert sum(len(d) for k, d in frames if k == "rx") == link.rx_bytes
