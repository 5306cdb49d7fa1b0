/* tinykit int8 kernels: portable C99, no heap, no floating point outside the
 * QUANTIZE / DEQUANTIZE kernels.
 *
 * Copied unchanged by `tinykit codegen` next to every generated model; several
 * generated models share one copy of these files and link into one firmware.
 * The arithmetic follows TensorFlow Lite's reference kernels
 * (reference_ops / reference_integer_ops) so that outputs are byte-exact.
 * Layouts are TFLite's: activations NHWC, convolution filters OHWI, depthwise
 * filters 1HWC, fully-connected weights [out][in].
 *
 * Every parameter block is a const struct computed by the generator (in flash).
 * Kernel geometry fields are int16_t (the generator checks the ranges); sizes of
 * whole tensors are int32_t.
 *
 * Relies on two's-complement integers with arithmetic right shift of negative
 * values, as TFLite does (true for gcc, clang and arm-none-eabi-gcc).
 */
#ifndef TINYKIT_KERNELS_H
#define TINYKIT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a parameter struct or a kernel signature changes; every
 * generated model checks it at compile time. */
#define TK_KERNELS_ABI 2

/* Most dimensions a generic (copy, broadcast, reduce) kernel walks. */
#define TK_MAX_DIMS 6

/* ---- which version of each kernel this build compiles --------------------------
 * Chosen at compile time from the compiler's macros for the core:
 *   "mve"      Helium (Cortex-M55)             __ARM_FEATURE_MVE
 *   "dsp"      the DSP extension (M4, M7, M33)  __ARM_FEATURE_DSP
 *   "armv6m"   Cortex-M0/M0+                    __ARM_ARCH_6M__ (no long multiply)
 *   "portable" anything else (Cortex-M3, hosts)
 * Define TK_NO_MVE or TK_NO_DSP to build a lower version. TK_KERNEL_NAME(k) is the
 * kernel's name and version as a string literal, e.g. "tk_conv2d_im2col_s8 (dsp)". */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1) && !defined(TK_NO_MVE) && \
    !defined(TK_NO_DSP)
#define TK_ISA_MVE 1
#endif
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(TK_NO_DSP)
#define TK_ISA_DSP 1
#endif
#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#define TK_ISA_V6M 1
#endif

#if defined(TK_ISA_MVE)
#define TK_ISA_VECTOR "mve"
#elif defined(TK_ISA_DSP)
#define TK_ISA_VECTOR "dsp"
#elif defined(TK_ISA_V6M)
#define TK_ISA_VECTOR "armv6m"
#else
#define TK_ISA_VECTOR "portable"
#endif
#if defined(TK_ISA_DSP)
#define TK_ISA_SIMD32 "dsp"
#elif defined(TK_ISA_V6M)
#define TK_ISA_SIMD32 "armv6m"
#else
#define TK_ISA_SIMD32 "portable"
#endif

/* The version each kernel builds (one macro per kernel; a test checks the list is
 * complete). TK_ISA_VECTOR kernels have MVE, DSP, ARMv6-M and portable versions;
 * TK_ISA_SIMD32 ones DSP, ARMv6-M and portable; the others are the same C everywhere. */
#define TK_ISA_tk_conv2d_im2col_s8 TK_ISA_VECTOR
#define TK_ISA_tk_conv2d_im2col_bytes_s8 TK_ISA_VECTOR
#define TK_ISA_tk_conv2d_1ch_s8 TK_ISA_SIMD32
#define TK_ISA_tk_fully_connected_s8 TK_ISA_VECTOR
#define TK_ISA_tk_depthwise_conv2d_rows_s8 TK_ISA_SIMD32
#define TK_ISA_tk_depthwise_conv2d_3x3_s8 TK_ISA_SIMD32
#define TK_ISA_tk_depthwise_conv2d_3x3s2_s8 TK_ISA_SIMD32
#define TK_ISA_tk_conv2d_s8 "portable"
#define TK_ISA_tk_depthwise_conv2d_s8 "portable"
#define TK_ISA_tk_average_pool_s8 TK_ISA_SIMD32
#define TK_ISA_tk_max_pool_s8 "portable"
#define TK_ISA_tk_mean_s8 "portable"
#define TK_ISA_tk_binary_s8 "portable"
#define TK_ISA_tk_add_table_s8 "portable"
#define TK_ISA_tk_lut_s8 "portable"
#define TK_ISA_tk_softmax_s8 "portable"
#define TK_ISA_tk_copy_nd "portable"
#define TK_ISA_tk_fill_s8 "portable"
#define TK_ISA_tk_resize_nearest "portable"
#define TK_ISA_tk_space_to_batch "portable"
#define TK_ISA_tk_batch_to_space "portable"
#define TK_ISA_tk_quantize_f32_s8 "portable"
#define TK_ISA_tk_dequantize_s8_f32 "portable"
#define TK_ISA_tk_conv2d_packed_s8 TK_ISA_VECTOR
#define TK_ISA_tk_fully_connected_packed_s8 TK_ISA_VECTOR
#define TK_ISA_tk_depthwise_conv2d_rows_packed_s8 TK_ISA_SIMD32
#define TK_ISA_tk_depthwise_conv2d_3x3_packed_s8 TK_ISA_SIMD32
#define TK_ISA_tk_depthwise_conv2d_3x3s2_packed_s8 TK_ISA_SIMD32
#define TK_ISA_tk_depthwise_conv2d_packed_s8 "portable"
#define TK_KERNEL_NAME(kernel) #kernel " (" TK_ISA_##kernel ")"

