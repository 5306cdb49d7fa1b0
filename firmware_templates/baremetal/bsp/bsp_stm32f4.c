/* STM32F407 (STM32F4DISCOVERY): USART2 on PA2 (TX) / PA3 (RX).
 *
 * The core stays on its reset clock (HSI 16 MHz, APB1 = 16 MHz). Cycles come from the DWT.
 * Registers: RM0090 (RCC 0x40023800, GPIOA 0x40020000, USART2 0x40004400).
 */
#include "tkfw_bsp.h"
#include "tkfw_config.h"

#define REG(address) (*(volatile uint32_t *)(address))
#define RCC_AHB1ENR  REG(0x40023830u)
#define RCC_APB1ENR  REG(0x40023840u)
#define GPIOA_MODER  REG(0x40020000u)
#define GPIOA_AFRL   REG(0x40020020u)
#define USART_SR     REG(0x40004400u)
#define USART_DR     REG(0x40004404u)
#define USART_BRR    REG(0x40004408u)
#define USART_CR1    REG(0x4000440Cu)
#define SR_ORE  (1u << 3)
#define SR_RXNE (1u << 5)
#define SR_TC   (1u << 6)
#define SR_TXE  (1u << 7)

void tkfw_bsp_init(void)
{
    RCC_AHB1ENR |= 1u << 0;   /* GPIOAEN */
    RCC_APB1ENR |= 1u << 17;  /* USART2EN */
    (void)RCC_APB1ENR;
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 8)) | (0x77u << 8);     /* PA2, PA3: AF7 */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 4)) | (0xAu << 4);     /* alternate */
    /* Oversampling by 16: BRR holds f / baud as 12.4 fixed point, i.e. f / baud rounded. */
    USART_BRR = (TKFW_CORE_HZ + TKFW_BAUD / 2u) / TKFW_BAUD;
    USART_CR1 = (1u << 13) | (1u << 3) | (1u << 2); /* UE, TE, RE */
    tkfw_counter_init();
}

void tkfw_uart_write(const uint8_t *data, size_t n)
{
    while (n--) {
        /* TXE or TC: both mean the data register is free. (QEMU's model of this USART,
         * which the tests run this file on, keeps only TC up to date.) */
        while (!(USART_SR & (SR_TXE | SR_TC))) {
        }
        USART_DR = *data++;
    }
}

int tkfw_uart_read(void)
{
    uint32_t sr = USART_SR;
    if (sr & (SR_RXNE | SR_ORE)) {
        /* Reading DR after SR also clears an overrun; a lost byte fails the frame's CRC. */
        uint32_t byte = USART_DR & 0xFFu;
        return (sr & SR_RXNE) ? (int)byte : -1;
    }
    return -1;
}

void tkfw_bsp_idle(void)
{
}
