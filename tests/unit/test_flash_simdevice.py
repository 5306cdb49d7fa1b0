"""The simulated bootloader answers byte for byte as AN3155 specifies."""

from __future__ import annotations

import pytest

from tinykit.flash.chips import CHIPS
from tinykit.flash.simdevice import Device, Faults
from tinykit.flash.stm32 import address_frame, xor

ACK, NACK = b"\x79", b"\x1f"


def synced(chip_id: int = 0x413, faults: Faults | None = None, initial=None) -> Device:
    device = Device(CHIPS[chip_id], faults, initial)
    assert device.feed(b"\x7f") == ACK
    return device


def command(code: int) -> bytes:
    return bytes([code, code ^ 0xFF])


def write_frame(data: bytes) -> bytes:
    body = bytes([len(data) - 1]) + data
    return body + bytes([xor(body)])


def write(device: Device, address: int, data: bytes) -> bytes:
    return device.feed(command(0x31)) + device.feed(address_frame(address)) + \
        device.feed(write_frame(data))


def read(device: Device, address: int, count: int) -> bytes:
    length = bytes([count - 1, (count - 1) ^ 0xFF])
    return device.feed(command(0x11) + address_frame(address) + length)


def test_sync_then_0x7f_is_no_longer_a_sync():
    device = Device(CHIPS[0x413])
    assert device.feed(b"\x00\x55") == b""  # noise before the autobaud byte is ignored
    assert device.feed(b"\x7f") == ACK
    # AN3155: after the first sync, 0x7F is an ordinary byte: (0x7F, 0x7F) is no command.
    assert device.feed(b"\x7f") == b""
    assert device.feed(b"\x7f") == NACK


def test_get_get_version_get_id():
    device = synced()
    assert device.feed(command(0x00)) == bytes(
        [0x79, 11, 0x31, 0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x44, 0x63, 0x73, 0x82, 0x92, 0x79])
    assert device.feed(command(0x01)) == bytes([0x79, 0x31, 0x00, 0x00, 0x79])
    assert device.feed(command(0x02)) == bytes([0x79, 0x01, 0x04, 0x13, 0x79])
    assert synced(0x410).feed(command(0x00))[2:3] == b"\x22"  # F1: v2.2, ERASE 0x43
    assert 0x43 in synced(0x410).feed(command(0x00))
    assert device.feed(b"\x00\x00") == NACK  # a wrong complement


def test_read_memory_and_its_refusals():
    device = synced()
    assert read(device, 0x0800_0000, 16) == ACK * 3 + b"\xff" * 16
    assert device.feed(command(0x11) + address_frame(0x0900_0000)) == ACK + NACK  # no memory
    bad_checksum = address_frame(0x0800_0000)[:4] + b"\x00"
    assert device.feed(command(0x11) + bad_checksum) == ACK + NACK
    assert device.feed(command(0x11) + address_frame(0x0800_0000) + b"\x03\x00") == ACK * 2 + NACK


def test_write_memory_programs_and_a_bad_checksum_programs_nothing():
    device = synced()
    frame = write_frame(b"\x12\x34\x56\x78")
    spoiled = frame[:-1] + bytes([frame[-1] ^ 1])
    assert device.feed(command(0x31) + address_frame(0x0800_0000) + spoiled) == ACK * 2 + NACK
    assert device.flash[:4] == b"\xff" * 4
    assert write(device, 0x0800_0000, b"\x12\x34\x56\x78") == ACK * 3
    assert device.flash[:4] == b"\x12\x34\x56\x78"
    unaligned = command(0x31) + address_frame(0x0800_0002)
    assert device.feed(unaligned) == ACK + NACK  # not word aligned
    # After a NACK the bootloader waits for a command: what follows is parsed as one.
    assert device.feed(b"\x00\x00") == NACK
    assert write(device, 0x0800_0000, b"\x00" * 3) == ACK * 2 + NACK  # not whole words


def test_programming_only_clears_bits_so_a_missing_erase_shows():
    device = synced()
    assert write(device, 0x0800_0000, b"\xf0\x0f\xff\x00") == ACK * 3
    assert write(device, 0x0800_0000, b"\x3c\x3c\x3c\x3c") == ACK * 3
    assert device.flash[:4] == b"\x30\x0c\x3c\x00"  # old AND new
    l4 = synced(0x470)  # ECC flash: programming a non-erased double word fails
    assert write(l4, 0x0800_0000, b"\x01" * 8) == ACK * 3
    assert write(l4, 0x0800_0000, b"\x01" * 8) == ACK * 2 + NACK
    assert write(l4, 0x0800_0000, b"\x00" * 8) == ACK * 3  # zeros are allowed


