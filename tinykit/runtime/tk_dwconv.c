/* DEPTHWISE_CONV_2D over a ring of 16-bit input rows: tk_depthwise_conv2d_rows_s8 (any
 * kernel size and depth multiplier), tk_depthwise_conv2d_3x3_s8 and
 * tk_depthwise_conv2d_3x3s2_s8 (3x3, multiplier 1, stride 2 across: entry points of
 * their own so that a firmware links only the code its layers use).
 *
 * Output rows are computed in order. Before output row y, the input rows its window
 * needs are converted once each to int16, one plane row per channel, into a ring of
 * R = (k_h - 1) * dilation_h + 1 rows (input row r in slot r % R), with the input zero
 * point in the left and right padding; rows above or below the image read a row of zero
 * points. Then the output row is computed from the ring: taps along x are paired (two
 * 16-bit inputs against two 16-bit weights: SMLAD on DSP cores). Input rows are read
 * once, in increasing order, and never after an output row whose window starts below
 * them is written (the `ring` streaming contract). The 3x3 entry points need the
 * one-rounding requantization (the generator checks); tk_depthwise_conv2d_rows_s8 also
 * takes TFLite's general form. A fused activation narrower than int8 is applied to each
 * output row afterwards.
 *
 * Scratch (tinykit.codegen.kernels.rows_scratch_bytes), 4-byte aligned:
 *   ring [R][in_c][cols] int16 | zero-point row [cols] int16 |
 *   per output channel: its requantization (tk_rq_record) and its weights as pairs
 * where cols covers the padded width plus one (a last odd tap is paired with a zero
 * weight and reads one column further). dilation_w must be 1.
 */
#include "tk_internal.h"

TK_SIZE_PRAGMA

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

