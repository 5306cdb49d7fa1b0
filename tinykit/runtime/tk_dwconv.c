/* DEPTHWISE_CONV_2D over 16-bit input rows: tk_depthwise_conv2d_rows_s8 (any kernel size
 * and depth multiplier), tk_depthwise_conv2d_3x3_s8 and tk_depthwise_conv2d_3x3s2_s8
 * (3x3, multiplier 1, dilation 1, stride 1 or 2 across: entry points of their own so that
 * a firmware links only the code its layers use).
 *
 * Output rows are computed in order. The input rows an output row's window needs are
 * converted once each to int16, one plane row per channel, with the input zero point in
 * the left and right padding; rows above or below the image read zero points. Taps along
 * x are paired (two 16-bit inputs against two 16-bit weights: SMLAD on DSP cores). Input
 * rows are read once, in increasing order, and never after an output row whose window
 * starts below them is written (the `ring` streaming contract). A fused activation
 * narrower than int8 is applied to each output row afterwards.
 *
 * Two layouts of the rows:
 * - the ring (every version of rows_s8; the 3x3 entry points without DSP): R = (k_h - 1)
 *   * dilation_h + 1 rows, input row r in slot r % R, [R][in_c][cols], one output channel
 *   at a time; TFLite's general requantization or the one-rounding form (fast_requant).
 * - the window (the 3x3 entry points on DSP cores): [in_c][3][cols], slot k holding row
 *   iy0 + k of the current window (rows move down as the window does), so the three rows
 *   of a channel are one stride apart and the next channel follows the third. Four
 *   output columns of a channel a turn, in assembly (tk_dw3x3_s1 / tk_dw3x3_s2), from
 *   weights doubled in 16-bit pairs, so the accumulator is 2 * acc and one SMMLAR
 *   requantizes it exactly (TK_DW3_TAIL: every exponent in [1, 23], |acc| < 2^30; the
 *   generator checks, see kernels.requant_doubles).
 *
 * Scratch (tinykit.codegen.kernels.rows_scratch_bytes), 4-byte aligned:
 *   rows: ring [R][in_c][cols] or window [in_c][3][cols] int16 | zero-point row [cols] |
 *   per output channel: its requantization and its weights as pairs (at most 13 words)
 * where cols covers the padded width plus one (a last odd tap is paired with a zero
 * weight and reads one column further), even. dilation_w must be 1.
 */
#include "tk_internal.h"

TK_SIZE_PRAGMA

/* Kernel rows at most (the generator checks). */
#define TK_ROWS_MAX_K 16

#if defined(TK_ISA_DSP) && (defined(__GNUC__) || defined(__clang__))
#define TK_DW3_WINDOW 1
#endif

typedef struct {
    int32_t cols;        /* int16 per plane row (even) */
    int32_t slots;       /* ring rows */
    int32_t kw2;         /* weight pairs per kernel row */
    int32_t stride;      /* int32 words per output channel record */
    int16_t *ring;
    int16_t *zp_row;
    int32_t *records;
} tk_rows_layout;

/* int16 per plane row: the padded width plus one (a last odd tap reads one column
 * further), even. */
TK_INLINE int32_t tk_rows_cols(const tk_conv_params *p)
{
    const int32_t span = (int32_t)(p->out_w - 1) * p->stride_w + p->k_w;
    const int32_t wide = p->in_w + p->pad_left;
    return ((span > wide ? span : wide) + 2) & ~1;
}

TK_COLD static tk_rows_layout tk_rows_layout_of(const tk_conv_params *p, void *scratch)
{
    tk_rows_layout l;
    l.cols = tk_rows_cols(p);
    l.slots = (int32_t)(p->k_h - 1) * p->dilation_h + 1;
    l.kw2 = (p->k_w + 1) / 2;
    l.stride = 4 + p->k_h * l.kw2;
    l.ring = (int16_t *)scratch;
    l.zp_row = l.ring + l.slots * p->in_c * l.cols;
    l.records = (int32_t *)(void *)(l.zp_row + l.cols);
    return l;
}

