/* The tinykit benchmark firmware: runs the generated model for a host over the UART.
 *
 * The host writes the input tensors, asks for an invoke, and reads back the outputs
 * and the counter stamps taken around the invoke and before every op (see tkfw_proto.h).
 * Counts are raw counter values; the host turns them into instructions or cycles.
 */
#include <string.h>

#include "tkfw_bsp.h"
#include "tkfw_config.h"
#include "tkfw_proto.h"

static tkfw_frame_t tkfw_request;
/* tkfw_stamps[i] is the counter right before op i; tkfw_stamps[NUM_OPS] after the last op. */
static uint64_t tkfw_stamps[TKFW_MODEL_NUM_OPS + 1];
static uint16_t tkfw_stamp_count;
static int tkfw_init_status;
static uint32_t tkfw_overhead;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint8_t *wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static uint8_t *wr64(uint8_t *p, uint64_t v)
{
    p = wr32(p, (uint32_t)v);
    return wr32(p, (uint32_t)(v >> 32));
}

static void tkfw_layer_hook(int op_index)
{
    tkfw_stamps[op_index] = tkfw_counter_read();
}

static void reply(const tkfw_frame_t *req, const void *payload, uint16_t n)
{
    tkfw_frame_send((uint8_t)(req->type | 0x80u), req->seq, payload, n, 0, 0);
}

static void on_hello(const tkfw_frame_t *req)
{
    static const char name[] = TKFW_BSP_NAME;
    uint8_t info[32 + 4 * (TKFW_MODEL_NUM_INPUTS + TKFW_MODEL_NUM_OUTPUTS)];
    uint8_t *p = info;
    *p++ = TKFW_PROTO_VERSION;
    *p++ = TKFW_COUNTER_KIND;
    *p++ = (uint8_t)TKFW_MAX_PAYLOAD;
    *p++ = (uint8_t)(TKFW_MAX_PAYLOAD >> 8);
    p = wr32(p, TKFW_MODEL_ID);
    p = wr32(p, TKFW_COUNTER_HZ);
    p = wr32(p, (uint32_t)tkfw_init_status);
    *p++ = (uint8_t)TKFW_MODEL_NUM_INPUTS;
    *p++ = 0;
    *p++ = (uint8_t)TKFW_MODEL_NUM_OUTPUTS;
    *p++ = 0;
    *p++ = (uint8_t)TKFW_MODEL_NUM_OPS;
    *p++ = (uint8_t)(TKFW_MODEL_NUM_OPS >> 8);
    *p++ = TKFW_COUNTER_ISR_INSNS;
    *p++ = (uint8_t)(sizeof name - 1);
    p = wr32(p, tkfw_overhead);
    p = wr32(p, TKFW_MODEL_ARENA_BYTES);
    for (int i = 0; i < TKFW_MODEL_NUM_INPUTS; i++) {
        p = wr32(p, (uint32_t)TKFW_MODEL_INPUT_BYTES(i));
    }
    for (int i = 0; i < TKFW_MODEL_NUM_OUTPUTS; i++) {
        p = wr32(p, (uint32_t)TKFW_MODEL_OUTPUT_BYTES(i));
    }
    tkfw_frame_send(TKFW_FRAME_INFO, req->seq, info, (uint16_t)(p - info), name,
                  (uint16_t)(sizeof name - 1));
}

/* True when [offset, offset + n) lies inside a buffer of `size` bytes. */
static int in_range(uint32_t offset, uint32_t n, size_t size)
{
    return offset <= size && n <= size - offset;
}

static void on_write_input(const tkfw_frame_t *req)
{
    if (req->length < 5) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_LENGTH, req->type, req->length);
        return;
    }
    uint8_t index = req->payload[0];
    uint32_t offset = rd32(req->payload + 1);
    uint32_t n = (uint32_t)req->length - 5u;
    if (index >= TKFW_MODEL_NUM_INPUTS) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_ARGUMENT, req->type, index);
        return;
    }
    if (!in_range(offset, n, TKFW_MODEL_INPUT_BYTES(index))) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_ARGUMENT, req->type, offset);
        return;
    }
    /* a byte loop, not memcpy: newlib's is 300 bytes of flash for a few hundred bytes
     * a request (the kernels on the benchmark's path do not need it either) */
    uint8_t *to = (uint8_t *)TKFW_MODEL_INPUT(index) + offset;
    for (uint32_t i = 0; i < n; ++i) {
        to[i] = req->payload[5 + i];
    }
    reply(req, 0, 0);
}

