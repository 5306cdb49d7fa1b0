/* Frames over the board-support UART: CRC, sync hunting, receive timeouts. */
#include "tkfw_config.h"
#include "tkfw_proto.h"
#include "tkfw_bsp.h"

uint32_t tkfw_crc32_update(uint32_t crc, const uint8_t *data, uint32_t n)
{
    /* Bitwise, no table: 40 bytes of code instead of 1 KB of flash. */
    crc = ~crc;
    while (n--) {
        crc ^= *data++;
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

/* Next byte, waiting as long as it takes (between frames the line may stay quiet). */
static uint8_t rx_wait(void)
{
    for (;;) {
        int c = tkfw_uart_read();
        if (c >= 0) {
            return (uint8_t)c;
        }
        tkfw_bsp_idle();
    }
}

/* Next byte of a frame already started: 0, or -1 when none came within the timeout.
 * Every poll costs more than one count, so the poll limit only ends the wait when the
 * counter does not run at all (a DWT that is not there, as in some emulators). */
static int rx_timed(uint8_t *out)
{
    uint64_t start = tkfw_counter_read();
    uint32_t polls = 0;
    for (;;) {
        int c = tkfw_uart_read();
        if (c >= 0) {
            *out = (uint8_t)c;
            return 0;
        }
        if (tkfw_counter_read() - start >= TKFW_RX_TIMEOUT_COUNTS ||
            ++polls >= TKFW_RX_TIMEOUT_COUNTS) {
            return -1;
        }
        tkfw_bsp_idle();
    }
}

static void hunt_sync(void)
{
    uint8_t b = rx_wait();
    for (;;) {
        while (b != TKFW_SYNC0) {
            b = rx_wait();
        }
        b = rx_wait();
        if (b == TKFW_SYNC1) {
            return;
        }
    }
}

int tkfw_frame_receive(tkfw_frame_t *frame)
{
    uint8_t header[4];
    uint8_t crc_bytes[4];

    frame->type = 0;
    frame->seq = 0;
    frame->length = 0;
    hunt_sync();
    for (int i = 0; i < 4; i++) {
        if (rx_timed(&header[i])) {
            return TKFW_ERR_TIMEOUT;
        }
        if (i == 0) {
            frame->type = header[0];
        } else if (i == 1) {
            frame->seq = header[1];
        }
    }
    uint32_t length = (uint32_t)header[2] | ((uint32_t)header[3] << 8);
    if (length > TKFW_MAX_PAYLOAD) {
        return TKFW_ERR_BAD_LENGTH;
    }
    frame->length = (uint16_t)length;
    for (uint32_t i = 0; i < length; i++) {
        if (rx_timed(&frame->payload[i])) {
            return TKFW_ERR_TIMEOUT;
        }
    }
    for (int i = 0; i < 4; i++) {
        if (rx_timed(&crc_bytes[i])) {
            return TKFW_ERR_TIMEOUT;
        }
    }
    uint32_t expected = (uint32_t)crc_bytes[0] | ((uint32_t)crc_bytes[1] << 8) |
                        ((uint32_t)crc_bytes[2] << 16) | ((uint32_t)crc_bytes[3] << 24);
    uint32_t crc = tkfw_crc32_update(0, header, 4);
    crc = tkfw_crc32_update(crc, frame->payload, length);
    return crc == expected ? 0 : TKFW_ERR_BAD_CRC;
}

void tkfw_frame_send(uint8_t type, uint8_t seq, const void *a, uint16_t na,
                   const void *b, uint16_t nb)
{
    uint16_t length = (uint16_t)(na + nb);
    uint8_t header[6] = {TKFW_SYNC0, TKFW_SYNC1, type, seq, (uint8_t)length, (uint8_t)(length >> 8)};
    uint32_t crc = tkfw_crc32_update(0, header + 2, 4);
    crc = tkfw_crc32_update(crc, (const uint8_t *)a, na);
    crc = tkfw_crc32_update(crc, (const uint8_t *)b, nb);
    uint8_t trailer[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
                          (uint8_t)(crc >> 24)};
    tkfw_uart_write(header, sizeof header);
    tkfw_uart_write((const uint8_t *)a, na);
    tkfw_uart_write((const uint8_t *)b, nb);
    tkfw_uart_write(trailer, sizeof trailer);
}

void tkfw_send_error(uint8_t seq, uint8_t code, uint8_t type, uint32_t detail)
{
    uint8_t payload[8] = {code, type, 0, 0, (uint8_t)detail, (uint8_t)(detail >> 8),
                          (uint8_t)(detail >> 16), (uint8_t)(detail >> 24)};
    tkfw_frame_send(TKFW_FRAME_ERROR, seq, payload, sizeof payload, 0, 0);
}
