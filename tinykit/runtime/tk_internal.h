/* tinykit kernels: private helpers shared by the kernel files (not part of the API).
 *
 * The instruction set (TK_ISA_MVE, TK_ISA_DSP, TK_ISA_V6M, else portable C) is chosen at
 * compile time in tinykit_kernels.h. Every version of a kernel does the same integer
 * arithmetic in another order; the int32 sums are exact (the generator bounds them), so
 * every version gives the same bytes.
 */
#ifndef TK_INTERNAL_H
#define TK_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "tinykit_kernels.h"

#if defined(TK_ISA_MVE)
#include <arm_mve.h>
#endif
#if defined(TK_ISA_DSP) || defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TK_INLINE static inline __attribute__((always_inline))
#else
#define TK_INLINE static inline
#endif

/* The kernel files are built for size (#pragma in each: runtime flash counts every
 * byte); TK_HOT marks the loops that run per output and are built for speed. Set-up
 * code run once per call or on borders is TK_COLD. */
#if defined(__GNUC__) && !defined(__clang__)
/* (and no loops turned into memset/memcpy calls: newlib's are 470 bytes of flash that
 * a firmware whose kernels need neither then does not link) */
#define TK_HOT __attribute__((optimize("O2", "no-tree-loop-distribute-patterns")))
#define TK_SIZE_PRAGMA _Pragma("GCC optimize(\"Os\", \"no-tree-loop-distribute-patterns\")")
#else
#define TK_HOT
#define TK_SIZE_PRAGMA
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TK_NOINLINE __attribute__((noinline))
#else
#define TK_NOINLINE
#endif
#if defined(__clang__)
#define TK_COLD __attribute__((noinline, cold, minsize))
#elif defined(__GNUC__)
#define TK_COLD __attribute__((noinline, cold, optimize("Os")))
#else
#define TK_COLD
#endif

/* ---- loads without alignment or aliasing assumptions (one LDR where allowed) ---- */

TK_INLINE uint32_t tk_load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

TK_INLINE void tk_store32(void *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* ---- DSP primitives ---------------------------------------------------------------
 * tk_sxtb16(x)      = (int16)x.b0 | (int16)x.b2 << 16
 * tk_sxtb16_ror8(x) = (int16)x.b1 | (int16)x.b3 << 16
 * tk_smlad(a, b, c) = c + a.lo * b.lo + a.hi * b.hi (16-bit halves, signed)
 */
#if defined(TK_ISA_DSP)
TK_INLINE int32_t tk_sxtb16(uint32_t x)
{
    return (int32_t)__sxtb16(x);
}

TK_INLINE int32_t tk_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return (int32_t)r;
}

TK_INLINE int32_t tk_smlad(int32_t a, int32_t b, int32_t acc)
{
    return __smlad(a, b, acc);
}

/* acc + a.lo * b.lo and acc + a.hi * b.hi */
TK_INLINE int32_t tk_smlabb(int32_t a, int32_t b, int32_t acc)
{
    return __smlabb(a, b, acc);
}

TK_INLINE int32_t tk_smlatt(int32_t a, int32_t b, int32_t acc)
{
    return __smlatt(a, b, acc);
}

/* acc + a.lo * b.hi and acc + a.hi * b.lo */
TK_INLINE int32_t tk_smlabt(int32_t a, int32_t b, int32_t acc)
{
    return __smlabt(a, b, acc);
}

TK_INLINE int32_t tk_smlatb(int32_t a, int32_t b, int32_t acc)
{
    return __smlatb(a, b, acc);
}

/* (a.lo | b.lo << 16) */
TK_INLINE int32_t tk_pkhbt(int32_t a, int32_t b)
{
    return (int32_t)(((uint32_t)a & 0xFFFFu) | ((uint32_t)b << 16));
}
#endif

/* ---- requantization ------------------------------------------------------------------
 * TFLite's MultiplyByQuantizedMultiplier(acc, m, shift) (SaturatingRoundingDoublingHighMul
 * then RoundingDivideByPOT, two roundings) plus the output zero point equals, for a right
 * shift e = -shift in [2, 23] and m in [0, 2^31), the single 64-bit rounding
 *
 *   (acc * m + 2^30 + 2^(30+e) + zp * 2^(31+e) - (acc < 0 ? 2^31 : 0)) >> (31 + e)
 *
 * (the first rounding is floor(x + 1/2), the second half away from zero; nested floors of
 * powers of two merge; see docs/codegen.md). With sh = e - 1 the high word of the constant
 * is c_hi = (zp << sh) + (1 << (sh - 1)) and its low word 2^30 (2^30 + 2^31 for negative
 * acc, borrowing one from c_hi). The generator checks the range of e for each layer and
 * otherwise asks for the general path (tk_multiply_by_quantized_multiplier).
 */

/* The per-channel constant: sh in [1, 22], |zp| <= 128. */
TK_INLINE int32_t tk_requant_c_hi(int32_t zero_point, int sh)
{
    return (int32_t)((uint32_t)zero_point << sh) + ((int32_t)1 << (sh - 1));
}

