"""The simulated STM32 bootloader itself: AN3155 byte for byte, over a simulated flash.

`Device.feed(bytes) -> bytes` takes what the host sent and returns what the bootloader
answers; `tinykit.flash.simulator` runs it in a process of its own behind a pty or a
socket. The flash follows the chip table (`tinykit.flash.chips`): erased flash reads
0xFF, programming only clears bits ("and" parts give old & new; "erased-only" parts
refuse a unit that is not erased, as F1 and L4 do), so a missing erase shows. Faults
are switched on with `Faults` and draw from a seeded generator, so a run can be replayed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from typing import Any

from tinykit.flash.chips import ChipLayout
from tinykit.flash.transport import Transport

ACK, NACK, SYNC = 0x79, 0x1F, 0x7F
_READ_PROTECTED = {0x11, 0x21, 0x31, 0x43, 0x44, 0x63, 0x73}

Machine = Generator[None, int, None]


@dataclass
class Faults:
    """Faults a test switches on; byte indices count from 0, commands from 1."""

    nack_commands: tuple[int, ...] = ()
    drop_rx: tuple[int, ...] = ()
    drop_tx: tuple[int, ...] = ()
    corrupt_rx: tuple[int, ...] = ()
    corrupt_tx: tuple[int, ...] = ()
    #: Probability per byte, in either direction, of a fault (half drops, half flips).
    byte_error_rate: float = 0.0
    silent: bool = False
    protected_sectors: tuple[int, ...] = ()
    #: Worn-out sectors: an erase is ACKed but leaves their content as it was.
    unerasable_sectors: tuple[int, ...] = ()
    reported_chip_id: int | None = None
    seed: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Faults:
        raw: dict[str, Any] = json.loads(text)
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()
        }
        return cls(**values)


@dataclass
class Counters:
    rx: int = 0
    tx: int = 0
    commands: int = 0
    faults: int = 0
    resets: int = 0
    went_to: int | None = None
    log: list[str] = field(default_factory=list)


class Device:
    """One STM32 in system-memory boot mode: bootloader state, flash, RAM, protection."""

    def __init__(self, layout: ChipLayout, faults: Faults | None = None,
                 initial: bytes | None = None) -> None:
        self.layout = layout
        self.faults = faults or Faults()
        self.flash = bytearray(initial if initial is not None else b"\xff" * layout.flash_size)
        ram_start, ram_end = layout.ram
        self.ram = bytearray(ram_end - ram_start)
        self.protected = set(self.faults.protected_sectors)
        self.read_protected = False
        self.counters = Counters()
        self._random = random.Random(self.faults.seed)
        self._out = bytearray()
        self._machine = self._run()
        next(self._machine)

    # -- the wire, with faults ----------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Bytes from the host in; the bootloader's answer out (after faults)."""
        for byte in data:
            index = self.counters.rx
            self.counters.rx += 1
            if self.faults.silent:
                continue
            fate = self._fate(index, self.faults.drop_rx, self.faults.corrupt_rx)
            if fate == "drop":
                continue
            if fate == "corrupt":
                byte ^= self._random.randrange(1, 256)
            self._machine.send(byte)
        out, self._out = bytes(self._out), bytearray()
        return out

    def _emit(self, *values: int) -> None:
        for value in values:
            index = self.counters.tx
            self.counters.tx += 1
            fate = self._fate(index, self.faults.drop_tx, self.faults.corrupt_tx)
            if fate == "drop":
                continue
            if fate == "corrupt":
                value ^= self._random.randrange(1, 256)
            self._out.append(value)

    def _fate(self, index: int, drops: tuple[int, ...], flips: tuple[int, ...]) -> str:
        fate = "drop" if index in drops else "corrupt" if index in flips else ""
        rate = self.faults.byte_error_rate
        if not fate and rate and self._random.random() < rate:
            fate = "drop" if self._random.random() < 0.5 else "corrupt"
        if fate:
            self.counters.faults += 1
        return fate

    # -- the bootloader -----------------------------------------------------------------

    def _run(self) -> Machine:
        while True:
            while (yield) != SYNC:  # autobaud: anything else is noise on the line
                pass
            self._emit(ACK)
            yield from self._commands()
            self.counters.resets += 1

    def _commands(self) -> Machine:
        """Serve commands until one resets the chip (or GO leaves the bootloader)."""
        handlers = {
            0x00: self._get, 0x01: self._get_version, 0x02: self._get_id,
            0x11: self._read, 0x21: self._go, 0x31: self._write,
            self.layout.erase_command: self._erase,
            0x63: self._write_protect, 0x73: self._write_unprotect,
            0x82: self._readout_protect, 0x92: self._readout_unprotect,
        }
        while True:
            code = yield
            complement = yield
            handler = handlers.get(code)
            if complement != code ^ 0xFF or handler is None:
                self._emit(NACK)
                continue
            self.counters.commands += 1
            refused = self.read_protected and code in _READ_PROTECTED
            if refused or self.counters.commands in self.faults.nack_commands:
                self._emit(NACK)
                continue
            self._emit(ACK)
            if (yield from handler()) == "reset":
                return

    def _receive(self, count: int) -> Generator[None, int, bytes]:
        data = bytearray()
        for _ in range(count):
            data.append((yield))
        return bytes(data)

    def _address(self) -> Generator[None, int, int | None]:
        raw = yield from self._receive(5)
        if raw[4] != raw[0] ^ raw[1] ^ raw[2] ^ raw[3]:
            self._emit(NACK)
            return None
        return int.from_bytes(raw[:4], "big")

    def _get(self) -> Generator[None, int, str]:
        erase = self.layout.erase_command
        codes = [0x00, 0x01, 0x02, 0x11, 0x21, 0x31, erase, 0x63, 0x73, 0x82, 0x92]
        self._emit(len(codes), self.layout.bootloader_version, *codes, ACK)
        return ""
        yield  # unreachable: makes this a generator, like every handler

    def _get_version(self) -> Generator[None, int, str]:
        self._emit(self.layout.bootloader_version, 0x00, 0x00, ACK)
        return ""
        yield

    def _get_id(self) -> Generator[None, int, str]:
        chip_id = self.faults.reported_chip_id
        chip_id = self.layout.chip_id if chip_id is None else chip_id
        self._emit(1, chip_id >> 8, chip_id & 0xFF, ACK)
        return ""
        yield

    def _read(self) -> Generator[None, int, str]:
        address = yield from self._address()
        if address is None:
            return ""
        if self._region(address, 1) is None:
            self._emit(NACK)
            return ""
        self._emit(ACK)
        count, complement = yield from self._receive(2)
        memory = self._region(address, count + 1)
        if complement != count ^ 0xFF or memory is None:
            self._emit(NACK)
            return ""
        self._emit(ACK)
        buffer, offset = memory
        self._emit(*buffer[offset:offset + count + 1])
        return ""

    def _go(self) -> Generator[None, int, str]:
        address = yield from self._address()
        if address is None:
            return ""
        if self._region(address, 8) is None:
            self._emit(NACK)
            return ""
        self._emit(ACK)
        self.counters.went_to = address
        while True:  # the firmware runs; the bootloader is gone until a reset
            yield

    def _write(self) -> Generator[None, int, str]:
        address = yield from self._address()
        if address is None:
            return ""
        align = self.layout.write_align
        if self._region(address, 1) is None or address % align:
            self._emit(NACK)
            return ""
        self._emit(ACK)
        count = (yield) + 1
        data = yield from self._receive(count)
        checksum = yield
        valid = (count - 1) ^ _xor(data) == checksum and count % align == 0
        if not valid or self._region(address, count) is None:
            self._emit(NACK)
            return ""
        self._emit(ACK if self._program(address, data) else NACK)
        return ""

    def _erase(self) -> Generator[None, int, str]:
        extended = self.layout.erase_command == 0x44
        width = 2 if extended else 1
        raw = yield from self._receive(width)
        count = int.from_bytes(raw, "big")
        if (extended and count >= 0xFFF0) or (not extended and count == 0xFF):
            checksum = yield
            # EXTENDED ERASE: XOR of the two code bytes; ERASE: 0xFF then its complement.
            expected = _xor(raw) if extended else 0x00
            ok = checksum == expected and count in (0xFFFF, 0xFFFE, 0xFFFD, 0xFF)
            pages = self._special_pages(count) if ok else []
        else:
            body = yield from self._receive(width * (count + 1))
            checksum = yield
            pages = [int.from_bytes(body[i:i + width], "big") for i in range(0, len(body), width)]
            ok = checksum == _xor(raw + body)
        self._emit(ACK if ok and self._erase_pages(pages) else NACK)
        return ""

    def _write_protect(self) -> Generator[None, int, str]:
        count = (yield) + 1
        sectors = yield from self._receive(count)
        checksum = yield
        if checksum != (count - 1) ^ _xor(sectors) or max(sectors) >= len(self.layout.sectors):
            self._emit(NACK)
            return ""
        self.protected.update(sectors)
        self._emit(ACK)
        return "reset"

    def _write_unprotect(self) -> Generator[None, int, str]:
        self.protected.clear()
        self._emit(ACK)
        return "reset"
        yield

    def _readout_protect(self) -> Generator[None, int, str]:
        self.read_protected = True
        self._emit(ACK)
        return "reset"
        yield

    def _readout_unprotect(self) -> Generator[None, int, str]:
        self.flash[:] = b"\xff" * len(self.flash)  # leaving RDP level 1 erases the flash
        self.read_protected = False
        self.protected.clear()
        self._emit(ACK)
        return "reset"
        yield

    # -- memory -------------------------------------------------------------------------

    def _region(self, address: int, count: int) -> tuple[bytearray, int] | None:
        """The buffer holding [address, address + count) and the offset in it, or None."""
        base = self.layout.flash_base
        if base <= address and address + count <= base + len(self.flash):
            return self.flash, address - base
        ram_start = self.layout.ram[0]
        if ram_start <= address and address + count <= ram_start + len(self.ram):
            return self.ram, address - ram_start
        return None

    def _program(self, address: int, data: bytes) -> bool:
        """Program flash (or store to RAM); False where the chip would flag an error."""
        buffer, offset = self._region(address, len(data)) or (bytearray(), 0)
        if buffer is self.ram:
            self.ram[offset:offset + len(data)] = data
            return True
        unit = self.layout.program_unit
        for start in range(0, len(data), unit):
            sector = self.layout.sector_at(address + start)
            if sector.number in self.protected:
                return self.layout.silent_protected_writes
            old = self.flash[offset + start:offset + start + unit]
            new = data[start:start + unit]
            erased = old.count(0xFF) == len(old) or new.count(0) == len(new)
            if self.layout.program_rule == "erased-only" and not erased:
                return False
            merged = bytes(a & b for a, b in zip(old, new, strict=True))
            self.flash[offset + start:offset + start + unit] = merged
        return True

    def _special_pages(self, code: int) -> list[int]:
        numbers = [s.number for s in self.layout.sectors]
        half = len(numbers) // 2
        return {0xFFFF: numbers, 0xFF: numbers, 0xFFFE: numbers[:half],
                0xFFFD: numbers[half:]}[code]

    def _erase_pages(self, pages: list[int]) -> bool:
        """Erase page by page, as the flash interface does; stop at the first refusal."""
        by_number = {s.number: s for s in self.layout.sectors}
        if len(pages) == len(by_number) and self.protected:
            return False  # a mass erase is refused while any sector is protected
        for number in pages:
            sector = by_number.get(number)
            if sector is None or number in self.protected:
                return False
            if number in self.faults.unerasable_sectors:
                continue
            start = sector.address - self.layout.flash_base
            self.flash[start:start + sector.size] = b"\xff" * sector.size
        return True


