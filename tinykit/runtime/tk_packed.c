/* Packed weights (tk_packed_weights in tinykit_kernels.h): convolutions, depthwise and fully
 * connected layers whose weights are stored as small-table indices and/or a bitmap of
 * the non-zeros. The arithmetic is the dense kernels': the decoded int8 values are the
 * .tflite's, so every output byte is the same.
 *
 * tk_conv2d_packed_s8 (CONV_2D, and DEPTHWISE_CONV_2D with one input channel, with the
 * one-rounding requantization) walks the output in tiles of 4 pixels like
 * tk_conv2d_im2col_s8: the tile's im2col rows are built first (all of its input is read
 * before any of its output is written: the `tiles` streaming contract), then every output
 * channel is decoded and multiplied with the 4 rows:
 *   DSP:    the channel decoded into an int8 row, then SMLAD over the rows as 16-bit pairs
 *           (two multiply-accumulates an instruction cost less than skipping zeros), but
 *           sparse int8 values below TK_PACKED_WALK8 non-zeros in 100 walk the bitmap a
 *           word at a time (tk_walk8_channels);
 *   MVE:    the channel decoded into an int8 row, then VMLADAVA over 16 lanes;
 *   others: sparse formats multiply only the non-zeros, walking the bitmap (the zeros are
 *           skipped); index formats decode the row first.
 * Scratch (tinykit.codegen.packing.packed_scratch_bytes), 4-byte aligned:
 *   requantization records [out_c] | decoded row [k_pad] | 4 im2col rows [k_pad] |
 *   DSP: the rows as 16-bit pairs [8 * k_pad bytes] (or interleaved, [k_pad][4 pixels]) |
 *   a short last tile [4 * out_c]
 *
 * The depthwise entry points decode the whole filter once per call into scratch, as
 * TFLite's [k_h][k_w][out_c], and run the dense kernel on it (which itself copies the
 * filter into its records once per call): the same speed and streaming as the dense
 * kernel, for k_h * k_w * out_c bytes of scratch more.
 *
 * tk_fully_connected_packed_s8 takes one output row at a time: each weight is used once
 * per input row, so it is decoded once per batch (DSP/MVE: into a row, then SIMD; others:
 * multiplied as it is decoded, zeros skipped).
 */
#include "tk_internal.h"

TK_SIZE_PRAGMA

/* The SIMD path of this build: Helium, else the DSP extension's 16-bit pairs, else none.
 * A sparse layer whose share of non-zeros (tk_packed_weights.nonzero_percent) is below
 * TK_PACKED_WALK (convolutions) or TK_PACKED_FC_WALK (fully connected) multiplies only its
 * non-zeros, walking the bitmap: from the instruction counts of both loops (about 17
 * instructions per non-zero and tile against 3.5 (DSP) or 0.6 (Helium) per weight, decode
 * included; per non-zero 10 against 2.8 for a fully connected row). */
#if defined(TK_ISA_MVE)
#define TK_PACKED_MVE 1
#define TK_PACKED_WALK 4
#define TK_PACKED_FC_WALK 12
#elif defined(TK_ISA_DSP)
#define TK_PACKED_PAIRS 1
#define TK_PACKED_WALK 30
/* int8 values (tk_walk8_channels): ~16 instructions per non-zero and tile plus ~90 per
 * channel, against ~520 + 8 per non-zero (k = 128) to decode a row and multiply it */
#define TK_PACKED_WALK8 40
#define TK_PACKED_FC_WALK 50
#else
#define TK_PACKED_WALK 101 /* always: a zero costs as much as any weight here */
#define TK_PACKED_FC_WALK 101
#endif

/* Lowest set bit of m != 0 (CLZ/RBIT where the core has them; a loop on ARMv6-M). */
TK_INLINE int tk_lowest_bit(uint32_t m)
{
#if (defined(__GNUC__) || defined(__clang__)) && !defined(TK_ISA_V6M)
    return __builtin_ctz(m);
#else
    int n = 0;
    while (!(m & 1u)) {
        m >>= 1;
        ++n;
    }
    return n;
#endif
}