TK_COLD static int32_t tk_pair(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* Each output channel's requantization, then its weights as pairs (w[kx] | w[kx+1] << 16),
 * a zero after an odd last tap. */
TK_COLD static void tk_rows_records(const tk_conv_params *p, const tk_rows_layout *l)
{
    const int32_t out_c = p->out_c;
    int32_t *out = l->records;
    int oc, ky, kx;
    for (oc = 0; oc < out_c; ++oc, out += l->stride) {
        int32_t *pairs = out + 4;
        tk_rq_records((tk_rq_record *)(void *)out, 1, p->bias + oc, p->multiplier + oc,
                      p->shift + oc, 1, p->fast_requant, p->output_zero_point);
        for (ky = 0; ky < p->k_h; ++ky) {
            const int8_t *w = p->filter + (int32_t)ky * p->k_w * out_c + oc;
            for (kx = 0; kx < p->k_w; kx += 2) {
                *pairs++ = tk_pair(w[kx * out_c], kx + 1 < p->k_w ? w[(kx + 1) * out_c] : 0);
            }
        }
    }
}

/* n int16 of value v from dst (4-byte aligned, n even). */
TK_HOT static void tk_fill_s16(int16_t *dst, int16_t v, int32_t n)
{
    uint32_t *d = (uint32_t *)(void *)dst;
    const uint32_t word = ((uint32_t)(uint16_t)v) * 0x10001u;
    int32_t words = n / 2;
#if defined(TK_DW3_WINDOW)
    if (words >= 4) {
        int32_t turns = words / 4;
        __asm__ volatile(
            "mov    r4, %[v]\n\t"
            "mov    r5, %[v]\n\t"
            "mov    r6, %[v]\n\t"
            "mov    r7, %[v]\n"
            "1:\n\t"
            "stm    %[d]!, {r4, r5, r6, r7}\n\t"
            "subs   %[n], %[n], #1\n\t"
            "bne    1b\n\t"
            : [d] "+r"(d), [n] "+r"(turns)
            : [v] "r"(word)
            : "r4", "r5", "r6", "r7", "cc", "memory");
        words &= 3;
    }
#endif
    for (; words > 0; --words) {
        *d++ = word;
    }
}

/* Input row `src` (in_w pixels of in_c channels) into plane rows: channel c's row at
 * dst + c * channel_stride. */
TK_HOT static void tk_rows_load(const tk_conv_params *p, const int8_t *src, int16_t *dst,
                                int32_t channel_stride)
{
    const int32_t in_c = p->in_c, in_w = p->in_w;
    int32_t c = 0, x;
#if defined(TK_ISA_DSP)
    for (; c + 4 <= in_c; c += 4) {
        int16_t *d0 = dst + c * channel_stride, *d1 = d0 + channel_stride;
        int16_t *d2 = d1 + channel_stride, *d3 = d2 + channel_stride;
        const int8_t *s = src + c;
        x = 0;
#if defined(__GNUC__) || defined(__clang__)
        if (in_w >= 2) {
            /* Four channels of two pixels: two words, four SXTB16, four PKH (a word of
             * the two pixels per channel), four word stores (any alignment). */
            int16_t *const end = d0 + (in_w & ~1);
            uint32_t v0, v1, e0, e1, t;
            __asm__ volatile(
                "1:\n\t"
                "ldr    %[v0], [%[s]]\n\t"
                "ldr    %[v1], [%[s], %[step]]\n\t"
                "add    %[s], %[s], %[step], lsl #1\n\t"
                "sxtb16 %[e0], %[v0]\n\t"
                "sxtb16 %[e1], %[v1]\n\t"
                "sxtb16 %[v0], %[v0], ror #8\n\t"
                "sxtb16 %[v1], %[v1], ror #8\n\t"
                "pkhbt  %[t], %[e0], %[e1], lsl #16\n\t"
                "str    %[t], [%[d0]], #4\n\t"
                "pkhtb  %[t], %[e1], %[e0], asr #16\n\t"
                "str    %[t], [%[d2]], #4\n\t"
                "pkhbt  %[t], %[v0], %[v1], lsl #16\n\t"
                "str    %[t], [%[d1]], #4\n\t"
                "pkhtb  %[t], %[v1], %[v0], asr #16\n\t"
                "str    %[t], [%[d3]], #4\n\t"
                "cmp    %[d0], %[end]\n\t"
                "bne    1b\n\t"
                : [s] "+r"(s), [d0] "+r"(d0), [d1] "+r"(d1), [d2] "+r"(d2), [d3] "+r"(d3),
                  [v0] "=&r"(v0), [v1] "=&r"(v1), [e0] "=&r"(e0), [e1] "=&r"(e1),
                  [t] "=&r"(t)
                : [step] "r"(in_c), [end] "r"(end)
                : "cc", "memory");
            x = in_w & ~1;
        }
#endif
        for (; x < in_w; ++x, s += in_c) {
            const uint32_t v = tk_load32(s);
            const uint32_t even = (uint32_t)tk_sxtb16(v), odd = (uint32_t)tk_sxtb16_ror8(v);
            *d0++ = (int16_t)even;
            *d1++ = (int16_t)odd;
            *d2++ = (int16_t)(even >> 16);
            *d3++ = (int16_t)(odd >> 16);
        }
    }
#endif
    for (; c < in_c; ++c) {
        int16_t *d = dst + c * channel_stride;
        const int8_t *s = src + c;
        for (x = 0; x < in_w; ++x, s += in_c) {
            d[x] = *s;
        }
    }
}

/* ---- the ring: any kernel, any version ---------------------------------------------- */

/* What the output loop needs, in locals (int8 stores may alias the parameter block). */
typedef struct {
    int32_t out_c, out_w, in_c, stride_w, k_h, kw2, mult;
    int fast; /* the one-rounding requantization */
} tk_rows_out;

/* One output channel of one output row, its taps in pairs along x. */
TK_COLD static void tk_rows_channel(const tk_rows_out *o, const int32_t *record,
                                    const int16_t *const *rows, int8_t *out)
{
    const tk_rq_record *rq = (const tk_rq_record *)(const void *)record;
    const int32_t *pairs = record + 4;
    int ox, ky, k;
    for (ox = 0; ox < o->out_w; ++ox, out += o->out_c) {
        int32_t a = rq->bias;
        for (ky = 0; ky < o->k_h; ++ky) {
            const int16_t *x = rows[ky] + ox * o->stride_w;
            for (k = 0; k < o->kw2; ++k, x += 2) {
                const int32_t w = pairs[ky * o->kw2 + k];
#if defined(TK_ISA_DSP)
                a = tk_smlad((int32_t)tk_load32(x), w, a);
#else
                a += (int32_t)(int16_t)(w & 0xFFFF) * x[0] + (w >> 16) * x[1];
#endif
            }
        }
        *out = (int8_t)tk_sat8(tk_requant_record(a, rq, o->fast));
    }
}

/* Output row oy, channel by channel; the ring rows of its window (the zero-point row
 * outside the image) for channel 0. */
TK_COLD static void tk_rows_output(const tk_conv_params *p, const tk_rows_layout *l,
                                   const tk_rows_out *o, int oy, int8_t *out_row)
{
    const int32_t iy0 = (int32_t)oy * p->stride_h - p->pad_top;
    const int16_t *rows[TK_ROWS_MAX_K];
    int ic, m, ky;
    for (ky = 0; ky < p->k_h; ++ky) {
        const int32_t row = iy0 + ky * p->dilation_h;
        rows[ky] = (row < 0 || row >= p->in_h) ? l->zp_row
                                               : l->ring + (row % l->slots) * p->in_c * l->cols;
    }
    for (ic = 0; ic < o->in_c; ++ic) {
        const int16_t *channel_rows[TK_ROWS_MAX_K];
        for (ky = 0; ky < o->k_h; ++ky) {
            channel_rows[ky] = rows[ky] == l->zp_row ? l->zp_row : rows[ky] + ic * l->cols;
        }
        for (m = 0; m < o->mult; ++m) {
            const int oc = ic * (int)o->mult + m;
            tk_rows_channel(o, l->records + oc * l->stride, channel_rows, out_row + oc);
        }
    }
}

TK_COLD static void tk_rows_ring(const tk_conv_params *p, const int8_t *input, int8_t *output,
                                 void *scratch)
{
    const tk_rows_layout l = tk_rows_layout_of(p, scratch);
    const int32_t image_bytes = (int32_t)p->in_h * p->in_w * p->in_c;
    const int32_t row_bytes = (int32_t)p->out_w * p->out_c;
    const int16_t zp = p->input_zero_point;
    tk_rows_out o;
    int b, oy, iy;

    o.out_c = p->out_c;
    o.out_w = p->out_w;
    o.in_c = p->in_c;
    o.stride_w = p->stride_w;
    o.k_h = p->k_h;
    o.kw2 = l.kw2;
    o.mult = p->depth_multiplier;
    o.fast = p->fast_requant;
    tk_rows_records(p, &l);
    /* zero points everywhere: the padding columns keep them, image columns are loaded */
    tk_fill_s16(l.ring, zp, (l.slots * p->in_c + 1) * l.cols);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * image_bytes;
        int loaded = -1; /* the highest input row in the ring */
        for (oy = 0; oy < p->out_h; ++oy) {
            const int iy0 = oy * p->stride_h - p->pad_top;
            const int last = iy0 + (p->k_h - 1) * p->dilation_h;
            int8_t *out_row = output + ((int32_t)b * p->out_h + oy) * row_bytes;
            for (iy = loaded + 1 > iy0 ? loaded + 1 : iy0; iy <= last && iy < p->in_h; ++iy) {
                if (iy >= 0) {
                    tk_rows_load(p, image + (int32_t)iy * p->in_w * p->in_c,
                                 l.ring + (iy % l.slots) * p->in_c * l.cols + p->pad_left,
                                 l.cols);
                    loaded = iy;
                }
            }
            tk_rows_output(p, &l, &o, oy, out_row);
            tk_clamp_s8(out_row, row_bytes, p->act_min, p->act_max);
        }
    }
}

