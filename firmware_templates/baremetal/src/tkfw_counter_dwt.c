/* Counter for hardware with a DWT (Cortex-M3/M4/M7/M33/M55): core clock cycles.
 *
 * CYCCNT is 32 bits; reads extend it to 64 bits, which holds as long as two reads are
 * less than 2^32 cycles apart (26 s at 168 MHz): true between the per-op stamps of any
 * model that fits a microcontroller. No interrupt runs inside a measurement.
 */
#include <stdint.h>

#include "tkfw_bsp.h"

#define DEMCR      (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL   (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR    (*(volatile uint32_t *)0xE0001FB0u)

static uint32_t tkfw_cyccnt_last;
static uint32_t tkfw_cyccnt_high;

void tkfw_counter_init(void)
{
    DEMCR |= 1u << 24;     /* TRCENA: power the DWT */
    DWT_LAR = 0xC5ACCE55u; /* unlock (Cortex-M7); ignored where there is no lock */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;        /* CYCCNTENA */
}

uint64_t tkfw_counter_read(void)
{
    uint32_t now = DWT_CYCCNT;
    if (now < tkfw_cyccnt_last) {
        tkfw_cyccnt_high++;
    }
    tkfw_cyccnt_last = now;
    return ((uint64_t)tkfw_cyccnt_high << 32) | now;
}