#if defined(__GNUC__) || defined(__clang__)
#define TK_ALIGNED(n) __attribute__((aligned(n)))
#else
#define TK_ALIGNED(n)
#endif

/* ---- fixed-point helpers (TFLite's MultiplyByQuantizedMultiplier) ---------- */

int32_t tk_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift);

/* ---- CONV_2D and DEPTHWISE_CONV_2D ---------------------------------------
 * Filter layouts, by kernel:
 *   tk_conv2d_s8             [out_c][k_h][k_w][in_c / groups]
 *   tk_conv2d_im2col_s8, tk_conv2d_im2col_bytes_s8
 *                            [out_c][k_pad]: (k_h, k_w, in_c) order, zeros up to k_pad
 *   tk_conv2d_1ch_s8         one input channel: int16 pairs, twice the weights; bias and
 *                            shift NULL, multiplier one record per channel (tk_conv1.c)
 *   tk_depthwise_conv2d_s8,
 *   tk_depthwise_conv2d_rows_s8, tk_depthwise_conv2d_3x3_s8,
 *   tk_depthwise_conv2d_3x3s2_s8  [k_h][k_w][out_c]
 * The kernels that take `scratch` need the bytes the generator computed
 * (`tk_*_scratch_bytes` in docs/codegen.md), 4-byte aligned; they leave nothing in it. */

typedef struct {
    const int8_t *filter;      /* see the layouts above */
    const int32_t *bias;       /* [out_c]: bias - input_zero_point * sum(filter of out_c) */
    const int32_t *multiplier; /* [out_c] requantization multipliers (Q0.31) */
    const int8_t *shift;       /* [out_c] exponents (> 0: left shift) */
    int16_t batches;
    int16_t in_h, in_w, in_c;
    int16_t out_h, out_w, out_c;
    int16_t k_h, k_w;
    int16_t stride_h, stride_w;
    int16_t dilation_h, dilation_w;
    int16_t pad_top, pad_left;
    int16_t groups;           /* conv: in_c / filter depth (1 for a plain conv) */
    int16_t depth_multiplier; /* depthwise: out_c / in_c */
    int16_t k_pad;            /* im2col: k_h * k_w * in_c rounded up to a multiple of 4;
                                 tk_conv2d_1ch_s8: k_w rounded up to 4 */
    int8_t input_zero_point;  /* padding reads as this value (it adds nothing) */
    int8_t output_zero_point;
    int8_t act_min, act_max;  /* fused activation, quantized */
    int8_t fast_requant;      /* 1: every shift is in [-23, -2] (one-rounding form) */
} tk_conv_params;

void tk_conv2d_s8(const tk_conv_params *p, const int8_t *input, int8_t *output);
void tk_conv2d_im2col_s8(const tk_conv_params *p, const int8_t *input, int8_t *output,
                         void *scratch);
void tk_conv2d_im2col_bytes_s8(const tk_conv_params *p, const int8_t *input, int8_t *output,
                               void *scratch);
void tk_conv2d_1ch_s8(const tk_conv_params *p, const int8_t *input, int8_t *output,
                      void *scratch);
void tk_depthwise_conv2d_s8(const tk_conv_params *p, const int8_t *input, int8_t *output);
void tk_depthwise_conv2d_rows_s8(const tk_conv_params *p, const int8_t *input,
                                  int8_t *output, void *scratch);
void tk_depthwise_conv2d_3x3_s8(const tk_conv_params *p, const int8_t *input, int8_t *output,
                                void *scratch);
void tk_depthwise_conv2d_3x3s2_s8(const tk_conv_params *p, const int8_t *input,
                                  int8_t *output, void *scratch);

