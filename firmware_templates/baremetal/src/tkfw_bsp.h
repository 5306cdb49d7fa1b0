/* Board-support interface of the tinykit benchmark firmware.
 *
 * Each board-support file (bsp_*.c) implements these for one part or QEMU machine:
 * a UART that moves bytes without interrupts on the data path, a monotonic 64-bit
 * counter (SysTick ticks under QEMU -icount, or core cycles on hardware) and a way to
 * idle until a byte may have arrived.
 */
#ifndef TKFW_BSP_H
#define TKFW_BSP_H

#include <stddef.h>
#include <stdint.h>

/* Clocks, the UART (8N1) and the counter. Called once, first thing in main. */
void tkfw_bsp_init(void);

/* Blocking write of n bytes. */
void tkfw_uart_write(const uint8_t *data, size_t n);

/* One received byte (0..255), or -1 when none is waiting. Never blocks. */
int tkfw_uart_read(void);

/* Wait until a byte may have arrived (WFI on QEMU, where a spinning guest would keep a
 * host core busy); may return early. Boards return at once and simply poll. */
void tkfw_bsp_idle(void);

/* Monotonic counter in the units of TKFW_COUNTER_KIND; see tkfw_counter_*.c. */
void tkfw_counter_init(void);
uint64_t tkfw_counter_read(void);

/* Called by the fault handlers with the stacked PC; reports it over the UART. */
void tkfw_fault(uint32_t pc, uint32_t cause);

#endif
