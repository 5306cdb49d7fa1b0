/* Reset and fault entry for a bare Cortex-M: no C library start-up, no heap. */
#include <stdint.h>

#include "tkfw_bsp.h"

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern const uint32_t tkfw_vectors[];
int main(void);

#define SCB_VTOR  (*(volatile uint32_t *)0xE000ED08u)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

/* The copy and clear loops are written out by hand, and gcc must not turn them into
 * memcpy/memset calls: .data is not there yet when they run. */
__attribute__((optimize("no-tree-loop-distribute-patterns"), noreturn))
void Reset_Handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* Full access to CP10/CP11 before any floating-point or Helium instruction. */
    SCB_CPACR |= 0xFu << 20;
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
#if !defined(__ARM_ARCH_6M__)
    SCB_VTOR = (uint32_t)tkfw_vectors;
#endif
    const uint32_t *src = &__data_load__;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) {
        *dst++ = 0;
    }
    main();
    for (;;) {
    }
}

/* Every fault and unexpected exception: hand the stacked PC and the exception number to
 * tkfw_fault, which reports them over the UART. Assumes the main stack (no RTOS here). */
__attribute__((naked)) void tkfw_fault_entry(void)
{
    __asm volatile(
        ".syntax unified\n\t"
        "mrs r0, msp\n\t"
        "ldr r0, [r0, #24]\n\t"
        "mrs r1, ipsr\n\t"
        "ldr r2, =tkfw_fault\n\t"
        "bx r2\n\t"
        ".ltorg\n\t");
}
