"""Pooling, MEAN, ADD/SUB/MUL, SOFTMAX, table-driven activations, QUANTIZE, DEQUANTIZE."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from tinykit.codegen import kernels, luts
from tinykit.codegen.common import (
    check_int16,
    fused_range,
    out_size,
    padding_before,
    qparams,
    require_int8,
    shape4,
)
from tinykit.codegen.csyntax import dims_initializer, float_literal
from tinykit.codegen.program import OpContext
from tinykit.codegen.quant import (
    calculate_input_radius,
    f32,
    preprocess_softmax_scaling,
    quantize_multiplier,
    quantize_multiplier_smaller_than_one_exp,
)
from tinykit.codegen.quant import multiply_by_quantized_multiplier as mbqm
from tinykit.codegen.shapes import broadcast_strides, merge_dims

MAX_DIMS = 6


def _lower_pool(ctx: OpContext, kernel: str) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    require_int8(ctx, input_t, output_t)
    opts = ctx.options
    n, in_h, in_w, channels = shape4(ctx, input_t)
    _, out_h, out_w, out_c = shape4(ctx, output_t)
    f_h, f_w = int(opts.get("filter_height", 1)), int(opts.get("filter_width", 1))
    s_h, s_w = int(opts.get("stride_h", 1)), int(opts.get("stride_w", 1))
    padding = str(opts.get("padding", "VALID"))
    if (out_size(padding, in_h, f_h, s_h, 1), out_size(padding, in_w, f_w, s_w, 1)) != (
            out_h, out_w) or out_c != channels:
        raise ctx.error("its output shape does not follow from its parameters")
    geometry = dict(batches=n, in_h=in_h, in_w=in_w, channels=channels, out_h=out_h,
                    out_w=out_w, filter_h=f_h, filter_w=f_w, stride_h=s_h, stride_w=s_w,
                    pad_top=padding_before(s_h, 1, in_h, f_h, out_h),
                    pad_left=padding_before(s_w, 1, in_w, f_w, out_w))
    check_int16(ctx, **geometry)
    act_min, act_max = fused_range(ctx, output_t)
    fields: list[tuple[str, object]] = [*geometry.items(), ("act_min", act_min),
                                        ("act_max", act_max)]
    name = ctx.struct("tk_pool_params", fields)
    ctx.call(f"{kernel}(&{name}, {ctx.data(input_t)}, {ctx.arena(output_t)});")


def lower_average_pool(ctx: OpContext) -> None:
    _lower_pool(ctx, "tk_average_pool_s8")


def lower_max_pool(ctx: OpContext) -> None:
    _lower_pool(ctx, "tk_max_pool_s8")


def _mean_multiplier(in_scale: float, out_scale: float, count: int) -> tuple[int, int]:
    """PrepareMeanOrSum's multiplier with QuantizedMeanOrSum's 1/count folded in."""
    multiplier, shift = quantize_multiplier(float(in_scale) / float(out_scale))
    extra = max(0, min(count.bit_length() - 1, 32, 31 + shift))
    return (multiplier << extra) // count, shift - extra


def lower_mean(ctx: OpContext) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    require_int8(ctx, input_t, output_t)
    shape = list(input_t.shape)
    axes_raw = ctx.static_data(ctx.input(1), "axis").reshape(-1).tolist()
    axes = sorted({a + len(shape) if a < 0 else a for a in axes_raw})
    if any(not 0 <= a < len(shape) for a in axes) or len(shape) > MAX_DIMS:
        raise ctx.error(f"axes {axes_raw} do not fit its {len(shape)}-d input")
    strides = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(len(shape))]
    kept = merge_dims([(shape[d], strides[d]) for d in range(len(shape)) if d not in axes])
    reduced = merge_dims([(shape[d], strides[d]) for d in axes])
    count = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    if count == 0:
        raise ctx.error("it reduces an empty axis")
    in_scale, in_zp = qparams(ctx, input_t)
    out_scale, out_zp = qparams(ctx, output_t)
    multiplier, shift = _mean_multiplier(in_scale, out_scale, count)
    fields: list[tuple[str, object]] = [
        ("num_kept", len(kept)), ("num_reduced", len(reduced)),
        ("kept_dims", dims_initializer([d for d, _ in kept], MAX_DIMS)),
        ("kept_strides", dims_initializer([s for _, s in kept], MAX_DIMS)),
        ("reduced_dims", dims_initializer([d for d, _ in reduced], MAX_DIMS)),
        ("reduced_strides", dims_initializer([s for _, s in reduced], MAX_DIMS)),
        ("count", count), ("input_zero_point", in_zp), ("output_zero_point", out_zp),
        ("multiplier", multiplier), ("shift", shift),
    ]
    name = ctx.struct("tk_mean_params", fields)
    ctx.call(f"tk_mean_s8(&{name}, {ctx.data(input_t)}, {ctx.arena(output_t)});")


def _binary_multipliers(ctx: OpContext, kind: str, s1: float, s2: float,
                        so: float) -> list[tuple[str, object]]:
    if kind == "TK_MUL":
        multiplier, shift = quantize_multiplier(float(f32(f32(s1) * f32(s2)) / f32(so)))
        return [("left_shift", 0), ("input1_multiplier", 0), ("input1_shift", 0),
                ("input2_multiplier", 0), ("input2_shift", 0),
                ("output_multiplier", multiplier), ("output_shift", shift)]
    left_shift = 20
    twice_max = float(f32(2.0) * f32(max(s1, s2)))
    real_out = twice_max / float(f32(float(1 << left_shift)) * f32(so))
    m1, e1 = quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
    m2, e2 = quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
    try:
        mo, eo = quantize_multiplier_smaller_than_one_exp(real_out)
    except ValueError as exc:
        raise ctx.error("its output scale is too small for its input scales") from exc
    return [("left_shift", left_shift), ("input1_multiplier", m1), ("input1_shift", e1),
            ("input2_multiplier", m2), ("input2_shift", e2),
            ("output_multiplier", mo), ("output_shift", eo)]


def _lower_add_table(ctx: OpContext, kind: str, zero_points: tuple[int, int, int],
                     multipliers: dict[str, int], act: tuple[int, int]) -> None:
    """ADD/SUB of same-shape tensors: each input's scaled value from a 256-entry table.

    The tables hold TFLite's MultiplyByQuantizedMultiplier((x - zp) << 20, m, e) for every
    int8 x (SUB negates the second), so only the output is requantized per element.
    """
    a, b, output_t = ctx.input(0), ctx.input(1), ctx.output()
    z1, z2, zo = zero_points
    sign = -1 if kind == "TK_SUB" else 1
    table1 = [mbqm((x - z1) << 20, multipliers["input1_multiplier"],
                   multipliers["input1_shift"]) for x in range(-128, 128)]
    table2 = [sign * mbqm((x - z2) << 20, multipliers["input2_multiplier"],
                          multipliers["input2_shift"]) for x in range(-128, 128)]
    out_e = multipliers["output_shift"]
    fields: list[tuple[str, object]] = [
        ("table1", ctx.array("table1", "int32_t", table1, "input 1 scaled, by value + 128")),
        ("table2", ctx.array("table2", "int32_t", table2, "input 2 scaled, by value + 128")),
        ("count", output_t.num_elements),
        ("output_multiplier", multipliers["output_multiplier"]), ("output_shift", out_e),
        ("output_zero_point", zo), ("act_min", act[0]), ("act_max", act[1]),
        ("fast_requant", int(out_e in kernels.FAST_SHIFTS)),
    ]
    name = ctx.struct("tk_add_table_params", fields)
    ctx.call(f"tk_add_table_s8(&{name}, {ctx.data(a)}, {ctx.data(b)}, {ctx.arena(output_t)});")


def _lower_binary(ctx: OpContext, kind: str) -> None:
    a, b, output_t = ctx.input(0), ctx.input(1), ctx.output()
    require_int8(ctx, a, b, output_t)
    try:
        dims, strides1, strides2 = broadcast_strides(a.shape, b.shape, output_t.shape)
    except ValueError as exc:
        raise ctx.error(str(exc)) from exc
    if len(dims) > MAX_DIMS:
        raise ctx.error(f"it broadcasts over {len(dims)} dimensions; at most {MAX_DIMS}")
    (s1, z1), (s2, z2), (so, zo) = qparams(ctx, a), qparams(ctx, b), qparams(ctx, output_t)
    act_min, act_max = fused_range(ctx, output_t)
    if kernels.choose_binary(ctx.graph, ctx.op).kernel == "tk_add_table_s8":
        scaled = {key: cast(int, value)
                  for key, value in _binary_multipliers(ctx, kind, s1, s2, so)}
        _lower_add_table(ctx, kind, (z1, z2, zo), scaled, (act_min, act_max))
        return
    fields: list[tuple[str, object]] = [
        ("kind", kind), ("ndims", len(dims)), ("dims", dims_initializer(dims, MAX_DIMS)),
        ("strides1", dims_initializer(strides1, MAX_DIMS)),
        ("strides2", dims_initializer(strides2, MAX_DIMS)),
        ("input1_offset", -z1), ("input2_offset", -z2), ("output_offset", zo),
        *_binary_multipliers(ctx, kind, s1, s2, so),
        ("act_min", act_min), ("act_max", act_max),
    ]
    name = ctx.struct("tk_binary_params", fields)
    ctx.call(f"tk_binary_s8(&{name}, {ctx.data(a)}, {ctx.data(b)}, {ctx.arena(output_t)});")


def lower_add(ctx: OpContext) -> None:
    _lower_binary(ctx, "TK_ADD")


def lower_sub(ctx: OpContext) -> None:
    _lower_binary(ctx, "TK_SUB")


def lower_mul(ctx: OpContext) -> None:
    _lower_binary(ctx, "TK_MUL")


def lower_softmax(ctx: OpContext) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    require_int8(ctx, input_t, output_t)
    in_scale, _ = qparams(ctx, input_t)
    out_scale, out_zp = qparams(ctx, output_t)
    if out_zp != -128 or abs(out_scale - 1.0 / 256) > 0.001 / 256:
        raise ctx.error(f"its output quantization ({out_scale}, {out_zp}) is not "
                        "(1/256, -128), which int8 SOFTMAX requires")
    beta = float(ctx.options.get("beta", 1.0))
    multiplier, left_shift = preprocess_softmax_scaling(beta, in_scale, 5)
    diff_min = -calculate_input_radius(5, left_shift, 31)
    table = luts.softmax_exp_table(multiplier, left_shift, diff_min)
    depth = input_t.shape[-1] if input_t.shape else 1
    fields: list[tuple[str, object]] = [
        ("exp_table", ctx.array("exp", "int32_t", table, "exp(-d), Q0.31")),
        ("rows", input_t.num_elements // max(depth, 1)), ("depth", depth),
    ]
    name = ctx.struct("tk_softmax_params", fields)
    ctx.call(f"tk_softmax_s8(&{name}, {ctx.data(input_t)}, {ctx.arena(output_t)});")


def _lower_table(ctx: OpContext, build: Callable[[float, int, float, int], list[int]],
                 what: str) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    require_int8(ctx, input_t, output_t)
    in_scale, in_zp = qparams(ctx, input_t)
    out_scale, out_zp = qparams(ctx, output_t)
    try:
        table = build(in_scale, in_zp, out_scale, out_zp)
    except ValueError as exc:
        raise ctx.error(str(exc)) from exc
    name = ctx.array("table", "int8_t", table, f"{what} of every int8 input")
    ctx.call(f"tk_lut_s8({name}, {input_t.num_elements}, {ctx.data(input_t)}, "
             f"{ctx.arena(output_t)});")


def lower_logistic(ctx: OpContext) -> None:
    out_scale, out_zp = qparams(ctx, ctx.output())
    if out_scale != 1.0 / 256 or out_zp != -128:
        raise ctx.error("int8 LOGISTIC needs output scale 1/256 and zero point -128")
    _lower_table(ctx, luts.logistic_table, "1 / (1 + exp(-x))")


def lower_tanh(ctx: OpContext) -> None:
    _lower_table(ctx, luts.tanh_table, "tanh(x)")


def lower_hard_swish(ctx: OpContext) -> None:
    _lower_table(ctx, luts.hard_swish_table, "x * relu6(x + 3) / 6")


def lower_relu(ctx: OpContext) -> None:
    _lower_table(ctx, lambda s, z, so, zo: luts.relu_table(s, z, so, zo, 0.0, None), "relu")


def lower_relu6(ctx: OpContext) -> None:
    _lower_table(ctx, lambda s, z, so, zo: luts.relu_table(s, z, so, zo, 0.0, 6.0), "relu6")


def lower_relu_n1_to_1(ctx: OpContext) -> None:
    _lower_table(ctx, lambda s, z, so, zo: luts.relu_table(s, z, so, zo, -1.0, 1.0),
                 "clamp to [-1, 1]")


def lower_leaky_relu(ctx: OpContext) -> None:
    alpha = float(ctx.options.get("alpha", 0.2))
    _lower_table(ctx, lambda s, z, so, zo: luts.leaky_relu_table(s, z, so, zo, alpha),
                 f"leaky relu, alpha {alpha:g}")


def lower_quantize(ctx: OpContext) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    if input_t.dtype == "int8":
        _lower_table(ctx, luts.requantize_table, "requantization")
        return
    if input_t.dtype != "float32" or output_t.dtype != "int8":
        raise ctx.error(f"it converts {input_t.dtype} to {output_t.dtype}; tinykit "
                        "supports float32 -> int8 and int8 -> int8",
                        hint="use int8 or float32 model inputs")
    scale, zero_point = qparams(ctx, output_t)
    ctx.call(f"tk_quantize_f32_s8({float_literal(float(f32(scale)), single=True)}, "
             f"{zero_point}, {input_t.num_elements}, {ctx.data(input_t)}, "
             f"{ctx.arena(output_t)});")


def lower_dequantize(ctx: OpContext) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    if input_t.dtype != "int8" or output_t.dtype != "float32":
        raise ctx.error(f"it converts {input_t.dtype} to {output_t.dtype}; tinykit "
                        "supports int8 -> float32",
                        hint="float16 or int16 weights need a float kernel tinykit lacks; "
                             "convert with full int8 quantization")
    scale, zero_point = qparams(ctx, input_t)
    ctx.call(f"tk_dequantize_s8_f32({float_literal(scale, single=False)}, {zero_point}, "
             f"{input_t.num_elements}, {ctx.data(input_t)}, {ctx.arena(output_t)});")
