"""Board-support layers of the baremetal template: one C file per QEMU machine family or part.

A target names its layer in the TOML: `[emulator] bsp` for the firmware that runs in QEMU
(it must match the machine's), `[firmware] bsp` and `[firmware] uart` for the real board.
Hardware layers run the core at its clock after reset (no PLL set-up that could not be
tested here) and count cycles with the DWT; QEMU layers count SysTick ticks under -icount.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinykit.emulate.machines import Machine, get_machine
from tinykit.emulate.protocol import CounterKind
from tinykit.errors import ConfigError, EmulatorError
from tinykit.targets import Target


@dataclass(frozen=True)
class BoardSupport:
    """One board-support layer: its C file, counter and the UARTs it can drive."""

    name: str
    title: str
    #: The counter implementation: "systick" (tkfw_counter_systick.c) or "dwt".
    counter: str
    counter_kind: CounterKind
    #: Core clock the layer leaves the part at (Hz); 0 for QEMU, whose rate is the machine's.
    core_hz: int = 0
    #: UART names the layer drives (as in `[firmware] uart`); empty for QEMU layers.
    uarts: tuple[str, ...] = ()
    #: How the board's UART reaches a host, for the generated README.
    wiring: str = ""

    @property
    def source(self) -> str:
        return f"bsp_{self.name}.c"

    @property
    def emulated(self) -> bool:
        return self.counter_kind is CounterKind.ICOUNT_SYSTICK


BOARD_SUPPORT: dict[str, BoardSupport] = {
    "cmsdk": BoardSupport(
        name="cmsdk", title="QEMU MPS2/MPS3 (CMSDK UART0)", counter="systick",
        counter_kind=CounterKind.ICOUNT_SYSTICK,
    ),
    "nrf51": BoardSupport(
        name="nrf51", title="QEMU micro:bit (nRF51 UART)", counter="systick",
        counter_kind=CounterKind.ICOUNT_SYSTICK,
    ),
    "stm32l4": BoardSupport(
        name="stm32l4", title="STM32L4R5 (LPUART1, MSI 4 MHz)", counter="dwt",
        counter_kind=CounterKind.CYCLES, core_hz=4_000_000, uarts=("LPUART1",),
        wiring="LPUART1 on PG7/PG8 is the ST-LINK virtual COM port (USB, /dev/ttyACM*)",
    ),
    "stm32f4": BoardSupport(
        name="stm32f4", title="STM32F407 (USART2, HSI 16 MHz)", counter="dwt",
        counter_kind=CounterKind.CYCLES, core_hz=16_000_000, uarts=("USART2",),
        wiring="USART2 on PA2 (TX) / PA3 (RX): wire a 3.3 V USB-serial adapter to them",
    ),
    "stm32f7": BoardSupport(
        name="stm32f7", title="STM32F746 (USART1, HSI 16 MHz)", counter="dwt",
        counter_kind=CounterKind.CYCLES, core_hz=16_000_000, uarts=("USART1",),
        wiring="USART1 on PA9/PB7 is the ST-LINK virtual COM port (USB, /dev/ttyACM*)",
    ),
    "nrf52840": BoardSupport(
        name="nrf52840", title="nRF52840 (UARTE0, 64 MHz)", counter="dwt",
        counter_kind=CounterKind.CYCLES, core_hz=64_000_000, uarts=("UARTE0",),
        wiring="UARTE0 on P1.03 (TX, pin D1) / P1.10 (RX, pin D0): wire a 3.3 V USB-serial "
               "adapter; the USB port is the nRF's own and is not used",
    ),
}

BAUD = 115_200


def emulator_support(target: Target) -> tuple[BoardSupport, Machine]:
    """The QEMU machine of a target's core and its board-support layer."""
    if not target.has_emulator:
        raise EmulatorError(
            f"target '{target.name}' has no emulator ([emulator] qemu_machine is empty)",
            hint="benchmark it on the board with --port, or pick a core target (cortex-m*)",
        )
    machine = get_machine(target.qemu_machine)
    if target.emulator_bsp and target.emulator_bsp != machine.bsp:
        raise ConfigError(
            f"target '{target.name}': [emulator] bsp = '{target.emulator_bsp}' does not match "
            f"QEMU machine {machine.name}, whose board-support layer is '{machine.bsp}'",
            hint=f"set [emulator] bsp = \"{machine.bsp}\" (or leave it out)",
        )
    return BOARD_SUPPORT[machine.bsp], machine


def hardware_support(target: Target) -> BoardSupport:
    """The board-support layer of a board target; raises ConfigError when there is none."""
    name = str(target.get("firmware", "bsp", "") or "")
    support = BOARD_SUPPORT.get(name)
    if support is None or support.emulated:
        known = ", ".join(n for n, b in BOARD_SUPPORT.items() if not b.emulated)
        raise ConfigError(
            f"target '{target.name}' has no board-support layer for real hardware "
            f"([firmware] bsp = '{name}'); layers: {known}",
            hint="benchmark the core in QEMU (leave out --port), or add a bsp_<part>.c to "
                 "firmware_templates/baremetal/bsp/ and list it in tinykit/firmware/boards.py",
        )
    uart = str(target.get("firmware", "uart", "") or support.uarts[0])
    if uart not in support.uarts:
        raise ConfigError(
            f"target '{target.name}': the {name} layer drives {', '.join(support.uarts)}, "
            f"not [firmware] uart = '{uart}'",
            hint=f"set [firmware] uart = \"{support.uarts[0]}\"",
        )
    for key in ("flash_origin", "ram_origin"):
        if target.get("memory", key) is None:
            raise ConfigError(
                f"target '{target.name}' has no [memory] {key}, which the linker script needs",
                hint="add the part's flash and RAM start addresses to its [memory] table",
            )
    return support
