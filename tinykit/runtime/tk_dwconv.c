/* DEPTHWISE_CONV_2D over a ring of 16-bit input rows: tk_depthwise_conv2d_rows_s8.
 *
 * Output rows are computed in order. Before output row y, the input rows its window
 * needs are converted once each to int16, one plane row per channel, into a ring of
 * R = (k_h - 1) * dilation_h + 1 rows (input row r in slot r % R), with the input zero
 * point in the left and right padding; rows above or below the image read a row of zero
 * points. Then the output row is computed from the ring: taps along x are paired (two
 * 16-bit inputs against two 16-bit weights: SMLAD on DSP cores). Input rows are read
 * once, in increasing order, and never after an output row whose window starts below
 * them is written (the `rows` streaming contract).
 *
 * Scratch (tinykit.codegen.kernels.rows_scratch_bytes), 4-byte aligned:
 *   ring [R][in_c][cols] int16 | zero-point row [cols] int16 |
 *   per output channel: its requantization (tk_rq_record) and its weights as pairs
 * where cols covers the padded width plus one (a last odd tap is paired with a zero
 * weight and reads one column further). dilation_w must be 1.
 */
#include "tk_internal.h"

/* Kernel rows at most (the generator checks). */
#define TK_ROWS_MAX_K 16

typedef struct {
    int32_t cols;        /* int16 per plane row (even) */
    int32_t slots;       /* ring rows */
    int32_t kw2;         /* weight pairs per kernel row */
    int32_t stride;      /* int32 words per output channel record */
    int three_by_three;  /* DSP 3x3: kernel rows of (w0|w1), (w1|w2), (w0|w2) */
    int16_t *ring;
    int16_t *zp_row;
    int32_t *records;
} tk_rows_layout;

static tk_rows_layout tk_rows_layout_of(const tk_conv_params *p, void *scratch)
{
    const int32_t span = (int32_t)(p->out_w - 1) * p->stride_w + p->k_w;
    const int32_t cols = (span > p->in_w + p->pad_left ? span : p->in_w + p->pad_left) + 1;
    tk_rows_layout l;
    l.cols = (cols + 1) & ~1;
    l.slots = (int32_t)(p->k_h - 1) * p->dilation_h + 1;
    l.kw2 = (p->k_w + 1) / 2;
#if defined(TK_ISA_DSP)
    l.three_by_three = p->k_h == 3 && p->k_w == 3;
#else
    l.three_by_three = 0;
#endif
    l.stride = 4 + (l.three_by_three ? 9 : p->k_h * l.kw2);
    l.ring = (int16_t *)scratch;
    l.zp_row = l.ring + l.slots * p->in_c * l.cols;
    l.records = (int32_t *)(void *)(l.zp_row + l.cols);
    return l;
}

static int32_t tk_pair(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* Each output channel's requantization, then its weights as pairs (w[kx] | w[kx+1] << 16),
 * a zero after an odd last tap; for the DSP 3x3 loop (w0|w1), (w1|w2), (w0|w2) per row. */
static void tk_rows_records(const tk_conv_params *p, const tk_rows_layout *l)
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
            if (l->three_by_three) {
                *pairs++ = tk_pair(w[0], w[out_c]);
                *pairs++ = tk_pair(w[out_c], w[2 * out_c]);
                *pairs++ = tk_pair(w[0], w[2 * out_c]);
                continue;
            }
            for (kx = 0; kx < p->k_w; kx += 2) {
                *pairs++ = tk_pair(w[kx * out_c], kx + 1 < p->k_w ? w[(kx + 1) * out_c] : 0);
            }
        }
    }
}

/* Zero points in the zero-point row and in every ring row (the padding columns keep
 * them; the columns of the image are overwritten as rows come in). */
static void tk_rows_fill(const tk_conv_params *p, const tk_rows_layout *l)
{
    const int16_t zp = p->input_zero_point;
    const int32_t count = (l->slots * p->in_c + 1) * l->cols;
    int32_t i;
    for (i = 0; i < count; ++i) {
        l->ring[i] = zp;
    }
}

