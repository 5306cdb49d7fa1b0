"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: weights, folded biases, multipliers.

Per-layer constants follow TFLite's Prepare exactly: per-channel effective scales
`input_scale * filter_scale[c] / output_scale` in double (PopulateConvolutionQuantization
Params), and for per-tensor FULLY_CONNECTED the product `input_scale * filter_scale`
taken in float first (GetQuantizedConvolutionMultipler), as tflite-runtime 2.14 does.
The input zero point is folded into the bias: bias[c] - zp_in * sum(filter[c]); the
kernels read padding as zp_in, which then adds exactly nothing, as in TFLite.
"""

from __future__ import annotations

import numpy as np

from tinykit.codegen import kernels, lower_packed
from tinykit.codegen.common import (
    check_int16,
    fused_range,
    out_size,
    padding_before,
    qparams,
    require_int8,
    shape4,
)
from tinykit.codegen.program import OpContext
from tinykit.codegen.quant import f32, quantize_multiplier
from tinykit.tflite.model import Operator, Subgraph, Tensor

INT32_RANGE = (-(1 << 31), (1 << 31) - 1)
#: Kernels whose last argument is the op's scratch buffer in the arena.
SCRATCH_KERNELS = frozenset({"tk_conv2d_im2col_s8", "tk_conv2d_im2col_bytes_s8",
                             "tk_conv2d_1ch_s8",
                             "tk_depthwise_conv2d_rows_s8", "tk_depthwise_conv2d_3x3_s8",
                             "tk_depthwise_conv2d_3x3s2_s8"})


def _filter_scales(ctx: OpContext, weights: Tensor, channels: int, axis: int) -> list[float]:
    """One scale per output channel (a per-tensor scale repeated), zero points checked."""
    quant = weights.quantization
    if weights.dtype != "int8" or quant is None or not quant.scale:
        kind = "float" if weights.dtype == "float32" else weights.dtype
        raise ctx.error(
            f"its weights are {kind} without int8 quantization",
            hint="convert with full integer quantization (representative dataset, "
                 "int8 weights and activations); float and hybrid models are not supported",
        )
    if any(zp != 0 for zp in quant.zero_point):
        raise ctx.error("its int8 weights have a non-zero zero point (legacy asymmetric "
                        "weights)", hint="convert again with a current TFLite converter")
    if len(quant.scale) == 1:
        return [float(quant.scale[0])] * channels
    if len(quant.scale) != channels or quant.quantized_dimension != axis:
        raise ctx.error(f"its weights are quantized along axis {quant.quantized_dimension} "
                        f"with {len(quant.scale)} scales; expected axis {axis} with {channels}")
    return [float(s) for s in quant.scale]


def _per_channel_multipliers(input_scale: float, filter_scales: list[float],
                             output_scale: float) -> tuple[list[int], list[int]]:
    pairs = [quantize_multiplier(input_scale * s / output_scale) for s in filter_scales]
    return [m for m, _ in pairs], [s for _, s in pairs]


def _folded_bias(ctx: OpContext, channels: int, filter_sums: np.ndarray,
                 input_zero_point: int) -> list[int]:
    bias = np.zeros(channels, dtype=np.int64)
    if ctx.has_input(2):
        tensor = ctx.input(2)
        if tensor.dtype != "int32":
            raise ctx.error(f"its bias is {tensor.dtype}; int32 was expected")
        bias = ctx.static_data(tensor, "bias").astype(np.int64).reshape(-1)
        if bias.size != channels:
            raise ctx.error(f"its bias has {bias.size} values for {channels} channels")
    folded = bias - input_zero_point * filter_sums.astype(np.int64)
    if folded.min() < INT32_RANGE[0] or folded.max() > INT32_RANGE[1]:
        raise ctx.error("its bias with the input zero point folded in overflows int32")
    return folded.tolist()


def _conv_arrays(ctx: OpContext, weights: np.ndarray | None, bias: list[int],
                 multipliers: list[int], shifts: list[int]) -> dict[str, str]:
    """The layer's constant arrays; weights None: packed (lower_packed), filter NULL."""
    return {
        "filter": "NULL" if weights is None else
        ctx.array("filter", "int8_t", weights, "weights", align=16),
        "bias": ctx.array("bias", "int32_t", bias, "bias - input zero point * sum(weights)"),
        "multiplier": ctx.array("multiplier", "int32_t", multipliers, "requantization"),
        "shift": ctx.array("shift", "int8_t", shifts, "requantization exponents"),
    }


