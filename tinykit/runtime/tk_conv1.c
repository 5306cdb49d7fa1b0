/* CONV_2D whose input has one channel (a DEPTHWISE_CONV_2D with one input channel is the
 * same thing): tk_conv2d_1ch_s8.
 *
 * Output pixel after pixel, in raster order over batch, row and column: the pixel's
 * window is gathered once into scratch as 16-bit pairs (the input zero point where it
 * leaves the image), then each group of 4 output channels is the dot product of its
 * filter pairs with the window, requantized from per-channel records in flash. A
 * pixel's input is all read before its output is written (the `tiles` streaming
 * contract). A fused activation narrower than int8 is applied to each output row after.
 *
 * Layouts (tinykit.codegen.kernels.conv1_*), out_pad = out_c rounded up to 4, k_row =
 * p->k_pad = k_w rounded up to 4, P = k_h * k_row / 2 pairs per window:
 *   filter  int16 [out_pad / 4][P][4 channels][2], twice the weights: pairs 2g and 2g + 1
 *           of a kernel row hold its taps (4g, 4g + 2) and (4g + 1, 4g + 3), which is what
 *           SXTB16 and SXTB16 ROR #8 give of the word of taps 4g..4g+3; zeros past k_w
 *   multiplier  [out_pad][4] per channel {m, Kc = 2^(e-1) + output zero point * 2^e, e,
 *           2 * (bias - input zero point * sum(weights))}, e TFLite's exponent negated, in
 *           [1, 23]; |bias| + 128 * sum|weights| < 2^30, so twice the accumulator fits in
 *           int32 (bias and shift are NULL: one record per channel, one LDM)
 * The requantization is exact in one rounding: with acc2 = 2 * acc (the doubled weights
 * and bias give it),
 *   t = ((Kc + (acc2 >> 31)) * 2^32 + acc2 * m + 2^31) >> 32,    out = t >> e
 * equals MultiplyByQuantizedMultiplier(acc, m, -e) + zero point (t is TFLite's rounding
 * doubling high product plus Kc, less one for a negative acc); on DSP cores one SMMLAR.
 *
 * Scratch (conv1_scratch_bytes), 4-byte aligned: the window [P] pairs | a kernel row cut
 * by the left or right edge [k_row] int8.
 */
#include "tk_internal.h"

TK_SIZE_PRAGMA

/* The geometry, in locals (int8 stores may alias the parameter block). */
typedef struct {
    int32_t in_h, in_w, k_h, k_w, k_row, stride_h, stride_w, pad_top, pad_left;
    int32_t out_h, out_w, out_c;
    int8_t zero_point;
} tk_conv1_geometry;

/* ---- the window as pairs ------------------------------------------------------------ */

#if defined(TK_ISA_DSP)
/* Taps 4g..4g+3 of a kernel row as the pairs (4g, 4g + 2) and (4g + 1, 4g + 3). */
TK_INLINE void tk_conv1_pairs(const int8_t *taps, int32_t *pairs)
{
    const uint32_t v = tk_load32(taps);
    pairs[0] = tk_sxtb16(v);
    pairs[1] = tk_sxtb16_ror8(v);
}
#else
TK_INLINE void tk_conv1_pairs(const int8_t *taps, int32_t *pairs)
{
    int16_t *half = (int16_t *)pairs;
    half[0] = taps[0];
    half[1] = taps[2];
    half[2] = taps[1];
    half[3] = taps[3];
}
#endif