/* Input row `iy` of `image` into its ring slot: one plane row per channel. */
static void tk_rows_load(const tk_conv_params *p, const tk_rows_layout *l, const int8_t *image,
                         int iy)
{
    const int32_t in_c = p->in_c, in_w = p->in_w, cols = l->cols;
    const int8_t *src = image + (int32_t)iy * in_w * in_c;
    int16_t *slot = l->ring + (iy % l->slots) * in_c * cols + p->pad_left;
    int32_t c = 0, x;
#if defined(TK_ISA_DSP)
    for (; c + 4 <= in_c; c += 4) {
        int16_t *d0 = slot + c * cols;
        int16_t *d1 = d0 + cols, *d2 = d1 + cols, *d3 = d2 + cols;
        const int8_t *s = src + c;
        for (x = 0; x < in_w; ++x, s += in_c) {
            const uint32_t v = tk_load32(s);
            const int32_t even = tk_sxtb16(v), odd = tk_sxtb16_ror8(v);
            d0[x] = (int16_t)even;
            d2[x] = (int16_t)(even >> 16);
            d1[x] = (int16_t)odd;
            d3[x] = (int16_t)(odd >> 16);
        }
    }
#endif
    for (; c < in_c; ++c) {
        int16_t *d = slot + c * cols;
        const int8_t *s = src + c;
        for (x = 0; x < in_w; ++x, s += in_c) {
            d[x] = *s;
        }
    }
}

/* What the output loops need, in locals (int8 stores may alias the parameter block). */
typedef struct {
    int32_t act_min, act_max, out_c, out_w, in_c, stride_w, k_h, kw2, mult, cols, stride;
    int fast;
} tk_rows_out;

#if defined(TK_ISA_DSP)
/* DSP, 3x3, one input channel per output channel, the one-rounding requantization and no
 * activation clamp: every channel of two output columns a turn, so each channel's
 * record (requantization and nine weight pairs) is loaded once per two outputs.
 * With x0..x3 a kernel row's two words and the pairs (w0|w1), (w1|w2), (w0|w2):
 *   o0 = x0w0 + x1w1 (SMLAD) + x2w2 (SMLABT),  o1 = x1w0 (SMLATB) + x2w1 + x3w2 (SMLAD);
 * a stride of 2 gives o1 from x2..x5 with o0's pairs. */
static void tk_rows_3x3_pairs(const tk_rows_out *o, const int32_t *records,
                              const int16_t *const *rows, const int32_t *next, int ox,
                              int8_t *out)
{
    const int32_t n0 = next[0], n1 = next[1], n2 = next[2], step = o->stride_w;
    const int32_t out_c = o->out_c;
    const int16_t *x0 = rows[0] + ox * step, *x1 = rows[1] + ox * step;
    const int16_t *x2 = rows[2] + ox * step;
    const int32_t *r = records;
    const int32_t *end = records + o->in_c * o->stride;
    for (; r != end; r += o->stride, x0 += n0, x1 += n1, x2 += n2, ++out) {
        int32_t a = r[0], b = r[0];
        if (step == 1) {
            int32_t lo = (int32_t)tk_load32(x0), hi = (int32_t)tk_load32(x0 + 2);
            a = tk_smlabt(hi, r[6], tk_smlad(lo, r[4], a));
            b = tk_smlad(hi, r[5], tk_smlatb(lo, r[6], b));
            lo = (int32_t)tk_load32(x1);
            hi = (int32_t)tk_load32(x1 + 2);
            a = tk_smlabt(hi, r[9], tk_smlad(lo, r[7], a));
            b = tk_smlad(hi, r[8], tk_smlatb(lo, r[9], b));
            lo = (int32_t)tk_load32(x2);
            hi = (int32_t)tk_load32(x2 + 2);
            a = tk_smlabt(hi, r[12], tk_smlad(lo, r[10], a));
            b = tk_smlad(hi, r[11], tk_smlatb(lo, r[12], b));
        } else {
            int32_t lo = (int32_t)tk_load32(x0), mid = (int32_t)tk_load32(x0 + 2);
            int32_t hi = (int32_t)tk_load32(x0 + 4);
            a = tk_smlabt(mid, r[6], tk_smlad(lo, r[4], a));
            b = tk_smlabt(hi, r[6], tk_smlad(mid, r[4], b));
            lo = (int32_t)tk_load32(x1);
            mid = (int32_t)tk_load32(x1 + 2);
            hi = (int32_t)tk_load32(x1 + 4);
            a = tk_smlabt(mid, r[9], tk_smlad(lo, r[7], a));
            b = tk_smlabt(hi, r[9], tk_smlad(mid, r[7], b));
            lo = (int32_t)tk_load32(x2);
            mid = (int32_t)tk_load32(x2 + 2);
            hi = (int32_t)tk_load32(x2 + 4);
            a = tk_smlabt(mid, r[12], tk_smlad(lo, r[10], a));
            b = tk_smlabt(hi, r[12], tk_smlad(mid, r[10], b));
        }
        out[0] = (int8_t)tk_sat8(tk_requant(a, r[1], r[2], (int)r[3]));
        out[out_c] = (int8_t)tk_sat8(tk_requant(b, r[1], r[2], (int)r[3]));
    }
}

