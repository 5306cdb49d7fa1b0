"""Helpers shared by the lowering functions: quantization parameters, padding, ranges."""

from __future__ import annotations

from tinykit.codegen.program import OpContext
from tinykit.codegen.quant import activation_range
from tinykit.tflite.model import Tensor

INT16_MAX = (1 << 15) - 1


def qparams(ctx: OpContext, tensor: Tensor) -> tuple[float, int]:
    """(scale, zero_point) of a per-tensor quantized tensor, or an error naming it."""
    quant = tensor.quantization
    if quant is None or not quant.scale:
        raise ctx.error(f"tensor {tensor.index} has no quantization parameters",
                        hint="convert the model with full integer (int8) quantization")
    if len(quant.scale) != 1:
        raise ctx.error(f"tensor {tensor.index} is quantized per channel, which this op's "
                        "kernel does not support")
    return float(quant.scale[0]), int(quant.zero_point[0] if quant.zero_point else 0)


def require_int8(ctx: OpContext, *tensors: Tensor) -> None:
    """Every tensor must be int8 (the activations of the int8 kernels)."""
    for tensor in tensors:
        if tensor.dtype != "int8":
            raise ctx.error(
                f"tensor {tensor.index} is {tensor.dtype}; the kernel needs int8",
                hint="convert with full integer quantization (int8 activations, "
                     "inference_input_type/inference_output_type int8 or float32)",
            )


def fused_range(ctx: OpContext, output: Tensor) -> tuple[int, int]:
    """Quantized clamp bounds of the op's fused activation."""
    activation = str(ctx.options.get("fused_activation_function", "NONE"))
    scale, zero_point = qparams(ctx, output)
    try:
        return activation_range(activation, scale, zero_point)
    except ValueError as exc:
        raise ctx.error(f"fused activation {activation} is not supported") from exc


def out_size(padding: str, in_size: int, filter_size: int, stride: int, dilation: int) -> int:
    """TFLite `ComputeOutSize`."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride


def padding_before(stride: int, dilation: int, in_size: int, filter_size: int,
                   out: int) -> int:
    """TFLite `ComputePaddingWithOffset`: padding before the first row/column."""
    effective = (filter_size - 1) * dilation + 1
    total = max(0, (out - 1) * stride + effective - in_size)
    return total // 2


def check_int16(ctx: OpContext, **values: int) -> None:
    """Kernel geometry is stored as int16_t; anything larger is an error, not a wrap."""
    for key, value in values.items():
        if not 0 <= value <= INT16_MAX and not (key.startswith("pad") and value >= -INT16_MAX):
            raise ctx.error(f"{key} = {value} is beyond what the kernel parameters hold")


def shape4(ctx: OpContext, tensor: Tensor) -> tuple[int, int, int, int]:
    """An NHWC shape; 3-d (N, W, C) shapes of Conv1D-style ops are read as N, 1, W, C."""
    shape = tensor.shape
    if len(shape) == 4:
        return shape[0], shape[1], shape[2], shape[3]
    raise ctx.error(f"tensor {tensor.index} has shape {list(shape)}; a 4-d NHWC tensor "
                    "was expected")