/* ---- FULLY_CONNECTED ------------------------------------------------------
 * Weights in blocks of 4 output rows: [out_pad / 4][in_pad / 4][4 rows][4 inputs],
 * out_pad and in_pad the depths rounded up to 4 and 16, zeros in the padding. */

typedef struct {
    const int8_t *weights;     /* blocked, see above */
    const int32_t *bias;       /* [out_pad]: bias - input_zero_point * sum(row), zeros after */
    const int32_t *multiplier; /* [out_pad] if per_channel, else [1] */
    const int8_t *shift;       /* same length as multiplier */
    int32_t batches;
    int32_t in_depth, out_depth;
    int32_t in_pad;            /* in_depth rounded up to 16 */
    int8_t per_channel;
    int8_t output_zero_point;
    int8_t act_min, act_max;
    int8_t fast_requant;       /* as in tk_conv_params */
} tk_fc_params;

void tk_fully_connected_s8(const tk_fc_params *p, const int8_t *input, int8_t *output,
                           void *scratch);

/* ---- packed weights (tk_packed.c; docs/codegen.md, "Packed weights") -----------------
 * Per output channel c, its k weights in the dense layout's order (im2col order for
 * convolutions, [k_h][k_w] for depthwise, the row for fully connected):
 *   sparse 0: k indices of `bits` (2 or 4) bits, low bits first, each channel's indices
 *             padded to a whole byte; weight = table[c * table_stride + index]
 *   sparse 1: a bitmap of (k + 7) / 8 bytes per channel (bit j % 8 of byte j / 8 set: weight
 *             j is not zero), and in `data` the non-zeros in order: `bits`-bit indices into
 *             the channel's table (2 or 4), or int8 values (8); each channel padded to a
 *             whole byte
 * table_stride 0: one table for every channel. The dense parameter block's weight pointer
 * (conv.filter, fc.weights) is NULL; scratch as in tk_packed.c. */

typedef struct {
    const uint8_t *bitmap;     /* sparse: [channels][(k + 7) / 8]; else NULL */
    const uint8_t *data;       /* indices or int8 values, channel after channel */
    const int8_t *table;       /* NULL for int8 values */
    int32_t k;                 /* weights per channel */
    int16_t table_stride;      /* entries per channel's table; 0: one table */
    int8_t bits;               /* 2, 4: indices; 8: int8 values (sparse only) */
    int8_t sparse;
    int8_t nonzero_percent;    /* sparse: non-zeros in 100 weights, rounded up */
} tk_packed_weights;

typedef struct {
    tk_conv_params conv;
    tk_packed_weights weights;
} tk_conv_packed_params;

typedef struct {
    tk_fc_params fc;
    tk_packed_weights weights;
} tk_fc_packed_params;

void tk_conv2d_packed_s8(const tk_conv_packed_params *p, const int8_t *input, int8_t *output,
                         void *scratch);
void tk_depthwise_conv2d_packed_s8(const tk_conv_packed_params *p, const int8_t *input,
                                   int8_t *output, void *scratch);
void tk_depthwise_conv2d_rows_packed_s8(const tk_conv_packed_params *p, const int8_t *input,
                                        int8_t *output, void *scratch);
void tk_depthwise_conv2d_3x3_packed_s8(const tk_conv_packed_params *p, const int8_t *input,
                                       int8_t *output, void *scratch);
void tk_depthwise_conv2d_3x3s2_packed_s8(const tk_conv_packed_params *p, const int8_t *input,
                                         int8_t *output, void *scratch);
void tk_fully_connected_packed_s8(const tk_fc_packed_params *p, const int8_t *input,
                                  int8_t *output, void *scratch);

/* ---- AVERAGE_POOL_2D and MAX_POOL_2D ------------------------------------- */

typedef struct {
    int16_t batches, in_h, in_w, channels, out_h, out_w;
    int16_t filter_h, filter_w, stride_h, stride_w, pad_top, pad_left;
    int8_t act_min, act_max;
} tk_pool_params;

void tk_average_pool_s8(const tk_pool_params *p, const int8_t *input, int8_t *output);
void tk_max_pool_s8(const tk_pool_params *p, const int8_t *input, int8_t *output);

/* ---- MEAN over any set of axes -------------------------------------------- */

typedef struct {
    int8_t num_kept, num_reduced;
    int32_t kept_dims[TK_MAX_DIMS], kept_strides[TK_MAX_DIMS];       /* input strides */
    int32_t reduced_dims[TK_MAX_DIMS], reduced_strides[TK_MAX_DIMS];
    int32_t count;            /* elements summed per output */
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier;       /* input/output scale with 1/count folded in */
    int32_t shift;
} tk_mean_params;

