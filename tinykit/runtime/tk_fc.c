/* FULLY_CONNECTED: tk_fully_connected_s8. See tinykit_kernels.h for the weight blocks.
 *
 * Four output rows at a time; their weights for 4 consecutive inputs are one 16-byte
 * block, so one pointer walks all four rows. The input row is prepared in scratch a chunk
 * of TK_FC_CHUNK inputs at a time (tinykit.codegen.kernels.fc_scratch_bytes): as 16-bit
 * pairs on DSP cores (SXTB16 once per input, not once per output row), padded with zeros
 * to in_pad elsewhere. A longer row runs in passes, one per chunk, and keeps the partial
 * sums of every output row in scratch between them: the scratch no longer grows with the
 * input (2 bytes an input did cost more RAM than the layer's own tensors), and a pass
 * costs one load and one store of 4 sums per 4 rows.
 */
#include "tk_internal.h"

TK_SIZE_PRAGMA

/* Inputs prepared at a time (tinykit.codegen.kernels.FC_CHUNK), a multiple of 16. */
#define TK_FC_CHUNK 128


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

static const void *tk_fc_prepare(const tk_fc_params *p, const int8_t *x, int32_t k0,
                                 int32_t n, void *scratch)
{
    int8_t *row = (int8_t *)scratch;
    const int32_t have = p->in_depth - k0 < n ? p->in_depth - k0 : n;
    memcpy(row, x + k0, (size_t)have);
    memset(row + have, 0, (size_t)(n - have));
    return row;
}

/* VLD4 de-interleaves the 4-byte words of 4 blocks: vector r holds row r's 16 inputs. */
static void tk_fc_rows(const int8_t *w, const void *prepared, int32_t in_pad,
                       const int32_t *from, int32_t *acc)
{
    const int8_t *x = (const int8_t *)prepared;
    int32_t a0 = from[0], a1 = from[1], a2 = from[2], a3 = from[3];
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

/* Per group of 4 inputs: [x0|x2, x1|x3], as SXTB16 gives the weights' own words; zeros
 * past in_depth. */
static const void *tk_fc_prepare(const tk_fc_params *p, const int8_t *x, int32_t k0,
                                 int32_t n, void *scratch)
{
    int32_t *out = (int32_t *)scratch;
    const int32_t end = k0 + n, whole = p->in_depth & ~3;
    int32_t k;
    for (k = k0; k < end && k < whole; k += 4, out += 2) {
        const uint32_t v = tk_load32(x + k);
        out[0] = tk_sxtb16(v);
        out[1] = tk_sxtb16_ror8(v);
    }
    for (; k < end; k += 4, out += 2) {
        uint32_t v = 0;
        int32_t j;
        for (j = 0; j < 4 && k + j < p->in_depth; ++j) {
            v |= (uint32_t)(uint8_t)x[k + j] << (8 * j);
        }
        out[0] = tk_sxtb16(v);
        out[1] = tk_sxtb16_ror8(v);
    }
    return scratch;
}

static void tk_fc_rows(const int8_t *w, const void *prepared, int32_t in_pad,
                       const int32_t *from, int32_t *acc)
{
    const int32_t *x = (const int32_t *)prepared;
    const int32_t *end = x + in_pad / 2;
    int32_t a0 = from[0], a1 = from[1], a2 = from[2], a3 = from[3];
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

static const void *tk_fc_prepare(const tk_fc_params *p, const int8_t *x, int32_t k0,
                                 int32_t n, void *scratch)
{
    int8_t *row = (int8_t *)scratch;
    int32_t k;
    for (k = 0; k < n; ++k) {
        row[k] = k0 + k < p->in_depth ? x[k0 + k] : 0;
    }
    return row;
}

static void tk_fc_rows(const int8_t *w, const void *prepared, int32_t in_pad,
                       const int32_t *from, int32_t *acc)
{
    const int8_t *x = (const int8_t *)prepared;
    int32_t a0 = from[0], a1 = from[1], a2 = from[2], a3 = from[3];
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

/* One pass over every output row: the sums so far from `from` (the bias first), the
 * chunk's inputs added, then into `to` (partial sums; it may be `from`), or requantized
 * when `to` is NULL. */
static void tk_fc_pass(const tk_fc_params *p, const tk_rq_record *layer, const int8_t *w,
                       const void *x, int32_t n, const int32_t *from, int32_t *to,
                       int8_t *out)
{
    const int32_t block_bytes = 4 * p->in_pad;
    int32_t first;
    for (first = 0; first < p->out_depth; first += 4, w += block_bytes) {
        int32_t acc[4];
        if (to == NULL) {
            tk_fc_rows(w, x, n, from + first, acc);
            tk_fc_store(p, layer, acc, first, out);
        } else {
            tk_fc_rows(w, x, n, from + first, to + first);
        }
    }
}

void tk_fully_connected_s8(const tk_fc_params *p, const int8_t *input, int8_t *output,
                           void *scratch)
{
    const int32_t chunk = p->in_pad < TK_FC_CHUNK ? p->in_pad : TK_FC_CHUNK;
    int32_t *partial = (int32_t *)(void *)((int8_t *)scratch + 2 * chunk); /* [out_pad] */
    tk_rq_record layer;
    int32_t b, k0;

    tk_rq_records(&layer, 1, NULL, p->multiplier, p->shift, 0, p->fast_requant,
                  p->output_zero_point);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *row = input + b * p->in_depth;
        for (k0 = 0; k0 < p->in_pad; k0 += chunk) {
            const int32_t n = p->in_pad - k0 < chunk ? p->in_pad - k0 : chunk;
            /* the chunk's blocks start 4 * k0 bytes into each block row */
            tk_fc_pass(p, &layer, p->weights + 4 * k0, tk_fc_prepare(p, row, k0, n, scratch),
                       n, k0 == 0 ? p->bias : partial, k0 + n == p->in_pad ? NULL : partial,
                       output + b * p->out_depth);
        }
    }
}
