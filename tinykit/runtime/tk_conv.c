/* CONV_2D as im2col and a matrix product: tk_conv2d_im2col_s8 (kernel rows of whole
 * words: k_w * in_c a multiple of 4, dilation_w 1) and tk_conv2d_im2col_bytes_s8 (any
 * geometry). Two entry points so that a firmware links only the code its layers use.
 *
 * Output pixels are taken four at a time (a tile, in raster order over batch, row and
 * column). The receptive field of each pixel is a row of k_pad values (im2col: input
 * bytes, the input zero point where the window leaves the image, zeros after k, or on
 * DSP cores whatever was there: the filter's zeros meet them); every output channel is
 * the dot product of its filter row with the tile's four rows, then requantized in the
 * one-rounding form, on DSP cores as SMMLAR of twice the sum (the generator calls this
 * kernel only when every channel allows it and every accumulator stays below 2^30;
 * tk_conv2d_s8 does the rest). All input of a tile is read before any of its output is
 * written. A fused activation narrower than int8 is applied to the tile's bytes
 * afterwards (four at a time on DSP cores).
 *
 * Scratch (tinykit.codegen.kernels.conv_scratch_bytes), 4-byte aligned:
 *   requantization records [out_c] | 4 int8 rows [k_pad] | DSP: the rows as doubled
 *   16-bit pairs [8 * k_pad bytes] | a short last tile [4 * out_c]
 */
#include "tk_internal.h"

TK_SIZE_PRAGMA

#define TK_TILE 4

/* ---- im2col ---------------------------------------------------------------------- */

