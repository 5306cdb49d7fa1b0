/* CONV_2D as im2col and a matrix product: tk_conv2d_im2col_s8 (kernel rows of whole
 * words: k_w * in_c a multiple of 4, dilation_w 1) and tk_conv2d_im2col_bytes_s8 (any
 * geometry). Two entry points so that a firmware links only the code its layers use.
 *
 * Output pixels are taken four at a time (a tile, in raster order over batch, row and
 * column). The receptive field of each pixel is a row of k_pad values (im2col: input
 * bytes, the input zero point where the window leaves the image, zeros after k); every
 * output channel is the dot product of its filter row with the tile's four rows, then
 * requantized in the one-rounding form (the generator calls this kernel only when every
 * channel allows it; tk_conv2d_s8 does the rest). All input of a tile is read before any
 * of its output is written. A fused activation narrower than int8 is applied to the
 * tile's bytes afterwards (four at a time on DSP cores).
 *
 * Scratch (tinykit.codegen.kernels.conv_scratch_bytes), 4-byte aligned:
 *   requantization records [out_c] | 4 int8 rows [k_pad] | DSP: the rows as 16-bit pairs
 *   [8 * k_pad bytes] | a short last tile [4 * out_c]
 */
#include "tk_internal.h"

TK_SIZE_PRAGMA

#define TK_TILE 4

/* ---- im2col ---------------------------------------------------------------------- */

TK_HOT TK_NOINLINE static void tk_copy_s8(int8_t *dst, const int8_t *src, int32_t n)
{
#if !defined(TK_ISA_V6M)
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        tk_store32(dst, tk_load32(src));
    }
#endif
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

TK_HOT TK_NOINLINE static void tk_fill_s8_bytes(int8_t *dst, int8_t value, int32_t n)
{
#if !defined(TK_ISA_V6M)
    const uint32_t word = 0x01010101u * (uint8_t)value;
    for (; n >= 4; n -= 4, dst += 4) {
        tk_store32(dst, word);
    }
#endif
    for (; n > 0; --n) {
        *dst++ = value;
    }
}

/* The geometry im2col needs, in locals (int8 stores may alias the parameter block). */
typedef struct {
    int32_t in_h, in_w, in_c, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w;
    int32_t pad_top, pad_left, k_pad, out_h, out_w;
    int8_t zero_point;
} tk_im2col_geometry;

TK_COLD static tk_im2col_geometry tk_im2col_geometry_of(const tk_conv_params *p)
{
    tk_im2col_geometry g;
    g.in_h = p->in_h;
    g.in_w = p->in_w;
    g.in_c = p->in_c;
    g.k_h = p->k_h;
    g.k_w = p->k_w;
    g.stride_h = p->stride_h;
    g.stride_w = p->stride_w;
    g.dilation_h = p->dilation_h;
    g.dilation_w = p->dilation_w;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.k_pad = p->k_pad;
    g.out_h = p->out_h;
    g.out_w = p->out_w;
    g.zero_point = p->input_zero_point;
    return g;
}

/* The receptive field of output pixel (oy, ox) of `image` (one batch) as k_pad bytes:
 * per kernel row, the zero point left of the image, the bytes inside, the zero point
 * right of it (one run each when dilation_w is 1); zeros after k. */
TK_HOT static void tk_im2col_row(const tk_im2col_geometry *g, const int8_t *image, int oy, int ox,
                          int8_t *row)
{
    const int32_t iy0 = oy * g->stride_h - g->pad_top;
    const int32_t ix0 = ox * g->stride_w - g->pad_left;
    const int32_t tap = g->in_c, run = g->k_w * tap, line_bytes = g->in_w * tap;
    const int8_t zp = g->zero_point;
    int32_t lo = 0, hi = run, ky, kx;

    if (ix0 < 0) {
        lo = -ix0 * tap < run ? -ix0 * tap : run;
    }
    if (ix0 + g->k_w > g->in_w) {
        hi = (g->in_w - ix0) * tap > lo ? (g->in_w - ix0) * tap : lo;
    }
    for (ky = 0; ky < g->k_h; ++ky, row += run) {
        const int32_t iy = iy0 + ky * g->dilation_h;
        const int8_t *line = image + iy * line_bytes;
        if (iy < 0 || iy >= g->in_h) {
            tk_fill_s8_bytes(row, zp, run);
        } else if (g->dilation_w == 1) {
            tk_fill_s8_bytes(row, zp, lo);
            tk_copy_s8(row + lo, line + ix0 * tap + lo, hi - lo);
            tk_fill_s8_bytes(row + hi, zp, run - hi);
        } else {
            for (kx = 0; kx < g->k_w; ++kx) {
                const int32_t ix = ix0 + kx * g->dilation_w;
                if (ix < 0 || ix >= g->in_w) {
                    tk_fill_s8_bytes(row + kx * tap, zp, tap);
                } else {
                    tk_copy_s8(row + kx * tap, line + ix * tap, tap);
                }
            }
        }
    }
    tk_fill_s8_bytes(row, 0, g->k_pad - g->k_h * run);
}

