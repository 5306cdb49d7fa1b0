/* Element-wise kernels with fast paths: tk_add_table_s8, tk_average_pool_s8. See
 * tinykit_kernels.h.
 *
 * Element i is read before it is written and never read again (the `elements`
 * streaming contract), so the output may overlap either input.
 */
#include "tk_internal.h"

TK_SIZE_PRAGMA


TK_HOT void tk_add_table_s8(const tk_add_table_params *p, const int8_t *input1,
                     const int8_t *input2, int8_t *output)
{
    /* Tables indexed by the signed byte: entry 0 is the value for -128. */
    const int32_t *t1 = p->table1 + 128, *t2 = p->table2 + 128;
    const int32_t count = p->count, m = p->output_multiplier;
    const int32_t lo = p->act_min, hi = p->act_max;
    int32_t i;
    if (p->fast_requant) {
        const int sh = -p->output_shift - 1;
        const int32_t c_hi = tk_requant_c_hi(p->output_zero_point, sh);
        if (lo == -128 && hi == 127) {
            for (i = 0; i < count; ++i) {
                output[i] = (int8_t)tk_sat8(tk_requant(t1[input1[i]] + t2[input2[i]], m, c_hi, sh));
            }
            return;
        }
        for (i = 0; i < count; ++i) {
            const int32_t v = tk_requant(t1[input1[i]] + t2[input2[i]], m, c_hi, sh);
            output[i] = (int8_t)tk_clamp(v, lo, hi);
        }
        return;
    }
    for (i = 0; i < count; ++i) {
        const int32_t v = tk_multiply_by_quantized_multiplier(t1[input1[i]] + t2[input2[i]], m,
                                                              (int)p->output_shift);
        output[i] = (int8_t)tk_clamp(v + p->output_zero_point, lo, hi);
    }
}

/* ---- AVERAGE_POOL_2D (raster order: each output pixel after its window) ---------- */

/* The window of output (oy, ox) clipped to the image: [y0, y1) x [x0, x1). */
static void tk_pool_window(const tk_pool_params *p, int oy, int ox, int *y0, int *y1, int *x0,
                           int *x1)
{
    const int iy = oy * p->stride_h - p->pad_top;
    const int ix = ox * p->stride_w - p->pad_left;
    *y0 = iy < 0 ? 0 : iy;
    *x0 = ix < 0 ? 0 : ix;
    *y1 = iy + p->filter_h < p->in_h ? iy + p->filter_h : p->in_h;
    *x1 = ix + p->filter_w < p->in_w ? ix + p->filter_w : p->in_w;
}

/* Round half away from zero, as TFLite's AveragePool; the clamp is the activation. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int8_t tk_average(int32_t acc, int32_t count, const tk_pool_params *p)
{
    if (count > 0) {
        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    }
    return (int8_t)tk_clamp(acc, p->act_min, p->act_max);
}

#if defined(TK_ISA_DSP)
/* Four channels summed over a window of `rows` runs of `cols` pixels (`step` bytes apart,
 * runs `line` bytes apart), in 16-bit lanes: returns channels 0 and 2, *odd 1 and 3. */
TK_HOT static uint32_t tk_pool_sum4(const int8_t *px, int32_t rows, int32_t cols, int32_t step,
                                    int32_t line, uint32_t *odd)
{
    uint32_t even = 0, o = 0;
    int32_t y, x;
    for (y = 0; y < rows; ++y, px += line) {
        const int8_t *q = px;
        for (x = 0; x < cols; ++x, q += step) {
            const uint32_t v = tk_load32(q);
            even = __sxtab16(even, v);
#if defined(__GNUC__) || defined(__clang__)
            __asm__("sxtab16 %0, %0, %1, ror #8" : "+r"(o) : "r"(v));
#else
            o = __sxtab16(o, (v >> 8) | (v << 24));
#endif
        }
    }
    *odd = o;
    return even;
}
#endif

void tk_average_pool_s8(const tk_pool_params *p, const int8_t *input, int8_t *output)
{
    const int32_t channels = p->channels, in_w = p->in_w;
    int b, oy, ox, y, x, y0, y1, x0, x1;

    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (int32_t)b * p->in_h * in_w * channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox, output += channels) {
                int32_t count, c = 0;
                tk_pool_window(p, oy, ox, &y0, &y1, &x0, &x1);
                count = (int32_t)(y1 - y0) * (x1 - x0);
#if defined(TK_ISA_DSP)
                /* Four channels at a time, summed in 16-bit lanes with SXTAB16: exact for
                 * windows of up to 256 values (256 * 128 fits). */
                for (; count <= 256 && c + 4 <= channels; c += 4) {
                    uint32_t odd;
                    const uint32_t even = tk_pool_sum4(
                        image + ((int32_t)y0 * in_w + x0) * channels + c, y1 - y0, x1 - x0,
                        channels, in_w * channels, &odd);
                    output[c] = tk_average((int16_t)even, count, p);
                    output[c + 1] = tk_average((int16_t)odd, count, p);
                    output[c + 2] = tk_average((int32_t)even >> 16, count, p);
                    output[c + 3] = tk_average((int32_t)odd >> 16, count, p);
                }
#endif
                for (; c < channels; ++c) {
                    int32_t acc = 0;
                    for (y = y0; y < y1; ++y) {
                        for (x = x0; x < x1; ++x) {
                            acc += image[((int32_t)y * in_w + x) * channels + c];
                        }
                    }
                    output[c] = tk_average(acc, count, p);
                }
            }
        }
    }
}