static void on_invoke(const tkfw_frame_t *req)
{
    if (req->length != 1) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_LENGTH, req->type, req->length);
        return;
    }
    if (tkfw_init_status != 0) {
        tkfw_send_error(req->seq, TKFW_ERR_INIT_FAILED, req->type, (uint32_t)tkfw_init_status);
        return;
    }
    uint8_t flags = req->payload[0];
    int per_layer = (flags & TKFW_INVOKE_PER_LAYER) != 0;
    tkfw_stamp_count = 0;
    TKFW_MODEL_SET_OP_HOOK(per_layer ? tkfw_layer_hook : 0);
    uint64_t start = tkfw_counter_read();
    int status = TKFW_MODEL_INVOKE();
    uint64_t end = tkfw_counter_read();
    TKFW_MODEL_SET_OP_HOOK(0);
    if (status != 0) {
        tkfw_send_error(req->seq, TKFW_ERR_INVOKE_FAILED, req->type, (uint32_t)status);
        return;
    }
    if (per_layer) {
        tkfw_stamp_count = TKFW_MODEL_NUM_OPS + 1;
    }
    uint8_t result[23];
    uint8_t *p = wr32(result, (uint32_t)status);
    *p++ = flags;
    p = wr64(p, start);
    p = wr64(p, end);
    *p++ = (uint8_t)tkfw_stamp_count;
    *p++ = (uint8_t)(tkfw_stamp_count >> 8);
    reply(req, result, sizeof result);
}

static void on_read_output(const tkfw_frame_t *req)
{
    if (req->length != 7) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_LENGTH, req->type, req->length);
        return;
    }
    uint8_t index = req->payload[0];
    uint32_t offset = rd32(req->payload + 1);
    uint16_t n = rd16(req->payload + 5);
    if (index >= TKFW_MODEL_NUM_OUTPUTS || n > TKFW_MAX_PAYLOAD ||
        !in_range(offset, n, TKFW_MODEL_OUTPUT_BYTES(index))) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_ARGUMENT, req->type, offset);
        return;
    }
    reply(req, (const uint8_t *)TKFW_MODEL_OUTPUT(index) + offset, n);
}

static void on_read_stamps(const tkfw_frame_t *req)
{
    if (req->length != 4) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_LENGTH, req->type, req->length);
        return;
    }
    uint16_t first = rd16(req->payload);
    uint16_t count = rd16(req->payload + 2);
    if (tkfw_stamp_count == 0) {
        tkfw_send_error(req->seq, TKFW_ERR_NO_STAMPS, req->type, 0);
        return;
    }
    if ((uint32_t)count * 8u > TKFW_MAX_PAYLOAD || !in_range(first, count, tkfw_stamp_count)) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_ARGUMENT, req->type, first);
        return;
    }
    /* Stamps go out little-endian whatever the core's byte order. */
    uint8_t *p = tkfw_request.payload;
    for (uint16_t i = 0; i < count; i++) {
        p = wr64(p, tkfw_stamps[first + i]);
    }
    reply(req, tkfw_request.payload, (uint16_t)(count * 8u));
}

static void on_read_op_type(const tkfw_frame_t *req)
{
    if (req->length != 2) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_LENGTH, req->type, req->length);
        return;
    }
    uint16_t index = rd16(req->payload);
    if (index >= TKFW_MODEL_NUM_OPS) {
        tkfw_send_error(req->seq, TKFW_ERR_BAD_ARGUMENT, req->type, index);
        return;
    }
    const char *name = TKFW_MODEL_OP_TYPE(index);
    uint16_t length = 0;
    while (name[length] != '\0') { /* not strlen: newlib's fast one is 220 B of flash */
        length++;
    }
    reply(req, name, length);
}

void tkfw_fault(uint32_t pc, uint32_t cause)
{
    tkfw_send_error(0, TKFW_ERR_FAULT, (uint8_t)cause, pc);
    for (;;) {
        tkfw_bsp_idle();
    }
}

static void dispatch(const tkfw_frame_t *req)
{
    switch (req->type) {
    case TKFW_FRAME_HELLO:
        on_hello(req);
        break;
    case TKFW_FRAME_WRITE_INPUT:
        on_write_input(req);
        break;
    case TKFW_FRAME_INVOKE:
        on_invoke(req);
        break;
    case TKFW_FRAME_READ_OUTPUT:
        on_read_output(req);
        break;
    case TKFW_FRAME_READ_STAMPS:
        on_read_stamps(req);
        break;
    case TKFW_FRAME_READ_OP_TYPE:
        on_read_op_type(req);
        break;
    default:
        tkfw_send_error(req->seq, TKFW_ERR_UNKNOWN_TYPE, req->type, 0);
        break;
    }
}

int main(void)
{
    tkfw_bsp_init();
    /* The cost of the two counter reads around an invoke, measured on an empty interval
     * so that the host can take it out of the total. An interrupt (the host connecting to
     * the UART) can only add to one measurement, so the least of a few is the cost. */
    tkfw_overhead = UINT32_MAX;
    for (int i = 0; i < 4; i++) {
        uint64_t a = tkfw_counter_read();
        uint64_t b = tkfw_counter_read();
        if ((uint32_t)(b - a) < tkfw_overhead) {
            tkfw_overhead = (uint32_t)(b - a);
        }
    }
    tkfw_init_status = TKFW_MODEL_INIT();
    for (;;) {
        int status = tkfw_frame_receive(&tkfw_request);
        if (status != 0) {
            tkfw_send_error(tkfw_request.seq, (uint8_t)status, tkfw_request.type, tkfw_request.length);
            continue;
        }
        dispatch(&tkfw_request);
    }
}
