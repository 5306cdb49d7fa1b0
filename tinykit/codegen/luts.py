"""256-entry lookup tables for int8 element-wise ops, built the way TFLite builds or computes them.

An int8 element-wise op has only 256 possible inputs, so the generated C maps every
input byte through a table computed here, at generation time:

- LOGISTIC and TANH: tflite-runtime 2.14's reference kernels themselves use a table,
  filled in Prepare with `expf`/`tanhf` in single precision. The same C library
  functions are called here through ctypes, so the tables are the same bytes.
- RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, HARD_SWISH and int8->int8 QUANTIZE: TFLite
  computes them in integer fixed point; the table holds the exact result of that integer
  arithmetic for each input.

All functions return a list of 256 ints indexed by `input + 128`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable

import numpy as np

from tinykit.codegen.quant import (
    f32,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    saturating_rounding_multiply_by_pot,
    tflite_round,
    wrap_int32,
)

INT8_INPUTS = range(-128, 128)


def _libm_float_function(name: str, fallback: Callable[[float], float]) -> Callable[[float], float]:
    """The C library's single-precision `name` (what TFLite's std::exp(float) calls)."""
    path = ctypes.util.find_library("m")
    if path is not None:
        try:
            function = getattr(ctypes.CDLL(path), name)
        except (OSError, AttributeError):
            function = None
        if function is not None:
            function.restype = ctypes.c_float
            function.argtypes = [ctypes.c_float]
            return lambda value: float(function(value))
    # No C library (unusual): a correctly rounded double result rounded to float agrees
    # with glibc's float functions on all but a vanishing fraction of inputs.
    return lambda value: float(np.float32(fallback(value)))


expf = _libm_float_function("expf", math.exp)
tanhf = _libm_float_function("tanhf", math.tanh)


def _clamp8(value: int) -> int:
    return max(-128, min(127, value))


def _float_transform_table(
    input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int,
    transform: Callable[[np.float32], np.float32],
) -> list[int]:
    """`PopulateLookupTable`/`LUTPopulate`: every step in float, `roundf`, then clamp."""
    inverse_scale = f32(1.0) / f32(output_scale)
    table = []
    for value in INT8_INPUTS:
        dequantized = f32(input_scale) * f32(value - input_zero_point)
        transformed = transform(dequantized)
        rescaled = f32(tflite_round(float(transformed * inverse_scale)))
        quantized = int(rescaled + f32(output_zero_point))  # truncation, as static_cast
        table.append(_clamp8(quantized))
    return table


def logistic_table(input_scale: float, input_zero_point: int,
                   output_scale: float, output_zero_point: int) -> list[int]:
    """int8 LOGISTIC: 1 / (1 + expf(-x)) in float."""

    def sigmoid(x: np.float32) -> np.float32:
        return f32(1.0) / (f32(1.0) + f32(expf(float(-x))))

    return _float_transform_table(input_scale, input_zero_point, output_scale,
                                  output_zero_point, sigmoid)


def tanh_table(input_scale: float, input_zero_point: int,
               output_scale: float, output_zero_point: int) -> list[int]:
    """int8 TANH: tanhf(x) in float."""
    return _float_transform_table(input_scale, input_zero_point, output_scale,
                                  output_zero_point, lambda x: f32(tanhf(float(x))))


def relu_table(input_scale: float, input_zero_point: int, output_scale: float,
               output_zero_point: int, low: float, high: float | None) -> list[int]:
    """`QuantizedReluX`: requantize, then clamp to the quantized [low, high] (None = no top)."""
    multiplier, shift = quantize_multiplier(float(f32(input_scale) / f32(output_scale)))
    act_min = max(-128, output_zero_point + tflite_round(float(f32(low) / f32(output_scale))))
    act_max = 127 if high is None else min(
        127, output_zero_point + tflite_round(float(f32(high) / f32(output_scale)))
    )
    table = []
    for value in INT8_INPUTS:
        out = output_zero_point + multiply_by_quantized_multiplier(
            value - input_zero_point, multiplier, shift
        )
        table.append(min(act_max, max(act_min, out)))
    return table


def leaky_relu_table(input_scale: float, input_zero_point: int, output_scale: float,
                     output_zero_point: int, alpha: float) -> list[int]:
    """`QuantizeLeakyRelu`: separate multipliers for x >= 0 (identity) and x < 0 (alpha)."""
    alpha_multiplier = quantize_multiplier(
        float(f32(f32(alpha) * f32(input_scale)) / f32(output_scale))
    )
    identity_multiplier = quantize_multiplier(float(f32(input_scale) / f32(output_scale)))
    table = []
    for value in INT8_INPUTS:
        centered = value - input_zero_point
        multiplier, shift = identity_multiplier if centered >= 0 else alpha_multiplier
        out = output_zero_point + multiply_by_quantized_multiplier(centered, multiplier, shift)
        table.append(_clamp8(out))
    return table


def requantize_table(input_scale: float, input_zero_point: int,
                     output_scale: float, output_zero_point: int) -> list[int]:
    """int8 -> int8 QUANTIZE (`Requantize`): multiplier from input / output scale in double."""
    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    return [
        _clamp8(multiply_by_quantized_multiplier(value - input_zero_point, multiplier, shift)
                + output_zero_point)
        for value in INT8_INPUTS
    ]


# --- HARD_SWISH: 16-bit fixed point (reference_ops::HardSwish) -------------------------

def _wrap16(value: int) -> int:
    return ((value + (1 << 15)) & 0xFFFF) - (1 << 15)


def _srdhm16(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul for int16."""
    if a == b == -(1 << 15):
        return (1 << 15) - 1
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else 1 - (1 << 14)
    total = ab + nudge
    quotient = abs(total) >> 15  # C division truncates toward zero
    return _wrap16(quotient if total >= 0 else -quotient)


