/* Counter for QEMU: SysTick at the core clock, extended to 64 bits by counting wraps.
 *
 * Under `qemu-system-arm -icount shift=N` every instruction advances virtual time by
 * 2^N ns, so SysTick ticks are a deterministic function of executed instructions; the host
 * converts them back (tinykit.emulate.machines). A stamp is (wraps << 24) | ticks, so the
 * host also sees how many wrap interrupts ran inside an interval: each one executes
 * TKFW_COUNTER_ISR_INSNS instructions of SysTick_Handler below, which it subtracts.
 * On hardware without a DWT cycle counter (Cortex-M0/M0+) the same code counts cycles.
 */
#include <stdint.h>

#include "tkfw_bsp.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

volatile uint32_t tkfw_systick_wraps;

/* Exactly five instructions, written in assembly so that the count cannot change with
 * the compiler or its options (TKFW_COUNTER_ISR_INSNS). */
__attribute__((naked)) void SysTick_Handler(void)
{
    __asm volatile(
        ".syntax unified\n\t"
        "ldr r0, =tkfw_systick_wraps\n\t"
        "ldr r1, [r0]\n\t"
        "adds r1, r1, #1\n\t"
        "str r1, [r0]\n\t"
        "bx lr\n\t"
        ".ltorg\n\t");
}

void tkfw_counter_init(void)
{
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* enable, wrap interrupt, core clock */
    /* The first reload from 0 raises no interrupt; start counting after it. */
    while (SYST_CVR == 0) {
    }
}

uint64_t tkfw_counter_read(void)
{
    uint32_t wraps;
    uint32_t value;
    do {
        wraps = tkfw_systick_wraps;
        value = SYST_CVR;
    } while (wraps != tkfw_systick_wraps);
    return ((uint64_t)wraps << 24) | (0x00FFFFFFu - value);
}