/* `rows` kernel rows of k_row taps from `src` (a row every `stride` bytes) as pairs. */
#if defined(TK_ISA_DSP) && (defined(__GNUC__) || defined(__clang__))
TK_INLINE int32_t *tk_conv1_rows(const int8_t *src, int32_t rows, int32_t k_row,
                                 int32_t stride, int32_t *pairs)
{
    const int32_t skip = stride - k_row;
    const int8_t *end;
    uint32_t v, even, odd;
    if (rows <= 0) {
        return pairs;
    }
    if (k_row == 4 || k_row == 8) { /* 3x3 and micro_speech's 10x8: no loop along x */
        uint32_t v2, even2, odd2;
        if (k_row == 4) {
            __asm__ volatile(
                "1:\n\t"
                "ldr    %[v], [%[src]]\n\t"
                "add    %[src], %[src], %[stride]\n\t"
                "sxtb16 %[even], %[v]\n\t"
                "sxtb16 %[odd], %[v], ror #8\n\t"
                "strd   %[even], %[odd], [%[pairs]], #8\n\t"
                "subs   %[rows], %[rows], #1\n\t"
                "bne    1b\n\t"
                : [src] "+r"(src), [pairs] "+r"(pairs), [rows] "+r"(rows), [v] "=&r"(v),
                  [even] "=&r"(even), [odd] "=&r"(odd)
                : [stride] "r"(stride)
                : "cc", "memory");
            return pairs;
        }
        __asm__ volatile(
            "1:\n\t"
            "ldr    %[v2], [%[src], #4]\n\t"
            "ldr    %[v], [%[src]]\n\t"
            "add    %[src], %[src], %[stride]\n\t"
            "sxtb16 %[even], %[v]\n\t"
            "sxtb16 %[odd], %[v], ror #8\n\t"
            "sxtb16 %[even2], %[v2]\n\t"
            "sxtb16 %[odd2], %[v2], ror #8\n\t"
            "strd   %[even], %[odd], [%[pairs]], #8\n\t"
            "strd   %[even2], %[odd2], [%[pairs]], #8\n\t"
            "subs   %[rows], %[rows], #1\n\t"
            "bne    1b\n\t"
            : [src] "+r"(src), [pairs] "+r"(pairs), [rows] "+r"(rows), [v] "=&r"(v),
              [even] "=&r"(even), [odd] "=&r"(odd), [v2] "=&r"(v2), [even2] "=&r"(even2),
              [odd2] "=&r"(odd2)
            : [stride] "r"(stride)
            : "cc", "memory");
        return pairs;
    }
    /* gcc's own loop takes 9 instructions a word (no post-indexed STRD) */
    __asm__ volatile(
        "1:\n\t"
        "add    %[end], %[src], %[k_row]\n\t"
        "2:\n\t"
        "ldr    %[v], [%[src]], #4\n\t"
        "sxtb16 %[even], %[v]\n\t"
        "sxtb16 %[odd], %[v], ror #8\n\t"
        "strd   %[even], %[odd], [%[pairs]], #8\n\t"
        "cmp    %[src], %[end]\n\t"
        "bne    2b\n\t"
        "add    %[src], %[src], %[skip]\n\t"
        "subs   %[rows], %[rows], #1\n\t"
        "bne    1b\n\t"
        : [src] "+r"(src), [pairs] "+r"(pairs), [rows] "+r"(rows), [v] "=&r"(v),
          [even] "=&r"(even), [odd] "=&r"(odd), [end] "=&r"(end)
        : [k_row] "r"(k_row), [skip] "r"(skip)
        : "cc", "memory");
    return pairs;
}
#else
TK_INLINE int32_t *tk_conv1_rows(const int8_t *src, int32_t rows, int32_t k_row,
                                 int32_t stride, int32_t *pairs)
{
    for (; rows > 0; --rows, src += stride) {
        const int8_t *taps = src, *end = src + k_row;
        do { /* k_row >= 4 */
            tk_conv1_pairs(taps, pairs);
            taps += 4;
            pairs += 2;
        } while (taps != end);
    }
    return pairs;
}
#endif

/* `count` words of the zero point's pair. */
TK_INLINE int32_t *tk_conv1_fill(int32_t *pairs, int32_t count, int32_t zp_pair)
{
    for (; count > 0; --count) {
        *pairs++ = zp_pair;
    }
    return pairs;
}

/* `rows` kernel rows from `src` whose taps [lo, hi) only are in the image (the others
 * read as the zero point), through `line`, as pairs. The same taps are cut in every
 * row: the zero points are written once. */
TK_HOT TK_NOINLINE static int32_t *tk_conv1_cut_rows(const tk_conv1_geometry *g,
                                                     const int8_t *src, int32_t rows,
                                                     int32_t lo, int32_t hi, int8_t *line,
                                                     int32_t *pairs)
{
    const int32_t k_row = g->k_row, in_w = g->in_w;
    const uint32_t zp_word = 0x01010101u * (uint8_t)g->zero_point;
    int32_t j;
    for (j = 0; j < k_row; j += 4) {
        tk_store32(line + j, zp_word);
    }
    for (; rows > 0; --rows, src += in_w) {
        j = lo;
#if !defined(TK_ISA_V6M)
        for (; j + 4 <= hi; j += 4) {
            tk_store32(line + j, tk_load32(src + j));
        }
#endif
        for (; j < hi; ++j) {
            line[j] = src[j];
        }
        pairs = tk_conv1_rows(line, 1, k_row, 0, pairs);
    }
    return pairs;
}

#if defined(TK_ISA_DSP)
/* Rows of 8 taps cut in one word only: taps [lo, 8) with lo in 1..3, or [0, hi) with hi
 * in 5..7. The cut word is loaded where all its bytes are in the image (from tap lo, or
 * ending at tap hi - 1), shifted into place and completed with zero points (little-endian:
 * tap j is byte j); no byte copies. */