TK_COLD static tk_rows_layout tk_rows_layout_of(const tk_conv_params *p, void *scratch,
                                                int three_by_three)
{
    const int32_t span = (int32_t)(p->out_w - 1) * p->stride_w + p->k_w;
    const int32_t cols = (span > p->in_w + p->pad_left ? span : p->in_w + p->pad_left) + 1;
    tk_rows_layout l;
    l.cols = (cols + 1) & ~1;
    l.slots = (int32_t)(p->k_h - 1) * p->dilation_h + 1;
    l.kw2 = (p->k_w + 1) / 2;
    l.three_by_three = three_by_three;
    l.stride = 4 + (l.three_by_three ? 9 : p->k_h * l.kw2);
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
 * a zero after an odd last tap; for the DSP 3x3 loop (w0|w1), (w1|w2), (w0|w2) per row. */
TK_INLINE void tk_rows_records(const tk_conv_params *p, const tk_rows_layout *l,
                               int three_by_three)
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
            if (three_by_three) {
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

/* Zero points in the zero-point row and in the padding columns of every ring row (the
 * image's columns are overwritten as rows come in). */
TK_COLD static void tk_rows_fill(const tk_conv_params *p, const tk_rows_layout *l)
{
    const int16_t zp = p->input_zero_point;
    const int32_t rows = l->slots * p->in_c, right = p->pad_left + p->in_w;
    int16_t *row = l->ring;
    int32_t r, x;
    for (r = 0; r < rows; ++r, row += l->cols) {
        for (x = 0; x < p->pad_left; ++x) {
            row[x] = zp;
        }
        for (x = right; x < l->cols; ++x) {
            row[x] = zp;
        }
    }
    for (x = 0; x < l->cols; ++x) {
        l->zp_row[x] = zp;
    }
}

/* Input row `iy` of `image` into its ring slot: one plane row per channel. */
TK_HOT static void tk_rows_load(const tk_conv_params *p, const tk_rows_layout *l, const int8_t *image,
                         int iy)
{
    const int32_t in_c = p->in_c, in_w = p->in_w, cols = l->cols;
    const int8_t *src = image + (int32_t)iy * in_w * in_c;
    int16_t *slot = l->ring + (iy % l->slots) * in_c * cols + p->pad_left;
    int32_t c = 0, x;
#if defined(TK_ISA_DSP)
    for (; c + 4 <= in_c; c += 4) {
        int16_t *d0 = slot + c * cols, *d1 = d0 + cols, *d2 = d1 + cols, *d3 = d2 + cols;
        const int8_t *s = src + c;
        int16_t *const end = d0 + in_w;
#if defined(__GNUC__) || defined(__clang__)
        /* Four channels of a pixel: one word, two SXTB16, four half-word stores. */
        uint32_t v, even, odd;
        __asm__ volatile(
            "1:\n\t"
            "ldr    %[v], [%[s]]\n\t"
            "add    %[s], %[s], %[step]\n\t"
            "sxtb16 %[e], %[v]\n\t"
            "sxtb16 %[o], %[v], ror #8\n\t"
            "strh   %[e], [%[d0]], #2\n\t"
            "strh   %[o], [%[d1]], #2\n\t"
            "lsr    %[e], %[e], #16\n\t"
            "lsr    %[o], %[o], #16\n\t"
            "strh   %[e], [%[d2]], #2\n\t"
            "strh   %[o], [%[d3]], #2\n\t"
            "cmp    %[d0], %[end]\n\t"
            "bne    1b\n\t"
            : [s] "+r"(s), [d0] "+r"(d0), [d1] "+r"(d1), [d2] "+r"(d2), [d3] "+r"(d3),
              [v] "=&r"(v), [e] "=&r"(even), [o] "=&r"(odd)
            : [step] "r"(in_c), [end] "r"(end)
            : "cc", "memory");
#else
        while (d0 != end) {
            const uint32_t v = tk_load32(s);
            const uint32_t even = (uint32_t)tk_sxtb16(v), odd = (uint32_t)tk_sxtb16_ror8(v);
            s += in_c;
            *d0++ = (int16_t)even;
            *d1++ = (int16_t)odd;
            *d2++ = (int16_t)(even >> 16);
            *d3++ = (int16_t)(odd >> 16);
        }
#endif
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
    int32_t out_c, out_w, in_c, stride_w, k_h, kw2, mult, cols, stride;
    int fast; /* the one-rounding requantization (the 3x3 loops need it) */
} tk_rows_out;

#if defined(TK_ISA_DSP)
/* DSP, 3x3, one input channel per output channel: every channel of an output column
 * (or two) a turn, so each channel's record, its requantization and nine weight pairs,
 * is loaded once per column (or two). With x0..x3 a kernel row's two words and the
 * pairs (w0|w1), (w1|w2), (w0|w2):
 *   o0 = x0w0 + x1w1 (SMLAD) + x2w2 (SMLABT),  o1 = x1w0 (SMLATB) + x2w1 + x3w2 (SMLAD). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__OPTIMIZE__)
#define TK_ROWS_ASM 1
/* Two columns, stride 1, every kernel row inside the image, in assembly (gcc's
 * allocation of the same C spills 17 instructions a turn). r walks the 52-byte channel
 * records, x0..x2 the three plane rows (cols int16 apart per channel); writes out[0]
 * and out[out_c]. */
static void tk_rows_3x3_s1(const int32_t *r, const int32_t *end, const int16_t *x0,
                           const int16_t *x1, const int16_t *x2, int32_t step_bytes,
                           int8_t *out, int32_t out_c)
{
    int32_t a, b, lo, hi, w;
    const int32_t second = out_c - 1; /* out has moved on by one when o1 is stored */
    __asm__ volatile(
        "1:\n\t"
        "ldr    %[a], [%[r]]\n\t"
        "ldr    %[lo], [%[x0]]\n\t"
        "ldr    %[hi], [%[x0], #4]\n\t"
        "mov    %[b], %[a]\n\t"
        "ldr    %[w], [%[r], #16]\n\t"
        "smlad  %[a], %[lo], %[w], %[a]\n\t"
        "ldr    %[w], [%[r], #24]\n\t"
        "smlabt %[a], %[hi], %[w], %[a]\n\t"
        "smlatb %[b], %[lo], %[w], %[b]\n\t"
        "ldr    %[w], [%[r], #20]\n\t"
        "smlad  %[b], %[hi], %[w], %[b]\n\t"
        "ldr    %[lo], [%[x1]]\n\t"
        "ldr    %[hi], [%[x1], #4]\n\t"
        "ldr    %[w], [%[r], #28]\n\t"
        "smlad  %[a], %[lo], %[w], %[a]\n\t"
        "ldr    %[w], [%[r], #36]\n\t"
        "smlabt %[a], %[hi], %[w], %[a]\n\t"
        "smlatb %[b], %[lo], %[w], %[b]\n\t"
        "ldr    %[w], [%[r], #32]\n\t"
        "smlad  %[b], %[hi], %[w], %[b]\n\t"
        "ldr    %[lo], [%[x2]]\n\t"
        "ldr    %[hi], [%[x2], #4]\n\t"
        "ldr    %[w], [%[r], #40]\n\t"
        "smlad  %[a], %[lo], %[w], %[a]\n\t"
        "ldr    %[w], [%[r], #48]\n\t"
        "smlabt %[a], %[hi], %[w], %[a]\n\t"
        "smlatb %[b], %[lo], %[w], %[b]\n\t"
        "ldr    %[w], [%[r], #44]\n\t"
        "smlad  %[b], %[hi], %[w], %[b]\n\t"
        "add    %[x0], %[x0], %[n]\n\t"
        "add    %[x1], %[x1], %[n]\n\t"
        "add    %[x2], %[x2], %[n]\n\t"
        /* o0 and o1: the one-rounding requantization (tk_requant), SSAT, store */
        "ldr    %[w], [%[r], #4]\n\t"
        "ldr    %[hi], [%[r], #8]\n\t"
        "and    %[lo], %[a], #0x80000000\n\t"
        "orr    %[lo], %[lo], #0x40000000\n\t"
        "add    %[hi], %[hi], %[a], asr #31\n\t"
        "smlal  %[lo], %[hi], %[a], %[w]\n\t"
        "ldr    %[lo], [%[r], #12]\n\t"
        "asr    %[hi], %[hi], %[lo]\n\t"
        "ssat   %[hi], #8, %[hi]\n\t"
        "strb   %[hi], [%[out]], #1\n\t"
        "ldr    %[hi], [%[r], #8]\n\t"
        "and    %[lo], %[b], #0x80000000\n\t"
        "orr    %[lo], %[lo], #0x40000000\n\t"
        "add    %[hi], %[hi], %[b], asr #31\n\t"
        "smlal  %[lo], %[hi], %[b], %[w]\n\t"
        "ldr    %[lo], [%[r], #12]\n\t"
        "asr    %[hi], %[hi], %[lo]\n\t"
        "ssat   %[hi], #8, %[hi]\n\t"
        "strb   %[hi], [%[out], %[second]]\n\t"
        "add    %[r], %[r], #52\n\t"
        "cmp    %[r], %[end]\n\t"
        "bne    1b\n\t"
        : [r] "+r"(r), [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2), [out] "+r"(out),
          [a] "=&r"(a), [b] "=&r"(b), [lo] "=&r"(lo), [hi] "=&r"(hi), [w] "=&r"(w)
        : [end] "r"(end), [n] "r"(step_bytes), [second] "r"(second)
        : "cc", "memory");
}

/* The same for stride 2: o1 reads x2..x4 with o0's pairs (w0|w1) and (w0|w2). */
static void tk_rows_3x3_s2(const int32_t *r, const int32_t *end, const int16_t *x0,
                           const int16_t *x1, const int16_t *x2, int32_t step_bytes,
                           int8_t *out, int32_t out_c)
{
    int32_t a, b, lo, hi, w;
    const int32_t second = out_c - 1; /* out has moved on by one when o1 is stored */
    __asm__ volatile(
        "1:\n\t"
        "ldr    %[a], [%[r]]\n\t"
        "mov    %[b], %[a]\n\t"
        "ldr    %[lo], [%[x0]]\n\t"
        "ldr    %[hi], [%[x0], #4]\n\t"
        "ldr    %[w], [%[r], #16]\n\t"
        "smlad  %[a], %[lo], %[w], %[a]\n\t"
        "smlad  %[b], %[hi], %[w], %[b]\n\t"
        "ldr    %[lo], [%[x0], #8]\n\t"
        "ldr    %[w], [%[r], #24]\n\t"
        "smlabt %[a], %[hi], %[w], %[a]\n\t"
        "smlabt %[b], %[lo], %[w], %[b]\n\t"
        "ldr    %[lo], [%[x1]]\n\t"
        "ldr    %[hi], [%[x1], #4]\n\t"
        "ldr    %[w], [%[r], #28]\n\t"
        "smlad  %[a], %[lo], %[w], %[a]\n\t"
        "smlad  %[b], %[hi], %[w], %[b]\n\t"
        "ldr    %[lo], [%[x1], #8]\n\t"
        "ldr    %[w], [%[r], #36]\n\t"
        "smlabt %[a], %[hi], %[w], %[a]\n\t"
        "smlabt %[b], %[lo], %[w], %[b]\n\t"
        "ldr    %[lo], [%[x2]]\n\t"
        "ldr    %[hi], [%[x2], #4]\n\t"
        "ldr    %[w], [%[r], #40]\n\t"
        "smlad  %[a], %[lo], %[w], %[a]\n\t"
        "smlad  %[b], %[hi], %[w], %[b]\n\t"
        "ldr    %[lo], [%[x2], #8]\n\t"
        "ldr    %[w], [%[r], #48]\n\t"
        "smlabt %[a], %[hi], %[w], %[a]\n\t"
        "smlabt %[b], %[lo], %[w], %[b]\n\t"
        "add    %[x0], %[x0], %[n]\n\t"
        "add    %[x1], %[x1], %[n]\n\t"
        "add    %[x2], %[x2], %[n]\n\t"
        /* o0 and o1: the one-rounding requantization (tk_requant), SSAT, store */
        "ldr    %[w], [%[r], #4]\n\t"
        "ldr    %[hi], [%[r], #8]\n\t"
        "and    %[lo], %[a], #0x80000000\n\t"
        "orr    %[lo], %[lo], #0x40000000\n\t"
        "add    %[hi], %[hi], %[a], asr #31\n\t"
        "smlal  %[lo], %[hi], %[a], %[w]\n\t"
        "ldr    %[lo], [%[r], #12]\n\t"
        "asr    %[hi], %[hi], %[lo]\n\t"
        "ssat   %[hi], #8, %[hi]\n\t"
        "strb   %[hi], [%[out]], #1\n\t"
        "ldr    %[hi], [%[r], #8]\n\t"
        "and    %[lo], %[b], #0x80000000\n\t"
        "orr    %[lo], %[lo], #0x40000000\n\t"
        "add    %[hi], %[hi], %[b], asr #31\n\t"
        "smlal  %[lo], %[hi], %[b], %[w]\n\t"
        "ldr    %[lo], [%[r], #12]\n\t"
        "asr    %[hi], %[hi], %[lo]\n\t"
        "ssat   %[hi], #8, %[hi]\n\t"
        "strb   %[hi], [%[out], %[second]]\n\t"
        "add    %[r], %[r], #52\n\t"
        "cmp    %[r], %[end]\n\t"
        "bne    1b\n\t"
        : [r] "+r"(r), [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2), [out] "+r"(out),
          [a] "=&r"(a), [b] "=&r"(b), [lo] "=&r"(lo), [hi] "=&r"(hi), [w] "=&r"(w)
        : [end] "r"(end), [n] "r"(step_bytes), [second] "r"(second)
        : "cc", "memory");
}
#endif

/* One column, any stride; a kernel row above or below the image reads the zero-point
 * row for every channel (next[ky] = 0). */
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

/* The ring rows of output row oy's window (channel 0; the zero-point row outside). */
static void tk_rows_window(const tk_conv_params *p, const tk_rows_layout *l, int oy,
                           const int16_t **rows)
{
    const int32_t iy0 = (int32_t)oy * p->stride_h - p->pad_top;
    int ky;
    for (ky = 0; ky < p->k_h; ++ky) {
        const int32_t row = iy0 + ky * p->dilation_h;
        rows[ky] = (row < 0 || row >= p->in_h) ? l->zp_row
                                               : l->ring + (row % l->slots) * p->in_c * l->cols;
    }
}

#if defined(TK_ISA_DSP)
/* Output row oy of a 3x3 layer with one output channel per input channel; `asm_stride`
 * (a constant: 1 or 2) is the stride the assembly loop of this entry point handles. */
TK_INLINE void tk_rows_output_3x3(const tk_rows_layout *l, const tk_rows_out *o,
                                  const int16_t *const *rows, int8_t *out_row,
                                  int asm_stride)
{
    /* From one channel to the next: a plane row further, or the same zero-point row. */
    int32_t next[3];
    int ox = 0, ky;
    for (ky = 0; ky < 3; ++ky) {
        next[ky] = rows[ky] == l->zp_row ? 0 : l->cols;
    }
    for (; ox + 2 <= o->out_w; ox += 2) {
#if defined(TK_ROWS_ASM)
        if (o->stride_w == asm_stride && next[0] && next[2]) {
            const int32_t x = ox * asm_stride;
            (asm_stride == 1 ? tk_rows_3x3_s1 : tk_rows_3x3_s2)(
                l->records, l->records + o->in_c * o->stride, rows[0] + x, rows[1] + x,
                rows[2] + x, 2 * l->cols, out_row + ox * o->out_c, o->out_c);
            continue;
        }
#else
        (void)asm_stride;
#endif
        tk_rows_3x3_single(o, l->records, rows, next, ox, out_row + ox * o->out_c);
        tk_rows_3x3_single(o, l->records, rows, next, ox + 1, out_row + (ox + 1) * o->out_c);
    }
    if (ox < o->out_w) {
        tk_rows_3x3_single(o, l->records, rows, next, ox, out_row + ox * o->out_c);
    }
}
#endif

/* Output row oy of any layer: channel by channel. */
static void tk_rows_output_any(const tk_rows_layout *l, const tk_rows_out *o,
                               const int16_t *const *rows, int8_t *out_row)
{
    int ic, m, ky;
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

/* Every entry point: `mode` (a constant) 0 for any layer, 1 or 2 for the DSP 3x3 output
 * loop with the assembly for that stride. */
TK_INLINE void tk_rows_kernel(const tk_conv_params *p, const int8_t *input, int8_t *output,
                              void *scratch, int mode)
{
    const int three_by_three = mode != 0;
    const tk_rows_layout l = tk_rows_layout_of(p, scratch, three_by_three);
    const int32_t image_bytes = (int32_t)p->in_h * p->in_w * p->in_c;
    const int32_t row_bytes = (int32_t)p->out_w * p->out_c;
    const int16_t *rows[TK_ROWS_MAX_K];
    tk_rows_out o;
    int b, oy, iy;

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
    tk_rows_records(p, &l, three_by_three);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * image_bytes;
        int loaded = -1; /* the highest input row in the ring */
        tk_rows_fill(p, &l);
        for (oy = 0; oy < p->out_h; ++oy) {
            const int iy0 = oy * p->stride_h - p->pad_top;
            const int last = iy0 + (p->k_h - 1) * p->dilation_h;
            int8_t *out_row = output + ((int32_t)b * p->out_h + oy) * row_bytes;
            for (iy = loaded + 1 > iy0 ? loaded + 1 : iy0; iy <= last && iy < p->in_h; ++iy) {
                if (iy >= 0) {
                    tk_rows_load(p, &l, image, iy);
                    loaded = iy;
                }
            }
            tk_rows_window(p, &l, oy, rows);
#if defined(TK_ISA_DSP)
            if (three_by_three) {
                tk_rows_output_3x3(&l, &o, rows, out_row, mode);
            } else {
                tk_rows_output_any(&l, &o, rows, out_row);
            }
#else
            tk_rows_output_any(&l, &o, rows, out_row);
#endif
            tk_clamp_s8(out_row, row_bytes, p->act_min, p->act_max);
        }
    }
}

void tk_depthwise_conv2d_rows_s8(const tk_conv_params *p, const int8_t *input,
                                 int8_t *output, void *scratch)
{
    tk_rows_kernel(p, input, output, scratch, 0);
}

void tk_depthwise_conv2d_3x3_s8(const tk_conv_params *p, const int8_t *input,
                                int8_t *output, void *scratch)
{
#if defined(TK_ISA_DSP)
    tk_rows_kernel(p, input, output, scratch, 1);
#else
    tk_rows_kernel(p, input, output, scratch, 0);
#endif
}

void tk_depthwise_conv2d_3x3s2_s8(const tk_conv_params *p, const int8_t *input,
                                  int8_t *output, void *scratch)
{
#if defined(TK_ISA_DSP)
    tk_rows_kernel(p, input, output, scratch, 2);
#else
    tk_rows_kernel(p, input, output, scratch, 0);
#endif
}
