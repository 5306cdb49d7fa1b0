"""Data movement: views, PAD, CONCATENATION, STRIDED_SLICE, TRANSPOSE, resizing, space/batch.

None of these does arithmetic; all parameters (paddings, perm, slices, block shapes) must
be static and are turned into strided copies or small index tables at generation time.
"""

from __future__ import annotations

import math

import numpy as np

from tinykit.codegen.common import check_int16, qparams, shape4
from tinykit.codegen.csyntax import dims_initializer
from tinykit.codegen.program import C_TYPES, OpContext
from tinykit.codegen.quant import f32, tflite_round
from tinykit.codegen.shapes import contiguous_strides, merge_copy
from tinykit.tflite.model import Tensor

MAX_DIMS = 6


def _elem_size(ctx: OpContext, tensor: Tensor) -> int:
    if tensor.dtype not in C_TYPES:
        raise ctx.error(f"tensor {tensor.index} has type {tensor.dtype}, which tinykit does "
                        "not move")
    return C_TYPES[tensor.dtype][1]


def _same_quantization(ctx: OpContext, a: Tensor, b: Tensor) -> None:
    """Data movement keeps bytes, so input and output must mean the same values."""
    if a.dtype == "int8" and qparams(ctx, a) != qparams(ctx, b):
        raise ctx.error(f"tensors {a.index} and {b.index} have different quantization; "
                        "TFLite's int8 kernel for this op requires equal scale and zero point")


def _copy(ctx: OpContext, source: str, target: str, elem_size: int, dims: list[int],
          in_strides: list[int], out_strides: list[int], in_offset: int = 0,
          out_offset: int = 0, suffix: str = "") -> None:
    dims, in_strides, out_strides = merge_copy(dims, in_strides, out_strides)
    if len(dims) > MAX_DIMS:
        raise ctx.error(f"it moves data over {len(dims)} dimensions; at most {MAX_DIMS}")
    if len(dims) == 1 and in_strides[0] == 1 and out_strides[0] == 1:
        count = dims[0] * elem_size
        ctx.call(f"memmove((unsigned char *){target} + {out_offset * elem_size}, "
                 f"(const unsigned char *){source} + {in_offset * elem_size}, {count});")
        return
    fields: list[tuple[str, object]] = [
        ("ndims", len(dims)), ("elem_size", elem_size),
        ("dims", dims_initializer(dims, MAX_DIMS)),
        ("in_strides", dims_initializer(in_strides, MAX_DIMS)),
        ("out_strides", dims_initializer(out_strides, MAX_DIMS)),
        ("in_offset", in_offset), ("out_offset", out_offset),
    ]
    name = ctx.struct("tk_copy_params", fields, suffix)
    ctx.call(f"tk_copy_nd(&{name}, {source}, {target});")


def lower_view(ctx: OpContext) -> None:
    """RESHAPE, SQUEEZE, EXPAND_DIMS: the planner aliases them, so usually no code at all."""
    input_t, output_t = ctx.input(0), ctx.output()
    if input_t.nbytes != output_t.nbytes:
        raise ctx.error(f"it reshapes {input_t.nbytes} bytes into {output_t.nbytes}")
    if ctx.plan.offset(input_t.index) == ctx.plan.offset(output_t.index):
        ctx.call(f"/* view: tensor {output_t.index} aliases tensor {input_t.index} */")
        return
    ctx.call(f"memmove({ctx.arena(output_t)}, {ctx.arena(input_t)}, {input_t.nbytes});")


def _pad_value(ctx: OpContext, output_t: Tensor) -> int:
    if ctx.has_input(2):
        value = ctx.static_data(ctx.input(2), "pad value").reshape(-1)
        return int(value[0])
    return qparams(ctx, output_t)[1] if output_t.quantization else 0


def lower_pad(ctx: OpContext) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    if input_t.dtype != "int8" or output_t.dtype != "int8":
        raise ctx.error(f"it pads {input_t.dtype} data; tinykit pads int8 activations")
    _same_quantization(ctx, input_t, output_t)
    paddings = ctx.static_data(ctx.input(1), "paddings").reshape(-1, 2)
    shape = list(input_t.shape)
    if len(paddings) != len(shape) or [
            s + int(p[0]) + int(p[1]) for s, p in zip(shape, paddings, strict=True)
    ] != list(output_t.shape) or paddings.min() < 0:
        raise ctx.error(f"its paddings {paddings.tolist()} do not match its shapes")
    out_strides = contiguous_strides(output_t.shape)
    offset = sum(int(p[0]) * s for p, s in zip(paddings, out_strides, strict=True))
    ctx.call(f"tk_fill_s8({_pad_value(ctx, output_t)}, {output_t.num_elements}, "
             f"{ctx.arena(output_t)});")
    _copy(ctx, ctx.data(input_t), ctx.arena(output_t), 1, shape,
          contiguous_strides(shape), out_strides, out_offset=offset)


