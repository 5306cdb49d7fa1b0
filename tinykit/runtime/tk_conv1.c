/* CONV_2D whose input has one channel (a DEPTHWISE_CONV_2D with one input channel is the
 * same thing): tk_conv2d_1ch_s8.
 *
 * Output pixel after pixel, in raster order over batch, row and column: the pixel's
 * window is gathered once into scratch as 16-bit pairs (the input zero point where it
 * leaves the image), then each group of 4 output channels is the dot product of its
 * filter pairs with the window, requantized from the parameter arrays in flash. A
 * pixel's input is all read before its output is written (the `tiles` streaming
 * contract). A fused activation narrower than int8 is applied to each output row after.
 *
 * Layouts (tinykit.codegen.kernels.conv1_*), out_pad = out_c rounded up to 4, k_row =
 * p->k_pad = k_w rounded up to 4, P = k_h * k_row / 2 pairs per window:
 *   filter  int16 [out_pad / 4][P][4 channels][2], twice the weights: pairs 2g and 2g + 1
 *           of a kernel row hold its taps (4g, 4g + 2) and (4g + 1, 4g + 3), which is what
 *           SXTB16 and SXTB16 ROR #8 give of the word of taps 4g..4g+3; zeros past k_w
 *   bias    [out_pad] twice (bias - input zero point * sum(weights)); |bias| + 128 *
 *           sum|weights| < 2^30, so twice the accumulator fits in int32
 *   multiplier [out_pad][2] {m, Kc = 2^(e-1) + output zero point * 2^e}
 *   shift   [out_pad] e, TFLite's exponent negated, in [1, 23]
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
    int32_t out_h, out_w, out_c, groups;
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
 * read as the zero point), through `line`, as pairs. */
TK_NOINLINE static int32_t *tk_conv1_cut_rows(const tk_conv1_geometry *g, const int8_t *src,
                                              int32_t rows, int32_t lo, int32_t hi,
                                              int8_t *line, int32_t *pairs)
{
    const int32_t k_row = g->k_row, in_w = g->in_w;
    const uint32_t zp_word = 0x01010101u * (uint8_t)g->zero_point;
    int32_t j;
    for (; rows > 0; --rows, src += in_w) {
        for (j = 0; j < k_row; j += 4) {
            tk_store32(line + j, zp_word);
        }
        for (j = lo; j < hi; ++j) {
            line[j] = src[j];
        }
        pairs = tk_conv1_rows(line, 1, k_row, 0, pairs);
    }
    return pairs;
}

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
        pairs = tk_conv1_cut_rows(g, image + (iy0 + top) * in_w + ix0, bottom - top, lo, hi,
                                  line, pairs);
    }
    tk_conv1_fill(pairs, (k_h - bottom) * half, zp_pair);
}

/* ---- one group of 4 output channels -------------------------------------------------- */

#if defined(TK_ISA_DSP)

/* TFLite's requantized value plus the zero point, saturated to int8 (see the top). */
TK_INLINE int32_t tk_conv1_requant(int32_t acc2, const int32_t *rq, int32_t e)
{
    int32_t t;
    __asm__("smmlar %0, %1, %2, %3"
            : "=r"(t)
            : "r"(acc2), "r"(rq[0]), "r"(rq[1] + (acc2 >> 31)));
    return __ssat(t >> e, 8);
}