/* The same for the one column left over. */
static void tk_rows_3x3_single(const tk_rows_out *o, const int32_t *records,
                              const int16_t *const *rows, const int32_t *next, int ox,
                              int8_t *out)
{
    const int32_t n0 = next[0], n1 = next[1], n2 = next[2], step = o->stride_w;
    const int16_t *x0 = rows[0] + ox * step, *x1 = rows[1] + ox * step;
    const int16_t *x2 = rows[2] + ox * step;
    const int32_t *r = records;
    const int32_t *end = records + o->in_c * o->stride;
    for (; r != end; r += o->stride, x0 += n0, x1 += n1, x2 += n2, ++out) {
        int32_t a = tk_smlad((int32_t)tk_load32(x0), r[4], r[0]);
        a = tk_smlabt((int32_t)tk_load32(x0 + 2), r[6], a);
        a = tk_smlad((int32_t)tk_load32(x1), r[7], a);
        a = tk_smlabt((int32_t)tk_load32(x1 + 2), r[9], a);
        a = tk_smlad((int32_t)tk_load32(x2), r[10], a);
        a = tk_smlabt((int32_t)tk_load32(x2 + 2), r[12], a);
        *out = (int8_t)tk_sat8(tk_requant(a, r[1], r[2], (int)r[3]));
    }
}
#endif

/* Any case: one output channel of one output row, its taps in pairs along x. */
static void tk_rows_channel(const tk_rows_out *o, const int32_t *record,
                            const int16_t *const *rows, int8_t *out)
{
    const tk_rq_record *rq = (const tk_rq_record *)(const void *)record;
    const int32_t *pairs = record + 4;
    int ox, ky, k;
    for (ox = 0; ox < o->out_w; ++ox, out += o->out_c) {
        int32_t a = rq->bias;
        for (ky = 0; ky < o->k_h; ++ky) {
            const int16_t *x = rows[ky] + ox * o->stride_w;
#if defined(TK_ISA_DSP)
            if (o->kw2 == 2 && o->k_h == 3) { /* the 3x3 pairs: (w0|w1) and (w0|w2) */
                a = tk_smlad((int32_t)tk_load32(x), pairs[3 * ky], a);
                a = tk_smlabt((int32_t)tk_load32(x + 2), pairs[3 * ky + 2], a);
                continue;
            }
#endif
            for (k = 0; k < o->kw2; ++k, x += 2) {
                const int32_t w = pairs[ky * o->kw2 + k];
                a += (int32_t)(int16_t)(w & 0xFFFF) * x[0] + (w >> 16) * x[1];
            }
        }
        *out = (int8_t)tk_clamp(tk_requant_record(a, rq, o->fast), o->act_min, o->act_max);
    }
}