def _xor(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


class DeviceLink(Transport):
    """The host's end of an in-process wire to a `Device`: no pty, no process, no clock.

    A read that finds nothing returns at once, as if its timeout had passed, so fault
    tests of a protocol are fast and replayable. DTR/RTS changes are recorded in
    `lines` as (name, value) pairs. The process-backed simulator (`simulator.py`) is
    the one to use for anything that involves pyserial, timing or the CLI.
    """

    def __init__(self, device: Device) -> None:
        super().__init__(None, f"simulated {device.layout.name}")
        self.device = device
        self.lines: list[tuple[str, bool]] = []
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        if self.trace:
            self.trace("tx", data)
        self.tx_bytes += len(data)
        self._pending += self.device.feed(data)

    def read(self, count: int, timeout: float) -> bytes:
        data = bytes(self._pending[:count])
        del self._pending[:count]
        self.rx_bytes += len(data)
        if self.trace and data:
            self.trace("rx", data)
        return data

    def read_some(self, timeout: float) -> bytes:
        return self.read(len(self._pending), timeout)

    def set_lines(self, dtr: bool | None = None, rts: bool | None = None) -> None:
        if dtr is not None:
            self.lines.append(("dtr", dtr))
        if rts is not None:
            self.lines.append(("rts", rts))
