/* nRF52840 (Arduino Nano 33 BLE): UARTE0 with EasyDMA, TX on P1.03 (D1), RX on P1.10 (D0).
 *
 * The USB connector is the nRF's own USB device, which bare-metal firmware does not drive:
 * connect a 3.3 V USB-serial adapter to D0/D1. The core runs at 64 MHz; cycles from the DWT.
 * Receiving byte by byte: one-byte DMA buffers in a ring, restarted by the ENDRX->STARTRX
 * shortcut; each RXSTARTED moves the pointer on to the next slot. Registers: nRF52840 PS.
 */
#include "tkfw_bsp.h"
#include "tkfw_config.h"

#define UARTE(offset) (*(volatile uint32_t *)(0x40002000u + (offset)))
#define TASKS_STARTRX    UARTE(0x000u)
#define TASKS_STARTTX    UARTE(0x008u)
#define EVENTS_ENDRX     UARTE(0x110u)
#define EVENTS_ENDTX     UARTE(0x120u)
#define EVENTS_RXSTARTED UARTE(0x14Cu)
#define SHORTS           UARTE(0x200u)
#define ENABLE           UARTE(0x500u)
#define PSEL_TXD         UARTE(0x50Cu)
#define PSEL_RXD         UARTE(0x514u)
#define BAUDRATE         UARTE(0x524u)
#define RXD_PTR          UARTE(0x534u)
#define RXD_MAXCNT       UARTE(0x538u)
#define TXD_PTR          UARTE(0x544u)
#define TXD_MAXCNT       UARTE(0x548u)
#define CONFIG           UARTE(0x56Cu)
#define P1_OUTSET        (*(volatile uint32_t *)0x50000508u)
#define P1_DIRSET        (*(volatile uint32_t *)0x50000518u)
#define PIN_TX  ((1u << 5) | 3u)  /* P1.03 */
#define PIN_RX  ((1u << 5) | 10u) /* P1.10 */
#define RING 64u

static volatile uint8_t rx_ring[RING];
static uint32_t rx_armed;  /* slot the DMA writes next (after the one in progress) */
static uint32_t rx_head;   /* slots filled */
static uint32_t rx_tail;   /* slots read */
static uint8_t tx_buffer[64]; /* EasyDMA reads RAM only, never flash */

void tkfw_bsp_init(void)
{
    P1_OUTSET = 1u << 3; /* TX idles high before the UARTE takes the pin */
    P1_DIRSET = 1u << 3;
    PSEL_TXD = PIN_TX;
    PSEL_RXD = PIN_RX;
    BAUDRATE = 0x01D60000u; /* 115200 baud */
    CONFIG = 0;             /* 8N1, no flow control */
    ENABLE = 8u;            /* UARTE */
    RXD_PTR = (uint32_t)&rx_ring[0];
    RXD_MAXCNT = 1u;
    SHORTS = 1u << 5;       /* ENDRX -> STARTRX */
    TASKS_STARTRX = 1u;
    tkfw_counter_init();
}

void tkfw_uart_write(const uint8_t *data, size_t n)
{
    while (n) {
        size_t chunk = n < sizeof tx_buffer ? n : sizeof tx_buffer;
        for (size_t i = 0; i < chunk; i++) {
            tx_buffer[i] = data[i];
        }
        EVENTS_ENDTX = 0;
        TXD_PTR = (uint32_t)tx_buffer;
        TXD_MAXCNT = chunk;
        TASKS_STARTTX = 1u;
        while (!EVENTS_ENDTX) {
        }
        data += chunk;
        n -= chunk;
    }
}

int tkfw_uart_read(void)
{
    if (EVENTS_RXSTARTED) {
        EVENTS_RXSTARTED = 0;
        rx_armed = (rx_armed + 1u) % RING;
        RXD_PTR = (uint32_t)&rx_ring[rx_armed];
    }
    if (EVENTS_ENDRX) {
        EVENTS_ENDRX = 0;
        rx_head++;
    }
    if (rx_tail == rx_head) {
        return -1;
    }
    return rx_ring[rx_tail++ % RING];
}

void tkfw_bsp_idle(void)
{
}