TK_HOT TK_NOINLINE static int32_t *tk_conv1_cut_rows8(const tk_conv1_geometry *g,
                                                      const int8_t *src, int32_t rows,
                                                      int32_t lo, int32_t hi, int32_t *pairs)
{
    const uint32_t zp_word = 0x01010101u * (uint8_t)g->zero_point;
    const int32_t in_w = g->in_w;
    if (lo > 0) {
        const int shift = 8 * (int)lo;
        const uint32_t fill = zp_word >> (32 - shift);
        for (; rows > 0; --rows, src += in_w, pairs += 4) {
            const uint32_t w0 = (tk_load32(src + lo) << shift) | fill;
            const uint32_t w1 = tk_load32(src + 4);
            pairs[0] = tk_sxtb16(w0);
            pairs[1] = tk_sxtb16_ror8(w0);
            pairs[2] = tk_sxtb16(w1);
            pairs[3] = tk_sxtb16_ror8(w1);
        }
    } else {
        const int shift = 8 * (8 - (int)hi);
        const uint32_t fill = zp_word << (32 - shift);
        for (; rows > 0; --rows, src += in_w, pairs += 4) {
            const uint32_t w0 = tk_load32(src);
            const uint32_t w1 = (tk_load32(src + hi - 4) >> shift) | fill;
            pairs[0] = tk_sxtb16(w0);
            pairs[1] = tk_sxtb16_ror8(w0);
            pairs[2] = tk_sxtb16(w1);
            pairs[3] = tk_sxtb16_ror8(w1);
        }
    }
    return pairs;
}
#endif

/* The window whose top left tap is input (iy0, ix0) of `image`, as k_h rows of k_row / 2
 * pairs: the zero point's pairs for rows above and below the image; a row cut by the
 * left or right edge is assembled in `line` first. */
TK_HOT TK_NOINLINE static void tk_conv1_window(const tk_conv1_geometry *g, const int8_t *image,
                                               int32_t iy0, int32_t ix0, int8_t *line,
                                               int32_t *pairs)
{
    const int32_t k_row = g->k_row, in_w = g->in_w, k_h = g->k_h, half = k_row / 2;
    const int32_t zp_pair = (int32_t)(((uint32_t)(uint16_t)g->zero_point) |
                                      ((uint32_t)g->zero_point << 16));
    int32_t top = iy0 < 0 ? -iy0 : 0, bottom = g->in_h - iy0;
    top = top < k_h ? top : k_h;
    bottom = bottom < k_h ? bottom : k_h;
    bottom = bottom > top ? bottom : top;
    pairs = tk_conv1_fill(pairs, top * half, zp_pair);
    if (ix0 >= 0 && ix0 + k_row <= in_w) {
        pairs = tk_conv1_rows(image + (iy0 + top) * in_w + ix0, bottom - top, k_row, in_w,
                              pairs);
    } else {
        const int32_t lo = ix0 < 0 ? (-ix0 < k_row ? -ix0 : k_row) : 0;
        const int32_t hi = in_w - ix0 < k_row ? (in_w - ix0 > lo ? in_w - ix0 : lo) : k_row;
        const int8_t *src = image + (iy0 + top) * in_w + ix0;
#if defined(TK_ISA_DSP)
        if (k_row == 8 && ((lo > 0 && lo < 4 && hi == 8) || (lo == 0 && hi > 4 && hi < 8))) {
            pairs = tk_conv1_cut_rows8(g, src, bottom - top, lo, hi, pairs);
        } else
#endif
        {
            pairs = tk_conv1_cut_rows(g, src, bottom - top, lo, hi, line, pairs);
        }
    }
    tk_conv1_fill(pairs, (k_h - bottom) * half, zp_pair);
}

/* ---- the output channels of one pixel, 4 a group ---------------------------------- */

#if defined(TK_ISA_DSP) && (defined(__GNUC__) || defined(__clang__))

/* Two window pairs (r12, lr) against the 4 channels' filter pairs (r8-r11). */
#define TK_CONV1_TWO_PAIRS                                  \
        "ldm    %[x]!, {r12, lr}\n\t"                      \
        "ldm    %[w]!, {r8, r9, r10, r11}\n\t"             \
        "smlad  %[a0], r8, r12, %[a0]\n\t"                 \
        "smlad  %[a1], r9, r12, %[a1]\n\t"                 \
        "smlad  %[a2], r10, r12, %[a2]\n\t"                \
        "smlad  %[a3], r11, r12, %[a3]\n\t"                \
        "ldm    %[w]!, {r8, r9, r10, r11}\n\t"             \
        "smlad  %[a0], r8, lr, %[a0]\n\t"                  \
        "smlad  %[a1], r9, lr, %[a1]\n\t"                  \
        "smlad  %[a2], r10, lr, %[a2]\n\t"                 \
        "smlad  %[a3], r11, lr, %[a3]\n\t"

