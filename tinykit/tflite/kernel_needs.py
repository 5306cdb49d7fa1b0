"""What each op's kernel needs from the memory plan: scratch bytes and its streaming kind.

`tinykit codegen` picks one C kernel per op from the op's shapes
(`tinykit.codegen.kernels`, through `kernel_choice` of the registry). The plan depends on
that pick: the kernel's scratch buffer is live during the op, and the kernel's streaming
kind (`KERNEL_STREAMING`) decides how close its output may start before its input.
`tinykit analyze` must show the plan the C uses without importing the code generator, so
this module restates the pick for the kernels that need scratch or stream in a way of
their own (with `tinykit.tflite.requant`, since the fast kernels need the one-rounding
requantization); `tests/unit/test_tflite_kernel_needs.py` checks, op by op on every model the
tests have, that it agrees with the code generator. Change one, change both.

`kernel_needs(subgraph)` is what `plan_memory` uses when it is not told otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tinykit.tflite.model import Operator, Subgraph
from tinykit.tflite.requant import requant_is_fast
from tinykit.tflite.streaming import KERNEL_STREAMING, STREAMING_OPS, pad_before

#: Output pixels per im2col tile, and bytes of one channel's requantization record.
CONV_TILE = 4
RQ_RECORD = 16
#: The depthwise ring kernel: at most this many kernel rows and bytes of scratch.
ROWS_MAX_K = 16
ROWS_LIMIT = 32 * 1024


@dataclass(frozen=True)
class KernelNeeds:
    """Per op index: scratch bytes (ops that need some) and the streaming kind of its kernel
    (only where it differs from `STREAMING_OPS` of its op type)."""

    scratch: dict[int, int] = field(default_factory=dict)
    op_streaming: dict[int, str | None] = field(default_factory=dict)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _shape(subgraph: Subgraph, op: Operator, position: int, outputs: bool = False
           ) -> tuple[int, ...]:
    indices = op.outputs if outputs else op.inputs
    if position >= len(indices) or indices[position] < 0:
        return ()
    return tuple(subgraph.tensors[indices[position]].shape)


def _conv_scratch(k_h: int, k_w: int, depth: int, out_c: int) -> int:
    """tk_conv2d_im2col(_bytes)_s8: requantization records, 4 int8 im2col rows, their
    16-bit pairs, and a short last tile's output."""
    return (RQ_RECORD * out_c + 3 * CONV_TILE * _round_up(k_h * k_w * depth, 4)
            + _round_up(CONV_TILE * out_c, 4))


def _im2col(run: int, dilation_w: int) -> str:
    """Kernel rows of whole words (run = k_w * in_c bytes) or any other geometry."""
    return "tk_conv2d_im2col_s8" if run % 4 == 0 and dilation_w == 1 else \
        "tk_conv2d_im2col_bytes_s8"


def _rows_scratch(in_c: int, in_w: int, out_w: int, out_c: int, k_h: int, k_w: int,
                  stride_w: int, dilation_h: int, pad_left: int) -> int:
    """tk_depthwise_conv2d_rows_s8: a ring of int16 input rows, a zero-point row, and per
    output channel its requantization record and its taps as int32 pairs."""
    cols = _round_up(max((out_w - 1) * stride_w + k_w, in_w + pad_left) + 1, 2)
    slots = (k_h - 1) * dilation_h + 1
    pair_words = 9 if (k_h, k_w) == (3, 3) else k_h * ((k_w + 1) // 2)
    return 2 * (slots * in_c + 1) * cols + out_c * (RQ_RECORD + 4 * pair_words)


def _conv(subgraph: Subgraph, op: Operator) -> tuple[str, int]:
    weights, source = _shape(subgraph, op, 1), _shape(subgraph, op, 0)
    if (len(weights) != 4 or not source or weights[3] == 0 or source[-1] != weights[3]
            or not requant_is_fast(subgraph, op, depthwise=False)):
        return "tk_conv2d_s8", 0  # grouped, general requantization, malformed
    out_c, k_h, k_w, depth = weights
    return (_im2col(k_w * depth, int(op.options.get("dilation_w_factor", 1))),
            _conv_scratch(k_h, k_w, depth, out_c))


def _depthwise(subgraph: Subgraph, op: Operator) -> tuple[str, int]:
    source, result = _shape(subgraph, op, 0), _shape(subgraph, op, 0, outputs=True)
    weights = _shape(subgraph, op, 1)
    if len(source) != 4 or len(result) != 4 or len(weights) != 4:
        return "tk_depthwise_conv2d_s8", 0
    _, k_h, k_w, out_c = weights
    opts = op.options
    if source[3] == 1:  # one input channel: a plain convolution
        return (_im2col(k_w, int(opts.get("dilation_w_factor", 1))),
                _conv_scratch(k_h, k_w, 1, out_c))
    stride_w = int(opts.get("stride_w", 1))
    dilation_h, dilation_w = (int(opts.get("dilation_h_factor", 1)),
                              int(opts.get("dilation_w_factor", 1)))
    if dilation_w != 1 or k_h > ROWS_MAX_K or not requant_is_fast(subgraph, op, depthwise=True):
        return "tk_depthwise_conv2d_s8", 0
    pad_left = pad_before(stride_w, dilation_w, source[2], k_w, result[2]) \
        if str(opts.get("padding", "SAME")) == "SAME" else 0
    scratch = _rows_scratch(source[3], source[2], result[2], out_c, k_h, k_w, stride_w,
                            dilation_h, pad_left)
    if scratch > ROWS_LIMIT:
        return "tk_depthwise_conv2d_s8", 0
    if (k_h, k_w) != (3, 3) or out_c != source[3]:
        return "tk_depthwise_conv2d_rows_s8", scratch
    return ("tk_depthwise_conv2d_3x3s2_s8" if stride_w == 2 else "tk_depthwise_conv2d_3x3_s8",
            scratch)


def _fully_connected(subgraph: Subgraph, op: Operator) -> tuple[str, int]:
    weights = _shape(subgraph, op, 1)
    in_depth = weights[1] if len(weights) == 2 else 0
    return "tk_fully_connected_s8", 3 * _round_up(in_depth, 16)  # 16-bit pairs + int8 row


_CHOOSERS = {"CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise,
             "FULLY_CONNECTED": _fully_connected}


def op_kernel(subgraph: Subgraph, op: Operator) -> tuple[str, int] | None:
    """(kernel, scratch bytes) the code generator picks for `op`, for the ops with a choice;
    None for the others (one kernel, no scratch). Never raises on a malformed op."""
    chooser = _CHOOSERS.get(op.opcode)
    if chooser is None:
        return None
    try:
        return chooser(subgraph, op)
    except (IndexError, ValueError, TypeError):
        return None  # the code generator refuses such an op with a message


def kernel_needs(subgraph: Subgraph,
                 streaming_ops: Mapping[str, str] = STREAMING_OPS) -> KernelNeeds:
    """Scratch and per-op streaming kinds of the kernels the code generator would pick."""
    needs = KernelNeeds()
    for op in subgraph.operators:
        picked = op_kernel(subgraph, op)
        if picked is None:
            continue
        kernel, scratch = picked
        if scratch > 0:
            needs.scratch[op.index] = scratch
        kind = KERNEL_STREAMING.get(kernel)
        if kind != streaming_ops.get(op.opcode):
            needs.op_streaming[op.index] = kind
    return needs
