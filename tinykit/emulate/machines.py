"""The QEMU machines tinykit runs firmware on, and how their counters become instructions.

Each entry was checked by running firmware in qemu-system-arm 7.2: the RAM at the top of
the region reads back, the UART's receive interrupt fires on the IRQ given, and a loop of
known length gives the instruction count expected (see docs/firmware.md).

Counting. Under `-icount shift=N` QEMU advances virtual time by 2^N ns per executed
instruction, and SysTick (clocked at `systick_hz`) ticks with virtual time. So an interval
of n instructions spans n * r ticks, r = systick_hz * 2^N / 1e9, up to one tick of phase
either way. With r >= 2 the count is recovered exactly: n = round(ticks / r). The shifts
below make r between 3.2 and 5.1. Each 24-bit SysTick wrap runs a five-instruction
interrupt handler, which the firmware reports and the host subtracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tinykit.errors import EmulatorError

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Machine:
    """A qemu-system-arm machine: memory map, UART, SysTick clock and icount shift."""

    name: str
    description: str
    cpu: str
    bsp: str
    flash_origin: int
    flash_bytes: int
    ram_origin: int
    ram_bytes: int
    uart_base: int
    uart_irq: int
    systick_hz: int
    icount_shift: int
    #: QEMU properties that size flash and RAM (`-global`), when the machine has them.
    flash_size_property: str = ""
    ram_size_property: str = ""

    @property
    def ticks_per_instruction(self) -> Fraction:
        """SysTick ticks per executed instruction under this machine's icount shift."""
        return Fraction(self.systick_hz * 2**self.icount_shift, 10**9)

    def instructions(self, ticks: int, wraps: int = 0, isr_instructions: int = 0) -> int:
        """Executed instructions in an interval of `ticks` SysTick ticks (exact).

        `wraps` counter-wrap interrupts ran inside the interval, `isr_instructions` each;
        they are the counter's own cost, not the measured code's, and are taken out.
        """
        exact = Fraction(ticks) / self.ticks_per_instruction
        return int(exact + Fraction(1, 2)) - wraps * isr_instructions

    def sized_regions(self, flash_bytes: int, ram_bytes: int) -> tuple[int, int]:
        """Flash and RAM the firmware may use: the target's budget within the machine.

        A machine whose memory QEMU can size is given exactly the budget; on the others
        the linker region is the smaller of the two, so a firmware that links fits both.
        """
        flash = flash_bytes if self.flash_size_property else min(flash_bytes, self.flash_bytes)
        ram = ram_bytes if self.ram_size_property else min(ram_bytes, self.ram_bytes)
        return flash, ram

    def qemu_args(self, flash_bytes: int, ram_bytes: int) -> list[str]:
        """Machine options of the command line (no kernel, no serial)."""
        args = ["-M", self.name, "-icount", f"shift={self.icount_shift}"]
        if self.flash_size_property:
            args += ["-global", f"{self.flash_size_property}={flash_bytes}"]
        if self.ram_size_property:
            args += ["-global", f"{self.ram_size_property}={ram_bytes}"]
        return args


def _mps2(name: str, cpu: str, description: str) -> Machine:
    return Machine(
        name=name, description=description, cpu=cpu, bsp="cmsdk",
        flash_origin=0x0000_0000, flash_bytes=4 * MIB, ram_origin=0x2000_0000,
        ram_bytes=4 * MIB, uart_base=0x4000_4000, uart_irq=0, systick_hz=25_000_000,
        icount_shift=7,
    )


MACHINES: dict[str, Machine] = {
    "mps2-an385": _mps2("mps2-an385", "cortex-m3", "Arm MPS2 AN385 (Cortex-M3)"),
    "mps2-an386": _mps2("mps2-an386", "cortex-m4", "Arm MPS2 AN386 (Cortex-M4F)"),
    "mps2-an500": _mps2("mps2-an500", "cortex-m7", "Arm MPS2 AN500 (Cortex-M7)"),
    # Boots secure: code in SSRAM1's secure alias, data in SSRAM2+3's, UART0's secure
    # alias; the UART's combined interrupt is IRQ 42.
    "mps2-an505": Machine(
        name="mps2-an505", description="Arm MPS2 AN505 (Cortex-M33)", cpu="cortex-m33",
        bsp="cmsdk", flash_origin=0x1000_0000, flash_bytes=4 * MIB,
        ram_origin=0x3800_0000, ram_bytes=4 * MIB, uart_base=0x5020_0000, uart_irq=42,
        systick_hz=20_000_000, icount_shift=8,
    ),
    # Code in the 512 KiB ITCM, data in the 512 KiB DTCM.
    "mps3-an547": Machine(
        name="mps3-an547", description="Arm MPS3 AN547 (Cortex-M55)", cpu="cortex-m55",
        bsp="cmsdk", flash_origin=0x0000_0000, flash_bytes=512 * KIB,
        ram_origin=0x2000_0000, ram_bytes=512 * KIB, uart_base=0x4930_3000, uart_irq=43,
        systick_hz=32_000_000, icount_shift=7,
    ),
    # The nRF51 has 16 KiB of RAM, less than many models' arenas; QEMU's nrf51-soc sizes
    # its SRAM and flash by property, so the emulated part gets the target's budget.
    "microbit": Machine(
        name="microbit", description="BBC micro:bit (nRF51822, Cortex-M0)", cpu="cortex-m0",
        bsp="nrf51", flash_origin=0x0000_0000, flash_bytes=256 * KIB,
        ram_origin=0x2000_0000, ram_bytes=16 * KIB, uart_base=0x4000_2000, uart_irq=2,
        systick_hz=16_000_000, icount_shift=8,
        flash_size_property="nrf51-soc.flash-size", ram_size_property="nrf51-soc.sram-size",
    ),
}


def get_machine(name: str) -> Machine:
    """The machine called `name`; raises EmulatorError listing the known ones."""
    try:
        return MACHINES[name]
    except KeyError:
        known = ", ".join(sorted(MACHINES))
        raise EmulatorError(
            f"tinykit has no firmware support for the QEMU machine '{name}'; known: {known}",
            hint="set [emulator] qemu_machine in the target file to one of them",
        ) from None
