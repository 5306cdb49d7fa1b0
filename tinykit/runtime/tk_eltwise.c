/* Element-wise kernels with fast paths: tk_add_table_s8. See tinykit_kernels.h.
 *
 * Element i is read before it is written and never read again (the `elements`
 * streaming contract), so the output may overlap either input.
 */
#include "tk_internal.h"

void tk_add_table_s8(const tk_add_table_params *p, const int8_t *input1,
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
