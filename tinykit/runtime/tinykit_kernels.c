/* tinykit int8 kernels: see tinykit_kernels.h. Portable C99, no heap. */
#include "tinykit_kernels.h"
#include "tk_internal.h"

TK_SIZE_PRAGMA

/* Everything in this file is either set-up, a fallback or cheap per byte: built for size
 * (the hot kernels live in tk_conv.c, tk_dwconv.c, tk_fc.c and tk_eltwise.c). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif

#include <math.h>
#include <string.h>

/* ---- fixed point ---------------------------------------------------------- */

/* gemmlowp SaturatingRoundingDoublingHighMul: (a * b * 2) >> 32, rounded. */
static int32_t tk_srdhm(int32_t a, int32_t b)
{
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    /* C99 division truncates toward zero, as TFLite's does. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, rounded half away from zero. */
static int32_t tk_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t tk_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift)
{
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left_shift);
    return tk_rounding_divide_by_pot(tk_srdhm(shifted, multiplier), right_shift);
}

static int8_t tk_clamp_value(int32_t value, int32_t low, int32_t high)
{
    if (value < low) {
        value = low;
    }
    if (value > high) {
        value = high;
    }
    return (int8_t)value;
}

/* ---- helpers of the kernels in the other files (tk_internal.h) ------------------------ */

/* A fused activation narrower than int8: clamp n bytes to [lo, hi] in place (nothing to
 * do for [-128, 127]). On DSP cores four bytes at a time: SSUB8 sets a lane's GE flag
 * where the first operand is not below the second, SEL takes those lanes from it. */
TK_COLD void tk_clamp_s8(int8_t *p, int32_t n, int8_t lo, int8_t hi)
{
    int32_t i = 0;
    if (lo == -128 && hi == 127) {
        return;
    }
#if defined(TK_ISA_DSP)
    {
        const uint32_t lo4 = 0x01010101u * (uint8_t)lo, hi4 = 0x01010101u * (uint8_t)hi;
        for (; i + 4 <= n; i += 4) {
            uint32_t v = tk_load32(p + i);
            (void)__ssub8(v, lo4);
            v = __sel(v, lo4);
            (void)__ssub8(hi4, v);
            v = __sel(v, hi4);
            tk_store32(p + i, v);
        }
    }
#endif
    for (; i < n; ++i) {
        p[i] = (int8_t)tk_clamp(p[i], lo, hi);
    }
}

/* `count` records; bias may be NULL (zeros); per_channel 0 repeats multiplier[0]. */
TK_COLD void tk_rq_records(tk_rq_record *out, int32_t count, const int32_t *bias,
                                 const int32_t *multiplier, const int8_t *shift,
                                 int per_channel, int fast, int32_t zero_point)
{
    int32_t c;
    for (c = 0; c < count; ++c) {
        const tk_channel_rq q = tk_channel(multiplier, shift, per_channel ? (int)c : 0, fast,
                                           zero_point);
        out[c].bias = bias != NULL ? bias[c] : 0;
        out[c].multiplier = q.multiplier;
        out[c].c_hi = q.c_hi;
        out[c].shift = q.shift;
    }
}

/* ---- CONV_2D ---------------------------------------------------------------- */

void tk_conv2d_s8(const tk_conv_params *p, const int8_t *input, int8_t *output)
{
    const int in_c_per_group = p->in_c / p->groups;
    const int out_c_per_group = p->out_c / p->groups;
    const int filter_stride = p->k_h * p->k_w * in_c_per_group;
    int b, oy, ox, oc, ky, kx, c;

    for (b = 0; b < p->batches; ++b) {
        for (oy = 0; oy < p->out_h; ++oy) {
            const int iy0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int ix0 = ox * p->stride_w - p->pad_left;
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int first_c = (oc / out_c_per_group) * in_c_per_group;
                    const int8_t *w = p->filter + (int32_t)oc * filter_stride;
                    int32_t acc = p->bias[oc];
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int iy = iy0 + ky * p->dilation_h;
                        for (kx = 0; kx < p->k_w; ++kx, w += in_c_per_group) {
                            const int ix = ix0 + kx * p->dilation_w;
                            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                                /* Padding holds the input zero point: the folded
                                 * bias then adds exactly nothing for it. */
                                for (c = 0; c < in_c_per_group; ++c) {
                                    acc += (int32_t)w[c] * p->input_zero_point;
                                }
                            } else {
                                const int8_t *x = input +
                                    (((int32_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c + first_c;
                                for (c = 0; c < in_c_per_group; ++c) {
                                    acc += (int32_t)w[c] * x[c];
                                }
                            }
                        }
                    }
                    acc = tk_multiply_by_quantized_multiplier(acc, p->multiplier[oc], p->shift[oc]);
                    *output++ = tk_clamp_value(acc + p->output_zero_point, p->act_min, p->act_max);
                }
            }
        }
    }
}

