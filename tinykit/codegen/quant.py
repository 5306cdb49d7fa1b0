"""TFLite's fixed-point quantization arithmetic, reproduced exactly in Python.

Everything the generated C needs as a constant (requantization multipliers and shifts,
activation ranges, lookup tables) is computed here at generation time, the way
tflite-runtime 2.14 computes it in its kernels' Prepare step, so that the integer C
kernels give the same bytes as TFLite's reference kernels.

Python floats are IEEE doubles, so C++ `double` arithmetic is reproduced by plain
Python arithmetic; C++ `float` arithmetic is reproduced with `numpy.float32`, one
operation at a time, in the order TFLite's source writes it.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def f32(value: float | np.floating) -> np.float32:
    """A C++ `float` (round to nearest single precision)."""
    return np.float32(value)


def tflite_round(value: float) -> int:
    """`TfLiteRound`/`std::round`: round half away from zero, exactly (no x + 0.5 error)."""
    if not math.isfinite(value):
        raise ValueError(f"cannot round {value}")
    magnitude = abs(value)
    floor = math.floor(magnitude)
    result = floor + 1 if magnitude - floor >= 0.5 else floor
    return int(result) if value >= 0 else -int(result)


def wrap_int32(value: int) -> int:
    """Two's-complement wrap of a Python int to int32 (what the C arithmetic does)."""
    return ((value + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """`tflite::QuantizeMultiplier`: real ~= multiplier * 2**(shift - 31).

    Returns (multiplier, shift) with multiplier in [2**30, 2**31) (or 0) and shift the
    exponent (positive means a left shift). Multipliers below 2**-31 flush to (0, 0).
    """
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * float(1 << 31))
    if q_fixed > (1 << 31):
        raise ValueError(f"multiplier {real} does not fit")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """`QuantizeMultiplierSmallerThanOneExp`: as `quantize_multiplier`, real must be < 1."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"multiplier {real} is not in (0, 1)")
    multiplier, shift = quantize_multiplier(real)
    if shift > 0:
        raise ValueError(f"multiplier {real} gives a left shift")
    return multiplier, shift


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    """gemmlowp `SaturatingRoundingDoublingHighMul` on int32 values."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    total = ab + nudge
    # C++ int64 division truncates toward zero.
    quotient = abs(total) >> 31
    return wrap_int32(quotient if total >= 0 else -quotient)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp `RoundingDivideByPOT` (round half away from zero) on an int32."""
    if exponent == 0:
        return x
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """`tflite::MultiplyByQuantizedMultiplier` (the double-rounding version TFLite ships)."""
    left_shift = shift if shift > 0 else 0
    right_shift = -shift if shift < 0 else 0
    scaled = wrap_int32(x * (1 << left_shift))
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(scaled, multiplier), right_shift
    )


def saturating_rounding_multiply_by_pot(x: int, exponent: int) -> int:
    """gemmlowp `SaturatingRoundingMultiplyByPOT`: saturating left shift or rounding right."""
    if exponent <= 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


def activation_range(activation: str, scale: float, zero_point: int,
                     qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """`CalculateActivationRangeQuantized` for a fused activation (float division)."""

    def quantize(value: float) -> int:
        return zero_point + tflite_round(float(f32(value) / f32(scale)))

    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    if activation in ("NONE", ""):
        return qmin, qmax
    raise ValueError(f"fused activation {activation} has no integer range")


def calculate_input_radius(input_integer_bits: int, input_left_shift: int,
                           total_signed_bits: int = 31) -> int:
    """`tflite::CalculateInputRadius` (the largest |diff| that is not saturated)."""
    max_input_rescaled = (
        1.0 * ((1 << input_integer_bits) - 1)
        * float(1 << (total_signed_bits - input_integer_bits))
        / float(1 << input_left_shift)
    )
    return int(math.floor(max_input_rescaled))


def preprocess_softmax_scaling(beta: float, input_scale: float,
                               input_integer_bits: int) -> tuple[int, int]:
    """`tflite::PreprocessSoftmaxScaling`: (multiplier, left shift) for the input diffs."""
    max_real_multiplier = float((1 << 31) - 1)
    input_beta_real_multiplier = min(
        beta * input_scale * float(1 << (31 - input_integer_bits)), max_real_multiplier
    )
    multiplier, shift = quantize_multiplier(input_beta_real_multiplier)
    if shift < 0:
        raise ValueError("softmax input multiplier is below one")
    return multiplier, shift