/* Where channel c's bitmap and table start (NULL where the format has none). */
typedef struct {
    const uint8_t *data;   /* the channel's run of indices or values */
    const uint8_t *bitmap;
    const int8_t *table;
} tk_channel_source;

TK_INLINE tk_channel_source tk_channel_at(const tk_packed_weights *w, const uint8_t *data,
                                          int32_t c)
{
    tk_channel_source s;
    s.data = data;
    s.bitmap = w->sparse ? w->bitmap + c * ((w->k + 7) >> 3) : NULL;
    s.table = w->table != NULL ? w->table + c * w->table_stride : NULL;
    return s;
}

/* Word stores of zeros over n bytes (n a multiple of 4, row word-aligned). */
TK_INLINE void tk_zero_words(int8_t *row, int32_t n)
{
    int32_t j;
    for (j = 0; j < n; j += 4) {
        tk_store32(row + j, 0);
    }
}

/* Channel weights into row[0..k); returns where the next channel's run starts. Index
 * formats write row[0..k) only; sparse formats also clear row[k..k rounded up to 4). */
TK_HOT TK_NOINLINE static const uint8_t *tk_unpack(const tk_packed_weights *w,
                                                   tk_channel_source s, int8_t *row)
{
    const int32_t k = w->k;
    const uint8_t *data = s.data;
    const int8_t *table = s.table;
    int32_t j;
    if (!w->sparse) {
        if (w->bits == 4) {
            for (j = 0; j + 2 <= k; j += 2) {
                const uint32_t b = *data++;
                row[j] = table[b & 15u];
                row[j + 1] = table[b >> 4];
            }
            if (j < k) {
                row[j] = table[*data++ & 15u];
            }
        } else {
            for (j = 0; j + 4 <= k; j += 4) {
                const uint32_t b = *data++;
                row[j] = table[b & 3u];
                row[j + 1] = table[(b >> 2) & 3u];
                row[j + 2] = table[(b >> 4) & 3u];
                row[j + 3] = table[b >> 6];
            }
            if (j < k) {
                uint32_t b = *data++;
                for (; j < k; ++j, b >>= 2) {
                    row[j] = table[b & 3u];
                }
            }
        }
        return data;
    }
    tk_zero_words(row, (k + 3) & ~3);
    {
        const uint8_t *bitmap = s.bitmap;
        const int bits = w->bits;
        const uint32_t mask = (1u << (bits & 7)) - 1u;
        uint32_t held = 0;
        int have = 0;
        for (j = 0; j < k; j += 8) {
            uint32_t m = *bitmap++;
            while (m) {
                const int32_t at = j + tk_lowest_bit(m);
                m &= m - 1u;
                if (bits == 8) {
                    row[at] = (int8_t)*data++;
                    continue;
                }
                if (have == 0) {
                    held = *data++;
                    have = 8;
                }
                row[at] = table[held & mask];
                held >>= bits;
                have -= bits;
            }
        }
    }
    return data;
}

/* The next non-zero's value of a sparse channel (indices or int8 values). */
typedef struct {
    const uint8_t *data;
    const int8_t *table;
    uint32_t held;
    int have, bits;
} tk_nonzeros;

/* The non-zeros of channel source s, from the first. */
TK_INLINE tk_nonzeros tk_nonzeros_of(const tk_packed_weights *w, tk_channel_source s)
{
    tk_nonzeros n;
    n.data = s.data;
    n.table = s.table;
    n.held = 0;
    n.have = 0;
    n.bits = w->bits;
    return n;
}

TK_INLINE int32_t tk_next_nonzero(tk_nonzeros *n)
{
    int32_t v;
    if (n->bits == 8) {
        return (int8_t)*n->data++;
    }
    if (n->have == 0) {
        n->held = *n->data++;
        n->have = 8;
    }
    v = n->table[n->held & ((1u << n->bits) - 1u)];
    n->held >>= n->bits;
    n->have -= n->bits;
    return v;
}

