/* STM32L4R5 (NUCLEO-L4R5ZI): LPUART1 on PG7 (TX) / PG8 (RX), the ST-LINK virtual COM port.
 *
 * The core stays on its reset clock (MSI 4 MHz, PCLK1 = 4 MHz): no PLL or flash wait-state
 * set-up that could not be tested without the board. Cycles come from the DWT.
 * Registers: RM0432 (RCC 0x40021000, PWR 0x40007000, GPIOG 0x48001800, LPUART1 0x40008000).
 */
#include "tkfw_bsp.h"
#include "tkfw_config.h"

#define REG(address) (*(volatile uint32_t *)(address))
#define RCC_AHB2ENR   REG(0x4002104Cu)
#define RCC_APB1ENR1  REG(0x40021058u)
#define RCC_APB1ENR2  REG(0x4002105Cu)
#define PWR_CR2       REG(0x40007004u)
#define GPIOG_MODER   REG(0x48001800u)
#define GPIOG_AFRL    REG(0x48001820u)
#define GPIOG_AFRH    REG(0x48001824u)
#define LPUART_CR1    REG(0x40008000u)
#define LPUART_BRR    REG(0x4000800Cu)
#define LPUART_ISR    REG(0x4000801Cu)
#define LPUART_ICR    REG(0x40008020u)
#define LPUART_RDR    REG(0x40008024u)
#define LPUART_TDR    REG(0x40008028u)
#define ISR_ORE  (1u << 3)
#define ISR_RXNE (1u << 5)
#define ISR_TXE  (1u << 7)

void tkfw_bsp_init(void)
{
    RCC_APB1ENR1 |= 1u << 28;        /* PWREN */
    (void)RCC_APB1ENR1;
    PWR_CR2 |= 1u << 9;              /* IOSV: PG2..PG15 are powered from VDDIO2 */
    RCC_AHB2ENR |= 1u << 6;          /* GPIOGEN */
    RCC_APB1ENR2 |= 1u << 0;         /* LPUART1EN; its kernel clock is PCLK1 after reset */
    (void)RCC_APB1ENR2;
    GPIOG_AFRL = (GPIOG_AFRL & ~(0xFu << 28)) | (8u << 28); /* PG7: AF8 */
    GPIOG_AFRH = (GPIOG_AFRH & ~0xFu) | 8u;                 /* PG8: AF8 */
    GPIOG_MODER = (GPIOG_MODER & ~(0xFu << 14)) | (0xAu << 14); /* PG7, PG8 alternate */
    /* LPUART: BRR = 256 * f / baud, which must be at least 0x300. */
    LPUART_BRR = (uint32_t)(((uint64_t)TKFW_CORE_HZ * 256u + TKFW_BAUD / 2u) / TKFW_BAUD);
    LPUART_CR1 = (1u << 3) | (1u << 2) | 1u; /* TE, RE, UE */
    tkfw_counter_init();
}

void tkfw_uart_write(const uint8_t *data, size_t n)
{
    while (n--) {
        while (!(LPUART_ISR & ISR_TXE)) {
        }
        LPUART_TDR = *data++;
    }
}

int tkfw_uart_read(void)
{
    uint32_t isr = LPUART_ISR;
    if (isr & ISR_ORE) {
        LPUART_ICR = ISR_ORE; /* a byte was lost: the frame's CRC will say so */
    }
    if (isr & ISR_RXNE) {
        return (int)(LPUART_RDR & 0xFFu);
    }
    return -1;
}

void tkfw_bsp_idle(void)
{
}