TK_INLINE void tk_copy_run(int8_t *dst, const int8_t *src, int32_t n)
{
#if !defined(TK_ISA_V6M)
    int32_t words = n >> 2;
    if (words > 0) {
        do {
            tk_store32(dst, tk_load32(src));
            dst += 4;
            src += 4;
        } while (--words > 0);
    }
    n &= 3;
#endif
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

TK_HOT TK_NOINLINE static void tk_copy_s8(int8_t *dst, const int8_t *src, int32_t n)
{
    tk_copy_run(dst, src, n);
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

/* The geometry im2col needs, in a local copy (int8 stores may alias the parameter block):
 * the fields of tk_conv_params from batches to input_zero_point, in the same layout. */
typedef struct {
    int16_t batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w;
    int16_t dilation_h, dilation_w, pad_top, pad_left, groups, depth_multiplier, k_pad;
    int8_t zero_point;
} tk_im2col_geometry;

#define TK_GEOMETRY_BYTES (offsetof(tk_conv_params, input_zero_point) + 1 - \
                           offsetof(tk_conv_params, batches))
typedef char tk_im2col_geometry_mirrors_the_parameters
    [TK_GEOMETRY_BYTES == offsetof(tk_im2col_geometry, zero_point) + 1 ? 1 : -1];

TK_COLD static void tk_im2col_geometry_of(tk_im2col_geometry *g, const tk_conv_params *p)
{
    memcpy(g, &p->batches, TK_GEOMETRY_BYTES);
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
            const int8_t *src = line + ix0 * tap;
            if (lo != 0 || hi != run) {
                tk_fill_s8_bytes(row, zp, lo);
                tk_fill_s8_bytes(row + hi, zp, run - hi);
                tk_copy_s8(row + lo, src + lo, hi - lo);
            } else {
                tk_copy_run(row, src, run); /* inside the image: no call */
            }
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
    for (kx = g->k_pad - g->k_h * run; kx > 0; --kx) {
        *row++ = 0;
    }
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

/* The tile as a block of doubled 16-bit pairs; for each group of 4 values of the rows:
 *   [2*(x0|x2) of pixels 0..3] [2*(x1|x3) of pixels 0..3]  (SXTB16, SXTB16 ROR #8, SADD16)
 * which pairs with SXTB16 of the filter's own word in SMLAD. The doubled sums feed the
 * requantization below (SMMLAR needs 2 * acc; the generator bounds |acc| < 2^30).
 *
 * tk_expand4: the four rows of a tile (pixels read in place by a 1x1 convolution, or
 * im2col rows) into the block, group by group, four words a store. */
#if defined(__GNUC__) || defined(__clang__)
TK_NOINLINE __attribute__((naked)) static void tk_expand4(
    __attribute__((unused)) int32_t *slot, __attribute__((unused)) const int8_t *const *px,
    __attribute__((unused)) int32_t words)
{
    __asm__(
        "push   {r4-r11, lr}\n\t"
        "ldm    r1, {r3, r4, r5, r6}\n\t"
        "add    r2, r3, r2, lsl #2\n\t"
        "1:\n\t"
        "ldr    r7, [r3], #4\n\t"
        "ldr    r8, [r4], #4\n\t"
        "ldr    r9, [r5], #4\n\t"
        "ldr    r10, [r6], #4\n\t"
        "sxtb16 r1, r7\n\t"
        "sxtb16 r11, r8\n\t"
        "sxtb16 r12, r9\n\t"
        "sxtb16 lr, r10\n\t"
        "sadd16 r1, r1, r1\n\t"
        "sadd16 r11, r11, r11\n\t"
        "sadd16 r12, r12, r12\n\t"
        "sadd16 lr, lr, lr\n\t"
        "stm    r0!, {r1, r11, r12, lr}\n\t"
        "sxtb16 r7, r7, ror #8\n\t"
        "sxtb16 r8, r8, ror #8\n\t"
        "sxtb16 r9, r9, ror #8\n\t"
        "sxtb16 r10, r10, ror #8\n\t"
        "sadd16 r7, r7, r7\n\t"
        "sadd16 r8, r8, r8\n\t"
        "sadd16 r9, r9, r9\n\t"
        "sadd16 r10, r10, r10\n\t"
        "stm    r0!, {r7, r8, r9, r10}\n\t"
        "cmp    r3, r2\n\t"
        "bne    1b\n\t"
        "pop    {r4-r11, pc}\n\t");
}
#else
TK_INLINE int32_t tk_pair2(uint32_t x)
{
    const int32_t v = tk_sxtb16(x);
    return (int32_t)__sadd16(v, v);
}

TK_INLINE int32_t tk_pair2_odd(uint32_t x)
{
    const int32_t v = tk_sxtb16_ror8(x);
    return (int32_t)__sadd16(v, v);
}

static void tk_expand4(int32_t *slot, const int8_t *const *px, int32_t words)
{
    int32_t j, i;
    for (j = 0; j < words; ++j, slot += 8) {
        for (i = 0; i < TK_TILE; ++i) {
            const uint32_t x = tk_load32(px[i] + 4 * j);
            slot[i] = tk_pair2(x);
            slot[4 + i] = tk_pair2_odd(x);
        }
    }
}
#endif

/* Pixel (oy, ox) as an im2col row, dilation_w 1: each kernel row one run of input bytes,
 * the zero point beside, above and below the image. The padding after k is left as it
 * is (it meets the filter's zeros). */
TK_HOT TK_NOINLINE static void tk_pixel_row(const tk_im2col_geometry *g, const int8_t *image,
                                            int32_t oy, int32_t ox, int8_t *row)
{
    const int32_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left;
    const int32_t tap = g->in_c, run = g->k_w * tap, line = g->in_w * tap * g->dilation_h;
    int32_t offset = (iy0 * g->in_w + ix0) * tap; /* of the kernel row, from the image */
    int32_t lo = 0, hi = run, ky, iy = iy0;
    if (ix0 < 0) {
        lo = -ix0 * tap < run ? -ix0 * tap : run;
    }
    if (ix0 + g->k_w > g->in_w) {
        hi = (g->in_w - ix0) * tap > lo ? (g->in_w - ix0) * tap : lo;
    }
    if (lo != 0 || hi != run || iy0 < 0 || iy0 + (g->k_h - 1) * g->dilation_h >= g->in_h) {
        tk_fill_s8_bytes(row, g->zero_point, g->k_h * run);
        for (ky = g->k_h; ky > 0; --ky, iy += g->dilation_h, offset += line, row += run) {
            if (iy >= 0 && iy < g->in_h) {
                tk_copy_run(row + lo, image + offset + lo, hi - lo);
            }
        }
        return;
    }
    for (ky = g->k_h; ky > 0; --ky, offset += line, row += run) {
        tk_copy_run(row, image + offset, run);
    }
}

/* The output pixel a tile starts at, and where its input starts: the batch's image and,
 * for a 1x1 convolution, the input pixel itself. */
typedef struct {
    const int8_t *input;
    int32_t image, pixel;                /* offsets in input */
    int32_t oy, ox;
    int32_t step, row_step, image_bytes; /* pixel: to the next pixel, from a row's end */
} tk_cursor;

TK_INLINE void tk_cursor_next(tk_cursor *c, const tk_im2col_geometry *g)
{
    c->pixel += c->step;
    if (++c->ox == g->out_w) {
        c->ox = 0;
        c->pixel += c->row_step;
        if (++c->oy == g->out_h) {
            c->oy = 0;
            c->image += c->image_bytes;
            c->pixel = c->image;
        }
    }
}

/* The block of the tile at the cursor; advances it. A short last tile repeats its last
 * pixel. */
TK_INLINE void tk_tile_block(const tk_im2col_geometry *g, tk_cursor *c, int count,
                             int8_t *buffer, int32_t *block, int words)
{
    const int direct = g->k_h == 1 && g->k_w == 1 && g->k_pad == g->in_c;
    const int8_t *px[TK_TILE];
    int i;
    for (i = 0; i < TK_TILE; ++i) {
        if (i >= count) {
            px[i] = px[i - 1];
            continue;
        }
        if (direct) {
            px[i] = c->input + c->pixel;
        } else {
            px[i] = buffer + i * g->k_pad;
            if (words || g->dilation_w == 1) {
                tk_pixel_row(g, c->input + c->image, c->oy, c->ox, buffer + i * g->k_pad);
            } else {
                tk_im2col_row(g, c->input + c->image, (int)c->oy, (int)c->ox,
                              buffer + i * g->k_pad);
            }
        }
        tk_cursor_next(c, g);
    }
    tk_expand4(block, px, g->k_pad / 4);
}

/* The requantization of one output channel for the loop below, in scratch. With e the
 * right shift (2..23) and acc2 = 2 * acc (|acc| < 2^30), kc = 2^(e-1) + zp * 2^e:
 *   t = SMMLAR(acc2, multiplier, kc + (acc2 >> 31)) = SRDHM(acc, multiplier) + kc - [acc < 0]
 * and t >> e is TFLite's MultiplyByQuantizedMultiplier(acc, multiplier, -e) + zp exactly.
 * The last channel's shift has 256 added (ASR reads the low byte; it ends the loop). */
typedef struct {
    int32_t multiplier;
    int32_t kc;
    int32_t shift;
    int32_t next_bias; /* the next channel's bias, doubled: its accumulators' start */
} tk_conv_record;

/* Records of every channel; returns channel 0's doubled bias. */
TK_COLD static int32_t tk_conv_records(tk_conv_record *r, const tk_conv_params *p)
{
    const uint32_t zp = (uint32_t)(int32_t)p->output_zero_point;
    int32_t c = p->out_c, bias = 0;
    while (c-- > 0) {
        const int e = -p->shift[c];
        r[c].multiplier = p->multiplier[c];
        r[c].kc = (int32_t)((1u << (e - 1)) + (zp << e));
        r[c].shift = e;
        r[c].next_bias = bias;
        bias = p->bias != NULL ? (int32_t)((uint32_t)p->bias[c] << 1) : 0;
    }
    r[p->out_c - 1].shift += 256; /* the last channel */
    return bias;
}

/* What the channel loop of one tile reads (the assembly below knows these offsets). */
typedef struct {
    int8_t *out[TK_TILE];      /* 0: channel 0 of each pixel */
    const int32_t *block;      /* 16 */
    int32_t groups;            /* 20: k_pad / 4 */
    const tk_conv_record *rq;  /* 24 */
    const int8_t *filter;      /* 28 */
    const int32_t *block_end;  /* 32 */
    int32_t bias;              /* 36: channel 0's, doubled */
} tk_conv_job;

#if defined(__GNUC__) || defined(__clang__)

/* One group of 4 filter values (the word in WV) against the block: 16 multiply-accumulates
 * in 12 instructions. */
#define TK_GROUP(WV)                                                                        \
    "ldm    r5!, {r8, r9, r10, r11}\n\t"                                                     \
    "sxtb16 lr, " WV "\n\t"                                                                  \
    "smlad  r0, r8, lr, r0\n\t"                                                              \
    "smlad  r1, r9, lr, r1\n\t"                                                              \
    "smlad  r2, r10, lr, r2\n\t"                                                             \
    "smlad  r3, r11, lr, r3\n\t"                                                             \
    "ldm    r5!, {r8, r9, r10, r11}\n\t"                                                     \
    "sxtb16 lr, " WV ", ror #8\n\t"                                                          \
    "smlad  r0, r8, lr, r0\n\t"                                                              \
    "smlad  r1, r9, lr, r1\n\t"                                                              \
    "smlad  r2, r10, lr, r2\n\t"                                                             \
    "smlad  r3, r11, lr, r3\n\t"

/* Requantize the accumulator A (r8 multiplier, r9 kc, r10 shift), saturated to int8. */
#define TK_REQUANT(A)                                                                       \
    "add    r12, r9, " A ", asr #31\n\t"                                                     \
    "smmlar " A ", " A ", r8, r12\n\t"                                                       \
    "asr    " A ", " A ", r10\n\t"                                                           \
    "ssat   " A ", #8, " A "\n\t"

/* Every output channel of a tile (job in r0). Registers: r0-r3 the accumulators of the 4
 * pixels, r4 the filter, r5 the block, r6 its end, r8-r11 block words, r12 and r7 two
 * filter words, lr one of them sign-extended; on the stack the job's first seven words.
 * The loop over the block takes 4 groups a turn, entered part-way (Duff's device) when
 * k_pad / 4 is not a multiple of 4; about 35 instructions a channel besides the groups. */
TK_NOINLINE __attribute__((naked)) static void tk_conv_channels(
    __attribute__((unused)) const tk_conv_job *job)
{
    __asm__(
        "push   {r4-r11, lr}\n\t"
        "ldr    r4, [r0, #28]\n\t"
        "ldr    r6, [r0, #32]\n\t"
        "ldr    r11, [r0, #36]\n\t"
        "ldm    r0, {r0, r1, r2, r3, r5, r7, r8}\n\t"
        "and    r7, r7, #3\n\t"
        "adr    r12, 9f\n\t"
        "ldr    r7, [r12, r7, lsl #2]\n\t"
        "push   {r0, r1, r2, r3, r5, r7, r8}\n\t"
        "1:\n\t"
        "mov    r0, r11\n\t"
        "mov    r1, r11\n\t"
        "mov    r2, r11\n\t"
        "mov    r3, r11\n\t"
        "ldr    r5, [sp, #16]\n\t"
        "ldr    pc, [sp, #20]\n\t"
        "2:\n\t"
        "ldrd   r12, r7, [r4], #8\n\t"
        TK_GROUP("r12")
        "4:\n\t"
        TK_GROUP("r7")
        "5:\n\t"
        "ldrd   r12, r7, [r4], #8\n\t"
        TK_GROUP("r12")
        "6:\n\t"
        TK_GROUP("r7")
        "cmp    r5, r6\n\t"
        "bne    2b\n\t"
        "ldr    lr, [sp, #24]\n\t"
        "ldm    lr!, {r8, r9, r10, r11}\n\t"
        "str    lr, [sp, #24]\n\t"
        TK_REQUANT("r0")
        TK_REQUANT("r1")
        TK_REQUANT("r2")
        TK_REQUANT("r3")
        "ldm    sp, {r5, r7, r8, r9}\n\t"
        "strb   r0, [r5], #1\n\t"
        "strb   r1, [r7], #1\n\t"
        "strb   r2, [r8], #1\n\t"
        "strb   r3, [r9], #1\n\t"
        "stm    sp, {r5, r7, r8, r9}\n\t"
        "cmp    r10, #256\n\t"
        "blo    1b\n\t"
        "add    sp, #28\n\t"
        "pop    {r4-r11, pc}\n\t"
        "7:\n\t" /* one group left over: the second of a pair */
        "ldr    r7, [r4], #4\n\t"
        "b      6b\n\t"
        "8:\n\t" /* three */
        "ldr    r7, [r4], #4\n\t"
        "b      4b\n\t"
        ".p2align 2\n"
        "9:\n\t" /* where to enter, by groups % 4 (Thumb addresses) */
        ".word  2b + 1, 7b + 1, 5b + 1, 8b + 1\n\t");
}

#else

TK_INLINE int32_t tk_requant2(int32_t acc2, const tk_conv_record *r)
{
    const int64_t ra = (int64_t)(r->kc + (acc2 >> 31)) * 4294967296LL;
    const int32_t t = (int32_t)((ra + (int64_t)acc2 * r->multiplier + 0x80000000LL) >> 32);
    return tk_sat8(t >> (r->shift & 31));
}

static void tk_conv_channels(const tk_conv_job *job)
{
    const tk_conv_record *r = job->rq;
    const int8_t *w = job->filter;
    int32_t bias = job->bias, oc;
    for (oc = 0;; ++r, ++oc) {
        const int32_t *c = job->block;
        int32_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;
        for (; c != job->block_end; c += 8, w += 4) {
            const uint32_t wv = tk_load32(w);
            const int32_t lo = tk_sxtb16(wv), hi = tk_sxtb16_ror8(wv);
            a0 = tk_smlad(c[4], hi, tk_smlad(c[0], lo, a0));
            a1 = tk_smlad(c[5], hi, tk_smlad(c[1], lo, a1));
            a2 = tk_smlad(c[6], hi, tk_smlad(c[2], lo, a2));
            a3 = tk_smlad(c[7], hi, tk_smlad(c[3], lo, a3));
        }
        job->out[0][oc] = (int8_t)tk_requant2(a0, r);
        job->out[1][oc] = (int8_t)tk_requant2(a1, r);
        job->out[2][oc] = (int8_t)tk_requant2(a2, r);
        job->out[3][oc] = (int8_t)tk_requant2(a3, r);
        bias = r->next_bias;
        if (r->shift >= 256) {
            break;
        }
    }
}

#endif

/* Both entry points: `words` (a constant) says every kernel row is whole words. */
TK_INLINE void tk_conv_kernel(const tk_conv_params *p, const int8_t *input, int8_t *output,
                              void *scratch, int words)
{
    const int32_t k_pad = p->k_pad, out_c = p->out_c;
    const int32_t pixels = (int32_t)p->batches * p->out_h * p->out_w;
    const int8_t lo = p->act_min, hi = p->act_max;
    tk_im2col_geometry g;
    tk_conv_record *rq = (tk_conv_record *)scratch;
    int8_t *buffer = (int8_t *)(rq + out_c);
    int32_t *block = (int32_t *)(void *)(buffer + TK_TILE * k_pad);
    int8_t *short_tile = (int8_t *)(block + 2 * k_pad);
    int32_t first;
    tk_conv_job job;
    tk_cursor cursor;

    tk_im2col_geometry_of(&g, p);
    cursor.input = input;
    cursor.image = cursor.pixel = 0;
    cursor.oy = cursor.ox = 0;
    cursor.step = g.stride_w * g.in_c;
    cursor.row_step = (g.stride_h * g.in_w - g.out_w * g.stride_w) * g.in_c;
    cursor.image_bytes = g.in_h * g.in_w * g.in_c;
    job.block = block;
    job.groups = k_pad / 4;
    job.rq = rq;
    job.filter = p->filter;
    job.block_end = block + 2 * k_pad;
    job.bias = tk_conv_records(rq, p);
    for (first = 0; first < pixels; first += TK_TILE) {
        const int count = pixels - first < TK_TILE ? (int)(pixels - first) : TK_TILE;
        int8_t *out = output + first * out_c;
        int8_t *dst = count == TK_TILE ? out : short_tile;
        tk_tile_block(&g, &cursor, count, buffer, block, words);
        job.out[0] = dst;
        job.out[1] = dst + out_c;
        job.out[2] = dst + 2 * out_c;
        job.out[3] = dst + 3 * out_c;
        tk_conv_channels(&job);
        if (count < TK_TILE) {
            tk_copy_s8(out, short_tile, count * out_c);
        }
        tk_clamp_s8(out, count * out_c, lo, hi);
    }
}

#else /* portable and ARMv6-M: the rows as they are */

#define TK_TILE_ROWS 1

TK_INLINE void tk_tile_dot(const int8_t *w, const void *block, int32_t k_pad, int32_t *acc)
{
    const int8_t *const *rows = (const int8_t *const *)block;
    tk_dot4_s8(w, rows[0], rows[1], rows[2], rows[3], k_pad, acc);
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
    tk_im2col_geometry g;
    tk_rq_record *rq = (tk_rq_record *)scratch;
    int8_t *buffer = (int8_t *)(rq + out_c);
    int8_t *block = buffer + TK_TILE * k_pad;
    int8_t *short_tile = block + 2 * TK_TILE * k_pad;
    int32_t where[3] = {0, 0, 0};
    int32_t first;

    tk_im2col_geometry_of(&g, p);
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
#endif

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
