/* STM32F746 (32F746GDISCOVERY): USART1 on PA9 (TX) / PB7 (RX), the ST-LINK virtual COM port.
 *
 * The core stays on its reset clock (HSI 16 MHz, APB2 = 16 MHz), caches off. Cycles come
 * from the DWT. Registers: RM0385 (RCC 0x40023800, GPIOA 0x40020000, GPIOB 0x40020400,
 * USART1 0x40011000).
 */
#include "tkfw_bsp.h"
#include "tkfw_config.h"

#define REG(address) (*(volatile uint32_t *)(address))
#define RCC_AHB1ENR  REG(0x40023830u)
#define RCC_APB2ENR  REG(0x40023844u)
#define GPIOA_MODER  REG(0x40020000u)
#define GPIOA_AFRH   REG(0x40020024u)
#define GPIOB_MODER  REG(0x40020400u)
#define GPIOB_AFRL   REG(0x40020420u)
#define USART_CR1    REG(0x40011000u)
#define USART_BRR    REG(0x4001100Cu)
#define USART_ISR    REG(0x4001101Cu)
#define USART_ICR    REG(0x40011020u)
#define USART_RDR    REG(0x40011024u)
#define USART_TDR    REG(0x40011028u)
#define ISR_ORE  (1u << 3)
#define ISR_RXNE (1u << 5)
#define ISR_TXE  (1u << 7)

void tkfw_bsp_init(void)
{
    RCC_AHB1ENR |= (1u << 0) | (1u << 1); /* GPIOAEN, GPIOBEN */
    RCC_APB2ENR |= 1u << 4;               /* USART1EN */
    (void)RCC_APB2ENR;
    GPIOA_AFRH = (GPIOA_AFRH & ~(0xFu << 4)) | (7u << 4);      /* PA9: AF7 */
    GPIOB_AFRL = (GPIOB_AFRL & ~(0xFu << 28)) | (7u << 28);    /* PB7: AF7 */
    GPIOA_MODER = (GPIOA_MODER & ~(0x3u << 18)) | (0x2u << 18);
    GPIOB_MODER = (GPIOB_MODER & ~(0x3u << 14)) | (0x2u << 14);
    USART_BRR = (TKFW_CORE_HZ + TKFW_BAUD / 2u) / TKFW_BAUD;  /* oversampling by 16 */
    USART_CR1 = (1u << 3) | (1u << 2) | 1u;                  /* TE, RE, UE */
    tkfw_counter_init();
}

void tkfw_uart_write(const uint8_t *data, size_t n)
{
    while (n--) {
        while (!(USART_ISR & ISR_TXE)) {
        }
        USART_TDR = *data++;
    }
}

int tkfw_uart_read(void)
{
    uint32_t isr = USART_ISR;
    if (isr & ISR_ORE) {
        USART_ICR = ISR_ORE; /* a byte was lost: the frame's CRC will say so */
    }
    if (isr & ISR_RXNE) {
        return (int)(USART_RDR & 0xFFu);
    }
    return -1;
}

void tkfw_bsp_idle(void)
{
}
