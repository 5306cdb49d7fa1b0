/* QEMU microbit (nRF51822, Cortex-M0): the nRF51 UART, SysTick under -icount.
 *
 * Also what a real micro:bit v1 needs: TX on P0.24, RX on P0.25 (its USB serial bridge).
 * The RXDRDY interrupt only wakes the core from WFI; data moves by polling.
 */
#include "tkfw_bsp.h"
#include "tkfw_config.h"

#define UART_REG(offset) (*(volatile uint32_t *)(TKFW_UART_BASE + (offset)))
#define UART_STARTRX  UART_REG(0x000u)
#define UART_STARTTX  UART_REG(0x008u)
#define UART_RXDRDY   UART_REG(0x108u)
#define UART_TXDRDY   UART_REG(0x11Cu)
#define UART_INTENSET UART_REG(0x304u)
#define UART_INTENCLR UART_REG(0x308u)
#define UART_ENABLE   UART_REG(0x500u)
#define UART_PSELTXD  UART_REG(0x50Cu)
#define UART_PSELRXD  UART_REG(0x514u)
#define UART_RXD      UART_REG(0x518u)
#define UART_TXD      UART_REG(0x51Cu)
#define UART_BAUDRATE UART_REG(0x524u)
#define INTEN_RXDRDY  (1u << 2)
#define NVIC_ISER0    (*(volatile uint32_t *)0xE000E100u)

void tkfw_bsp_init(void)
{
    UART_BAUDRATE = 0x01D7E000u; /* 115200 baud */
    UART_PSELTXD = 24u;
    UART_PSELRXD = 25u;
    UART_ENABLE = 4u;
    UART_STARTTX = 1u;
    UART_STARTRX = 1u;
    NVIC_ISER0 = 1u << TKFW_UART_IRQ;
    tkfw_counter_init();
}

void tkfw_uart_write(const uint8_t *data, size_t n)
{
    while (n--) {
        UART_TXDRDY = 0;
        UART_TXD = *data++;
        while (!UART_TXDRDY) {
        }
    }
}

int tkfw_uart_read(void)
{
    if (!UART_RXDRDY) {
        return -1;
    }
    UART_RXDRDY = 0; /* clear before reading RXD, which raises it again if more wait */
    return (int)(UART_RXD & 0xFFu);
}

void tkfw_uart_irq_handler(void)
{
    UART_INTENCLR = INTEN_RXDRDY; /* level interrupt: quiet it until the next idle */
}

void tkfw_bsp_idle(void)
{
    __asm volatile("cpsid i" ::: "memory");
    if (!UART_RXDRDY) {
        UART_INTENSET = INTEN_RXDRDY;
        __asm volatile("wfi");
    }
    __asm volatile("cpsie i" ::: "memory");
}