/* ---- the window: 3x3, multiplier 1, DSP ------------------------------------------------ */

#if defined(TK_DW3_WINDOW)
/* Record of a channel, `w` weight words per kernel row (3: stride 1, 2: stride 2):
 *   stride 1: per row (w0|w1), (w1|w2), (w0|w2);  stride 2: per row (w0|w1), (w2|w2)
 * each weight doubled, then 2 * bias, m, kc = 2^(e-1) + zp * 2^e, e (= -shift). */
#define TK_DW3_RQ(w) (3 * (w))

/* Four output columns of every channel (assembly below): r walks the records to `end`,
 * x is channel 0's slot 0 at the block's first input column, `row` the bytes from one
 * slot to the next, out the block's first output (4 outputs `out_c` bytes apart). */
void tk__dw3x3_s1(const int32_t *r, const int16_t *x, int8_t *out, int32_t row,
                  const int32_t *end, int32_t out_c);
void tk__dw3x3_s2(const int32_t *r, const int16_t *x, int8_t *out, int32_t row,
                  const int32_t *end, int32_t out_c);
void tk__dw3x5_s1(const int32_t *r, const int16_t *x, int8_t *out, int32_t row,
                  const int32_t *end, int32_t out_c);
void tk__dw3x1_s1(const int32_t *r, const int16_t *x, int8_t *out, int32_t row,
                  const int32_t *end);