def test_extended_erase_pages_banks_and_mass():
    device = synced(0x470, initial=b"\x00" * CHIPS[0x470].flash_size)
    body = (1).to_bytes(2, "big") + (0).to_bytes(2, "big") + (256).to_bytes(2, "big")
    assert device.feed(command(0x44) + body + bytes([xor(body)])) == ACK * 2
    assert device.flash[:4096] == b"\xff" * 4096 and device.flash[4096] == 0
    assert device.flash[0x10_0000:0x10_1000] == b"\xff" * 4096
    assert device.feed(command(0x44) + b"\xff\xfd\x02") == ACK * 2  # bank 2
    assert device.flash[0x10_0000:] == b"\xff" * 0x10_0000 and device.flash[4096] == 0
    assert device.feed(command(0x44) + b"\xff\xff\x01") == ACK + NACK  # bad checksum
    assert device.feed(command(0x44) + b"\xff\xff\x00") == ACK * 2
    assert device.flash == b"\xff" * len(device.flash)


def test_legacy_erase_pages_and_global():
    layout = CHIPS[0x410]
    device = synced(0x410, initial=b"\x00" * layout.flash_size)
    assert device.feed(command(0x43) + bytes([1, 3, 5, 1 ^ 3 ^ 5])) == ACK * 2
    assert device.flash[3 * 1024:4 * 1024] == b"\xff" * 1024
    assert device.flash[4 * 1024] == 0
    assert device.feed(command(0x43) + b"\xff\x00") == ACK * 2
    assert device.flash == b"\xff" * layout.flash_size


def test_write_protection_refuses_erase_and_write_until_unprotected():
    device = synced(faults=Faults(protected_sectors=(1,)))
    page_1 = (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
    assert device.feed(command(0x44) + page_1 + bytes([xor(page_1)])) == ACK + NACK
    assert write(device, 0x0800_4000, b"\x00" * 4) == ACK * 2 + NACK
    assert device.feed(command(0x44) + b"\xff\xff\x00") == ACK + NACK  # no mass erase
    assert device.feed(command(0x73)) == ACK * 2  # then the chip resets ...
    assert device.feed(command(0x00)) == b""  # ... and waits for a fresh 0x7F
    assert device.feed(b"\x7f") == ACK
    assert write(device, 0x0800_4000, b"\x00" * 4) == ACK * 3
    # WRITE PROTECT: N, sector codes, checksum; then a reset too.
    assert device.feed(command(0x63) + bytes([0, 2, 2])) == ACK * 2
    assert device.feed(b"\x7f") == ACK and device.protected == {2}
    f1 = synced(0x410, faults=Faults(protected_sectors=(0,)))
    assert write(f1, 0x0800_0000, b"\x00" * 4) == ACK * 3  # F1: ACKed, not written
    assert f1.flash[:4] == b"\xff" * 4


def test_readout_protection():
    device = synced(initial=b"\x5a" * CHIPS[0x413].flash_size)
    assert device.feed(command(0x82)) == ACK * 2
    assert device.feed(b"\x7f") == ACK
    assert device.feed(command(0x11)) == NACK
    assert device.feed(command(0x02))[:1] == ACK  # GET ID still answers
    assert device.feed(command(0x92)) == ACK * 2  # unprotecting erases everything
    assert device.feed(b"\x7f") == ACK
    assert read(device, 0x0800_0000, 4) == ACK * 3 + b"\xff" * 4


def test_go_leaves_the_bootloader():
    device = synced()
    assert device.feed(command(0x21) + address_frame(0x0800_0000)) == ACK * 2
    assert device.counters.went_to == 0x0800_0000
    assert device.feed(b"\x7f" + command(0x00)) == b""


@pytest.mark.parametrize(
    ("faults", "sent", "answer"),
    [
        (Faults(nack_commands=(2,)), command(0x02) * 3, b"\x79\x01\x04\x13\x79" + NACK
         + b"\x79\x01\x04\x13\x79"),
        (Faults(drop_rx=(2,)), command(0x01) + b"\x7f", NACK),  # 0x01 lost: (0xFE, 0x7F)
        (Faults(corrupt_rx=(1,), seed=3), command(0x01), NACK),
        (Faults(drop_tx=(1,)), command(0x02), b"\x01\x04\x13\x79"),
        (Faults(silent=True), command(0x02), b""),
        (Faults(reported_chip_id=0x449), command(0x02), b"\x79\x01\x04\x49\x79"),
    ],
)
def test_faults(faults, sent, answer):
    device = Device(CHIPS[0x413], faults)
    device.feed(b"\x7f")
    assert device.feed(sent) == answer


def test_corrupted_answer_differs():
    device = Device(CHIPS[0x413], Faults(corrupt_tx=(2,), seed=1))
    device.feed(b"\x7f")
    answer = device.feed(command(0x02))
    assert len(answer) == 5 and answer != b"\x79\x01\x04\x13\x79"
    assert device.counters.faults == 1
