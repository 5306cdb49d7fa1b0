"""The STM32 system-memory bootloader over USART, as ST's AN3155 specifies it.

Framing is 8E1. The host sends 0x7F once; the bootloader measures the baud rate from it
and answers ACK (0x79). A command is its code and the code's complement; each stage of a
command is answered by ACK or NACK (0x1F); addresses are 4 bytes MSB first with an XOR
checksum; WRITE MEMORY takes at most 256 bytes with a checksum over N and the data.

Recovery. After the first sync the bootloader no longer treats 0x7F as a sync: it is just
a byte, the first of a command or one more byte of a frame the bootloader is waiting to
complete, and a lost or damaged byte can leave it in the middle of a frame. `_resync`
brings it back to waiting for a command without knowing where it stopped: it sends
bursts of a filler byte (FILL = 0x02) that complete any pending frame, chosen so that no
frame made of fillers is ever valid (each ends in NACK, never in a write or an erase),
then single fillers until a NACK settles the parity. After a NACK the bootloader waits
for a command, and the failed command is sent anew. Only a bootloader that reset (after
WRITE UNPROTECT, or a glitch) needs, and gets, a fresh 0x7F sync. Every wait is bounded
and every command is tried `Timing.attempts` times at most.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tinykit.errors import FlashError
from tinykit.flash.chips import CHIPS, ChipLayout, Sector
from tinykit.flash.protocols import Bootloader, DamagedBlock, DeviceInfo, NoAnswer

T = TypeVar("T")

ACK, NACK, SYNC = 0x79, 0x1F, 0x7F
GET, GET_VERSION, GET_ID, READ_MEMORY, GO, WRITE_MEMORY = 0x00, 0x01, 0x02, 0x11, 0x21, 0x31
ERASE, EXTENDED_ERASE = 0x43, 0x44
WRITE_PROTECT, WRITE_UNPROTECT, READOUT_PROTECT, READOUT_UNPROTECT = 0x63, 0x73, 0x82, 0x92

#: The resync filler. Even and non-zero, so that no frame made of fillers has a valid
#: checksum: an address (4 x F, XOR F) is 0 != F; a WRITE (N=F, F+1 data, checksum F)
#: XORs to 0 != F; a pair (F, F) is no command. Small, so that a WRITE begun with N=F
#: is over after 5 fillers. And not 0x7F: a WRITE of 0x7F x 128 would be valid.
FILL = 0x02
#: Burst sizes: a stuck address or N stage (6); a WRITE's data (258); an EXTENDED
#: ERASE whose count was made of fillers (0x0202 -> 2 + 1030 + 1 bytes).
FILL_BURSTS = (6, 300, 1100)
#: Pages per erase command: keeps each command's worst-case duration (and timeout) short.
ERASE_CHUNK = 64
#: Bits per byte on the wire at 8E1 (start, 8 data, parity, stop).
BITS_PER_BYTE = 11

_REQUIRED = (GET, GET_ID, READ_MEMORY, WRITE_MEMORY)

_PROTECTED_HINT = (
    "the sector may be write-protected: `tinykit flash --unprotect ...` removes the "
    "protection of the whole flash (the chip resets), or use STM32CubeProgrammer"
)


def xor(data: bytes) -> int:
    """AN3155 checksum: the XOR of all bytes."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def address_frame(address: int) -> bytes:
    """4 address bytes, MSB first, and their XOR."""
    raw = address.to_bytes(4, "big")
    return raw + bytes([xor(raw)])


class _Failure(Exception):
    """One attempt failed on the wire: 'nack', 'timeout' or 'garbled' at a stage."""

    def __init__(self, kind: str, stage: str, detail: str = "") -> None:
        super().__init__(f"{kind} at {stage}{' ' + detail if detail else ''}")
        self.kind = kind
        self.stage = stage


