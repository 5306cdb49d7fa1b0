"""TFLite's fixed-point requantization, as far as the kernel choice depends on it.

The code generator calls its fast convolution kernels only when every output channel's
requantization has the one-rounding form (`tinykit.codegen.kernels.requant_plan`), so the
memory plan (their scratch, their streaming kind) depends on it too. `tinykit analyze`
must not import the code generator; this module restates the arithmetic (TFLite's
QuantizeMultiplier and MultiplyByQuantizedMultiplier, bit for bit) and the test in
`tests/unit/test_tflite_kernel_needs.py` checks that both sides pick the same kernels.
"""

from __future__ import annotations

import math

import numpy as np

from tinykit.tflite.model import Operator, Subgraph

#: Exponents for which the one-rounding form is exact (tinykit.codegen.kernels.FAST_SHIFTS).
FAST_SHIFTS = range(-23, -1)
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


def _round(value: float) -> int:
    """std::round: half away from zero, exactly."""
    magnitude = abs(value)
    floor = math.floor(magnitude)
    result = int(floor + 1 if magnitude - floor >= 0.5 else floor)
    return result if value >= 0 else -result


def _wrap(value: int) -> int:
    return ((value + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplier: (multiplier in [2^30, 2^31) or 0, exponent)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    fixed = _round(q * float(1 << 31))
    if fixed > (1 << 31):
        raise ValueError(f"multiplier {real} does not fit")
    if fixed == (1 << 31):
        fixed //= 2
        shift += 1
    return (0, 0) if shift < -31 else (fixed, shift)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """tflite::MultiplyByQuantizedMultiplier (double rounding) on int32 values."""
    a = _wrap(x * (1 << max(shift, 0)))
    if a == multiplier == _INT32_MIN:
        high = _INT32_MAX
    else:
        total = a * multiplier + ((1 << 30) if a * multiplier >= 0 else 1 - (1 << 30))
        high = _wrap(abs(total) >> 31 if total >= 0 else -(abs(total) >> 31))
    exponent = max(-shift, 0)
    if exponent == 0:
        return high
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> exponent) + (1 if (high & mask) > threshold else 0)


def fast_form(multipliers: list[int], shifts: list[int], bias: list[int],
              abs_sums: list[int]) -> bool:
    """Whether every channel has the one-rounding form, or gives one output whatever its
    accumulator (then it is remapped to it); per-tensor multipliers cannot be remapped."""
    per_tensor = len(multipliers) == 1 and len(bias) > 1
    for c, (m, s) in enumerate(zip(multipliers, shifts, strict=True)):
        if s in FAST_SHIFTS or (m == 0 and not per_tensor):
            continue
        if per_tensor:
            return False
        reach = 128 * abs_sums[c]
        low = multiply_by_quantized_multiplier(max(bias[c] - reach, _INT32_MIN), m, s)
        high = multiply_by_quantized_multiplier(min(bias[c] + reach, _INT32_MAX), m, s)
        if low != high or abs(low) > (1 << 20):
            return False
    return True


def requant_is_fast(subgraph: Subgraph, op: Operator, depthwise: bool) -> bool:
    """The convolution's requantization has the one-rounding form, from its constants
    (False when anything needed is missing: the code generator then refuses or falls back)."""
    try:
        source, weights_t, result = (subgraph.tensors[i] for i in (op.inputs[0], op.inputs[1],
                                                                   op.outputs[0]))
        weights = weights_t.numpy().astype(np.int64)
        weights = weights.reshape(-1, weights.shape[-1]).T if depthwise else \
            weights.reshape(weights.shape[0], -1)
        out_c = weights.shape[0]
        scales = list(weights_t.quantization.scale)  # type: ignore[union-attr]
        in_q, out_q = source.quantization, result.quantization
        in_scale, in_zp = float(in_q.scale[0]), int(in_q.zero_point[0])  # type: ignore[union-attr]
        out_scale = float(out_q.scale[0])  # type: ignore[union-attr]
        bias = np.zeros(out_c, dtype=np.int64)
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bias = subgraph.tensors[op.inputs[2]].numpy().astype(np.int64).reshape(-1)
        scales = scales * out_c if len(scales) == 1 else scales
        pairs = [quantize_multiplier(in_scale * float(s) / out_scale) for s in scales]
        folded = (bias - in_zp * weights.sum(axis=1)).tolist()
        abs_sums = [int(v) for v in np.abs(weights).sum(axis=1)]
        return fast_form([m for m, _ in pairs], [e for _, e in pairs], folded, abs_sums)
    except (AttributeError, IndexError, TypeError, ValueError, ZeroDivisionError,
            OverflowError):
        return False