/* ---- DEPTHWISE_CONV_2D ------------------------------------------------------ */

void tk_depthwise_conv2d_s8(const tk_conv_params *p, const int8_t *input, int8_t *output)
{
    int b, oy, ox, ic, m, ky, kx;

    for (b = 0; b < p->batches; ++b) {
        for (oy = 0; oy < p->out_h; ++oy) {
            const int iy0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int ix0 = ox * p->stride_w - p->pad_left;
                for (ic = 0; ic < p->in_c; ++ic) {
                    for (m = 0; m < p->depth_multiplier; ++m) {
                        const int oc = ic * p->depth_multiplier + m;
                        int32_t acc = p->bias[oc];
                        for (ky = 0; ky < p->k_h; ++ky) {
                            const int iy = iy0 + ky * p->dilation_h;
                            for (kx = 0; kx < p->k_w; ++kx) {
                                const int ix = ix0 + kx * p->dilation_w;
                                const int32_t w = p->filter[(ky * p->k_w + kx) * p->out_c + oc];
                                if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                                    acc += w * p->input_zero_point;
                                } else {
                                    acc += w * input[(((int32_t)b * p->in_h + iy) * p->in_w + ix) *
                                                     p->in_c + ic];
                                }
                            }
                        }
                        acc = tk_multiply_by_quantized_multiplier(acc, p->multiplier[oc],
                                                                  p->shift[oc]);
                        output[(((int32_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                            tk_clamp_value(acc + p->output_zero_point, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

/* ---- pooling ---------------------------------------------------------------- */

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

void tk_max_pool_s8(const tk_pool_params *p, const int8_t *input, int8_t *output)
{
    int b, oy, ox, c, y, x, y0, y1, x0, x1;

    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (int32_t)b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                tk_pool_window(p, oy, ox, &y0, &y1, &x0, &x1);
                for (c = 0; c < p->channels; ++c) {
                    int32_t best = -128;
                    for (y = y0; y < y1; ++y) {
                        for (x = x0; x < x1; ++x) {
                            const int32_t v = image[((int32_t)y * p->in_w + x) * p->channels + c];
                            best = v > best ? v : best;
                        }
                    }
                    *output++ = tk_clamp_value(best, p->act_min, p->act_max);
                }
            }
        }
    }
}

/* ---- N-d index walking ------------------------------------------------------ */

/* Advances a mixed-radix counter; returns 0 once it wraps past the last index. */
static int tk_next_index(int ndims, const int32_t *dims, int32_t *index)
{
    int d;
    for (d = ndims - 1; d >= 0; --d) {
        if (++index[d] < dims[d]) {
            return 1;
        }
        index[d] = 0;
    }
    return 0;
}

static int32_t tk_offset_of(int ndims, const int32_t *index, const int32_t *strides)
{
    int32_t offset = 0;
    int d;
    for (d = 0; d < ndims; ++d) {
        offset += index[d] * strides[d];
    }
    return offset;
}

/* ---- MEAN ------------------------------------------------------------------- */

void tk_mean_s8(const tk_mean_params *p, const int8_t *input, int8_t *output)
{
    int32_t kept[TK_MAX_DIMS] = {0};
    int32_t reduced[TK_MAX_DIMS];

    do {
        const int8_t *base = input + tk_offset_of(p->num_kept, kept, p->kept_strides);
        int32_t sum = 0;
        int32_t value;
        memset(reduced, 0, sizeof(reduced));
        do {
            sum += base[tk_offset_of(p->num_reduced, reduced, p->reduced_strides)];
        } while (tk_next_index(p->num_reduced, p->reduced_dims, reduced));
        value = tk_multiply_by_quantized_multiplier(sum - p->input_zero_point * p->count,
                                                    p->multiplier, (int)p->shift);
        *output++ = tk_clamp_value(value + p->output_zero_point, -128, 127);
    } while (tk_next_index(p->num_kept, p->kept_dims, kept));
}

/* ---- ADD, SUB, MUL ---------------------------------------------------------- */

static int8_t tk_binary_element(const tk_binary_params *p, int32_t a, int32_t b)
{
    int32_t result;
    a += p->input1_offset;
    b += p->input2_offset;
    if (p->kind == TK_MUL) {
        result = tk_multiply_by_quantized_multiplier(a * b, p->output_multiplier,
                                                     (int)p->output_shift);
    } else {
        const int32_t scaled_a = tk_multiply_by_quantized_multiplier(
            a * ((int32_t)1 << p->left_shift), p->input1_multiplier, (int)p->input1_shift);
        const int32_t scaled_b = tk_multiply_by_quantized_multiplier(
            b * ((int32_t)1 << p->left_shift), p->input2_multiplier, (int)p->input2_shift);
        const int32_t raw = p->kind == TK_ADD ? scaled_a + scaled_b : scaled_a - scaled_b;
        result = tk_multiply_by_quantized_multiplier(raw, p->output_multiplier,
                                                     (int)p->output_shift);
    }
    return tk_clamp_value(result + p->output_offset, p->act_min, p->act_max);
}

void tk_binary_s8(const tk_binary_params *p, const int8_t *input1, const int8_t *input2,
                  int8_t *output)
{
    /* The innermost dimension runs as a flat loop; the outer ones use a counter. */
    const int outer = p->ndims - 1;
    const int32_t inner = p->dims[outer];
    const int32_t step1 = p->strides1[outer];
    const int32_t step2 = p->strides2[outer];
    int32_t index[TK_MAX_DIMS] = {0};
    int32_t i;

    do {
        const int8_t *a = input1 + tk_offset_of(outer, index, p->strides1);
        const int8_t *b = input2 + tk_offset_of(outer, index, p->strides2);
        for (i = 0; i < inner; ++i) {
            *output++ = tk_binary_element(p, a[i * step1], b[i * step2]);
        }
    } while (tk_next_index(outer, p->dims, index));
}

/* ---- table lookup ----------------------------------------------------------- */

void tk_lut_s8(const int8_t *table, int32_t count, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = table[(int32_t)input[i] + 128];
    }
}

/* ---- SOFTMAX (gemmlowp fixed point, as reference_ops::Softmax) --------------- */

TK_COLD static int tk_count_leading_zeros(uint32_t x)
{
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent. */
TK_COLD static int32_t tk_saturating_shift_left(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)(((int32_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1 (Q0.31 in, Q0.31 out). */
TK_COLD static int32_t tk_one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t constant_48_over_17 = 1515870810;     /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540; /* Q2.29 */
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = constant_48_over_17 + tk_srdhm(half_denominator, constant_neg_32_over_17);
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = tk_srdhm(half_denominator, x);
        const int32_t one_minus = one_q2 - half_denominator_times_x;
        x = x + tk_saturating_shift_left(tk_srdhm(x, one_minus), 2);
    }
    return tk_saturating_shift_left(x, 1);
}

TK_COLD void tk_softmax_s8(const tk_softmax_params *p, const int8_t *input, int8_t *output)
{
    int32_t r, c;

    for (r = 0; r < p->rows; ++r) {
        const int8_t *x = input + r * p->depth;
        int8_t *y = output + r * p->depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps = 0; /* Q12.19 */
        int headroom_plus_one, num_bits_over_unit;
        int32_t shifted_scale;
        for (c = 0; c < p->depth; ++c) {
            max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
        }
        for (c = 0; c < p->depth; ++c) {
            sum_of_exps += tk_rounding_divide_by_pot(p->exp_table[max_in_row - x[c]], 12);
        }
        headroom_plus_one = tk_count_leading_zeros((uint32_t)sum_of_exps);
        num_bits_over_unit = 12 - headroom_plus_one;
        shifted_scale = tk_one_over_one_plus_x(
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31)));
        for (c = 0; c < p->depth; ++c) {
            const int32_t exp_in_0 = p->exp_table[max_in_row - x[c]];
            const int32_t unsat = tk_rounding_divide_by_pot(tk_srdhm(shifted_scale, exp_in_0),
                                                            num_bits_over_unit + 31 - 8);
            y[c] = tk_clamp_value(unsat - 128, -128, 127);
        }
    }
}

/* ---- data movement ---------------------------------------------------------- */

void tk_copy_nd(const tk_copy_params *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t size = (size_t)p->elem_size;
    int32_t index[TK_MAX_DIMS] = {0};

    do {
        const int32_t from = p->in_offset + tk_offset_of(p->ndims, index, p->in_strides);
        const int32_t to = p->out_offset + tk_offset_of(p->ndims, index, p->out_strides);
        memcpy(out + (size_t)to * size, in + (size_t)from * size, size);
    } while (tk_next_index(p->ndims, p->dims, index));
}

void tk_fill_s8(int8_t value, int32_t count, int8_t *output)
{
    memset(output, (unsigned char)value, (size_t)count);
}

void tk_resize_nearest(const tk_resize_params *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t pixel = (size_t)p->channels * (size_t)p->elem_size;
    int b, y, x;

    for (b = 0; b < p->batches; ++b) {
        for (y = 0; y < p->out_h; ++y) {
            for (x = 0; x < p->out_w; ++x) {
                const size_t from = (((size_t)b * p->in_h + (size_t)p->y_map[y]) * p->in_w +
                                     (size_t)p->x_map[x]) * pixel;
                memcpy(out, in + from, pixel);
                out += pixel;
            }
        }
    }
}

void tk_space_to_batch(const tk_space_batch_params *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t pixel = (size_t)p->channels * (size_t)p->elem_size;
    int ob, oy, ox;

    for (ob = 0; ob < p->out_b; ++ob) {
        const int ib = ob % p->in_b;
        const int shift_w = (ob / p->in_b) % p->block_w;
        const int shift_h = (ob / p->in_b) / p->block_w;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int iy = oy * p->block_h + shift_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int ix = ox * p->block_w + shift_w - p->pad_left;
                if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                    memset(out, (unsigned char)p->pad_value, pixel);
                } else {
                    memcpy(out, in + (((size_t)ib * p->in_h + iy) * p->in_w + ix) * pixel, pixel);
                }
                out += pixel;
            }
        }
    }
}

void tk_batch_to_space(const tk_space_batch_params *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t pixel = (size_t)p->channels * (size_t)p->elem_size;
    int ib, iy, ix;

    for (ib = 0; ib < p->in_b; ++ib) {
        const int ob = ib % p->out_b;
        const int spatial = ib / p->out_b;
        for (iy = 0; iy < p->in_h; ++iy) {
            const int oy = iy * p->block_h + spatial / p->block_w - p->pad_top;
            if (oy < 0 || oy >= p->out_h) {
                continue;
            }
            for (ix = 0; ix < p->in_w; ++ix) {
                const int ox = ix * p->block_w + spatial % p->block_w - p->pad_left;
                if (ox < 0 || ox >= p->out_w) {
                    continue;
                }
                memcpy(out + (((size_t)ob * p->out_h + oy) * p->out_w + ox) * pixel,
                       in + (((size_t)ib * p->in_h + iy) * p->in_w + ix) * pixel, pixel);
            }
        }
    }
}

/* ---- QUANTIZE float -> int8, DEQUANTIZE int8 -> float ------------------------ */

void tk_quantize_f32_s8(float scale, int32_t zero_point, int32_t count, const float *input,
                        int8_t *output)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        const float rounded = roundf(input[i] / scale);
        /* Out of range and NaN convert to INT32_MIN, as the x86 conversion
         * TFLite's reference build performs; the sum wraps like int32. */
        const int32_t whole = (rounded >= -2147483648.0f && rounded < 2147483648.0f)
                                  ? (int32_t)rounded : INT32_MIN;
        const int32_t shifted = (int32_t)(uint32_t)((uint32_t)whole + (uint32_t)zero_point);
        output[i] = tk_clamp_value(shifted, -128, 127);
    }
}

void tk_dequantize_s8_f32(double scale, int32_t zero_point, int32_t count,
                          const int8_t *input, float *output)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = (float)(scale * (double)((int32_t)input[i] - zero_point));
    }
}