#if defined(TK_ISA_V6M)
/* ARMv6-M has no 32x32->64 multiply: the high word of acc * m + (hi:lo) from four 16x16
 * products, each exact in 32 bits (m >= 0, so its halves are unsigned). */
TK_INLINE int32_t tk_mul_high(int32_t acc, int32_t m, int32_t hi, uint32_t lo)
{
    const int32_t ah = acc >> 16;
    const uint32_t al = (uint32_t)acc & 0xFFFFu;
    const int32_t mh = m >> 16;
    const uint32_t ml = (uint32_t)m & 0xFFFFu;
    const int32_t u = ah * (int32_t)ml;            /* |u| < 2^31 */
    const int32_t v = (int32_t)(al * (uint32_t)mh); /* 0 <= v < 2^31 */
    const uint32_t t = al * ml;                     /* exact as unsigned */
    uint32_t low = (uint32_t)u << 16;
    uint32_t sum = low + ((uint32_t)v << 16);
    int32_t carry = sum < low;
    low = sum;
    sum = low + t;
    carry += sum < low;
    low = sum;
    sum = low + lo;
    carry += sum < low;
    return hi + ah * mh + (u >> 16) + (v >> 16) + carry;
}
#else
TK_INLINE int32_t tk_mul_high(int32_t acc, int32_t m, int32_t hi, uint32_t lo)
{
    const int64_t base = (int64_t)(((uint64_t)(uint32_t)hi << 32) | lo);
    return (int32_t)((base + (int64_t)acc * m) >> 32);
}
#endif

/* Requantized value (zero point included, not clamped) of an accumulator. */
TK_INLINE int32_t tk_requant(int32_t acc, int32_t m, int32_t c_hi, int sh)
{
    const uint32_t lo = 0x40000000u | ((uint32_t)acc & 0x80000000u);
    return tk_mul_high(acc, m, c_hi + (acc >> 31), lo) >> sh;
}

TK_INLINE int32_t tk_clamp(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* v clamped to [-128, 127] (one SSAT where the core has it: ARMv7-M and later). */
TK_INLINE int32_t tk_sat8(int32_t v)
{
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
    return __ssat(v, 8);
#else
    return tk_clamp(v, -128, 127);
#endif
}

/* Per-channel requantization: the fast form when the generator allowed it. */
typedef struct {
    int32_t multiplier;
    int32_t c_hi;   /* fast: high word of the rounding constant */
    int32_t shift;  /* fast: sh = e - 1; general: TFLite's exponent */
} tk_channel_rq;

TK_INLINE tk_channel_rq tk_channel(const int32_t *multiplier, const int8_t *shift, int c,
                                   int fast, int32_t zero_point)
{
    tk_channel_rq q;
    q.multiplier = multiplier[c];
    if (fast) {
        q.shift = -shift[c] - 1;
        q.c_hi = tk_requant_c_hi(zero_point, (int)q.shift);
    } else {
        q.shift = shift[c];
        q.c_hi = zero_point;
    }
    return q;
}

TK_INLINE int32_t tk_requant_channel(int32_t acc, const tk_channel_rq *q, int fast)
{
    if (fast) {
        return tk_requant(acc, q->multiplier, q->c_hi, (int)q->shift);
    }
    return tk_multiply_by_quantized_multiplier(acc, q->multiplier, (int)q->shift) + q->c_hi;
}

/* acc[i] += w . r_i over n int8 values, the four rows at once (the portable and ARMv6-M
 * versions of the im2col and packed convolutions). */
TK_INLINE void tk_dot4_s8(const int8_t *w, const int8_t *r0, const int8_t *r1,
                          const int8_t *r2, const int8_t *r3, int32_t n, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t k;
    for (k = 0; k < n; ++k) {
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

/* A fused activation narrower than int8: clamp n bytes to [lo, hi] in place (nothing to
 * do for [-128, 127]; four bytes at a time on DSP cores). In tinykit_kernels.c. */
void tk_clamp_s8(int8_t *p, int32_t n, int8_t lo, int8_t hi);

/* The requantization of one output channel, computed once per kernel call into scratch
 * (tk_rq_records) so that the inner loops load it with one LDM. */
typedef struct {
    int32_t bias;       /* folded bias: the accumulator's start */
    int32_t multiplier;
    int32_t c_hi;       /* fast: high word of the rounding constant; general: zero point */
    int32_t shift;      /* fast: sh = e - 1; general: TFLite's exponent */
} tk_rq_record;

/* `count` records; bias may be NULL (zeros); per_channel 0 repeats multiplier[0].
 * In tinykit_kernels.c. */
void tk_rq_records(tk_rq_record *out, int32_t count, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int per_channel, int fast,
                   int32_t zero_point);

TK_INLINE int32_t tk_requant_record(int32_t acc, const tk_rq_record *r, int fast)
{
    if (fast) {
        return tk_requant(acc, r->multiplier, r->c_hi, (int)r->shift);
    }
    return tk_multiply_by_quantized_multiplier(acc, r->multiplier, (int)r->shift) + r->c_hi;
}

#endif /* TK_INTERNAL_H */