/* Output row oy: every channel from the ring rows of its window. */
static void tk_rows_output_row(const tk_conv_params *p, const tk_rows_layout *l,
                               const tk_rows_out *o, int oy, int8_t *out_row)
{
    const int16_t *rows[TK_ROWS_MAX_K];
    const int32_t iy0 = (int32_t)oy * p->stride_h - p->pad_top;
    const int32_t channel_bytes = l->cols;
    int ic, m, ky;
    for (ky = 0; ky < o->k_h; ++ky) {
        const int32_t row = iy0 + ky * p->dilation_h;
        rows[ky] = (row < 0 || row >= p->in_h) ? l->zp_row
                                               : l->ring + (row % l->slots) * o->in_c * l->cols;
    }
#if defined(TK_ISA_DSP)
    if (l->three_by_three && o->mult == 1 && o->fast && o->act_min == -128 &&
        o->act_max == 127) {
        /* From one channel to the next: a plane row further, or the same zero-point row. */
        int32_t next[3];
        int ox = 0;
        for (ky = 0; ky < 3; ++ky) {
            next[ky] = rows[ky] == l->zp_row ? 0 : l->cols;
        }
        for (; ox + 2 <= o->out_w; ox += 2) {
            tk_rows_3x3_pairs(o, l->records, rows, next, ox, out_row + ox * o->out_c);
        }
        if (ox < o->out_w) {
            tk_rows_3x3_single(o, l->records, rows, next, ox, out_row + ox * o->out_c);
        }
        return;
    }
#endif
    for (ic = 0; ic < o->in_c; ++ic) {
        const int16_t *channel_rows[TK_ROWS_MAX_K];
        for (ky = 0; ky < o->k_h; ++ky) {
            channel_rows[ky] = rows[ky] == l->zp_row ? l->zp_row
                                                     : rows[ky] + ic * channel_bytes;
        }
        for (m = 0; m < o->mult; ++m) {
            const int oc = ic * (int)o->mult + m;
            tk_rows_channel(o, l->records + oc * l->stride, channel_rows, out_row + oc);
        }
    }
}

void tk_depthwise_conv2d_rows_s8(const tk_conv_params *p, const int8_t *input,
                                 int8_t *output, void *scratch)
{
    const tk_rows_layout l = tk_rows_layout_of(p, scratch);
    const int32_t image_bytes = (int32_t)p->in_h * p->in_w * p->in_c;
    const int32_t row_bytes = (int32_t)p->out_w * p->out_c;
    tk_rows_out o;
    int b, oy, iy;

    o.act_min = p->act_min;
    o.act_max = p->act_max;
    o.out_c = p->out_c;
    o.out_w = p->out_w;
    o.in_c = p->in_c;
    o.stride_w = p->stride_w;
    o.k_h = p->k_h;
    o.kw2 = l.kw2;
    o.mult = p->depth_multiplier;
    o.cols = l.cols;
    o.stride = l.stride;
    o.fast = p->fast_requant;
    tk_rows_records(p, &l);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * image_bytes;
        int loaded = -1; /* the highest input row in the ring */
        tk_rows_fill(p, &l);
        for (oy = 0; oy < p->out_h; ++oy) {
            const int iy0 = oy * p->stride_h - p->pad_top;
            const int last = iy0 + (p->k_h - 1) * p->dilation_h;
            for (iy = loaded + 1 > iy0 ? loaded + 1 : iy0; iy <= last && iy < p->in_h; ++iy) {
                if (iy >= 0) {
                    tk_rows_load(p, &l, image, iy);
                    loaded = iy;
                }
            }
            tk_rows_output_row(p, &l, &o, oy, output + ((int32_t)b * p->out_h + oy) * row_bytes);
        }
    }
}