void tk__dw3x1_s2(const int32_t *r, const int16_t *x, int8_t *out, int32_t row,
                  const int32_t *end);

/* One kernel row of the four sums r4..r7 (stride 1): r0 the record's weights of the row,
 * r1 the row (advanced by r3 to the next slot), inputs c0..c5 in r8..r10, weights
 * (w0|w1) r11, (w1|w2) r12, (w0|w2) lr:
 *   o0 = c0w0 + c1w1 (SMLAD) + c2w2 (SMLABT)   o1 = c1w0 (SMLATB) + c2w1 + c3w2 (SMLAD)
 *   o2 = c2w0 + c3w1 + c4w2                     o3 = c3w0 + c4w1 + c5w2
 * a4..a7 the registers the sums start from (the first row: r7, 2 * bias, used last). */
#define TK_DW3_MACS_S1(a4, a5, a6, a7)                                               \
    "ldm    r0!, {r11, r12, lr}\n\t"                                                 \
    "ldm    r1, {r8, r9, r10}\n\t"                                                   \
    "smlad  r4, r8, r11, " a4 "\n\t"                                                 \
    "smlabt r4, r9, lr, r4\n\t"                                                      \
    "smlatb r5, r8, lr, " a5 "\n\t"                                                  \
    "smlad  r5, r9, r12, r5\n\t"                                                     \
    "smlad  r6, r9, r11, " a6 "\n\t"                                                 \
    "smlabt r6, r10, lr, r6\n\t"                                                     \
    "smlatb r7, r9, lr, " a7 "\n\t"                                                  \
    "smlad  r7, r10, r12, r7\n\t"