/* ---- CONV_2D ------------------------------------------------------------------------ */

#define TK_PACKED_TILE 4

/* The im2col row of output pixel (oy, ox) of `image`: k_h * k_w * in_c values in
 * (k_h, k_w, in_c) order, the input zero point outside the image, zeros up to k_pad. */
TK_HOT TK_NOINLINE static void tk_packed_im2col(const tk_conv_params *p, const int8_t *image,
                                                int32_t oy, int32_t ox, int8_t *row)
{
    const int32_t in_c = p->in_c, in_w = p->in_w, k_w = p->k_w, run = k_w * in_c;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int zp = p->input_zero_point;
    int8_t *const start = row;
    int32_t ky, kx, lo = 0, hi = k_w;
    if (p->dilation_w == 1) {
        lo = ix0 < 0 ? (-ix0 < k_w ? -ix0 : k_w) : 0;
        hi = ix0 + k_w > in_w ? (in_w - ix0 > lo ? in_w - ix0 : lo) : k_w;
    }
    for (ky = 0; ky < p->k_h; ++ky, row += run) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        const int8_t *line = image;
        if (iy < 0 || iy >= p->in_h) {
            memset(row, zp, (size_t)run);
            continue;
        }
        line += iy * in_w * in_c;
        if (p->dilation_w == 1) {
            memset(row, zp, (size_t)(lo * in_c));
            if (hi > lo) {
                memcpy(row + lo * in_c, line + (ix0 + lo) * in_c, (size_t)((hi - lo) * in_c));
            }
            memset(row + hi * in_c, zp, (size_t)((k_w - hi) * in_c));
        } else {
            for (kx = 0; kx < k_w; ++kx) {
                const int32_t ix = ix0 + kx * p->dilation_w;
                if (ix < 0 || ix >= in_w) {
                    memset(row + kx * in_c, zp, (size_t)in_c);
                } else {
                    memcpy(row + kx * in_c, line + ix * in_c, (size_t)in_c);
                }
            }
        }
    }
    memset(row, 0, (size_t)(p->k_pad - (row - start)));
}

/* The im2col rows of the tile starting at output pixel `first` (a short last tile
 * repeats its last pixel). */
static void tk_packed_tile_rows(const tk_conv_params *p, const int8_t *input, int32_t first,
                                int count, int8_t *rows)
{
    const int32_t image_bytes = (int32_t)p->in_h * p->in_w * p->in_c;
    const int32_t per_image = (int32_t)p->out_h * p->out_w;
    int i;
    for (i = 0; i < TK_PACKED_TILE; ++i) {
        const int32_t pixel = first + (i < count ? i : count - 1);
        const int32_t b = pixel / per_image, rest = pixel % per_image;
        tk_packed_im2col(p, input + b * image_bytes, rest / p->out_w, rest % p->out_w,
                         rows + i * p->k_pad);
    }
}

#if defined(TK_PACKED_PAIRS)

/* The 4 rows as 16-bit pairs: per group of 4 values, [x0|x2 of pixels 0..3] then
 * [x1|x3 of pixels 0..3], what SXTB16 of the weights' word pairs with. */
TK_HOT static void tk_packed_expand(const int8_t *rows, int32_t k_pad, int32_t *block)
{
    int32_t g;
    int i;
    for (g = 0; g < k_pad; g += 4, block += 8) {
        for (i = 0; i < TK_PACKED_TILE; ++i) {
            const uint32_t v = tk_load32(rows + i * k_pad + g);
            block[i] = tk_sxtb16(v);
            block[4 + i] = tk_sxtb16_ror8(v);
        }
    }
}

