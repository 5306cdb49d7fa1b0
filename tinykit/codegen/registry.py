"""The kernel registry: which TFLite op lowers to which C kernel. Data, not code paths.

`KERNELS` maps a builtin op name to its lowering function, the C kernel(s) it calls and
a line for the docs. docs/ops.md is generated from this table (`tinykit.codegen.docs`),
and a test runs every entry against tflite-runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tinykit.codegen import kernels as choice
from tinykit.codegen import lower_conv as conv
from tinykit.codegen import lower_elementwise as ew
from tinykit.codegen import lower_shape as shape
from tinykit.codegen import packing
from tinykit.codegen.kernels import KernelChoice
from tinykit.codegen.program import OpContext
from tinykit.tflite.alignment import OP_ALIGNMENT
from tinykit.tflite.model import Operator, Subgraph
from tinykit.tflite.streaming import STREAMING_OPS

#: Picks the kernel of one op from its shapes (before the memory plan: scratch bytes).
Chooser = Callable[[Subgraph, Operator], KernelChoice]


@dataclass(frozen=True)
class KernelEntry:
    """One supported op: how it is lowered and what it calls.

    `streaming` is the streaming contract (docs/codegen.md, `tinykit.tflite.streaming`)
    that **every** kernel the op may lower to honours on **every** core (portable, DSP,
    Helium), or None: the memory planner then never lets the op's output overlap its
    input. `align` is the byte alignment those kernels need for the op's arena tensors
    beyond the element type's own (4: word loads of int8 data in the SIMD versions).
    The planner's defaults mirror both (a test checks they agree).
    """

    op: str
    lower: Callable[[OpContext], None] | None  # None: always folded at generation time
    kernels: tuple[str, ...]
    summary: str
    streaming: str | None = None
    align: int = 1
    #: Picks one of `kernels` for an op instance (None: the op always calls kernels[0]).
    choose: Chooser | None = None


def _entry(op: str, lower: Callable[[OpContext], None] | None, kernels: str,
           summary: str, choose: Chooser | None = None) -> KernelEntry:
    return KernelEntry(op, lower, tuple(kernels.split()), summary,
                       _STREAMING.get(op), _ALIGN.get(op, 1), choose)


# Whether each op's kernels honour the streaming contract (docs/codegen.md), per op type
# and per C kernel, and the alignment they need: one table each, in tinykit/tflite, that
# the planner reads directly. Change a kernel's loop order or its loads, change them.
_STREAMING = STREAMING_OPS
_ALIGN = OP_ALIGNMENT


_ENTRIES = (
    _entry("CONV_2D", conv.lower_conv2d,
           "tk_conv2d_im2col_s8 tk_conv2d_im2col_bytes_s8 tk_conv2d_s8 tk_conv2d_packed_s8",
           "int8, per-channel or per-tensor weights, any stride/dilation, SAME/VALID, groups, "
           "fused RELU/RELU6/RELU_N1_TO_1", choice.choose_conv),
    _entry("DEPTHWISE_CONV_2D", conv.lower_depthwise_conv2d,
           "tk_depthwise_conv2d_3x3_s8 tk_depthwise_conv2d_3x3s2_s8 "
           "tk_depthwise_conv2d_rows_s8 tk_conv2d_im2col_s8 "
           "tk_conv2d_im2col_bytes_s8 tk_conv2d_1ch_s8 tk_depthwise_conv2d_s8 "
           "tk_depthwise_conv2d_3x3_packed_s8 "
           "tk_depthwise_conv2d_3x3s2_packed_s8 tk_depthwise_conv2d_rows_packed_s8 "
           "tk_depthwise_conv2d_packed_s8 tk_conv2d_packed_s8",
           "int8, any depth multiplier, stride, dilation, SAME/VALID, fused activation",
           choice.choose_depthwise),
    _entry("FULLY_CONNECTED", conv.lower_fully_connected,
           "tk_fully_connected_s8 tk_fully_connected_packed_s8",
           "int8, per-tensor or per-channel weights, optional bias, any batch, "
           "keep_num_dims", choice.choose_fully_connected),
    _entry("AVERAGE_POOL_2D", ew.lower_average_pool, "tk_average_pool_s8",
           "int8, any window and stride, SAME/VALID (edge windows average valid cells)"),
    _entry("MAX_POOL_2D", ew.lower_max_pool, "tk_max_pool_s8",
           "int8, any window and stride, SAME/VALID"),
    _entry("MEAN", ew.lower_mean, "tk_mean_s8",
           "int8 over any set of constant axes, keep_dims or not, rescaled"),
    _entry("ADD", ew.lower_add, "tk_binary_s8 tk_add_table_s8",
           "int8 with broadcasting (up to 6-d), different input scales, fused activation",
           choice.choose_binary),
    _entry("SUB", ew.lower_sub, "tk_binary_s8 tk_add_table_s8",
           "int8 with broadcasting, fused activation", choice.choose_binary),
    _entry("MUL", ew.lower_mul, "tk_binary_s8", "int8 with broadcasting, fused activation"),
    _entry("SOFTMAX", ew.lower_softmax, "tk_softmax_s8",
           "int8 over the last axis, any beta; output scale 1/256, zero point -128"),
    _entry("LOGISTIC", ew.lower_logistic, "tk_lut_s8",
           "int8 via a 256-entry table built as TFLite builds it"),
    _entry("TANH", ew.lower_tanh, "tk_lut_s8", "int8 via a 256-entry table"),
    _entry("HARD_SWISH", ew.lower_hard_swish, "tk_lut_s8",
           "int8 via a table of TFLite's fixed-point result"),
    _entry("RELU", ew.lower_relu, "tk_lut_s8", "int8, requantizing, via a table"),
    _entry("RELU6", ew.lower_relu6, "tk_lut_s8", "int8, requantizing, via a table"),
    _entry("RELU_N1_TO_1", ew.lower_relu_n1_to_1, "tk_lut_s8", "int8 via a table"),
    _entry("LEAKY_RELU", ew.lower_leaky_relu, "tk_lut_s8", "int8, any alpha, via a table"),
    _entry("QUANTIZE", ew.lower_quantize, "tk_quantize_f32_s8 tk_lut_s8",
           "float32 -> int8 (model input), int8 -> int8 requantization (table)"),
    _entry("DEQUANTIZE", ew.lower_dequantize, "tk_dequantize_s8_f32",
           "int8 -> float32 (model output)"),
    _entry("RESHAPE", shape.lower_view, "", "view: aliased by the memory planner, no code"),
    _entry("SQUEEZE", shape.lower_view, "", "view: no code"),
    _entry("EXPAND_DIMS", shape.lower_view, "", "view: no code"),
    _entry("PAD", shape.lower_pad, "tk_fill_s8 tk_copy_nd",
           "int8, constant paddings, pads with the zero point"),
    _entry("PADV2", shape.lower_pad, "tk_fill_s8 tk_copy_nd",
           "int8, constant paddings and pad value"),
    _entry("CONCATENATION", shape.lower_concatenation, "tk_copy_nd",
           "any axis, inputs with the output's quantization (the converter requantizes "
           "branches with other scales)"),
    _entry("STRIDED_SLICE", shape.lower_strided_slice, "tk_copy_nd",
           "constant begin/end/strides, begin/end/shrink masks, negative strides; "
           "folded when its input is constant"),
    _entry("SLICE", shape.lower_slice, "tk_copy_nd", "constant begin and size (-1: to the end)"),
    _entry("TRANSPOSE", shape.lower_transpose, "tk_copy_nd", "any permutation up to 6-d"),
    _entry("RESIZE_NEAREST_NEIGHBOR", shape.lower_resize_nearest, "tk_resize_nearest",
           "align_corners and half_pixel_centers; index tables computed at generation"),
    _entry("SPACE_TO_BATCH_ND", shape.lower_space_to_batch, "tk_space_to_batch",
           "3-d and 4-d, constant block shape and paddings (dilated convolutions)"),
    _entry("BATCH_TO_SPACE_ND", shape.lower_batch_to_space, "tk_batch_to_space",
           "3-d and 4-d, constant block shape and crops"),
    _entry("SHAPE", None, "", "folded at generation time (static shapes)"),
    _entry("PACK", None, "", "folded at generation time when its inputs are constant"),
)

KERNELS: dict[str, KernelEntry] = {entry.op: entry for entry in _ENTRIES}


def kernel_choice(graph: Subgraph, op: Operator) -> KernelChoice:
    """The kernel an op will call, with its scratch bytes and output-order guarantees;
    packed weights where the weight plan packs the layer (`packing.weights_mode`)."""
    entry = KERNELS[op.opcode]
    if entry.choose is not None:
        return packing.packed_choice(graph, op, entry.choose(graph, op))
    return KernelChoice(entry.kernels[0] if entry.kernels else "")


def streaming_ops() -> dict[str, str]:
    """Op -> streaming kind, for `plan_memory(streaming_ops=...)`."""
    return {e.op: e.streaming for e in KERNELS.values() if e.streaming is not None}


def op_alignment() -> dict[str, int]:
    """Op -> alignment its kernels need, for `plan_memory(op_alignment=...)`."""
    return {e.op: e.align for e in KERNELS.values() if e.align > 1}

#: Ops tinykit recognizes but cannot run, with what to do instead.
UNSUPPORTED_HINTS: dict[str, str] = {
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "recurrent layers (LSTM) are not supported; use "
                                    "convolutions over time (Conv1D) instead",
    "BIDIRECTIONAL_SEQUENCE_LSTM": "recurrent layers (LSTM) are not supported",
    "LSTM": "recurrent layers (LSTM) are not supported",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "recurrent layers are not supported",
    "SVDF": "SVDF (stateful) layers are not supported; use convolutions over time",
    "CUSTOM": "custom ops are not supported; rebuild the model from builtin layers",
}
