/* QEMU MPS2/MPS3 machines: CMSDK APB UART0, SysTick under -icount.
 *
 * TKFW_UART_BASE and TKFW_UART_IRQ come from tkfw_config.h: 0x40004000/IRQ 0 on mps2-an385,
 * -an386 and -an500; the secure alias 0x50200000/IRQ 42 on mps2-an505; 0x49303000/IRQ 43
 * on mps3-an547. The RX interrupt only wakes the core from WFI; data moves by polling.
 */
#include "tkfw_bsp.h"
#include "tkfw_config.h"

#define UART_REG(offset) (*(volatile uint32_t *)(TKFW_UART_BASE + (offset)))
#define UART_DATA    UART_REG(0x00u)
#define UART_STATE   UART_REG(0x04u) /* bit 0: TX full, bit 1: RX full */
#define UART_CTRL    UART_REG(0x08u) /* bit 0: TX enable, 1: RX enable, 3: RX interrupt */
#define UART_INT     UART_REG(0x0Cu) /* write 1s to clear */
#define UART_BAUDDIV UART_REG(0x10u)
#define NVIC_ISER(n) (*(volatile uint32_t *)(0xE000E100u + 4u * (n)))

void tkfw_bsp_init(void)
{
    UART_BAUDDIV = 16u; /* the smallest divider the CMSDK UART accepts */
    UART_CTRL = 0x1u | 0x2u | 0x8u;
    NVIC_ISER(TKFW_UART_IRQ / 32u) = 1u << (TKFW_UART_IRQ % 32u);
    tkfw_counter_init();
}

void tkfw_uart_write(const uint8_t *data, size_t n)
{
    while (n--) {
        while (UART_STATE & 1u) {
        }
        UART_DATA = *data++;
    }
}

int tkfw_uart_read(void)
{
    if (UART_STATE & 2u) {
        return (int)(UART_DATA & 0xFFu);
    }
    return -1;
}

void tkfw_uart_irq_handler(void)
{
    UART_INT = 0x2u; /* the byte itself stays in DATA for tkfw_uart_read */
}

void tkfw_bsp_idle(void)
{
    /* With interrupts masked, a byte that arrives between the check and the WFI still
     * ends the WFI (a pending interrupt wakes the core whatever PRIMASK says). */
    __asm volatile("cpsid i" ::: "memory");
    if (!(UART_STATE & 2u)) {
        __asm volatile("wfi");
    }
    __asm volatile("cpsie i" ::: "memory");
}