def _geometry(ctx: OpContext, input_t: Tensor, output_t: Tensor, k_h: int,
              k_w: int) -> dict[str, int]:
    """Strides, dilations and padding; checks the output shape TFLite would compute."""
    opts = ctx.options
    n, in_h, in_w, in_c = shape4(ctx, input_t)
    _, out_h, out_w, out_c = shape4(ctx, output_t)
    stride_h, stride_w = int(opts.get("stride_h", 1)), int(opts.get("stride_w", 1))
    dil_h, dil_w = int(opts.get("dilation_h_factor", 1)), int(opts.get("dilation_w_factor", 1))
    padding = str(opts.get("padding", "SAME"))
    if padding not in ("SAME", "VALID"):
        raise ctx.error(f"padding {padding} is not supported")
    expected = (out_size(padding, in_h, k_h, stride_h, dil_h),
                out_size(padding, in_w, k_w, stride_w, dil_w))
    if expected != (out_h, out_w):
        raise ctx.error(f"its output is {out_h}x{out_w} but its parameters give "
                        f"{expected[0]}x{expected[1]}")
    geometry = dict(
        batches=n, in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c,
        k_h=k_h, k_w=k_w, stride_h=stride_h, stride_w=stride_w,
        dilation_h=dil_h, dilation_w=dil_w,
        pad_top=padding_before(stride_h, dil_h, in_h, k_h, out_h),
        pad_left=padding_before(stride_w, dil_w, in_w, k_w, out_w),
    )
    check_int16(ctx, **geometry)
    return geometry


def _emit_conv(ctx: OpContext, kernel: str, geometry: dict[str, int], arrays: dict[str, str],
               extra: dict[str, int], quant: tuple[int, int, int, int, bool],
               packed: lower_packed.PackedLayer | None = None) -> None:
    """The parameter struct and the call; quant = (zp_in, zp_out, act_min, act_max, fast);
    a packed layer calls its packed kernel with the struct nested in the packed one."""
    input_zp, output_zp, act_min, act_max, fast = quant
    fields: list[tuple[str, object]] = list(arrays.items())
    fields += list(geometry.items()) + list(extra.items())
    fields += [("input_zero_point", input_zp), ("output_zero_point", output_zp),
               ("act_min", act_min), ("act_max", act_max), ("fast_requant", int(fast))]
    ctype = "tk_conv_params"
    if packed is not None:
        (ctype, fields), kernel = packed.struct(ctype, fields), packed.kernel
    name = ctx.struct(ctype, fields)
    args = [f"&{name}", ctx.data(ctx.input(0)), ctx.arena(ctx.output())]
    if kernel in SCRATCH_KERNELS or packed is not None:
        args.append(ctx.scratch())
    ctx.call(f"{kernel}({', '.join(args)});")


def _conv_weights(ctx: OpContext) -> np.ndarray:
    weights = ctx.static_data(ctx.input(1), "weights")
    if weights.ndim != 4:
        raise ctx.error(f"its weights have shape {list(weights.shape)}; OHWI was expected")
    return weights