class Stm32Uart(Bootloader):
    """AN3155 over a serial port: sync, GET, GET ID, READ/WRITE MEMORY, (EXTENDED) ERASE,
    GO and WRITE UNPROTECT, each retried with a resync in between."""

    name = "stm32-uart"
    description = "STM32 system-memory bootloader over USART (ST AN3155)"
    parity = "E"
    max_write = 256
    max_read = 256

    commands: tuple[int, ...] = ()
    layout: ChipLayout | None = None

    # -- wire primitives ------------------------------------------------------------

    def _wire_s(self, count: int) -> float:
        """Twice the time `count` bytes take on the wire: a margin for slow adapters."""
        return 2 * count * BITS_PER_BYTE / self.baud

    def _expect_ack(self, stage: str, timeout: float | None = None) -> None:
        reply = self.transport.read(1, self.timing.ack_s if timeout is None else timeout)
        if reply == bytes([ACK]):
            return
        if not reply:
            raise _Failure("timeout", stage)
        if reply == bytes([NACK]):
            raise _Failure("nack", stage)
        raise _Failure("garbled", stage, f"(0x{reply[0]:02X})")

    def _command(self, code: int, name: str) -> None:
        self.transport.write(bytes([code, code ^ 0xFF]))
        self._expect_ack(name)

    def _stage(self, frame: bytes, stage: str, timeout: float | None = None) -> None:
        self.transport.write(frame)
        wait = (self.timing.ack_s if timeout is None else timeout) + self._wire_s(len(frame))
        self._expect_ack(stage, wait)

    def _read_exact(self, count: int, stage: str) -> bytes:
        data = self.transport.read(count, self.timing.ack_s + self._wire_s(count))
        if len(data) < count:
            raise _Failure("timeout", stage, f"({len(data)} of {count} bytes)")
        return data

    # -- recovery -------------------------------------------------------------------

    def _resync(self) -> bool:
        """Bring the bootloader back to waiting for a command; False when it is silent.

        Bursts of FILL complete whatever frame is pending (NACK), then single fillers
        settle the parity: from idle, two fillers make one NACKed command; with one
        filler pending, one more does. See the module docstring and docs/flash.md."""
        self.stats.resyncs += 1
        link, probe = self.transport, self.timing.probe_s
        link.discard_input(probe)
        for size in FILL_BURSTS:
            link.write(bytes([FILL]) * size)
            replies = link.read(1, self.timing.ack_s + self._wire_s(size))
            replies += link.discard_input(probe, limit=2 * size)
            if NACK not in replies:
                continue  # still inside a long frame, or nobody is listening
            for _ in range(2):
                link.write(bytes([FILL]))
                if link.read(1, probe) == bytes([NACK]):
                    link.discard_input(probe)
                    return True
        # Silent: a bootloader that reset waits for a fresh 0x7F sync.
        link.write(bytes([SYNC]))
        return link.read(1, self.timing.ack_s) == bytes([ACK])

    def _attempts(self, what: str, attempt: Callable[[], T], hint: str | None = None) -> T:
        """Run `attempt` until it succeeds, resyncing in between, at most N times."""
        failures: list[_Failure] = []
        silent = 0
        for index in range(self.timing.attempts):
            if index:
                self.stats.retries += 1
            try:
                return attempt()
            except _Failure as failure:
                failures.append(failure)
                self._count(failure, what)
                # One silent resync may be a stall of the host or the adapter; two in a
                # row mean the bootloader is gone.
                silent = 0 if self._resync() else silent + 1
                if silent == 2:
                    raise self._silent(what) from failure
        raise self._gave_up(what, failures, hint)

    def _count(self, failure: _Failure, what: str) -> None:
        kind = failure.kind
        if kind == "nack":
            self.stats.nacks += 1
        elif kind == "timeout":
            self.stats.timeouts += 1
        else:
            self.stats.garbled += 1
        self.stats.events.append(f"{what}: {failure}")

    def _gave_up(self, what: str, failures: list[_Failure], hint: str | None) -> FlashError:
        kinds = {f.kind for f in failures}
        last = failures[-1]
        if kinds == {"nack"}:
            return FlashError(
                f"the bootloader refused {what} {len(failures)} times "
                f"(NACK at the {last.stage})",
                hint=hint or "the address may be protected or invalid for this chip",
            )
        return FlashError(
            f"{what} failed {len(failures)} times; last: {last}",
            hint="the serial link is unreliable: try a lower --baud, a shorter cable, "
            "or another USB-UART adapter",
        )

    def _silent(self, what: str) -> FlashError:
        return NoAnswer(
            f"the bootloader stopped answering during {what} on {self.transport.url}",
            hint="reset the board into its bootloader (BOOT0 high, then reset) and retry",
        )

    # -- connection -----------------------------------------------------------------

    def connect(self) -> DeviceInfo:
        """Sync, then GET (version, commands) and GET ID."""
        resumed = self._sync()
        version, commands = self._agreed("GET", self._get)
        missing = [f"0x{c:02X}" for c in _REQUIRED if c not in commands]
        if missing:
            raise FlashError(
                f"the bootloader does not offer command(s) {', '.join(missing)}",
                hint="readout protection may be active, or this is not an STM32 bootloader",
            )
        self.commands = commands
        chip_id = self._agreed("GET ID", self._get_id)
        self.layout = CHIPS.get(chip_id)
        return DeviceInfo(chip_id, self.layout, version, commands, resumed)

    def _agreed(self, what: str, attempt: Callable[[], T]) -> T:
        """The answer of a command without checksum, asked until two answers agree."""
        seen: list[T] = []
        for _ in range(self.timing.attempts):
            answer = self._attempts(what, attempt)
            if answer in seen:
                return answer
            seen.append(answer)
        raise FlashError(
            f"the bootloader answered {what} differently every time",
            hint="the serial link is unreliable: try a lower --baud or another adapter",
        )

    def _sync(self) -> bool:
        """Send 0x7F until ACK (a fresh sync) or NACK (synced by an earlier session).

        Returns True when the bootloader had been synced before (it took the 0x7F as the
        first byte of a command)."""
        link = self.transport
        for _ in range(self.timing.sync_attempts):
            link.discard_input(self.timing.probe_s)
            link.write(bytes([SYNC]))
            # Short: a bootloader synced before answers only the second 0x7F. A fresh
            # one answering late leaves one 0x7F pending, which the first command's
            # NACK and resync clear.
            reply = link.read(1, min(self.timing.ack_s, 2 * self.timing.probe_s))
            if reply == bytes([ACK]):
                return False
            if reply == bytes([NACK]):
                return True
            if not reply:
                # Either silent, or synced before: then a second 0x7F makes an invalid
                # command, answered with NACK.
                link.write(bytes([SYNC]))
                reply = link.read(1, self.timing.ack_s)
                if reply == bytes([NACK]):
                    return True
                if reply == bytes([ACK]):
                    return False
        if self._resync():
            return True
        raise NoAnswer(
            f"no answer from an STM32 bootloader on {link.url} at {self.baud} baud",
            hint="put the board in its bootloader (BOOT0 high, then reset; or set [flash] "
            "boot_sequence), and check the port, the baud rate and the TX/RX wiring",
        )

    def _get(self) -> tuple[int, tuple[int, ...]]:
        self._command(GET, "GET")
        count = self._read_exact(1, "GET length")[0]
        body = self._read_exact(count + 2, "GET reply")
        if body[-1] != ACK:
            raise _Failure("garbled", "GET reply", "(no final ACK)")
        return body[0], tuple(body[1:-1])

    def _get_id(self) -> int:
        self._command(GET_ID, "GET ID")
        count = self._read_exact(1, "GET ID length")[0]
        if count > 8:
            raise _Failure("garbled", "GET ID length", f"({count})")
        body = self._read_exact(count + 2, "GET ID reply")
        if body[-1] != ACK:
            raise _Failure("garbled", "GET ID reply", "(no final ACK)")
        return int.from_bytes(body[:2], "big")

    # -- memory ---------------------------------------------------------------------

    def read(self, address: int, length: int) -> bytes:
        """READ MEMORY: up to 256 bytes (no checksum on the data: the caller compares)."""
        if not 0 < length <= self.max_read:
            raise ValueError(f"read length {length} is not 1..{self.max_read}")

        def attempt() -> bytes:
            self._command(READ_MEMORY, "READ MEMORY")
            self._stage(address_frame(address), "address")
            self._stage(bytes([length - 1, (length - 1) ^ 0xFF]), "length")
            return self._read_exact(length, "data")

        return self._attempts(
            f"READ MEMORY at 0x{address:08X}", attempt,
            hint="readout protection may be active (RDP level 1): it forbids reading the "
            "flash; removing it erases the chip",
        )

    def write(self, address: int, data: bytes) -> None:
        """WRITE MEMORY: up to 256 bytes, address and length multiples of 4 (or 8).

        When an attempt got no clear answer after the data went out, the block may have
        been programmed already; it is read back (twice alike) before trying again: the
        data means done, erased flash means try again, anything else raises
        DamagedBlock."""
        if not 0 < len(data) <= self.max_write:
            raise ValueError(f"write length {len(data)} is not 1..{self.max_write}")
        frame = bytes([len(data) - 1]) + data
        frame += bytes([xor(frame)])
        state = {"maybe_written": False}

        def attempt() -> None:
            if state["maybe_written"]:
                found = self.read_stable(address, len(data))
                if found == data:
                    return
                if found.count(0xFF) != len(found):
                    raise DamagedBlock(address, found)
                state["maybe_written"] = False
            self._command(WRITE_MEMORY, "WRITE MEMORY")
            self._stage(address_frame(address), "address")
            try:
                self._stage(frame, "data")
            except _Failure as failure:
                # A NACK means the frame was refused, nothing programmed; a lost or
                # garbled answer leaves open whether the block was programmed.
                if failure.kind != "nack":
                    state["maybe_written"] = True
                raise

        self._attempts(f"WRITE MEMORY at 0x{address:08X}", attempt, hint=_PROTECTED_HINT)

    def erase(self, sectors: Sequence[Sector]) -> None:
        """ERASE or EXTENDED ERASE (whichever GET lists) of these pages or sectors."""
        rate = self.layout.erase_s_per_kib if self.layout else 0.04
        for start in range(0, len(sectors), ERASE_CHUNK):
            chunk = list(sectors[start:start + ERASE_CHUNK])
            frame = self._erase_frame([s.number for s in chunk])
            seconds = sum(s.size for s in chunk) / 1024 * rate
            first, last = chunk[0], chunk[-1]
            what = (
                f"ERASE of sector(s) {first.number}-{last.number} "
                f"(0x{first.address:08X}-0x{last.end - 1:08X})"
            )
            self._attempts(what, self._erase_attempt(frame, seconds), hint=_PROTECTED_HINT)

    def mass_erase(self) -> None:
        """Erase the whole flash (0xFFFF for EXTENDED ERASE, 0xFF for ERASE)."""
        frame = b"\xff\xff\x00" if self._erase_code() == EXTENDED_ERASE else b"\xff\x00"
        seconds = self.layout.mass_erase_s if self.layout else 40.0
        self._attempts("mass ERASE", self._erase_attempt(frame, seconds), hint=_PROTECTED_HINT)

    def _erase_attempt(self, frame: bytes, seconds: float) -> Callable[[], None]:
        code = self._erase_code()

        def attempt() -> None:
            self._command(code, "ERASE" if code == ERASE else "EXTENDED ERASE")
            self._stage(frame, "page list", timeout=self.timing.ack_s + seconds)

        return attempt

    def _erase_code(self) -> int:
        for code in (EXTENDED_ERASE, ERASE):
            if code in self.commands:
                return code
        raise FlashError("the bootloader offers neither ERASE (0x43) nor EXTENDED ERASE (0x44)")

    def _erase_frame(self, pages: list[int]) -> bytes:
        if self._erase_code() == EXTENDED_ERASE:
            body = (len(pages) - 1).to_bytes(2, "big")
            body += b"".join(p.to_bytes(2, "big") for p in pages)
        else:
            if max(pages) > 0xFE:
                raise FlashError(f"page {max(pages)} cannot be named by ERASE (0x43)")
            body = bytes([len(pages) - 1, *pages])
        return body + bytes([xor(body)])

    # -- control --------------------------------------------------------------------

    def go(self, address: int) -> bool:
        """GO: the bootloader ACKs the address, then jumps to the firmware.

        A lost final ACK cannot be told from a started firmware, except that the
        bootloader no longer answers; then this returns False (not confirmed)."""
        for _ in range(self.timing.attempts):
            try:
                self._command(GO, "GO")
                self._stage(address_frame(address), "address")
                return True
            except _Failure as failure:
                self._count(failure, "GO")
                if failure.stage == "address" and failure.kind != "nack":
                    return False
                if not self._resync():
                    return False
        raise FlashError(
            f"the bootloader refused GO 0x{address:08X}",
            hint="the address must hold a vector table (initial SP, reset handler)",
        )

    def unprotect(self) -> None:
        """WRITE UNPROTECT: clears every sector's protection, then the chip resets and
        must be synced again with 0x7F (the one place the protocol allows a new sync)."""

        def attempt() -> None:
            self._command(WRITE_UNPROTECT, "WRITE UNPROTECT")
            self._expect_ack("option bytes", self.timing.ack_s + 2.0)

        self._attempts("WRITE UNPROTECT", attempt)
        self._sync()
