"""TFLite's fixed-point arithmetic in Python, checked against exact rational arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinykit.codegen import luts
from tinykit.codegen.quant import (
    activation_range,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    tflite_round,
)

INT32 = st.integers(-(1 << 31), (1 << 31) - 1)


def _round_half_away(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


@pytest.mark.parametrize("value, expected", [
    (0.5, 1), (-0.5, -1), (1.5, 2), (2.5, 3), (-2.5, -3), (0.49999999999999994, 0),
    (4503599627370497.0, 4503599627370497), (-0.0, 0),
])
def test_tflite_round_is_half_away_from_zero(value, expected):
    assert tflite_round(value) == expected


@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)), (1.0, (1 << 30, 1)), (0.75, (3 << 29, 0)), (0.0, (0, 0)),
    (1.0 - 2.0 ** -40, (1 << 30, 1)),  # rounds up to 2**31: halved, shift + 1
    (2.0 ** -40, (0, 0)),              # below 2**-31: flushed to zero
    (3.0, (3 << 29, 2)),
])
def test_quantize_multiplier(real, expected):
    assert quantize_multiplier(real) == expected


@given(st.floats(min_value=2.0 ** -30, max_value=2.0 ** 20, allow_nan=False))
def test_quantize_multiplier_represents_the_value(real):
    multiplier, shift = quantize_multiplier(real)
    assert (1 << 30) <= multiplier < (1 << 31)
    assert abs(Fraction(multiplier, 1 << 31) * Fraction(2) ** shift - Fraction(real)) \
        <= Fraction(2) ** (shift - 32)


@given(INT32, INT32)
def test_srdhm_is_the_rounded_doubled_high_product(a, b):
    expected = (1 << 31) - 1 if a == b == -(1 << 31) else None
    result = saturating_rounding_doubling_high_mul(a, b)
    if expected is not None:
        assert result == expected
        return
    # gemmlowp nudges by 2**30 toward +inf for positive products, then truncates.
    product = a * b
    nudge = (1 << 30) if product >= 0 else 1 - (1 << 30)
    quotient = Fraction(product + nudge, 1 << 31)
    assert result == math.trunc(quotient)


@given(INT32, st.integers(0, 31))
def test_rounding_divide_by_pot_rounds_half_away(x, exponent):
    assert rounding_divide_by_pot(x, exponent) == _round_half_away(Fraction(x, 1 << exponent))


@given(st.integers(-(1 << 24), 1 << 24), st.floats(min_value=1e-6, max_value=0.99))
def test_multiply_by_quantized_multiplier_approximates_the_product(x, real):
    multiplier, shift = quantize_multiplier(real)
    assert abs(multiply_by_quantized_multiplier(x, multiplier, shift) - x * real) <= 1.0


def test_activation_ranges():
    assert activation_range("NONE", 0.1, 3) == (-128, 127)
    assert activation_range("RELU", 0.1, 3) == (3, 127)
    assert activation_range("RELU6", 0.05, -128) == (-128, -8)
    assert activation_range("RELU_N1_TO_1", 0.01, 0) == (-100, 100)
    with pytest.raises(ValueError):
        activation_range("TANH", 0.1, 0)


def test_identity_requantization_table_is_the_identity():
    assert luts.requantize_table(0.25, 7, 0.25, 7) == list(range(-128, 128))


def test_relu_table_clamps_at_the_zero_point():
    table = luts.relu_table(0.1, -20, 0.1, -20, 0.0, None)
    assert table[:108] == [-20] * 108 and table[108:] == list(range(-20, 128))


def test_softmax_exp_table_starts_at_one_and_decreases():
    table = luts.softmax_exp_table(1 << 30, 23, -1000)
    assert table[0] == (1 << 31) - 1
    assert all(a >= b for a, b in zip(table, table[1:], strict=False))


def test_exp_on_negative_values_is_close_to_exp():
    for value in (-0.25, -1.0, -2.5, -7.0, -20.0):
        raw = luts.exp_on_negative_values_q5(int(value * (1 << 26)))
        assert abs(raw / 2 ** 31 - math.exp(value)) < 1e-6