#define TK_DW3_ROW_S1(a4, a5, a6, a7)                                                \
    TK_DW3_MACS_S1(a4, a5, a6, a7) "add    r1, r1, r3\n\t"

/* The same for stride 2, inputs c0..c9 (r8..r10, then c6..c9 in r8, r9), weights
 * (w0|w1) r11, (w2|w2) r12: o_j = c2j w0 + c2j+1 w1 (SMLAD) + c2j+2 w2 (SMLABB). */
#define TK_DW3_ROW_S2(a4, a5, a6, a7)                                                \
    "ldm    r0!, {r11, r12}\n\t"                                                     \
    "ldm    r1, {r8, r9, r10}\n\t"                                                   \
    "smlad  r4, r8, r11, " a4 "\n\t"                                                 \
    "smlabb r4, r9, r12, r4\n\t"                                                     \
    "smlad  r5, r9, r11, " a5 "\n\t"                                                 \
    "smlabb r5, r10, r12, r5\n\t"                                                    \
    "smlad  r6, r10, r11, " a6 "\n\t"                                                \
    "ldrd   r8, r9, [r1, #12]\n\t"                                                   \
    "add    r1, r1, r3\n\t"                                                          \
    "smlabb r6, r8, r12, r6\n\t"                                                     \
    "smlad  r7, r8, r11, " a7 "\n\t"                                                 \
    "smlabb r7, r9, r12, r7\n\t"

/* Sum `r` requantized (m r9, kc r10, e r11; r12 scratch) and saturated:
 *   SMMLAR(2 acc, m, kc - [acc < 0]) = SaturatingRoundingDoublingHighMul(acc, m) + kc
 *   - [acc < 0], and >> e is TFLite's rounding divide by 2^e plus the zero point. */
#define TK_DW3_REQUANT(r)                                                            \
    "add    r12, r10, " r ", asr #31\n\t"                                            \
    "smmlar " r ", " r ", r9, r12\n\t"                                               \
    "asr    " r ", " r ", r11\n\t"                                                   \
    "ssat   " r ", #8, " r "\n\t"

/* The four doubled sums requantized, stored out_c bytes apart ([sp, #40]), the next
 * channel until r0 reaches `end` ([sp, #36]). */
#define TK_DW3_TAIL                                                                  \
    "ldm    r0!, {r8, r9, r10, r11}\n\t"                                             \
    TK_DW3_REQUANT("r4") TK_DW3_REQUANT("r5") TK_DW3_REQUANT("r6")                   \
    TK_DW3_REQUANT("r7")                                                             \
    "ldr    r12, [sp, #40]\n\t"                                                      \
    "strb   r4, [r2]\n\t"                                                            \
    "strb   r5, [r2, r12]\n\t"                                                       \
    "strb   r6, [r2, r12, lsl #1]\n\t"                                               \
    "add    r8, r2, r12, lsl #1\n\t"                                                 \
    "strb   r7, [r8, r12]\n\t"                                                       \
    "add    r2, r2, #1\n\t"                                                          \
    "ldr    r12, [sp, #36]\n\t"                                                      \
    "cmp    r0, r12\n\t"                                                             \
    "bne    1b\n\t"                                                                  \
    "pop    {r4-r11, pc}\n\t"