/* One channel's record (r12, advanced) applied to an accumulator, the byte stored at lr. */
#define TK_CONV1_REQUANT(acc)                               \
        "ldm    r12!, {r8, r9, r10, r11}\n\t"              \
        "add    r9, r9, " acc ", asr #31\n\t"              \
        "smmlar r8, " acc ", r8, r9\n\t"                   \
        "asr    r8, r8, r10\n\t"                           \
        "ssat   r8, #8, r8\n\t"                            \
        "strb   r8, [lr], #1\n\t"

/* Every group: the accumulators start at the records' biases, the dot product with the
 * window runs 4 pairs a turn (24 instructions for 32 multiply-accumulates; 2 pairs first
 * when the count is not a multiple of 4), then requantization and 4 stores, all in one
 * block so that nothing spills: at[0] the group's records, at[1] where its bytes go. */
TK_INLINE void tk_conv1_groups(const int32_t *window, int32_t count, const int32_t *w,
                               int32_t groups, void **at)
{
    const int32_t *end = window + count;
    for (; groups > 0; --groups) {
        const int32_t *x = window;
        int32_t a0, a1, a2, a3;
        __asm__ volatile(
            "ldr    r12, [%[at]]\n\t"
            "ldr    %[a0], [r12, #12]\n\t"
            "ldr    %[a1], [r12, #28]\n\t"
            "ldr    %[a2], [r12, #44]\n\t"
            "ldr    %[a3], [r12, #60]\n\t"
            "sub    r12, %[end], %[x]\n\t"
            "tst    r12, #8\n\t" /* an odd number of pairs of pairs */
            "beq    2f\n\t"
            TK_CONV1_TWO_PAIRS
            "cmp    %[x], %[end]\n\t"
            "beq    3f\n\t"
            "2:\n\t"
            TK_CONV1_TWO_PAIRS
            TK_CONV1_TWO_PAIRS
            "cmp    %[x], %[end]\n\t"
            "bne    2b\n\t"
            "3:\n\t"
            "ldm    %[at], {r12, lr}\n\t"
            TK_CONV1_REQUANT("%[a0]")
            TK_CONV1_REQUANT("%[a1]")
            TK_CONV1_REQUANT("%[a2]")
            TK_CONV1_REQUANT("%[a3]")
            "stm    %[at], {r12, lr}\n\t"
            : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x] "+r"(x),
              [w] "+r"(w)
            : [end] "r"(end), [at] "r"(at)
            : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
    }
}
#undef TK_CONV1_TWO_PAIRS
#undef TK_CONV1_REQUANT

#else /* C: portable, ARMv6-M (the 64-bit product of tk_mul_high), DSP without gcc */

/* TFLite's requantized value plus the zero point, saturated to int8 (see the top). */
TK_INLINE int8_t tk_conv1_requant(int32_t acc2, const int32_t *record)
{
    const int32_t t = tk_mul_high(acc2, record[0], record[1] + (acc2 >> 31), 0x80000000u);
    return (int8_t)tk_sat8(t >> record[2]);
}