/* acc[i] += row . pixel i, over k_pad values (a multiple of 4). */
TK_HOT static void tk_packed_dot(const int8_t *w, const int32_t *c, int32_t k_pad, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *const end = w + k_pad;
#if (defined(__GNUC__) || defined(__clang__)) && defined(__OPTIMIZE__)
    uint32_t wv, t;
    /* Per group of 4 weights: LDR, 2 LDM of the pairs, 2 SXTB16, 8 SMLAD. */
    __asm__ volatile(
        "1:\n\t"
        "ldr    %[wv], [%[w]], #4\n\t"
        "ldm    %[c]!, {r8, r9, r10, r11}\n\t"
        "sxtb16 %[t], %[wv]\n\t"
        "smlad  %[a0], r8, %[t], %[a0]\n\t"
        "smlad  %[a1], r9, %[t], %[a1]\n\t"
        "smlad  %[a2], r10, %[t], %[a2]\n\t"
        "smlad  %[a3], r11, %[t], %[a3]\n\t"
        "ldm    %[c]!, {r8, r9, r10, r11}\n\t"
        "sxtb16 %[t], %[wv], ror #8\n\t"
        "smlad  %[a0], r8, %[t], %[a0]\n\t"
        "smlad  %[a1], r9, %[t], %[a1]\n\t"
        "smlad  %[a2], r10, %[t], %[a2]\n\t"
        "smlad  %[a3], r11, %[t], %[a3]\n\t"
        "cmp    %[w], %[end]\n\t"
        "bne    1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w),
          [c] "+r"(c), [wv] "=&r"(wv), [t] "=&r"(t)
        : [end] "r"(end)
        : "r8", "r9", "r10", "r11", "cc", "memory");
#else
    for (; w != end; w += 4, c += 8) {
        const uint32_t v = tk_load32(w);
        const int32_t lo = tk_sxtb16(v), hi = tk_sxtb16_ror8(v);
        a0 = tk_smlad(c[4], hi, tk_smlad(c[0], lo, a0));
        a1 = tk_smlad(c[5], hi, tk_smlad(c[1], lo, a1));
        a2 = tk_smlad(c[6], hi, tk_smlad(c[2], lo, a2));
        a3 = tk_smlad(c[7], hi, tk_smlad(c[3], lo, a3));
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#elif defined(TK_PACKED_MVE)

TK_HOT static void tk_packed_dot(const int8_t *w, const int8_t *rows, int32_t k_pad, int32_t *acc)
{
    const int8_t *r0 = rows, *r1 = rows + k_pad, *r2 = r1 + k_pad, *r3 = r2 + k_pad;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t k;
    for (k = k_pad; k > 0; k -= 16, w += 16, r0 += 16, r1 += 16, r2 += 16, r3 += 16) {
        const mve_pred16_t lanes = vctp8q((uint32_t)k);
        const int8x16_t wv = vldrbq_z_s8(w, lanes);
        a0 = vmladavaq_s8(a0, vldrbq_z_s8(r0, lanes), wv);
        a1 = vmladavaq_s8(a1, vldrbq_z_s8(r1, lanes), wv);
        a2 = vmladavaq_s8(a2, vldrbq_z_s8(r2, lanes), wv);
        a3 = vmladavaq_s8(a3, vldrbq_z_s8(r3, lanes), wv);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#else /* portable and ARMv6-M */

TK_HOT static void tk_packed_dot(const int8_t *w, const int8_t *rows, int32_t k_pad, int32_t *acc)
{
    tk_dot4_s8(w, rows, rows + k_pad, rows + 2 * k_pad, rows + 3 * k_pad, k_pad, acc);
}

#endif

/* acc[i] += the channel's non-zeros times pixel i's values at their positions: the zeros
 * are never multiplied. Returns where the next channel's run starts. */
TK_HOT TK_NOINLINE static const uint8_t *tk_sparse_dot(const tk_packed_weights *w,
                                                       tk_channel_source s, const int8_t *rows,
                                                       int32_t k_pad, int32_t *acc)
{
    const int8_t *r0 = rows, *r1 = rows + k_pad, *r2 = r1 + k_pad, *r3 = r2 + k_pad;
    const uint8_t *bitmap = s.bitmap;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    tk_nonzeros n = tk_nonzeros_of(w, s);
    int32_t j;
    for (j = 0; j < w->k; j += 8) {
        uint32_t m = *bitmap++;
        while (m) {
            const int32_t at = j + tk_lowest_bit(m);
            const int32_t v = tk_next_nonzero(&n);
            m &= m - 1u;
            a0 += v * r0[at];
            a1 += v * r1[at];
            a2 += v * r2[at];
            a3 += v * r3[at];
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return n.data;
}

#if defined(TK_PACKED_PAIRS)
/* The 4 rows interleaved: word j holds the 4 pixels' values at position j (a 4x4 byte
 * transpose per 4 positions: PKHBT/PKHTB, then UXTB16 and ORR). */
TK_HOT static void tk_packed_interleave(const int8_t *rows, int32_t k_pad, uint32_t *out)
{
    const int8_t *const end = rows + k_pad;
    for (; rows != end; rows += 4, out += 4) {
        const uint32_t a = tk_load32(rows), b = tk_load32(rows + k_pad);
        const uint32_t c = tk_load32(rows + 2 * k_pad), d = tk_load32(rows + 3 * k_pad);
        const uint32_t ac01 = (a & 0xFFFFu) | (c << 16), ac23 = (a >> 16) | (c & 0xFFFF0000u);
        const uint32_t bd01 = (b & 0xFFFFu) | (d << 16), bd23 = (b >> 16) | (d & 0xFFFF0000u);
        out[0] = (ac01 & 0x00FF00FFu) | ((bd01 & 0x00FF00FFu) << 8);
        out[1] = ((ac01 >> 8) & 0x00FF00FFu) | (bd01 & 0xFF00FF00u);
        out[2] = (ac23 & 0x00FF00FFu) | ((bd23 & 0x00FF00FFu) << 8);
        out[3] = ((ac23 >> 8) & 0x00FF00FFu) | (bd23 & 0xFF00FF00u);
    }
}

/* Sparse int8 values (bits 8), every channel of a full tile: the bitmap 32 bits a turn
 * (CLZ of the reversed word finds each non-zero); each non-zero's value times the word
 * of the 4 pixels' values at its position (SXTB16 twice, then SMLABB/SMLATB), then the
 * requantization. About 13 instructions per non-zero and tile and 90 per channel, against
 * ~520 + 8 per non-zero (k = 128) to decode a row and multiply it. */
TK_HOT TK_NOINLINE static void tk_walk8_channels(const tk_conv_packed_params *pp,
                                                 const tk_rq_record *rq, const uint32_t *x,
                                                 int8_t *out)
{
    const tk_packed_weights *w = &pp->weights;
    const int32_t out_c = pp->conv.out_c, k = w->k;
    const int32_t map_bytes = (k + 7) >> 3;
    const uint8_t *bitmap = w->bitmap;
    const int8_t *data = (const int8_t *)w->data;
    const tk_rq_record *const end = rq + out_c;
    int8_t *out2 = out + 2 * out_c;
    for (; rq != end; ++rq, ++out, ++out2, bitmap += map_bytes) {
        int32_t a0 = rq->bias, a1 = a0, a2 = a0, a3 = a0, j;
        for (j = 0; j < k; j += 32) {
            const int32_t left = (k - j + 7) >> 3; /* bitmap bytes from here */
            const uint32_t *at = x + j;
            uint32_t m;
            if (left >= 4) {
                m = tk_load32(bitmap + (j >> 3));
            } else {
                int32_t b;
                for (m = 0, b = 0; b < left; ++b) {
                    m |= (uint32_t)bitmap[(j >> 3) + b] << (8 * b);
                }
            }
            while (m) {
                const uint32_t four = at[tk_lowest_bit(m)];
                const int32_t v = *data++, even = tk_sxtb16(four), odd = tk_sxtb16_ror8(four);
                m &= m - 1u;
                a0 = tk_smlabb(even, v, a0);
                a2 = tk_smlatb(even, v, a2);
                a1 = tk_smlabb(odd, v, a1);
                a3 = tk_smlatb(odd, v, a3);
            }
        }
        out[0] = (int8_t)tk_sat8(tk_requant(a0, rq->multiplier, rq->c_hi, (int)rq->shift));
        out[out_c] = (int8_t)tk_sat8(tk_requant(a1, rq->multiplier, rq->c_hi, (int)rq->shift));
        out2[0] = (int8_t)tk_sat8(tk_requant(a2, rq->multiplier, rq->c_hi, (int)rq->shift));
        out2[out_c] = (int8_t)tk_sat8(tk_requant(a3, rq->multiplier, rq->c_hi, (int)rq->shift));
    }
}
#endif

/* Every output channel of a tile: decode (or walk) the channel, 4 dot products, 4 stores. */
TK_HOT TK_NOINLINE static void tk_packed_channels(const tk_conv_packed_params *pp,
                                                  const tk_rq_record *rq, const void *tile,
                                                  const int8_t *rows, int8_t *row, int8_t *out)
{
    const tk_packed_weights *w = &pp->weights;
    const int32_t out_c = pp->conv.out_c, k_pad = pp->conv.k_pad;
    const int walk = w->sparse && w->nonzero_percent < TK_PACKED_WALK;
    const uint8_t *data = w->data;
    int32_t c;
    int i;
    for (c = 0; c < out_c; ++c, ++rq) {
        const tk_channel_source s = tk_channel_at(w, data, c);
        int32_t acc[TK_PACKED_TILE];
        acc[0] = acc[1] = acc[2] = acc[3] = rq->bias;
        if (walk) {
            data = tk_sparse_dot(w, s, rows, k_pad, acc);
        } else {
            data = tk_unpack(w, s, row);
            tk_packed_dot(row, tile, k_pad, acc);
        }
        for (i = 0; i < TK_PACKED_TILE; ++i) {
            out[i * out_c + c] = (int8_t)tk_sat8(tk_requant(acc[i], rq->multiplier, rq->c_hi,
                                                            (int)rq->shift));
        }
    }
}

void tk_conv2d_packed_s8(const tk_conv_packed_params *pp, const int8_t *input,
                         int8_t *output, void *scratch)
{
    const tk_conv_params *p = &pp->conv;
    const int32_t k_pad = p->k_pad, out_c = p->out_c;
    const int32_t pixels = (int32_t)p->batches * p->out_h * p->out_w;
    tk_rq_record *rq = (tk_rq_record *)scratch;
    int8_t *row = (int8_t *)(rq + out_c);
    int8_t *rows = row + k_pad;
    int32_t *block = (int32_t *)(void *)(rows + TK_PACKED_TILE * k_pad);
    int8_t *short_tile = (int8_t *)(block + 2 * k_pad);
    const int walk = pp->weights.sparse && pp->weights.nonzero_percent < TK_PACKED_WALK;
#if defined(TK_PACKED_PAIRS)
    const int walk8 = pp->weights.sparse && pp->weights.bits == 8 &&
                      pp->weights.nonzero_percent < TK_PACKED_WALK8;
#endif
    int32_t first;

    tk_rq_records(rq, out_c, p->bias, p->multiplier, p->shift, 1, 1, p->output_zero_point);
    tk_zero_words(row, k_pad); /* index formats never write past k: the padding stays 0 */
    for (first = 0; first < pixels; first += TK_PACKED_TILE) {
        const int count = pixels - first < TK_PACKED_TILE ? (int)(pixels - first)
                                                          : TK_PACKED_TILE;
        int8_t *out = output + first * out_c;
        tk_packed_tile_rows(p, input, first, count, rows);
#if defined(TK_PACKED_PAIRS)
        if (walk8) {
            tk_packed_interleave(rows, k_pad, (uint32_t *)block);
            tk_walk8_channels(pp, rq, (const uint32_t *)block,
                              count == TK_PACKED_TILE ? out : short_tile);
        } else {
            if (!walk) {
                tk_packed_expand(rows, k_pad, block);
            }
            tk_packed_channels(pp, rq, block, rows, row,
                               count == TK_PACKED_TILE ? out : short_tile);
        }
#else
        (void)block;
        (void)walk;
        tk_packed_channels(pp, rq, rows, rows, row, count == TK_PACKED_TILE ? out : short_tile);
#endif
        if (count < TK_PACKED_TILE) {
            memcpy(out, short_tile, (size_t)(count * out_c));
        }
        tk_clamp_s8(out, count * out_c, p->act_min, p->act_max);
    }
}

/* ---- DEPTHWISE_CONV_2D: the filter decoded once, then the dense kernel --------------- */

/* The filter as [k_h][k_w][out_c] int8 at the start of scratch (each channel decoded into
 * the row after it, then spread); returns the dense kernel's parameters pointing at it,
 * and where the dense kernel's scratch starts. */
TK_COLD static tk_conv_params tk_depthwise_unpack(const tk_conv_packed_params *pp,
                                                  void *scratch, void **rest)
{
    const tk_packed_weights *w = &pp->weights;
    const int32_t out_c = pp->conv.out_c, taps = w->k;
    int8_t *filter = (int8_t *)scratch;
    int8_t *channel = filter + ((taps * out_c + 7) & ~7);
    const uint8_t *data = w->data;
    tk_conv_params p = pp->conv;
    int32_t c, t;
    for (c = 0; c < out_c; ++c) {
        data = tk_unpack(w, tk_channel_at(w, data, c), channel);
        for (t = 0; t < taps; ++t) {
            filter[t * out_c + c] = channel[t];
        }
    }
    p.filter = filter;
    *rest = channel + ((taps + 7) & ~7);
    return p;
}

void tk_depthwise_conv2d_packed_s8(const tk_conv_packed_params *pp, const int8_t *input,
                                   int8_t *output, void *scratch)
{
    void *rest;
    const tk_conv_params p = tk_depthwise_unpack(pp, scratch, &rest);
    (void)rest;
    tk_depthwise_conv2d_s8(&p, input, output);
}

void tk_depthwise_conv2d_rows_packed_s8(const tk_conv_packed_params *pp, const int8_t *input,
                                        int8_t *output, void *scratch)
{
    void *rest;
    const tk_conv_params p = tk_depthwise_unpack(pp, scratch, &rest);
    tk_depthwise_conv2d_rows_s8(&p, input, output, rest);
}

void tk_depthwise_conv2d_3x3_packed_s8(const tk_conv_packed_params *pp, const int8_t *input,
                                       int8_t *output, void *scratch)
{
    void *rest;
    const tk_conv_params p = tk_depthwise_unpack(pp, scratch, &rest);
    tk_depthwise_conv2d_3x3_s8(&p, input, output, rest);
}

void tk_depthwise_conv2d_3x3s2_packed_s8(const tk_conv_packed_params *pp,
                                         const int8_t *input, int8_t *output, void *scratch)
{
    void *rest;
    const tk_conv_params p = tk_depthwise_unpack(pp, scratch, &rest);
    tk_depthwise_conv2d_3x3s2_s8(&p, input, output, rest);
}

/* ---- FULLY_CONNECTED -------------------------------------------------------------------- */

#if defined(TK_PACKED_PAIRS)
/* row . x over in_pad values, x as the 16-bit pairs [x0|x2, x1|x3] of each group of 4. */
TK_HOT static int32_t tk_fc_packed_dot(const int8_t *w, const void *x, int32_t in_pad,
                                       int32_t acc)
{
    const int32_t *pairs = (const int32_t *)x;
    int32_t k;
    for (k = 0; k < in_pad; k += 4, pairs += 2) {
        const uint32_t v = tk_load32(w + k);
        acc = tk_smlad(pairs[1], tk_sxtb16_ror8(v), tk_smlad(pairs[0], tk_sxtb16(v), acc));
    }
    return acc;
}
#elif defined(TK_PACKED_MVE)
TK_HOT static int32_t tk_fc_packed_dot(const int8_t *w, const void *x, int32_t in_pad,
                                       int32_t acc)
{
    const int8_t *xs = (const int8_t *)x;
    int32_t k;
    for (k = 0; k < in_pad; k += 16) {
        acc = vmladavaq_s8(acc, vldrbq_s8(w + k), vldrbq_s8(xs + k));
    }
    return acc;
}
#endif

/* The row's weights times x as they are decoded; a sparse row skips its zeros. */
TK_HOT TK_NOINLINE static int32_t tk_fc_packed_row(const tk_packed_weights *w,
                                                   tk_channel_source s, const int8_t *x,
                                                   int32_t acc, const uint8_t **next)
{
    int32_t j;
    if (w->sparse) {
        const uint8_t *bitmap = s.bitmap;
        tk_nonzeros n = tk_nonzeros_of(w, s);
        for (j = 0; j < w->k; j += 8) {
            uint32_t m = *bitmap++;
            while (m) {
                const int32_t at = j + tk_lowest_bit(m);
                m &= m - 1u;
                acc += tk_next_nonzero(&n) * x[at];
            }
        }
        *next = n.data;
        return acc;
    }
    {
        const uint8_t *data = s.data;
        const int bits = w->bits;
        const uint32_t mask = (1u << bits) - 1u;
        uint32_t held = 0;
        int have = 0;
        for (j = 0; j < w->k; ++j) {
            if (have == 0) {
                held = *data++;
                have = 8;
            }
            acc += s.table[held & mask] * x[j];
            held >>= bits;
            have -= bits;
        }
        *next = data;
    }
    return acc;
}

/* x (one input row) as the SIMD dot product reads it: DSP 16-bit pairs, MVE int8 padded
 * to in_pad; the plain row elsewhere. */
static const void *tk_fc_packed_input(const tk_fc_params *p, const int8_t *x, void *scratch)
{
#if defined(TK_PACKED_PAIRS)
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
#elif defined(TK_PACKED_MVE)
    int8_t *row = (int8_t *)scratch;
    memcpy(row, x, (size_t)p->in_depth);
    memset(row + p->in_depth, 0, (size_t)(p->in_pad - p->in_depth));
    return row;
#else
    (void)p;
    (void)scratch;
    return x;
#endif
}

void tk_fully_connected_packed_s8(const tk_fc_packed_params *pp, const int8_t *input,
                                  int8_t *output, void *scratch)
{
    const tk_fc_params *p = &pp->fc;
    const tk_packed_weights *w = &pp->weights;
    const int walk = !(w->sparse == 0 || w->nonzero_percent >= TK_PACKED_FC_WALK);
    int8_t *row = (int8_t *)scratch + 3 * p->in_pad; /* after the input row (fc scratch) */
    tk_rq_record rq;
    int32_t b, r;

    tk_rq_records(&rq, 1, NULL, p->multiplier, p->shift, 0, p->fast_requant,
                  p->output_zero_point);
    tk_zero_words(row, p->in_pad);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *plain = input + b * p->in_depth;
        const void *x = walk ? (const void *)plain : tk_fc_packed_input(p, plain, scratch);
        const uint8_t *data = w->data;
        int8_t *out = output + b * p->out_depth;
        for (r = 0; r < p->out_depth; ++r) {
            const tk_channel_source s = tk_channel_at(w, data, r);
            int32_t acc = p->bias[r];
#if defined(TK_PACKED_MVE) || defined(TK_PACKED_PAIRS)
            if (!walk) {
                data = tk_unpack(w, s, row);
                acc = tk_fc_packed_dot(row, x, p->in_pad, acc);
            } else {
                acc = tk_fc_packed_row(w, s, (const int8_t *)x, acc, &data);
            }
#else
            acc = tk_fc_packed_row(w, s, (const int8_t *)x, acc, &data);
#endif
            if (p->per_channel) {
                tk_rq_records(&rq, 1, NULL, p->multiplier + r, p->shift + r, 1,
                              p->fast_requant, p->output_zero_point);
            }
            out[r] = (int8_t)tk_clamp(tk_requant_record(acc, &rq, p->fast_requant),
                                      p->act_min, p->act_max);
        }
    }
}