def lower_concatenation(ctx: OpContext) -> None:
    output_t = ctx.output()
    if str(ctx.options.get("fused_activation_function", "NONE")) != "NONE":
        raise ctx.error("a fused activation on CONCATENATION is not supported")
    rank = len(output_t.shape)
    axis = int(ctx.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    elem = _elem_size(ctx, output_t)
    out_strides = contiguous_strides(output_t.shape)
    position = 0
    for k in range(len(ctx.op.inputs)):
        input_t = ctx.input(k)
        _same_quantization(ctx, input_t, output_t)
        shape = list(input_t.shape)
        _copy(ctx, ctx.data(input_t), ctx.arena(output_t), elem, shape,
              contiguous_strides(shape), out_strides, out_offset=position * out_strides[axis],
              suffix=f"in{k}")
        position += shape[axis]
    if position != output_t.shape[axis]:
        raise ctx.error("its inputs do not add up to its output along the axis")


def slice_bounds(begin: int, end: int, stride: int, size: int, begin_masked: bool,
                  end_masked: bool, shrink: bool) -> tuple[int, int]:
    """TFLite strided_slice::StartForAxis / StopForAxis."""
    if begin_masked:
        begin = -(1 << 31) if stride > 0 else (1 << 31) - 1
    start = begin + size if begin < 0 else begin
    start = min(max(start, 0), size - 1)
    stop = start + 1 if shrink else end
    if end_masked:
        stop = (1 << 31) - 1 if stride > 0 else -(1 << 31)
    stop = stop + size if stop < 0 else stop
    stop = min(max(stop, 0), size) if stride > 0 else min(max(stop, -1), size - 1)
    return start, stop


def slice_plan(shape: list[int], begin: list[int], end: list[int], strides: list[int],
               options: dict[str, int]) -> list[tuple[int, int, int]]:
    """(start, count, step) per axis of a STRIDED_SLICE; ValueError when it does not fit."""
    if options.get("ellipsis_mask") or options.get("new_axis_mask"):
        raise ValueError("ellipsis and new-axis masks are not supported")
    if not len(begin) == len(end) == len(strides) <= len(shape) or 0 in strides:
        raise ValueError("its begin, end and strides do not match its input")
    pad = len(shape) - len(begin)  # missing trailing axes are taken whole
    begin, end, strides = begin + [0] * pad, end + [0] * pad, strides + [1] * pad
    full = ((1 << len(shape)) - 1) & ~((1 << (len(shape) - pad)) - 1)
    begin_mask = int(options.get("begin_mask", 0)) | full
    end_mask = int(options.get("end_mask", 0)) | full
    shrink_mask = int(options.get("shrink_axis_mask", 0))
    if options.get("offset"):
        end = [b + e for b, e in zip(begin, end, strict=True)]
    plan = []
    for d, size in enumerate(shape):
        start, stop = slice_bounds(int(begin[d]), int(end[d]), int(strides[d]), size,
                                   bool(begin_mask >> d & 1), bool(end_mask >> d & 1),
                                   bool(shrink_mask >> d & 1))
        step = int(strides[d])
        plan.append((start, max(0, -((start - stop) // step)), step))
    return plan


def lower_strided_slice(ctx: OpContext) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    begin = ctx.static_data(ctx.input(1), "begin").reshape(-1).tolist()
    end = ctx.static_data(ctx.input(2), "end").reshape(-1).tolist()
    strides = ctx.static_data(ctx.input(3), "strides").reshape(-1).tolist()
    shape = list(input_t.shape)
    try:
        plan = slice_plan(shape, begin, end, strides, dict(ctx.options))
    except ValueError as exc:
        raise ctx.error(str(exc)) from exc
    _same_quantization(ctx, input_t, output_t)
    in_strides = contiguous_strides(shape)
    dims = [count for _, count, _ in plan]
    if int(np.prod(dims)) != output_t.num_elements:
        raise ctx.error(f"its slice has {dims} elements but its output is "
                        f"{list(output_t.shape)}")
    steps = [step * stride for (_, _, step), stride in zip(plan, in_strides, strict=True)]
    in_offset = sum(start * stride for (start, _, _), stride in zip(plan, in_strides,
                                                                     strict=True))
    _copy(ctx, ctx.data(input_t), ctx.arena(output_t), _elem_size(ctx, input_t), dims, steps,
          contiguous_strides(dims), in_offset=in_offset)


def lower_slice(ctx: OpContext) -> None:
    """SLICE: begin and size (-1: to the end) per axis."""
    input_t, output_t = ctx.input(0), ctx.output()
    shape = list(input_t.shape)
    begin = [int(v) for v in ctx.static_data(ctx.input(1), "begin").reshape(-1)]
    size = [int(v) for v in ctx.static_data(ctx.input(2), "size").reshape(-1)]
    if len(begin) != len(shape) or len(size) != len(shape):
        raise ctx.error(f"begin {begin} and size {size} do not fit its {len(shape)}-d input")
    dims = [n - b if s == -1 else s for n, b, s in zip(shape, begin, size, strict=True)]
    if any(b < 0 or d < 0 or b + d > n for b, d, n in zip(begin, dims, shape, strict=True)):
        raise ctx.error(f"begin {begin} and size {size} reach outside its input {shape}")
    _same_quantization(ctx, input_t, output_t)
    in_strides = contiguous_strides(shape)
    _copy(ctx, ctx.data(input_t), ctx.arena(output_t), _elem_size(ctx, input_t), dims,
          in_strides, contiguous_strides(dims),
          in_offset=sum(b * s for b, s in zip(begin, in_strides, strict=True)))


def lower_transpose(ctx: OpContext) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    perm = [int(p) for p in ctx.static_data(ctx.input(1), "permutation").reshape(-1)]
    shape = list(input_t.shape)
    if sorted(perm) != list(range(len(shape))):
        raise ctx.error(f"permutation {perm} does not fit its {len(shape)}-d input")
    _same_quantization(ctx, input_t, output_t)
    in_strides = contiguous_strides(shape)
    dims = [shape[p] for p in perm]
    _copy(ctx, ctx.data(input_t), ctx.arena(output_t), _elem_size(ctx, input_t), dims,
          [in_strides[p] for p in perm], contiguous_strides(dims))


def nearest_map(out_size: int, in_size: int, align_corners: bool,
                half_pixel_centers: bool) -> list[int]:
    """TFLite `GetNearestNeighbor` for every output row (float arithmetic as TFLite)."""
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel_centers else f32(0.0)
    result = []
    for i in range(out_size):
        position = float((f32(i) + offset) * scale)
        source = tflite_round(position) if align_corners else math.floor(position)
        source = min(source, in_size - 1)
        result.append(max(0, source) if half_pixel_centers else source)
    return result


def lower_resize_nearest(ctx: OpContext) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    _same_quantization(ctx, input_t, output_t)
    n, in_h, in_w, channels = shape4(ctx, input_t)
    _, out_h, out_w, _ = shape4(ctx, output_t)
    align = bool(ctx.options.get("align_corners", False))
    half = bool(ctx.options.get("half_pixel_centers", False))
    geometry = dict(batches=n, in_h=in_h, in_w=in_w, channels=channels, out_h=out_h,
                    out_w=out_w)
    check_int16(ctx, **geometry)
    fields: list[tuple[str, object]] = [
        ("y_map", ctx.array("y_map", "int16_t", nearest_map(out_h, in_h, align, half),
                            "source row of each output row")),
        ("x_map", ctx.array("x_map", "int16_t", nearest_map(out_w, in_w, align, half),
                            "source column of each output column")),
        *geometry.items(), ("elem_size", _elem_size(ctx, input_t)),
    ]
    name = ctx.struct("tk_resize_params", fields)
    ctx.call(f"tk_resize_nearest(&{name}, {ctx.data(input_t)}, {ctx.arena(output_t)});")


def _space_batch(ctx: OpContext, kernel: str, what: str) -> None:
    input_t, output_t = ctx.input(0), ctx.output()
    _same_quantization(ctx, input_t, output_t)
    block = [int(v) for v in ctx.static_data(ctx.input(1), "block shape").reshape(-1)]
    pads = ctx.static_data(ctx.input(2), what).reshape(-1, 2).astype(int).tolist()
    if len(input_t.shape) == 3:  # N, H, C: width 1, block and padding only on height
        block, pads = [block[0], 1], [pads[0], [0, 0]]
    in_shape = shape4(ctx, input_t) if len(input_t.shape) == 4 else (
        input_t.shape[0], input_t.shape[1], 1, input_t.shape[2])
    out_shape = shape4(ctx, output_t) if len(output_t.shape) == 4 else (
        output_t.shape[0], output_t.shape[1], 1, output_t.shape[2])
    if len(block) != 2 or min(block) < 1:
        raise ctx.error(f"block shape {block} is not supported (2 spatial dims)")
    pad_value = qparams(ctx, output_t)[1] if output_t.dtype == "int8" else 0
    geometry = dict(in_b=in_shape[0], in_h=in_shape[1], in_w=in_shape[2], out_b=out_shape[0],
                    out_h=out_shape[1], out_w=out_shape[2], channels=in_shape[3],
                    block_h=block[0], block_w=block[1], pad_top=pads[0][0],
                    pad_left=pads[1][0])
    check_int16(ctx, **geometry)
    fields: list[tuple[str, object]] = [*geometry.items(), ("pad_value", pad_value),
                                        ("elem_size", _elem_size(ctx, input_t))]
    name = ctx.struct("tk_space_batch_params", fields)
    ctx.call(f"{kernel}(&{name}, {ctx.data(input_t)}, {ctx.arena(output_t)});")


def lower_space_to_batch(ctx: OpContext) -> None:
    _space_batch(ctx, "tk_space_to_batch", "paddings")


def lower_batch_to_space(ctx: OpContext) -> None:
    _space_batch(ctx, "tk_batch_to_space", "crops")