def lower_conv2d(ctx: OpContext) -> None:
    input_t, weights_t, output_t = ctx.input(0), ctx.input(1), ctx.output()
    require_int8(ctx, input_t, output_t)
    weights = _conv_weights(ctx)
    out_c, k_h, k_w, filter_c = weights.shape
    geometry = _geometry(ctx, input_t, output_t, k_h, k_w)
    if geometry["in_c"] % filter_c or out_c % (geometry["in_c"] // filter_c):
        raise ctx.error(f"{geometry['in_c']} input channels do not split into groups of "
                        f"{filter_c}")
    scales = _filter_scales(ctx, weights_t, out_c, axis=0)
    sums = weights.reshape(out_c, -1).astype(np.int64).sum(axis=1)
    groups = geometry["in_c"] // filter_c
    _lower_conv_like(ctx, weights, scales, sums, geometry, groups)


def kernel_choice(graph: Subgraph, op: Operator) -> kernels.KernelChoice:
    """What the chooser of this op's type picked before the memory plan."""
    if op.opcode == "DEPTHWISE_CONV_2D":
        return kernels.choose_depthwise(graph, op)
    return kernels.choose_conv(graph, op)


def _lower_conv_like(ctx: OpContext, weights: np.ndarray, scales: list[float],
                     sums: np.ndarray, geometry: dict[str, int], groups: int) -> None:
    """A convolution with OHWI `weights`: the im2col kernel, or the grouped one."""
    input_t, output_t = ctx.input(0), ctx.output()
    out_c, k_h, k_w, filter_c = weights.shape
    in_scale, in_zp = qparams(ctx, input_t)
    out_scale, out_zp = qparams(ctx, output_t)
    multipliers, shifts = _per_channel_multipliers(in_scale, scales, out_scale)
    bias = _folded_bias(ctx, out_c, sums, in_zp)
    extra = {"groups": groups, "depth_multiplier": 1, "k_pad": 0}
    abs_sums = kernels.weight_abs_sums(weights)
    plan = kernels.requant_plan(multipliers, shifts, bias, abs_sums)
    fast, multipliers, shifts, bias = plan.fast, plan.multipliers, plan.shifts, plan.bias
    if plan.constant:
        weights = weights.copy()
        weights[list(plan.constant)] = 0
    ohwi, kernel = weights, "tk_conv2d_s8"
    # im2col needs the one-rounding requantization and accumulators below 2^30
    if groups == 1 and fast and kernels.accumulators_fit(plan, abs_sums):
        kernel = kernels.im2col_kernel(k_w * filter_c, geometry["dilation_w"])
        extra["k_pad"] = kernels.conv_k_pad(k_h, k_w, filter_c)
        check_int16(ctx, k_pad=extra["k_pad"])
        weights = kernels.im2col_weights(weights, extra["k_pad"])
    # The memory plan was made for the chosen kernel (scratch, streaming kind).
    chosen = kernel_choice(ctx.graph, ctx.op).kernel
    if chosen == "tk_conv2d_1ch_s8" and kernel.startswith("tk_conv2d_im2col"):
        kernel = chosen  # packed: the im2col layer above; dense: _conv1_arrays below
    if kernel != chosen:
        raise AssertionError(f"op {ctx.op.index}: lowered to {kernel}, planned for {chosen}")
    rows = weights.reshape(out_c, -1)[:, :k_h * k_w * filter_c]  # without k_pad
    packed = lower_packed.packed_layer(ctx, kernel, rows)
    act_min, act_max = fused_range(ctx, output_t)
    if kernel == "tk_conv2d_1ch_s8" and packed is None:
        arrays, extra["k_pad"] = _conv1_arrays(ctx, ohwi, plan, out_zp)
        check_int16(ctx, k_pad=extra["k_pad"])
        _emit_conv(ctx, kernel, geometry, arrays, extra,
                   (in_zp, out_zp, act_min, act_max, fast))
        return
    arrays = _conv_arrays(ctx, None if packed else weights, bias, multipliers, shifts)
    _emit_conv(ctx, kernel, geometry, arrays, extra,
               (in_zp, out_zp, act_min, act_max, fast), packed)


def _conv1_arrays(ctx: OpContext, ohwi: np.ndarray, plan: kernels.RequantPlan,
                  output_zero_point: int) -> tuple[dict[str, str], int]:
    """The constant arrays of tk_conv2d_1ch_s8 (layouts in tk_conv1.c) from OHWI weights of
    depth 1 and the layer's one-rounding requantization; and its k_pad (the row's taps)."""
    out_c, k_h, k_w, _ = ohwi.shape
    out_pad, k_row = kernels.round_up(out_c, 4), kernels.conv1_row(k_w)
    taps = np.zeros((out_pad, k_h, k_row), dtype=np.int64)
    taps[:out_c, :, :k_w] = 2 * ohwi[..., 0].astype(np.int64)
    # per word of 4 taps the pairs (0, 2) and (1, 3); then [group][pair][4 channels][2]
    pairs = taps.reshape(out_pad, k_h, k_row // 4, 4)[..., [0, 2, 1, 3]]
    pairs = pairs.reshape(out_pad // 4, 4, -1, 2).transpose(0, 2, 1, 3)
    right = [-s for s in plan.shifts]
    records = np.zeros((out_pad, 4), dtype=np.int64)  # padded channels: never stored
    records[:out_c] = [[m, (1 << (e - 1)) + output_zero_point * (1 << e), e, 2 * b]
                       for m, e, b in zip(plan.multipliers, right, plan.bias, strict=True)]
    arrays = {
        "filter": "(const int8_t *)" + ctx.array(
            "filter", "int16_t", pairs, "twice the weights as pairs [out/4][pair][4][2]",
            align=16),
        "bias": "NULL",
        "multiplier": ctx.array("multiplier", "int32_t", records,
                                "per channel {multiplier, rounding constant, right shift, "
                                "2 * (bias - input zero point * sum(weights))}", align=4),
        "shift": "NULL",
    }
    return arrays, k_row


def lower_depthwise_conv2d(ctx: OpContext) -> None:
    input_t, weights_t, output_t = ctx.input(0), ctx.input(1), ctx.output()
    require_int8(ctx, input_t, output_t)
    weights = ctx.static_data(weights_t, "weights")
    if weights.ndim != 4 or weights.shape[0] != 1:
        raise ctx.error(f"its weights have shape {list(weights.shape)}; [1, H, W, C] was "
                        "expected")
    _, k_h, k_w, out_c = weights.shape
    geometry = _geometry(ctx, input_t, output_t, k_h, k_w)
    in_c = geometry["in_c"]
    if out_c != geometry["out_c"] or out_c % in_c:
        raise ctx.error(f"{out_c} output channels are not a multiple of {in_c} input channels")
    scales = _filter_scales(ctx, weights_t, out_c, axis=3)
    sums = weights.reshape(-1, out_c).astype(np.int64).sum(axis=0)
    choice = kernels.choose_depthwise(ctx.graph, ctx.op)
    if choice.kernel.startswith("tk_conv2d"):
        # One input channel: a plain convolution with out_c filters of depth 1.
        ohwi = np.ascontiguousarray(weights.transpose(3, 1, 2, 0))
        _lower_conv_like(ctx, ohwi, scales, sums, geometry, groups=1)
        return
    in_scale, in_zp = qparams(ctx, input_t)
    out_scale, out_zp = qparams(ctx, output_t)
    multipliers, shifts = _per_channel_multipliers(in_scale, scales, out_scale)
    bias = _folded_bias(ctx, out_c, sums, in_zp)
    abs_sums = kernels.weight_abs_sums(weights.reshape(-1, out_c).T)
    plan = kernels.requant_plan(multipliers, shifts, bias, abs_sums)
    fast, multipliers, shifts, bias = plan.fast, plan.multipliers, plan.shifts, plan.bias
    if plan.constant:
        weights = weights.copy()
        weights[..., list(plan.constant)] = 0
    packed = lower_packed.packed_layer(ctx, choice.kernel, weights.reshape(-1, out_c).T)
    arrays = _conv_arrays(ctx, None if packed else weights, bias, multipliers, shifts)
    extra = {"groups": 1, "depth_multiplier": out_c // in_c, "k_pad": 0}
    act_min, act_max = fused_range(ctx, output_t)
    if choice.kernel.startswith("tk_depthwise_conv2d_3x3") and \
            not kernels.requant_doubles(plan, abs_sums):
        raise AssertionError(f"op {ctx.op.index}: a 3x3 kernel was planned for a layer whose "
                             "requantization its DSP loops cannot do")
    _emit_conv(ctx, choice.kernel, geometry, arrays, extra,
               (in_zp, out_zp, act_min, act_max, fast), packed)


def lower_fully_connected(ctx: OpContext) -> None:
    input_t, weights_t, output_t = ctx.input(0), ctx.input(1), ctx.output()
    if input_t.dtype == "float32" and weights_t.dtype == "int8":
        raise ctx.error("it is hybrid (float activations, int8 weights: dynamic-range "
                        "quantization)",
                        hint="convert with full integer quantization and a representative "
                             "dataset")
    require_int8(ctx, input_t, output_t)
    if str(ctx.options.get("weights_format", "DEFAULT")) != "DEFAULT":
        raise ctx.error("its weights use a shuffled format")
    weights = ctx.static_data(weights_t, "weights")
    if weights.ndim != 2:
        raise ctx.error(f"its weights have shape {list(weights.shape)}; [out, in] expected")
    out_depth, in_depth = weights.shape
    if input_t.num_elements % in_depth:
        raise ctx.error(f"{input_t.num_elements} input values do not split into rows of "
                        f"{in_depth}")
    in_scale, in_zp = qparams(ctx, input_t)
    out_scale, out_zp = qparams(ctx, output_t)
    scales = _filter_scales(ctx, weights_t, out_depth, axis=0)
    per_channel = len(weights_t.quantization.scale) > 1 if weights_t.quantization else False
    if per_channel:
        multipliers, shifts = _per_channel_multipliers(in_scale, scales, out_scale)
    else:
        # GetQuantizedConvolutionMultipler: the scale product is a float, then double.
        real = float(f32(f32(in_scale) * f32(scales[0]))) / out_scale
        multiplier, shift = quantize_multiplier(real)
        multipliers, shifts = [multiplier], [shift]
    bias = _folded_bias(ctx, out_depth, weights.astype(np.int64).sum(axis=1), in_zp)
    plan = kernels.requant_plan(multipliers, shifts, bias, kernels.weight_abs_sums(weights))
    fast, multipliers, shifts, bias = plan.fast, plan.multipliers, plan.shifts, plan.bias
    if plan.constant:
        weights = weights.copy()
        weights[list(plan.constant)] = 0
    act_min, act_max = fused_range(ctx, output_t)
    packed = lower_packed.packed_layer(ctx, "tk_fully_connected_s8", weights)
    blocked = kernels.fc_blocked_weights(weights)
    # The kernel reads whole blocks of 4 rows: pad the per-row arrays to match.
    pad = kernels.round_up(out_depth, 4) - out_depth
    bias = bias + [0] * pad
    if per_channel:
        multipliers, shifts = multipliers + [0] * pad, shifts + [-2] * pad
    fields: list[tuple[str, object]] = [
        ("weights", "NULL" if packed else
         ctx.array("weights", "int8_t", blocked,
                   "weights in blocks of 4 rows [out/4][in/4][4][4]", align=16)),
        ("bias", ctx.array("bias", "int32_t", bias, "bias - input zero point * sum(row)")),
        ("multiplier", ctx.array("multiplier", "int32_t", multipliers, "requantization")),
        ("shift", ctx.array("shift", "int8_t", shifts, "requantization exponents")),
        ("batches", input_t.num_elements // in_depth), ("in_depth", in_depth),
        ("out_depth", out_depth), ("in_pad", kernels.fc_in_pad(in_depth)),
        ("per_channel", int(per_channel)), ("output_zero_point", out_zp),
        ("act_min", act_min), ("act_max", act_max),
        ("fast_requant", int(fast)),
    ]
    ctype, kernel = "tk_fc_params", "tk_fully_connected_s8"
    if packed is not None:
        (ctype, fields), kernel = packed.struct(ctype, fields), packed.kernel
    name = ctx.struct(ctype, fields)
    ctx.call(f"{kernel}(&{name}, {ctx.data(input_t)}, {ctx.arena(output_t)}, "
             f"{ctx.scratch()});")