void tk_mean_s8(const tk_mean_params *p, const int8_t *input, int8_t *output);

/* ---- ADD, SUB, MUL with broadcasting -------------------------------------- */

typedef enum { TK_ADD = 0, TK_SUB = 1, TK_MUL = 2 } tk_binary_kind;

typedef struct {
    int8_t kind;              /* tk_binary_kind */
    int8_t ndims;             /* output dims after merging, innermost last */
    int32_t dims[TK_MAX_DIMS];
    int32_t strides1[TK_MAX_DIMS], strides2[TK_MAX_DIMS]; /* 0 on broadcast dims */
    int32_t input1_offset, input2_offset, output_offset;  /* -zero points, +output zp */
    int32_t left_shift;       /* ADD/SUB: 20 */
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} tk_binary_params;

void tk_binary_s8(const tk_binary_params *p, const int8_t *input1, const int8_t *input2,
                  int8_t *output);

/* ADD and SUB of two same-shape tensors: TFLite's scaled value of each input byte comes
 * from a table (tableN[x + 128] = MultiplyByQuantizedMultiplier((x - zp) << 20, m, e),
 * negated for SUB's second input); only the sum is requantized, element by element. */
typedef struct {
    const int32_t *table1;     /* [256] */
    const int32_t *table2;     /* [256] */
    int32_t count;
    int32_t output_multiplier;
    int32_t output_shift;      /* TFLite's exponent */
    int8_t output_zero_point;
    int8_t act_min, act_max;
    int8_t fast_requant;       /* 1: output_shift in [-23, -2] */
} tk_add_table_params;

void tk_add_table_s8(const tk_add_table_params *p, const int8_t *input1,
                     const int8_t *input2, int8_t *output);

/* ---- element-wise int8 through a 256-entry table --------------------------
 * LOGISTIC, TANH, HARD_SWISH, RELU, RELU6, LEAKY_RELU, int8 -> int8 QUANTIZE. */

void tk_lut_s8(const int8_t *table, int32_t count, const int8_t *input, int8_t *output);

/* ---- SOFTMAX over the last axis ------------------------------------------- */

typedef struct {
    const int32_t *exp_table; /* [256]: exp(-d) for d = max - x, Q0.31 (0: below diff_min) */
    int32_t rows, depth;
} tk_softmax_params;

void tk_softmax_s8(const tk_softmax_params *p, const int8_t *input, int8_t *output);

/* ---- data movement: strided N-d copy ---------------------------------------
 * out[offset_out + sum(i_k * out_strides_k)] = in[offset_in + sum(i_k * in_strides_k)]
 * for every index i < dims; strides in elements, may be negative. Serves
 * TRANSPOSE, STRIDED_SLICE, CONCATENATION, PAD and plain copies. */

typedef struct {
    int8_t ndims;
    int8_t elem_size;          /* bytes per element: 1, 2, 4 */
    int32_t dims[TK_MAX_DIMS];
    int32_t in_strides[TK_MAX_DIMS], out_strides[TK_MAX_DIMS];
    int32_t in_offset, out_offset;
} tk_copy_params;

void tk_copy_nd(const tk_copy_params *p, const void *input, void *output);
void tk_fill_s8(int8_t value, int32_t count, int8_t *output);

/* ---- RESIZE_NEAREST_NEIGHBOR: source row/column per output row/column ---- */

typedef struct {
    const int16_t *y_map;      /* [out_h] */
    const int16_t *x_map;      /* [out_w] */
    int16_t batches, in_h, in_w, channels, out_h, out_w;
    int8_t elem_size;
} tk_resize_params;

void tk_resize_nearest(const tk_resize_params *p, const void *input, void *output);

/* ---- SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND (4-d NHWC) ------------------- */

typedef struct {
    int16_t in_b, in_h, in_w, out_b, out_h, out_w, channels;
    int16_t block_h, block_w;
    int16_t pad_top, pad_left;  /* space-to-batch paddings, batch-to-space crops */
    int8_t pad_value;
    int8_t elem_size;
} tk_space_batch_params;

void tk_space_to_batch(const tk_space_batch_params *p, const void *input, void *output);
void tk_batch_to_space(const tk_space_batch_params *p, const void *input, void *output);

/* ---- float <-> int8 at the edges of float-I/O models ---------------------- */

void tk_quantize_f32_s8(float scale, int32_t zero_point, int32_t count, const float *input,
                        int8_t *output);
void tk_dequantize_s8_f32(double scale, int32_t zero_point, int32_t count,
                          const int8_t *input, float *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYKIT_KERNELS_H */