def _sdhm16(a: int, b: int) -> int:
    """SaturatingDoublingHighMul for int16 (rounds toward zero)."""
    if a == b == -(1 << 15):
        return (1 << 15) - 1
    ab = a * b
    quotient = abs(ab) >> 15
    return _wrap16(quotient if ab >= 0 else -quotient)


def _saturating_left_shift16(value: int, amount: int) -> int:
    return max(-(1 << 15), min((1 << 15) - 1, value * (1 << amount)))


def _downscale_to_int16(multiplier: int) -> int:
    """`DownScaleInt32ToInt16Multiplier`."""
    rounding = 1 << 15
    if multiplier >= (1 << 31) - 1 - rounding:
        return (1 << 15) - 1
    return (multiplier + rounding) >> 16


def hard_swish_table(input_scale: float, input_zero_point: int,
                     output_scale: float, output_zero_point: int) -> list[int]:
    """int8 HARD_SWISH, x * relu6(x + 3) / 6, in TFLite's int16 fixed point."""
    hires_input_scale = f32(1.0 / 128.0) * f32(input_scale)
    reluish_scale = f32(3.0) / f32(32768.0)
    output_multiplier, output_exponent = quantize_multiplier(
        float(hires_input_scale / f32(output_scale))
    )
    if output_exponent > 0:
        raise ValueError("HARD_SWISH output multiplier above one")
    output_multiplier16 = _downscale_to_int16(output_multiplier)
    reluish_multiplier, reluish_exponent = quantize_multiplier(
        float(hires_input_scale / reluish_scale)
    )
    reluish_multiplier16 = _downscale_to_int16(reluish_multiplier)
    table = []
    for value in INT8_INPUTS:
        hires = _wrap16((value - input_zero_point) * (1 << 7))
        preshift_output = _srdhm16(hires, output_multiplier16)
        reluish = hires
        if reluish_exponent > 0:
            reluish = _saturating_left_shift16(reluish, reluish_exponent - 1)
        reluish = _srdhm16(reluish, reluish_multiplier16)
        if reluish_exponent > 0:
            reluish = _saturating_left_shift16(reluish, 1)
        if reluish_exponent < 0:
            reluish = rounding_divide_by_pot(reluish, -reluish_exponent)
        reluish = _wrap16((reluish + (1 << 15)) >> 1)
        preshift = _sdhm16(reluish, preshift_output)
        out = _wrap16(rounding_divide_by_pot(preshift, -output_exponent) + output_zero_point)
        table.append(_clamp8(out))
    return table


# --- SOFTMAX: gemmlowp fixed-point exp of the (scaled) input differences ---------------

def _fp_mul(a: int, b: int) -> int:
    return saturating_rounding_doubling_high_mul(a, b)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    """gemmlowp: exp(a) for a in [-1/4, 0), Q0.31 in and out."""
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = a + (1 << 28)
    x2 = _fp_mul(x, x)
    x3 = _fp_mul(x2, x)
    x4 = _fp_mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    polynomial = rounding_divide_by_pot(_fp_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1)
    return constant_term + _fp_mul(constant_term, x + polynomial)


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values_q5(a: int) -> int:
    """gemmlowp `exp_on_negative_values` for a Q5.26 input (raw int32 <= 0); Q0.31 out."""
    integer_bits, fractional_bits = 5, 26
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_one_quarter, integer_bits)
    )
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = _fp_mul(result, multiplier)
    if a == 0:
        result = (1 << 31) - 1
    return result


def softmax_exp_table(input_multiplier: int, input_left_shift: int, diff_min: int) -> list[int]:
    """exp of every possible int8 difference d = x - max(row) in [-255, 0], as Q0.31.

    Entry `-d` holds what TFLite's reference Softmax computes for that difference, or 0
    where d < diff_min (TFLite skips those: they add nothing and output the minimum,
    which is also what a zero exp gives).
    """
    table = []
    for distance in range(256):
        diff = -distance
        if diff < diff_min:
            table.append(0)
            continue
        rescaled = saturating_rounding_doubling_high_mul(
            wrap_int32(diff * (1 << input_left_shift)), input_multiplier
        )
        table.append(exp_on_negative_values_q5(rescaled))
    return table
