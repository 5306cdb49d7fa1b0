"""The chip table, the protocol registry and the boards' [flash] tables agree."""

from __future__ import annotations

import pytest

from tinykit.errors import ConfigError, FlashError, UnsupportedError
from tinykit.flash.boot import PRESETS, parse_boot_sequence, run_steps
from tinykit.flash.chips import CHIPS, KIB, chip_layout
from tinykit.flash.protocols import FOREIGN, PROTOCOLS, Bootloader, get_protocol
from tinykit.flash.simdevice import Device, DeviceLink
from tinykit.paths import ROOT
from tinykit.targets import load_all


def test_sector_layouts_match_the_reference_manuals():
    f4 = CHIPS[0x413]
    assert [s.size // KIB for s in f4.sectors] == [16, 16, 16, 16, 64] + [128] * 7
    assert f4.flash_size == 1024 * KIB and f4.sectors[5].address == 0x0802_0000
    f7 = CHIPS[0x449]
    assert [s.size // KIB for s in f7.sectors] == [32, 32, 32, 32, 128, 256, 256, 256]
    l4 = CHIPS[0x470]
    assert l4.flash_size == 2048 * KIB and {s.size for s in l4.sectors} == {4 * KIB}
    assert l4.sector_at(0x0810_0000).number == 256  # first page of bank 2
    for layout in CHIPS.values():
        address = layout.flash_base
        for expected_number, sector in enumerate(layout.sectors):
            assert (sector.number, sector.address) == (expected_number, address)
            address = sector.end
        assert layout.erase_command in (0x43, 0x44)
        assert layout.program_rule in ("and", "erased-only")
        assert 256 % layout.write_align == 0


def test_erase_only_the_sectors_an_image_touches():
    f4 = CHIPS[0x413]
    touched = f4.sectors_covering([(0x0800_0000, 0x0800_4001), (0x0801_0000, 0x0801_0010)])
    assert [s.number for s in touched] == [0, 1, 4]
    with pytest.raises(FlashError, match="0x08100000 is outside the STM32F40x/41x flash"):
        f4.sector_at(0x0810_0000)


def test_unknown_chip_id_lists_the_known_ones():
    with pytest.raises(FlashError, match="chip id 0x999 has no memory layout") as info:
        chip_layout(0x999)
    assert "0x413 STM32F40x/41x" in info.value.message


def test_every_board_protocol_is_registered_or_explained():
    for target in load_all():
        protocol = target.flash_protocol
        assert protocol in PROTOCOLS or protocol in FOREIGN, target.name
        if protocol in FOREIGN:
            with pytest.raises(UnsupportedError) as info:
                get_protocol(protocol)
            assert info.value.hint
    for name, entry in PROTOCOLS.items():
        cls = entry.load()
        assert issubclass(cls, Bootloader) and cls.name == name


def test_unknown_protocol_lists_known():
    with pytest.raises(ConfigError, match="unknown flashing protocol 'xmodem'; known: stm32-uart"):
        get_protocol("xmodem")


def test_stm32_boards_match_the_chip_table():
    boards = [t for t in load_all() if t.flash_protocol == "stm32-uart"]
    assert {t.name for t in boards} >= {"nucleo-l4r5zi", "stm32f4-discovery", "disco-f746ng"}
    for target in boards:
        layout = chip_layout(target.get("flash", "chip_id"))
        assert target.flash_bytes == layout.flash_size, target.name
        assert target.get("memory", "flash_origin") == layout.flash_base
        assert target.get("flash", "address") == layout.flash_base
        parse_boot_sequence(target.get("flash", "boot_sequence", "none"))


def test_docs_list_every_protocol_and_chip():
    text = (ROOT / "docs" / "flash.md").read_text()
    for name in [*PROTOCOLS, *FOREIGN]:
        assert f"`{name}`" in text, name
    for chip_id in CHIPS:
        assert f"0x{chip_id:03X}" in text


def test_boot_sequences_parse_and_drive_the_lines():
    for name in PRESETS:
        parse_boot_sequence(name)
    sequence = parse_boot_sequence("dtr=1,rts=1,wait=1,rts=0:dtr=0")
    assert sequence.entry == (("dtr", 1), ("rts", 1), ("wait", 1), ("rts", 0))
    assert sequence.exit == (("dtr", 0),)
    link = DeviceLink(Device(CHIPS[0x413]))
    run_steps(link, sequence.entry)
    assert link.lines == [("dtr", True), ("rts", True), ("rts", False)]
    assert parse_boot_sequence("none").is_empty


@pytest.mark.parametrize("text", ["dtr=2", "boot0=1", "wait=x", "a:b:c", "wait=99999"])
def test_bad_boot_sequence_names_the_step(text):
    with pytest.raises(ConfigError, match=f"boot sequence '{text}'") as info:
        parse_boot_sequence(text)
    assert "dtr-boot0-rts-reset" in (info.value.hint or "")
