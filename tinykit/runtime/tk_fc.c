/* FULLY_CONNECTED: tk_fully_connected_s8. See tinykit_kernels.h for the weight blocks.
 *
 * Four output rows at a time; their weights for 4 consecutive inputs are one 16-byte
 * block, so one pointer walks all four rows. Each input row is first put in scratch
 * (tinykit.codegen.kernels.fc_scratch_bytes): as 16-bit pairs on DSP cores (SXTB16
 * once per input, not once per output row), padded with zeros to in_pad elsewhere.
 */
#include "tk_internal.h"

TK_SIZE_PRAGMA


/* Requantize the block's rows (bias, multiplier and shift are padded to 4 rows); `layer`
 * holds the one multiplier's constants of a per-tensor layer. */
static void tk_fc_store(const tk_fc_params *p, const tk_rq_record *layer, const int32_t *acc,
                        int32_t first, int8_t *out)
{
    const int32_t rows = p->out_depth - first < 4 ? p->out_depth - first : 4;
    const int fast = p->fast_requant;
    const int8_t lo = p->act_min, hi = p->act_max;
    tk_rq_record rq = *layer;
    int32_t r;
    for (r = 0; r < rows; ++r) {
        if (p->per_channel) {
            tk_rq_records(&rq, 1, NULL, p->multiplier + first + r, p->shift + first + r, 1,
                          fast, p->output_zero_point);
        }
        out[first + r] = (int8_t)tk_clamp(tk_requant_record(acc[r], &rq, fast), lo, hi);
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

/* Per group of 4 inputs: [x0|x2, x1|x3], as SXTB16 gives the weights' own words; the row
 * is first copied after the pairs, padded with zeros to in_pad. */
static const void *tk_fc_prepare(const tk_fc_params *p, const int8_t *x, void *scratch)
{
    int32_t *out = (int32_t *)scratch;
    int8_t *row = (int8_t *)(out + p->in_pad / 2);
    int32_t k;
    memcpy(row, x, (size_t)p->in_depth);
    memset(row + p->in_depth, 0, (size_t)(p->in_pad - p->in_depth));
    for (k = 0; k < p->in_pad; k += 4, out += 2) {
        const uint32_t v = tk_load32(row + k);
        out[0] = tk_sxtb16(v);
        out[1] = tk_sxtb16_ror8(v);
    }
    return scratch;
}

static void tk_fc_rows(const int8_t *w, const void *prepared, int32_t in_pad, int32_t *acc)
{
    const int32_t *x = (const int32_t *)prepared;
    const int32_t *end = x + in_pad / 2;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if (defined(__GNUC__) || defined(__clang__)) && defined(__OPTIMIZE__)
    /* Per 4 inputs: the input pairs (2 words) and the 4 rows' words (one block) with three
     * LDMs, then SXTB16 / SMLAD per row: 21 instructions for 16 multiply-accumulates. */
    __asm__ volatile(
        "1:\n\t"
        "ldm    %[x]!, {r8, r9}\n\t"
        "ldm    %[w]!, {r10, r11}\n\t"
        "sxtb16 r12, r10\n\t"
        "smlad  %[a0], r8, r12, %[a0]\n\t"
        "sxtb16 r12, r10, ror #8\n\t"
        "smlad  %[a0], r9, r12, %[a0]\n\t"
        "sxtb16 r12, r11\n\t"
        "smlad  %[a1], r8, r12, %[a1]\n\t"
        "sxtb16 r12, r11, ror #8\n\t"
        "smlad  %[a1], r9, r12, %[a1]\n\t"
        "ldm    %[w]!, {r10, r11}\n\t"
        "sxtb16 r12, r10\n\t"
        "smlad  %[a2], r8, r12, %[a2]\n\t"
        "sxtb16 r12, r10, ror #8\n\t"
        "smlad  %[a2], r9, r12, %[a2]\n\t"
        "sxtb16 r12, r11\n\t"
        "smlad  %[a3], r8, r12, %[a3]\n\t"
        "sxtb16 r12, r11, ror #8\n\t"
        "smlad  %[a3], r9, r12, %[a3]\n\t"
        "cmp    %[x], %[end]\n\t"
        "bne    1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x),
          [w] "+r"(w)
        : [end] "r"(end)
        : "r8", "r9", "r10", "r11", "r12", "cc", "memory");
#else
    for (; x != end; x += 2, w += 16) {
        const int32_t x02 = x[0], x13 = x[1];
        const uint32_t w0 = tk_load32(w), w1 = tk_load32(w + 4);
        const uint32_t w2 = tk_load32(w + 8), w3 = tk_load32(w + 12);
        a0 = tk_smlad(x13, tk_sxtb16_ror8(w0), tk_smlad(x02, tk_sxtb16(w0), a0));
        a1 = tk_smlad(x13, tk_sxtb16_ror8(w1), tk_smlad(x02, tk_sxtb16(w1), a1));
        a2 = tk_smlad(x13, tk_sxtb16_ror8(w2), tk_smlad(x02, tk_sxtb16(w2), a2));
        a3 = tk_smlad(x13, tk_sxtb16_ror8(w3), tk_smlad(x02, tk_sxtb16(w3), a3));
    }
#endif
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
    tk_rq_record layer;
    int32_t b, first;

    tk_rq_records(&layer, 1, NULL, p->multiplier, p->shift, 0, p->fast_requant,
                  p->output_zero_point);
    for (b = 0; b < p->batches; ++b) {
        const void *x = tk_fc_prepare(p, input + b * p->in_depth, scratch);
        const int8_t *w = p->weights;
        int8_t *out = output + b * p->out_depth;
        for (first = 0; first < p->out_depth; first += 4, w += block_bytes) {
            int32_t acc[4];
            memcpy(acc, p->bias + first, sizeof acc);
            tk_fc_rows(w, x, p->in_pad, acc);
            tk_fc_store(p, &layer, acc, first, out);
        }
    }
}