/* The 4 accumulators of one group over the whole window (P pairs, an even count). */
TK_INLINE void tk_conv1_dot(const int32_t *x, const int32_t *w, int32_t count, int32_t *acc)
{
    const int32_t *end = x + count;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if defined(__GNUC__) || defined(__clang__)
    /* Four pairs a turn: 24 instructions for 32 multiply-accumulates (the window's pairs
     * in r12 and lr, the 4 channels' filter pairs in r8-r11); two first when the count
     * is not a multiple of 4. */
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
    __asm__ volatile(
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
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x),
          [w] "+r"(w)
        : [end] "r"(end)
        : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
#undef TK_CONV1_TWO_PAIRS
#else
    for (; x != end; ++x, w += 4) {
        a0 = tk_smlad(w[0], *x, a0);
        a1 = tk_smlad(w[1], *x, a1);
        a2 = tk_smlad(w[2], *x, a2);
        a3 = tk_smlad(w[3], *x, a3);
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#else /* portable and ARMv6-M: 16-bit products, the 64-bit product of tk_mul_high */

TK_INLINE int32_t tk_conv1_requant(int32_t acc2, const int32_t *rq, int32_t e)
{
    const int32_t t = tk_mul_high(acc2, rq[0], rq[1] + (acc2 >> 31), 0x80000000u);
    return tk_sat8(t >> e);
}

TK_INLINE void tk_conv1_dot(const int32_t *x, const int32_t *w, int32_t count, int32_t *acc)
{
    const int16_t *xs = (const int16_t *)x, *ws = (const int16_t *)w;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t j;
    for (j = 0; j < count; ++j, xs += 2, ws += 8) {
        const int32_t x0 = xs[0], x1 = xs[1];
        a0 += ws[0] * x0 + ws[1] * x1;
        a1 += ws[2] * x0 + ws[3] * x1;
        a2 += ws[4] * x0 + ws[5] * x1;
        a3 += ws[6] * x0 + ws[7] * x1;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#endif

/* Every output channel of one pixel from its window. */
TK_HOT TK_NOINLINE static void tk_conv1_pixel(const tk_conv_params *p, const int32_t *window,
                                              int32_t count, int32_t groups, int32_t out_c,
                                              int8_t *out)
{
    const int32_t *w = (const int32_t *)(const void *)p->filter;
    const int32_t *bias = p->bias, *rq = p->multiplier;
    const int8_t *shift = p->shift;
    int32_t left = out_c;
    for (; groups > 0; --groups, w += 4 * count, bias += 4, rq += 8, shift += 4, out += 4,
         left -= 4) {
        int32_t acc[4];
        acc[0] = bias[0];
        acc[1] = bias[1];
        acc[2] = bias[2];
        acc[3] = bias[3];
        tk_conv1_dot(window, w, count, acc);
        out[0] = (int8_t)tk_conv1_requant(acc[0], rq, shift[0]);
        if (left >= 4) {
            out[1] = (int8_t)tk_conv1_requant(acc[1], rq + 2, shift[1]);
            out[2] = (int8_t)tk_conv1_requant(acc[2], rq + 4, shift[2]);
            out[3] = (int8_t)tk_conv1_requant(acc[3], rq + 6, shift[3]);
        } else {
            if (left > 1) {
                out[1] = (int8_t)tk_conv1_requant(acc[1], rq + 2, shift[1]);
            }
            if (left > 2) {
                out[2] = (int8_t)tk_conv1_requant(acc[2], rq + 4, shift[2]);
            }
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
    g.groups = (p->out_c + 3) / 4;
    g.zero_point = p->input_zero_point;
    return g;
}

void tk_conv2d_1ch_s8(const tk_conv_params *p, const int8_t *input, int8_t *output,
                      void *scratch)
{
    const tk_conv1_geometry g = tk_conv1_geometry_of(p);
    const int32_t count = g.k_h * g.k_row / 2, row_bytes = g.out_w * g.out_c;
    const int8_t lo = p->act_min, hi = p->act_max;
    int32_t *window = (int32_t *)scratch;
    int8_t *line = (int8_t *)(window + count);
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * g.in_h * g.in_w;
        for (oy = 0; oy < g.out_h; ++oy) {
            const int32_t iy0 = oy * g.stride_h - g.pad_top;
            int8_t *out = output;
            for (ox = 0; ox < g.out_w; ++ox, out += g.out_c) {
                tk_conv1_window(&g, image, iy0, ox * g.stride_w - g.pad_left, line, window);
                tk_conv1_pixel(p, window, count, g.groups, g.out_c, out);
            }
            tk_clamp_s8(output, row_bytes, lo, hi);
            output += row_bytes;
        }
    }
}