/* ---- the dot products of a tile: one version per instruction set ------------------- */

#if defined(TK_ISA_MVE)

/* acc[i] += filter row . rows[i] for i < 4 (16 lanes at a time, the tail predicated) */
TK_INLINE void tk_tile_dot(const int8_t *w, const void *block, int32_t k_pad, int32_t *acc)
{
    const int8_t *const *rows = (const int8_t *const *)block;
    const int8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t k;
    for (k = k_pad; k >= 16; k -= 16, w += 16, r0 += 16, r1 += 16, r2 += 16, r3 += 16) {
        const int8x16_t wv = vldrbq_s8(w);
        a0 = vmladavaq_s8(a0, vldrbq_s8(r0), wv);
        a1 = vmladavaq_s8(a1, vldrbq_s8(r1), wv);
        a2 = vmladavaq_s8(a2, vldrbq_s8(r2), wv);
        a3 = vmladavaq_s8(a3, vldrbq_s8(r3), wv);
    }
    if (k > 0) {
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

#define TK_TILE_ROWS 1

#elif defined(TK_ISA_DSP)

/* The tile as a block of 16-bit pairs; for each group of 4 values of the rows:
 *   [x0|x2 of pixels 0..3] [x1|x3 of pixels 0..3]   (SXTB16 and SXTB16 ROR #8 of the word)
 * which is what SXTB16 gives of the filter's own word, so SMLAD pairs match.
 * `words` groups of pixel `slot` from `src` (NULL: the zero point's word). */
TK_HOT TK_NOINLINE static int32_t *tk_expand(int32_t *slot, const int8_t *src, int32_t words, uint32_t zp_word)
{
    int32_t j;
    if (src == NULL) {
        const int32_t even = tk_sxtb16(zp_word), odd = tk_sxtb16_ror8(zp_word);
        for (j = 0; j < words; ++j, slot += 8) {
            slot[0] = even;
            slot[4] = odd;
        }
        return slot;
    }
    for (j = 0; j < words; ++j, src += 4, slot += 8) {
        const uint32_t x = tk_load32(src);
        slot[0] = tk_sxtb16(x);
        slot[4] = tk_sxtb16_ror8(x);
    }
    return slot;
}

/* Pixel (oy, ox) into its slot of the block, kernel rows of whole words (dilation_w 1):
 * each row comes straight from the input (or is the zero point's word, above or below
 * the image; a row cut by the left or right edge is assembled in `row` first). */
TK_HOT TK_NOINLINE static void tk_tile_pixel(const tk_im2col_geometry *g,
                                              const int8_t *image, int32_t oy, int32_t ox,
                                              int8_t *row, int32_t *slot)
{
    const int32_t tap = g->in_c, run = g->k_w * tap, words = run / 4;
    const int32_t ix0 = ox * g->stride_w - g->pad_left;
    const int32_t iy0 = oy * g->stride_h - g->pad_top;
    const int32_t dil = g->dilation_h, line = g->in_w * tap * dil;
    const uint32_t zp_word = 0x01010101u * (uint8_t)g->zero_point;
    int32_t offset = (iy0 * g->in_w + ix0) * tap; /* of the row, from the image */
    int32_t ky, j, iy = iy0, lo = 0, hi = run;
    if (ix0 < 0) {
        lo = -ix0 * tap < run ? -ix0 * tap : run;
    }
    if (ix0 + g->k_w > g->in_w) {
        hi = (g->in_w - ix0) * tap > lo ? (g->in_w - ix0) * tap : lo;
    }
    for (ky = 0; ky < g->k_h; ++ky, iy += dil, offset += line) {
        const int8_t *x = (const int8_t *)&zp_word; /* the zero point's word, every time */
        int32_t step = 0;
        if (iy >= 0 && iy < g->in_h) {
            x = image + offset;
            step = 4;
            if (lo != 0 || hi != run) {
                tk_fill_s8_bytes(row, g->zero_point, lo);
                tk_copy_s8(row + lo, x + lo, hi - lo);
                tk_fill_s8_bytes(row + hi, g->zero_point, run - hi);
                x = row;
            }
        }
        for (j = 0; j < words; ++j, x += step, slot += 8) {
            const uint32_t v = tk_load32(x);
            slot[0] = tk_sxtb16(v);
            slot[4] = tk_sxtb16_ror8(v);
        }
    }
}

/* Any geometry: the whole receptive field through an im2col row. */
TK_NOINLINE static void tk_tile_pixel_bytes(const tk_im2col_geometry *g, const int8_t *image,
                                            int32_t oy, int32_t ox, int8_t *row,
                                            int32_t *slot)
{
    tk_im2col_row(g, image, (int)oy, (int)ox, row);
    tk_expand(slot, row, g->k_pad / 4, 0);
}

/* The block of the tile at output pixel (b, oy, ox) = where[]; advances where[]. A short
 * last tile repeats its last pixel. */
TK_INLINE const void *tk_tile_source(const tk_im2col_geometry *g, const int8_t *input,
                                  int32_t *where, int count, int8_t *buffer, void *block,
                                  int words)
{
    const int32_t image_bytes = g->in_h * g->in_w * g->in_c;
    const int direct = g->k_h == 1 && g->k_w == 1 && g->k_pad == g->in_c;
    int32_t *slots = (int32_t *)block;
    int32_t b = where[0], oy = where[1], ox = where[2];
    int i;
    for (i = 0; i < TK_TILE; ++i) {
        const int8_t *image = input + b * image_bytes;
        if (direct) {
            tk_expand(slots + i, image + (oy * g->stride_h * g->in_w + ox * g->stride_w) * g->in_c,
                      g->k_pad / 4, 0);
        } else if (words) {
            tk_tile_pixel(g, image, oy, ox, buffer, slots + i);
        } else {
            tk_tile_pixel_bytes(g, image, oy, ox, buffer, slots + i);
        }
        if (i + 1 < count && ++ox == g->out_w) {
            ox = 0;
            if (++oy == g->out_h) {
                oy = 0;
                ++b;
            }
        }
    }
    if (++ox == g->out_w) {
        ox = 0;
        if (++oy == g->out_h) {
            oy = 0;
            ++b;
        }
    }
    where[0] = b;
    where[1] = oy;
    where[2] = ox;
    return block;
}

/* One group of 4 filter values against the block (C; the loop below is assembly). */
TK_INLINE void tk_group_dot(uint32_t w, const int32_t *c, int32_t *a0, int32_t *a1,
                            int32_t *a2, int32_t *a3)
{
    const int32_t lo = tk_sxtb16(w);
    const int32_t hi = tk_sxtb16_ror8(w);
    *a0 = tk_smlad(c[4], hi, tk_smlad(c[0], lo, *a0));
    *a1 = tk_smlad(c[5], hi, tk_smlad(c[1], lo, *a1));
    *a2 = tk_smlad(c[6], hi, tk_smlad(c[2], lo, *a2));
    *a3 = tk_smlad(c[7], hi, tk_smlad(c[3], lo, *a3));
}

TK_INLINE void tk_tile_dot(const int8_t *w, const void *block, int32_t k_pad, int32_t *acc)
{
    const int32_t *c = (const int32_t *)block;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *end = w + k_pad;
    if (k_pad & 4) {
        tk_group_dot(tk_load32(w), c, &a0, &a1, &a2, &a3);
        w += 4;
        c += 8;
    }
#if defined(__GNUC__) || defined(__clang__)
    if (w != end) {
        uint32_t wv, t;
        /* Two groups a turn: 13 instructions for 16 multiply-accumulates each (gcc's own
         * schedule of the C above takes 21: it does not use LDM). */
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
    }
#else
    for (; w != end; w += 4, c += 8) {
        tk_group_dot(tk_load32(w), c, &a0, &a1, &a2, &a3);
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#else /* portable and ARMv6-M: the rows as they are */

#define TK_TILE_ROWS 1

TK_INLINE void tk_tile_dot(const int8_t *w, const void *block, int32_t k_pad, int32_t *acc)
{
    const int8_t *const *rows = (const int8_t *const *)block;
    const int8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t k;
    for (k = 0; k < k_pad; ++k) {
        const int32_t wk = w[k];
        a0 += wk * r0[k];
        a1 += wk * r1[k];
        a2 += wk * r2[k];
        a3 += wk * r3[k];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#endif

/* ---- the kernel -------------------------------------------------------------------- */

#if defined(TK_TILE_ROWS)
/* The four im2col rows of the tile at output pixel (b, oy, ox) = where[], as pointers in
 * block (a 1x1 convolution whose row is a whole input pixel reads it in place); a short
 * last tile repeats its last pixel. Advances where[]. */
static const void *tk_tile_source(const tk_im2col_geometry *g, const int8_t *input,
                                  int32_t *where, int count, int8_t *buffer, void *block,
                                  int words)
{
    const int32_t image_bytes = g->in_h * g->in_w * g->in_c;
    const int direct = g->k_h == 1 && g->k_w == 1 && g->k_pad == g->in_c;
    const int8_t **rows = (const int8_t **)block;
    (void)words;
    int32_t b = where[0], oy = where[1], ox = where[2];
    int i;
    for (i = 0; i < TK_TILE; ++i) {
        const int8_t *image = input + b * image_bytes;
        if (i >= count) {
            rows[i] = rows[count - 1];
            continue;
        }
        if (direct) {
            rows[i] = image + (oy * g->stride_h * g->in_w + ox * g->stride_w) * g->in_c;
        } else {
            tk_im2col_row(g, image, (int)oy, (int)ox, buffer + i * g->k_pad);
            rows[i] = buffer + i * g->k_pad;
        }
        if (++ox == g->out_w) {
            ox = 0;
            if (++oy == g->out_h) {
                oy = 0;
                ++b;
            }
        }
    }
    where[0] = b;
    where[1] = oy;
    where[2] = ox;
    return block;
}
#endif

/* Every output channel of a full tile: dot products, requantization, four stores. */
TK_HOT TK_NOINLINE static void tk_conv_tile4(const void *tile, const int8_t *w, int32_t k_pad,
                          const tk_rq_record *rq, const tk_rq_record *end, int8_t *out,
                          int32_t out_c)
{
    int8_t *out2 = out + 2 * out_c;
    for (; rq != end; ++rq, w += k_pad, ++out, ++out2) {
        int32_t acc[TK_TILE];
        int32_t m, c_hi;
        int sh;
        acc[0] = acc[1] = acc[2] = acc[3] = rq->bias;
        tk_tile_dot(w, tile, k_pad, acc);
        m = rq->multiplier;
        c_hi = rq->c_hi;
        sh = (int)rq->shift;
        out[0] = (int8_t)tk_sat8(tk_requant(acc[0], m, c_hi, sh));
        out[out_c] = (int8_t)tk_sat8(tk_requant(acc[1], m, c_hi, sh));
        out2[0] = (int8_t)tk_sat8(tk_requant(acc[2], m, c_hi, sh));
        out2[out_c] = (int8_t)tk_sat8(tk_requant(acc[3], m, c_hi, sh));
    }
}

/* Both entry points: `words` (a constant) says every kernel row is whole words. */
TK_INLINE void tk_conv_kernel(const tk_conv_params *p, const int8_t *input, int8_t *output,
                              void *scratch, int words)
{
    const int32_t k_pad = p->k_pad, out_c = p->out_c;
    const int32_t pixels = (int32_t)p->batches * p->out_h * p->out_w;
    const int8_t lo = p->act_min, hi = p->act_max;
    const tk_im2col_geometry g = tk_im2col_geometry_of(p);
    tk_rq_record *rq = (tk_rq_record *)scratch;
    int8_t *buffer = (int8_t *)(rq + out_c);
    int8_t *block = buffer + TK_TILE * k_pad;
    int8_t *short_tile = block + 2 * TK_TILE * k_pad;
    int32_t where[3] = {0, 0, 0};
    int32_t first;

    tk_rq_records(rq, out_c, p->bias, p->multiplier, p->shift, 1, 1, p->output_zero_point);
    for (first = 0; first < pixels; first += TK_TILE) {
        const int count = pixels - first < TK_TILE ? (int)(pixels - first) : TK_TILE;
        const void *tile = tk_tile_source(&g, input, where, count, buffer, block, words);
        int8_t *out = output + first * out_c;
        tk_conv_tile4(tile, p->filter, k_pad, rq, rq + out_c, count == TK_TILE ? out : short_tile,
                      out_c);
        if (count < TK_TILE) {
            tk_copy_s8(out, short_tile, count * out_c);
        }
        tk_clamp_s8(out, count * out_c, lo, hi);
    }
}

void tk_conv2d_im2col_s8(const tk_conv_params *p, const int8_t *input, int8_t *output,
                         void *scratch)
{
    tk_conv_kernel(p, input, output, scratch, 1);
}

void tk_conv2d_im2col_bytes_s8(const tk_conv_params *p, const int8_t *input, int8_t *output,
                               void *scratch)
{
    tk_conv_kernel(p, input, output, scratch, 0);
}