TK_INLINE void tk_conv1_groups(const int32_t *window, int32_t count, const int32_t *w,
                               int32_t groups, void **at)
{
    const int16_t *ws = (const int16_t *)w;
    const int32_t *record = (const int32_t *)at[0];
    int8_t *out = (int8_t *)at[1];
    for (; groups > 0; --groups, record += 16, out += 4) {
#if defined(TK_ISA_V6M)
        /* two channels a pass (8 low registers; 4 accumulators spill), the pairs as
         * little-endian words: LDR and shifts, since LDRSH takes no immediate offset */
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, c;
        for (c = 0; c < 4; c += 2) {
            const int32_t *xw = window, *end = window + count;
            const int32_t *wp = (const int32_t *)(const void *)ws + c;
            int32_t b0 = record[4 * c + 3], b1 = record[4 * c + 7];
            do {
                const int32_t x = *xw++, x0 = (int32_t)((uint32_t)x << 16) >> 16;
                const int32_t u = wp[0], v = wp[1];
                b0 += ((int32_t)((uint32_t)u << 16) >> 16) * x0 + (u >> 16) * (x >> 16);
                b1 += ((int32_t)((uint32_t)v << 16) >> 16) * x0 + (v >> 16) * (x >> 16);
                wp += 4;
            } while (xw != end);
            if (c == 0) {
                a0 = b0;
                a1 = b1;
            } else {
                a2 = b0;
                a3 = b1;
            }
        }
        ws += 8 * count;
#else
        const int16_t *xs = (const int16_t *)window;
        int32_t a0 = record[3], a1 = record[7], a2 = record[11], a3 = record[15];
        int32_t j;
        for (j = 0; j < count; ++j, xs += 2, ws += 8) {
            const int32_t x0 = xs[0], x1 = xs[1];
            a0 += ws[0] * x0 + ws[1] * x1;
            a1 += ws[2] * x0 + ws[3] * x1;
            a2 += ws[4] * x0 + ws[5] * x1;
            a3 += ws[6] * x0 + ws[7] * x1;
        }
#endif
        out[0] = tk_conv1_requant(a0, record);
        out[1] = tk_conv1_requant(a1, record + 4);
        out[2] = tk_conv1_requant(a2, record + 8);
        out[3] = tk_conv1_requant(a3, record + 12);
    }
    at[0] = (void *)(uintptr_t)record;
    at[1] = out;
}

#endif

/* The last group of a layer whose out_c is not a multiple of 4, through `tail`. */
TK_NOINLINE static void tk_conv1_short_group(const tk_conv_params *p, const int32_t *window,
                                             int32_t count, int32_t full, int8_t *out)
{
    int8_t tail[4];
    void *at[2];
    int32_t i;
    at[0] = (void *)(uintptr_t)(p->multiplier + 16 * full);
    at[1] = tail;
    tk_conv1_groups(window, count, (const int32_t *)(const void *)p->filter + 4 * full * count,
                    1, at);
    for (i = 4 * full; i < p->out_c; ++i) {
        out[i] = tail[i - 4 * full];
    }
}

/* Every pixel of output row (b, oy), whose windows start at input row iy0 of `image`:
 * the window (straight from the input when the image holds it whole), then every
 * output channel. */
TK_HOT TK_NOINLINE static void tk_conv1_line(const tk_conv_params *p, const tk_conv1_geometry *g,
                                             const int8_t *image, int32_t iy0,
                                             int32_t *window, int8_t *out)
{
    const int32_t count = g->k_h * g->k_row / 2, full = g->out_c / 4;
    const int32_t *filter = (const int32_t *)(const void *)p->filter;
    const int inside = iy0 >= 0 && iy0 + g->k_h <= g->in_h;
    int8_t *line = (int8_t *)(window + count);
    int32_t ox, ix0 = -g->pad_left;
    for (ox = 0; ox < g->out_w; ++ox, out += g->out_c, ix0 += g->stride_w) {
        void *at[2];
        if (inside && ix0 >= 0 && ix0 + g->k_row <= g->in_w) {
            tk_conv1_rows(image + iy0 * g->in_w + ix0, g->k_h, g->k_row, g->in_w, window);
        } else {
            tk_conv1_window(g, image, iy0, ix0, line, window);
        }
        at[0] = (void *)(uintptr_t)p->multiplier;
        at[1] = out;
        tk_conv1_groups(window, count, filter, full, at);
        if (4 * full != g->out_c) {
            tk_conv1_short_group(p, window, count, full, out);
        }
    }
}

TK_COLD static tk_conv1_geometry tk_conv1_geometry_of(const tk_conv_params *p)
{
    tk_conv1_geometry g;
    g.in_h = p->in_h;
    g.in_w = p->in_w;
    g.k_h = p->k_h;
    g.k_w = p->k_w;
    g.k_row = p->k_pad;
    g.stride_h = p->stride_h;
    g.stride_w = p->stride_w;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.out_h = p->out_h;
    g.out_w = p->out_w;
    g.out_c = p->out_c;
    g.zero_point = p->input_zero_point;
    return g;
}

void tk_conv2d_1ch_s8(const tk_conv_params *p, const int8_t *input, int8_t *output,
                      void *scratch)
{
    const tk_conv1_geometry g = tk_conv1_geometry_of(p);
    const int32_t row_bytes = g.out_w * g.out_c;
    const int8_t lo = p->act_min, hi = p->act_max;
    int32_t b, oy;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * g.in_h * g.in_w;
        for (oy = 0; oy < g.out_h; ++oy, output += row_bytes) {
            tk_conv1_line(p, &g, image, oy * g.stride_h - g.pad_top, (int32_t *)scratch,
                          output);
            tk_clamp_s8(output, row_bytes, lo, hi);
        }
    }
}
