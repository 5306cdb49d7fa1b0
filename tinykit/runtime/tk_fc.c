/* FULLY_CONNECTED: tk_fully_connected_s8. See tinykit_kernels.h for the weight blocks.
 *
 * Four output rows at a time; their weights for 4 consecutive inputs are one 16-byte
 * block, so one pointer walks all four rows. Each input row is first put in scratch
 * (TK_FC scratch: 2 * in_pad bytes): as 16-bit pairs on DSP cores (SXTB16 once per
 * input, not once per output row), padded with zeros to in_pad for Helium.
 */
#include "tk_internal.h"

static void tk_fc_store(const tk_fc_params *p, const int32_t *acc, int32_t first,
                        int8_t *out)
{
    const int fast = p->fast_requant;
    int r;
    for (r = 0; r < 4 && first + r < p->out_depth; ++r) {
        const int channel = p->per_channel ? (int)(first + r) : 0;
        const tk_channel_rq q = tk_channel(p->multiplier, p->shift, channel, fast,
                                           p->output_zero_point);
        out[first + r] = (int8_t)tk_clamp(tk_requant_channel(acc[r], &q, fast), p->act_min,
                                          p->act_max);
    }
}

static void tk_fc_bias(const tk_fc_params *p, int32_t first, int32_t *acc)
{
    int r;
    for (r = 0; r < 4; ++r) {
        acc[r] = first + r < p->out_depth ? p->bias[first + r] : 0;
    }
}

#if defined(TK_ISA_MVE)

static const void *tk_fc_prepare(const tk_fc_params *p, const int8_t *x, void *scratch)
{
    int8_t *row = (int8_t *)scratch;
    int32_t k;
    memcpy(row, x, (size_t)p->in_depth);
    for (k = p->in_depth; k < p->in_pad; ++k) {
        row[k] = 0;
    }
    return row;
}

/* VLD4 de-interleaves the 4-byte words of 4 blocks: vector r holds row r's 16 inputs. */
static void tk_fc_rows(const int8_t *w, const void *prepared, int32_t in_pad, int32_t *acc)
{
    const int8_t *x = (const int8_t *)prepared;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t k;
    for (k = 0; k < in_pad; k += 16, w += 64, x += 16) {
        const int32x4x4_t rows = vld4q_s32((const int32_t *)(const void *)w);
        const int8x16_t xv = vldrbq_s8(x);
        a0 = vmladavaq_s8(a0, vreinterpretq_s8_s32(rows.val[0]), xv);
        a1 = vmladavaq_s8(a1, vreinterpretq_s8_s32(rows.val[1]), xv);
        a2 = vmladavaq_s8(a2, vreinterpretq_s8_s32(rows.val[2]), xv);
        a3 = vmladavaq_s8(a3, vreinterpretq_s8_s32(rows.val[3]), xv);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#elif defined(TK_ISA_DSP)

/* Per group of 4 inputs: [x0|x2, x1|x3], as SXTB16 gives the weights' own words. */
static const void *tk_fc_prepare(const tk_fc_params *p, const int8_t *x, void *scratch)
{
    int32_t *out = (int32_t *)scratch;
    int32_t k;
    for (k = 0; k + 4 <= p->in_depth; k += 4, out += 2) {
        const uint32_t v = tk_load32(x + k);
        out[0] = tk_sxtb16(v);
        out[1] = tk_sxtb16_ror8(v);
    }
    for (; k < p->in_pad; k += 4, out += 2) {
        int8_t tail[4] = {0, 0, 0, 0};
        int j;
        for (j = 0; j < 4 && k + j < p->in_depth; ++j) {
            tail[j] = x[k + j];
        }
        out[0] = tk_sxtb16(tk_load32(tail));
        out[1] = tk_sxtb16_ror8(tk_load32(tail));
    }
    return scratch;
}

static void tk_fc_rows(const int8_t *w, const void *prepared, int32_t in_pad, int32_t *acc)
{
    const int32_t *x = (const int32_t *)prepared;
    const int32_t *end = x + in_pad / 2;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (; x != end; x += 2, w += 16) {
        const int32_t x02 = x[0], x13 = x[1];
        const uint32_t w0 = tk_load32(w), w1 = tk_load32(w + 4);
        const uint32_t w2 = tk_load32(w + 8), w3 = tk_load32(w + 12);
        a0 = tk_smlad(x13, tk_sxtb16_ror8(w0), tk_smlad(x02, tk_sxtb16(w0), a0));
        a1 = tk_smlad(x13, tk_sxtb16_ror8(w1), tk_smlad(x02, tk_sxtb16(w1), a1));
        a2 = tk_smlad(x13, tk_sxtb16_ror8(w2), tk_smlad(x02, tk_sxtb16(w2), a2));
        a3 = tk_smlad(x13, tk_sxtb16_ror8(w3), tk_smlad(x02, tk_sxtb16(w3), a3));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#else /* portable and ARMv6-M */

static const void *tk_fc_prepare(const tk_fc_params *p, const int8_t *x, void *scratch)
{
    int8_t *row = (int8_t *)scratch;
    int32_t k;
    for (k = 0; k < p->in_depth; ++k) {
        row[k] = x[k];
    }
    for (; k < p->in_pad; ++k) {
        row[k] = 0;
    }
    return row;
}

static void tk_fc_rows(const int8_t *w, const void *prepared, int32_t in_pad, int32_t *acc)
{
    const int8_t *x = (const int8_t *)prepared;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t k;
    int j;
    for (k = 0; k < in_pad; k += 4, w += 16, x += 4) {
        for (j = 0; j < 4; ++j) {
            const int32_t xj = x[j];
            a0 += w[j] * xj;
            a1 += w[4 + j] * xj;
            a2 += w[8 + j] * xj;
            a3 += w[12 + j] * xj;
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#endif

void tk_fully_connected_s8(const tk_fc_params *p, const int8_t *input, int8_t *output,
                           void *scratch)
{
    const int32_t block_bytes = 4 * p->in_pad;
    int32_t b, first;

    for (b = 0; b < p->batches; ++b) {
        const void *x = tk_fc_prepare(p, input + b * p->in_depth, scratch);
        const int8_t *w = p->weights;
        int8_t *out = output + b * p->out_depth;
        for (first = 0; first < p->out_depth; first += 4, w += block_bytes) {
            int32_t acc[4];
            tk_fc_bias(p, first, acc);
            tk_fc_rows(w, x, p->in_pad, acc);
            tk_fc_store(p, acc, first, out);
        }
    }
}