/* An assembly function in a section of its own (the linker drops it when no layer calls
 * it): the directives before its first instruction, and after its last. */
#define TK_ASM_BEGIN(name)                                                           \
    ".pushsection .text." name ",\"ax\",%progbits\n\t"                               \
    ".syntax unified\n\t"                                                            \
    ".thumb\n\t"                                                                     \
    ".p2align 2\n\t"                                                                 \
    ".global " name "\n\t"                                                           \
    ".hidden " name "\n\t"                                                           \
    ".type " name ", %function\n\t"                                                  \
    ".thumb_func\n" name ":\n\t"
#define TK_ASM_END(name) ".size " name ", .-" name "\n\t.popsection\n"

/* The loop over channels of four output columns (ROW: the stride's kernel row). */
#define TK_DW3_FUNCTION(name, bias_offset, ROW)                                      \
    __asm__(TK_ASM_BEGIN(#name)                                                      \
            "push   {r4-r11, lr}\n"                                                  \
            "1:\n\t"                                                                 \
            "ldr    r7, [r0, #" #bias_offset "]\n\t"                                 \
            ROW("r7", "r7", "r7", "r7") ROW("r4", "r5", "r6", "r7")                  \
            ROW("r4", "r5", "r6", "r7") TK_DW3_TAIL                                  \
            TK_ASM_END(#name))

TK_DW3_FUNCTION(tk__dw3x3_s1, 36, TK_DW3_ROW_S1);
TK_DW3_FUNCTION(tk__dw3x3_s2, 24, TK_DW3_ROW_S2);

/* Five output columns of every channel, stride 1 (a row of 4k + 1 columns ends with
 * one): the block of four plus o4 = c4w0 + c5w1 (SMLAD of r10) + c6w2 in r2, the output
 * pointer kept on the stack ([sp]; end [sp, #40], out_c [sp, #44]). */
#define TK_DW3_ROW_S1_5(a4, a5, a6, a7)                                              \
    TK_DW3_MACS_S1(a4, a5, a6, a7)                                                   \
    "ldr    r8, [r1, #12]\n\t"                                                       \
    "add    r1, r1, r3\n\t"                                                          \
    "smlad  r2, r10, r11, r2\n\t"                                                    \
    "smlabt r2, r8, lr, r2\n\t"

__asm__(TK_ASM_BEGIN("tk__dw3x5_s1")
        "push   {r2, r4-r11, lr}\n"
        "1:\n\t"
        "ldr    r2, [r0, #36]\n\t"
        TK_DW3_ROW_S1_5("r2", "r2", "r2", "r2") TK_DW3_ROW_S1_5("r4", "r5", "r6", "r7")
        TK_DW3_ROW_S1_5("r4", "r5", "r6", "r7")
        "ldm    r0!, {r8, r9, r10, r11}\n\t"
        TK_DW3_REQUANT("r4") TK_DW3_REQUANT("r5") TK_DW3_REQUANT("r6") TK_DW3_REQUANT("r7")
        TK_DW3_REQUANT("r2")
        "ldr    lr, [sp]\n\t"
        "ldr    r12, [sp, #44]\n\t"
        "strb   r4, [lr]\n\t"
        "strb   r5, [lr, r12]\n\t"
        "strb   r6, [lr, r12, lsl #1]\n\t"
        "add    r8, lr, r12, lsl #1\n\t"
        "strb   r7, [r8, r12]\n\t"
        "strb   r2, [r8, r12, lsl #1]\n\t"
        "add    lr, lr, #1\n\t"
        "str    lr, [sp]\n\t"
        "ldr    r12, [sp, #40]\n\t"
        "cmp    r0, r12\n\t"
        "bne    1b\n\t"
        "pop    {r2, r4-r11, pc}\n\t"
        TK_ASM_END("tk__dw3x5_s1"));

/* One output column of every channel (the columns after the last block of four), same
 * arguments but no out_c: a row's two words (any alignment) against (w0|w1) at `w01` and
 * the pair whose top half is w2 at `w2` in the record. */
#define TK_DW3_ROW_1(w01, w2)                                                  \
    "ldr    r8, [r1]\n\t"                                                            \
    "ldr    r9, [r1, #4]\n\t"                                                        \
    "ldr    r11, [r0, #" #w01 "]\n\t"                                                \
    "ldr    r12, [r0, #" #w2 "]\n\t"                                                 \
    "add    r1, r1, r3\n\t"                                                          \
    "smlad  r4, r8, r11, r4\n\t"                                                     \
    "smlabt r4, r9, r12, r4\n\t"

#define TK_DW3_COLUMN_FUNCTION(name, row_bytes, w2)                                  \
    __asm__(TK_ASM_BEGIN(#name)                                                      \
            "push   {r4-r11, lr}\n\t"                                                \
            "ldr    lr, [sp, #36]\n"                                                 \
            "1:\n\t"                                                                 \
            "ldr    r4, [r0, #3 * " #row_bytes "]\n\t"                                \
            TK_DW3_ROW_1(0, w2)                                                      \
            TK_DW3_ROW_1(row_bytes, row_bytes + w2)                                  \
            TK_DW3_ROW_1(2 * row_bytes, 2 * row_bytes + w2)                          \
            "add    r0, r0, #3 * " #row_bytes " + 4\n\t"                              \
            "ldm    r0!, {r9, r10, r11}\n\t"                                          \
            TK_DW3_REQUANT("r4")                                                     \
            "strb   r4, [r2], #1\n\t"                                                 \
            "cmp    r0, lr\n\t"                                                       \
            "bne    1b\n\t"                                                           \
            "pop    {r4-r11, pc}\n\t"                                                 \
            TK_ASM_END(#name))

TK_DW3_COLUMN_FUNCTION(tk__dw3x1_s1, 12, 8);
TK_DW3_COLUMN_FUNCTION(tk__dw3x1_s2, 8, 4);

/* d[i] = s[i] for i < words (d below s; the regions may overlap), 8 words a turn. */
TK_HOT static void tk_move_words(uint32_t *d, const uint32_t *s, int32_t words)
{
    int32_t turns = words / 8;
    if (turns > 0) {
        __asm__ volatile(
            "1:\n\t"
            "ldm    %[s]!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
            "stm    %[d]!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
            "subs   %[n], %[n], #1\n\t"
            "bne    1b\n\t"
            : [s] "+r"(s), [d] "+r"(d), [n] "+r"(turns)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    }
    for (words &= 7; words > 0; --words) {
        *d++ = *s++;
    }
}

/* The records (w weight words per kernel row) of every channel. */
TK_COLD static void tk_dw3_records(const tk_conv_params *p, int32_t *r, int w)
{
    const int32_t c_count = p->out_c, zp = p->output_zero_point;
    int32_t c, ky;
    for (c = 0; c < c_count; ++c) {
        const int8_t *f = p->filter + c;
        const int32_t e = -p->shift[c];
        for (ky = 0; ky < 3; ++ky, f += 3 * c_count) {
            const int32_t w0 = 2 * f[0], w1 = 2 * f[c_count], w2 = 2 * f[2 * c_count];
            *r++ = tk_pair(w0, w1);
            if (w == 3) {
                *r++ = tk_pair(w1, w2);
                *r++ = tk_pair(w0, w2);
            } else {
                *r++ = tk_pair(w2, w2);
            }
        }
        *r++ = 2 * p->bias[c];
        *r++ = p->multiplier[c];
        *r++ = (int32_t)((uint32_t)1 << (e - 1)) + (int32_t)((uint32_t)zp << e);
        *r++ = e;
    }
}

/* Slots [from, to) of every channel: input rows iy0 + k, zero points outside the image. */
TK_HOT static void tk_dw3_load(const tk_conv_params *p, const int8_t *image, int16_t *window,
                               int32_t cols, int32_t iy0, int from)
{
    int k;
    for (k = from; k < 3; ++k) {
        const int32_t iy = iy0 + k;
        int16_t *slot = window + k * cols;
        if (iy >= 0 && iy < p->in_h) {
            tk_rows_load(p, image + iy * p->in_w * p->in_c, slot + p->pad_left, 3 * cols);
        } else {
            int32_t c;
            for (c = 0; c < p->in_c; ++c) {
                tk_fill_s16(slot + c * 3 * cols, p->input_zero_point, cols);
            }
        }
    }
}

/* The window moves down by `by` rows (< 3): one move of the whole window by `by` slots
 * takes slots [by, 3) of every channel to [0, 3 - by) (and the next channel's first
 * slots to [3 - by, 3), which the new rows then overwrite). */
TK_INLINE void tk_dw3_shift(int16_t *window, int32_t channels, int32_t cols, int by)
{
    tk_move_words((uint32_t *)(void *)window, (const uint32_t *)(const void *)(window + by * cols),
                  (3 * channels - by) * cols / 2);
}

/* `mode` (a constant): 1 stride 1, 2 stride 2 across. */
TK_INLINE void tk_dw3_window(const tk_conv_params *p, const int8_t *input, int8_t *output,
                             void *scratch, int mode)
{
    const int w = mode == 1 ? 3 : 2;
    const int32_t in_c = p->in_c, out_c = p->out_c, out_w = p->out_w, cols = tk_rows_cols(p);
    const int32_t image_bytes = (int32_t)p->in_h * p->in_w * in_c;
    const int32_t row_bytes = out_w * out_c, stride_h = p->stride_h;
    int16_t *window = (int16_t *)scratch;
    int32_t *records = (int32_t *)(void *)(window + 3 * in_c * cols); /* no zero-point row */
    const int32_t *end = records + out_c * (TK_DW3_RQ(w) + 4);
    int b, oy;

    tk_dw3_records(p, records, w);
    tk_fill_s16(window, p->input_zero_point, 3 * in_c * cols);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * image_bytes;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * stride_h - p->pad_top;
            int8_t *out_row = output + ((int32_t)b * p->out_h + oy) * row_bytes;
            int32_t ox = 0;
            if (oy == 0 || stride_h >= 3) {
                tk_dw3_load(p, image, window, cols, iy0, 0);
            } else {
                tk_dw3_shift(window, in_c, cols, (int)stride_h);
                tk_dw3_load(p, image, window, cols, iy0, 3 - (int)stride_h);
            }
            for (; ox + 4 <= out_w; ox += 4) {
                if (mode == 1 && ox + 5 == out_w) {
                    tk__dw3x5_s1(records, window + ox, out_row + ox * out_c, 2 * cols, end,
                                 out_c);
                    ox = out_w;
                    break;
                }
                (mode == 1 ? tk__dw3x3_s1 : tk__dw3x3_s2)(records, window + ox * mode,
                                                          out_row + ox * out_c, 2 * cols, end,
                                                          out_c);
            }
            for (; ox < out_w; ++ox) {
                (mode == 1 ? tk__dw3x1_s1 : tk__dw3x1_s2)(records, window + ox * mode,
                                                          out_row + ox * out_c, 2 * cols, end);
            }
            tk_clamp_s8(out_row, row_bytes, p->act_min, p->act_max);
        }
    }
}
#endif

void tk_depthwise_conv2d_rows_s8(const tk_conv_params *p, const int8_t *input,
                                 int8_t *output, void *scratch)
{
    tk_rows_ring(p, input, output, scratch);
}

void tk_depthwise_conv2d_3x3_s8(const tk_conv_params *p, const int8_t *input,
                                int8_t *output, void *scratch)
{
#if defined(TK_DW3_WINDOW)
    tk_dw3_window(p, input, output, scratch, 1);
#else
    tk_rows_ring(p, input, output, scratch);
#endif
}

void tk_depthwise_conv2d_3x3s2_s8(const tk_conv_params *p, const int8_t *input,
                                  int8_t *output, void *scratch)
{
#if defined(TK_DW3_WINDOW)
    tk_dw3_window(p, input, output, scratch, 2);
#else
    tk_rows_ring(p, input, output, scratch);
#endif
}
