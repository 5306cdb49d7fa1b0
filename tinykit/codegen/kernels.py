"""Which C kernel runs each op, what scratch it needs, and the weight layouts it reads.

The choice depends only on the op's shapes and options, so it is made twice with the same
answer: before the memory plan (scratch bytes per op, for `plan_memory`) and while
lowering. The version of a kernel (MVE, DSP, ARMv6-M or portable C) is not chosen here:
the C preprocessor picks it when the generated code is compiled for a core, so one
generated folder builds for every core. Every version reads the same layouts below.

Layouts (all int8, zeros in the padding; weights are constants, reordering costs nothing):
- im2col convolutions: [out_c][k_pad], a filter row in (k_h, k_w, in_c) order, k_pad the
  row length rounded up to 4 (one SXTB16 word);
- fully connected: blocks of 4 output rows, [out_pad/4][in_pad/4][4 rows][4 inputs],
  in_pad rounded up to 16 (one Helium vector per row after a VLD4 de-interleave),
  out_pad up to 4;
- depthwise: TFLite's own [k_h][k_w][out_c];
- one input channel (tk_conv2d_1ch_s8): int16 pairs of twice the weights, [out_pad/4]
  [k_h * row/2][4 channels][2], row = k_w rounded up to 4, and one record per channel
  (layouts in tk_conv1.c, built by lower_conv._conv1_arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykit.codegen.common import padding_before
from tinykit.tflite.model import Operator, Subgraph

#: Output pixels per tile of the im2col kernel (all its input is read before it writes).
CONV_TILE = 4
#: Requantization shifts for which the one-rounding form is exact (see tk_internal.h).
FAST_SHIFTS = range(-23, -1)
#: Shifts the doubled-accumulator requantization of the 3x3 depthwise loops takes.
DOUBLED_SHIFTS = range(-23, 0)
#: Above this many bytes of scratch the depthwise ring is not worth its RAM.
ROWS_LIMIT = 32 * 1024
#: Elements from which an ADD/SUB pays for its two 1 KB tables (about 50 instructions
#: saved per element).
ADD_TABLE_MIN = 256
#: Kernel rows the ring kernel takes (TK_ROWS_MAX_K in tk_dwconv.c).
ROWS_MAX_K = 16


#: Versions of the kernels that have more than the portable C, best first (the macros
#: TK_ISA_<kernel> in tinykit_kernels.h say the same; a test checks both agree).
VECTOR_VERSIONS = ("mve", "dsp", "armv6m", "portable")
SIMD32_VERSIONS = ("dsp", "armv6m", "portable")
KERNEL_VERSIONS: dict[str, tuple[str, ...]] = {
    "tk_conv2d_im2col_s8": VECTOR_VERSIONS,
    "tk_conv2d_im2col_bytes_s8": VECTOR_VERSIONS,
    "tk_conv2d_1ch_s8": SIMD32_VERSIONS,
    "tk_average_pool_s8": SIMD32_VERSIONS,
    "tk_fully_connected_s8": VECTOR_VERSIONS,
    "tk_depthwise_conv2d_rows_s8": SIMD32_VERSIONS,
    "tk_depthwise_conv2d_3x3_s8": SIMD32_VERSIONS,
    "tk_depthwise_conv2d_3x3s2_s8": SIMD32_VERSIONS,
    # packed weights (tk_packed.c, tinykit.codegen.packing)
    "tk_conv2d_packed_s8": VECTOR_VERSIONS,
    "tk_fully_connected_packed_s8": VECTOR_VERSIONS,
    "tk_depthwise_conv2d_rows_packed_s8": SIMD32_VERSIONS,
    "tk_depthwise_conv2d_3x3_packed_s8": SIMD32_VERSIONS,
    "tk_depthwise_conv2d_3x3s2_packed_s8": SIMD32_VERSIONS,
}


def kernel_version(kernel: str, features: tuple[str, ...] | list[str], arch: str) -> str:
    """The version of `kernel` a build for a core with these ISA features compiles.

    Mirrors the preprocessor choice in tinykit_kernels.h: Helium (feature "mve"), then
    the DSP extension ("dsp"), then ARMv6-M (arch armv6-m or armv8-m.base), else C.
    """
    available = KERNEL_VERSIONS.get(kernel, ("portable",))
    wanted = []
    if "mve" in features and "dsp" in features:
        wanted.append("mve")
    if "dsp" in features:
        wanted.append("dsp")
    if arch in ("armv6-m", "armv8-m.base"):
        wanted.append("armv6m")
    return next((v for v in wanted if v in available), "portable")


def kernel_label(kernel: str, features: tuple[str, ...] | list[str], arch: str) -> str:
    """`tk_name (version)` as the generated `<prefix>_op_kernel` returns it ("" for none)."""
    return f"{kernel} ({kernel_version(kernel, features, arch)})" if kernel else ""


@dataclass(frozen=True)
class KernelChoice:
    """The C kernel of one op and the arena scratch it needs while it runs.

    Every kernel chosen here honours the streaming kind the registry declares for its op
    (`KernelEntry.streaming`, the contract in `tinykit.tflite.streaming`) in all its
    versions; `streaming` False would make the planner keep the op's output apart.
    """

    kernel: str
    scratch_bytes: int = 0
    streaming: bool = True


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def conv_k_pad(k_h: int, k_w: int, depth: int) -> int:
    """Length of an im2col filter row: k_h * k_w * depth rounded up to 4."""
    return round_up(k_h * k_w * depth, 4)


#: Bytes of one output channel's requantization record in scratch (tk_rq_record).
RQ_RECORD = 16


def conv_scratch_bytes(k_pad: int, out_c: int) -> int:
    """Scratch of tk_conv2d_im2col_s8: requantization records, 4 int8 rows, their 16-bit
    pairs (DSP), and a short last tile's output."""
    return RQ_RECORD * out_c + 3 * CONV_TILE * k_pad + round_up(CONV_TILE * out_c, 4)


#: Above this many bytes of window scratch the one-channel kernel gives way to im2col.
CONV1_SCRATCH_LIMIT = 4 * 1024


def conv1_row(k_w: int) -> int:
    """Taps of one kernel row in tk_conv2d_1ch_s8: k_w rounded up to 4 (one word)."""
    return round_up(k_w, 4)


def conv1_scratch_bytes(k_h: int, k_w: int) -> int:
    """Scratch of tk_conv2d_1ch_s8: the window as 16-bit pairs, and one cut kernel row."""
    return 2 * k_h * conv1_row(k_w) + conv1_row(k_w)


def fc_in_pad(in_depth: int) -> int:
    return round_up(in_depth, 16)


#: Inputs tk_fully_connected_s8 prepares at a time (TK_FC_CHUNK in tk_fc.c): a multiple
#: of 16 (one Helium vector); longer rows run in passes over chunks of this many.
FC_CHUNK = 128


def fc_scratch_bytes(in_depth: int, out_depth: int) -> int:
    """Scratch of tk_fully_connected_s8: one chunk of the input row (16-bit pairs on DSP
    cores, int8 padded with zeros elsewhere: 2 bytes an input), and when the row takes
    more than one chunk, the partial sums of every output row between the passes."""
    in_pad = fc_in_pad(in_depth)
    partial = 4 * round_up(out_depth, 4) if in_pad > FC_CHUNK else 0
    return 2 * min(in_pad, FC_CHUNK) + partial


def rows_scratch_bytes(in_c: int, in_w: int, out_w: int, out_c: int, k_h: int, k_w: int,
                       stride_w: int, dilation_h: int, pad_left: int) -> int:
    """Scratch of tk_depthwise_conv2d_rows_s8 (layout in tk_dwconv.c).

    A ring of (k_h - 1) * dilation_h + 1 input rows as int16 planes, one row of zero
    points, and per output channel its requantization record and its filter as int32
    pairs of taps.
    """
    cols = round_up(max((out_w - 1) * stride_w + k_w, in_w + pad_left) + 1, 2)
    slots = (k_h - 1) * dilation_h + 1
    pair_words = 9 if (k_h, k_w) == (3, 3) else k_h * ((k_w + 1) // 2)
    return 2 * (slots * in_c + 1) * cols + out_c * (RQ_RECORD + 4 * pair_words)


def _shape(graph: Subgraph, index: int) -> tuple[int, ...]:
    return tuple(graph.tensors[index].shape)


def choose_conv(graph: Subgraph, op: Operator) -> KernelChoice:
    weights = _shape(graph, op.inputs[1])
    in_c = _shape(graph, op.inputs[0])[-1]
    if len(weights) != 4 or weights[3] == 0 or in_c != weights[3] or \
            not requant_is_fast(graph, op, False, im2col=True):
        return KernelChoice("tk_conv2d_s8")  # grouped, general requantization, malformed
    out_c, k_h, k_w, depth = weights
    # CONV_2D of one input channel stays with im2col: the one-channel kernel would be
    # faster (KWS's first layer) but adds ~1.2 KB of code next to im2col, which the other
    # convolutions of such a model still need (KWS's runtime must stay under 8 KiB).
    return KernelChoice(im2col_kernel(k_w * depth, int(op.options.get("dilation_w_factor", 1))),
                        conv_scratch_bytes(conv_k_pad(k_h, k_w, depth), out_c))


def im2col_kernel(run: int, dilation_w: int) -> str:
    """The im2col entry point: kernel rows of whole words (run = k_w * in_c bytes) take
    them straight from the input; any other geometry gathers bytes."""
    return "tk_conv2d_im2col_s8" if run % 4 == 0 and dilation_w == 1 else \
        "tk_conv2d_im2col_bytes_s8"


def one_channel_choice(graph: Subgraph, op: Operator, depthwise: bool) -> KernelChoice | None:
    """tk_conv2d_1ch_s8 for a convolution of one input channel (`depthwise`: a depthwise
    one), or None where it does not apply: dilation, a window too large for its scratch,
    requantization without the one-rounding form, or an accumulator whose double does
    not fit in int32."""
    opts = op.options
    weights = _shape(graph, op.inputs[1])
    k_h, k_w = weights[1], weights[2]
    scratch = conv1_scratch_bytes(k_h, k_w)
    if int(opts.get("dilation_h_factor", 1)) != 1 or \
            int(opts.get("dilation_w_factor", 1)) != 1 or scratch > CONV1_SCRATCH_LIMIT:
        return None
    found = _requant_inputs(graph, op, depthwise)
    if found is None or not found[0].fast or not accumulators_fit(*found):
        return None
    return KernelChoice("tk_conv2d_1ch_s8", scratch)


def depthwise_as_conv(graph: Subgraph, op: Operator) -> bool:
    """A depthwise layer with one input channel is a plain convolution."""
    shape = _shape(graph, op.inputs[0])
    return len(shape) == 4 and shape[3] == 1


def _requant_inputs(graph: Subgraph, op: Operator, depthwise: bool
                    ) -> tuple[RequantPlan, list[int]] | None:
    """A convolution's requantization plan (`requant_plan`) and per-channel sum |w|, from
    its constants alone, as the lowering computes them; None when anything is off (the
    lowering then says what)."""
    from tinykit.codegen.quant import quantize_multiplier

    try:
        source, weights_t, result = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1],
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
            bias = graph.tensors[op.inputs[2]].numpy().astype(np.int64).reshape(-1)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    scales = scales * out_c if len(scales) == 1 else scales
    pairs = [quantize_multiplier(in_scale * float(s) / out_scale) for s in scales]
    folded = (bias - in_zp * weights.sum(axis=1)).tolist()
    sums = weight_abs_sums(weights)
    return requant_plan([m for m, _ in pairs], [e for _, e in pairs], folded, sums), sums


def requant_is_fast(graph: Subgraph, op: Operator, depthwise: bool,
                    im2col: bool = False) -> bool:
    """Whether a convolution's requantization has the one-rounding form (`requant_plan`);
    False when anything is off. The choice of kernel depends on it, and the memory plan
    on the choice. `im2col`: also every accumulator fits the im2col kernel
    (`accumulators_fit`)."""
    found = _requant_inputs(graph, op, depthwise)
    return found is not None and found[0].fast and \
        (not im2col or accumulators_fit(*found))


def requant_doubles(plan: RequantPlan, abs_sums: list[int]) -> bool:
    """Whether the DSP 3x3 depthwise loops' requantization applies (TK_DW3_TAIL in
    tk_dwconv.c): SMMLAR of the doubled accumulator (`accumulators_fit`: 2 * acc fits),
    exact for every exponent e = -shift in [1, 23] (2^(e-1) + zp * 2^e then fits int32),
    so also for layers without the one-rounding form (e = 1)."""
    return len(plan.shifts) == len(plan.bias) and \
        all(shift in DOUBLED_SHIFTS for shift in plan.shifts) and \
        accumulators_fit(plan, abs_sums)


def choose_depthwise(graph: Subgraph, op: Operator) -> KernelChoice:
    in_shape, out_shape = _shape(graph, op.inputs[0]), _shape(graph, op.outputs[0])
    weights = _shape(graph, op.inputs[1])
    if len(in_shape) != 4 or len(out_shape) != 4 or len(weights) != 4:
        return KernelChoice("tk_depthwise_conv2d_s8")  # lowering says what is wrong
    _, k_h, k_w, out_c = weights
    if depthwise_as_conv(graph, op):
        one = one_channel_choice(graph, op, True)
        if one is not None:
            return one
        if not requant_is_fast(graph, op, True, im2col=True):
            return KernelChoice("tk_conv2d_s8")
        return KernelChoice(im2col_kernel(k_w, int(op.options.get("dilation_w_factor", 1))),
                            conv_scratch_bytes(conv_k_pad(k_h, k_w, 1), out_c))
    opts = op.options
    stride_w = int(opts.get("stride_w", 1))
    dilation_h, dilation_w = (int(opts.get("dilation_h_factor", 1)),
                              int(opts.get("dilation_w_factor", 1)))
    if dilation_w != 1 or k_h > ROWS_MAX_K:
        return KernelChoice("tk_depthwise_conv2d_s8")
    pad_left = padding_before(stride_w, dilation_w, in_shape[2], k_w, out_shape[2]) \
        if str(opts.get("padding", "SAME")) == "SAME" else 0
    scratch = rows_scratch_bytes(in_shape[3], in_shape[2], out_shape[2], out_c, k_h, k_w,
                                 stride_w, dilation_h, pad_left)
    if scratch > ROWS_LIMIT:
        return KernelChoice("tk_depthwise_conv2d_s8")
    found = _requant_inputs(graph, op, True)
    if (k_h, k_w) != (3, 3) or out_c != in_shape[3] or dilation_h != 1 or stride_w > 2 or \
            found is None or not requant_doubles(*found):
        return KernelChoice("tk_depthwise_conv2d_rows_s8", scratch)
    return KernelChoice("tk_depthwise_conv2d_3x3s2_s8" if stride_w == 2 else
                        "tk_depthwise_conv2d_3x3_s8", scratch)


def choose_fully_connected(graph: Subgraph, op: Operator) -> KernelChoice:
    weights = _shape(graph, op.inputs[1])
    out_depth, in_depth = weights if len(weights) == 2 else (0, 0)
    return KernelChoice("tk_fully_connected_s8", fc_scratch_bytes(in_depth, out_depth))


def choose_binary(graph: Subgraph, op: Operator) -> KernelChoice:
    """ADD/SUB of two same-shape int8 tensors, large enough to pay for 2 KB of tables,
    run from per-input tables (tk_add_table_s8); everything else is tk_binary_s8."""
    shapes = [_shape(graph, i) for i in op.inputs[:2]]
    out = graph.tensors[op.outputs[0]]
    same = len(shapes) == 2 and shapes[0] == shapes[1] == tuple(out.shape)
    dtypes = {graph.tensors[i].dtype for i in op.inputs[:2]} | {out.dtype}
    if op.opcode in ("ADD", "SUB") and same and dtypes == {"int8"} and \
            out.num_elements >= ADD_TABLE_MIN:
        return KernelChoice("tk_add_table_s8")
    return KernelChoice("tk_binary_s8")


def fast_requant(shifts: list[int]) -> bool:
    """True when every channel's exponent allows the one-rounding requantization."""
    return all(s in FAST_SHIFTS for s in shifts)


@dataclass(frozen=True)
class RequantPlan:
    """The requantization constants a kernel reads, and whether the fast form applies.

    `constant` lists the output channels whose output is the same for every reachable
    accumulator (dead channels: zero weights, or a scale so small nothing reaches the
    next step); their weights must be stored as zeros and their bias is chosen so the
    fast form gives that output (see `requant_plan`).
    """

    fast: bool
    multipliers: list[int]
    shifts: list[int]
    bias: list[int]
    constant: tuple[int, ...] = ()


def weight_abs_sums(weights: np.ndarray) -> list[int]:
    """Per output channel (axis 0), sum |w|."""
    rows = np.abs(weights.reshape(weights.shape[0], -1).astype(np.int64)).sum(axis=1)
    return [int(r) for r in rows]


#: Accumulators of the im2col kernel stay below this in magnitude: its DSP version sums
#: twice the products and requantizes 2 * acc with SMMLAR (tk_conv.c).
IM2COL_ACC_LIMIT = 1 << 30


def accumulators_fit(plan: RequantPlan, abs_sums: list[int]) -> bool:
    """Whether every reachable accumulator, bias + sum(x * w) with x in [-128, 127], is
    below `IM2COL_ACC_LIMIT` in magnitude (a constant channel's weights become zeros)."""
    return all(abs(b) + (0 if c in plan.constant else 128 * s) < IM2COL_ACC_LIMIT
               for c, (b, s) in enumerate(zip(plan.bias, abs_sums, strict=True)))


def requant_plan(multipliers: list[int], shifts: list[int], bias: list[int],
                 abs_sums: list[int]) -> RequantPlan:
    """Whether the one-rounding requantization applies, with the constants it needs.

    Every channel needs an exponent in [-23, -2], except a channel whose TFLite result
    is the same at both ends of its reachable accumulators [bias - 128 * sum|w|,
    bias + 128 * sum|w|] (the result is monotone in the accumulator): it becomes
    multiplier 2^30, exponent -2 (result floor((acc + 5) / 8), or (acc + 3) / 8 below
    zero) with zero weights and bias 8 * result, which gives that result exactly. One
    multiplier for all channels (per-tensor) cannot be remapped. A channel with a fast
    exponent is remapped the same way when its accumulators can reach 2^30
    (`IM2COL_ACC_LIMIT`, e.g. a huge bias and zero weights) and its result is constant.
    Returns the inputs unchanged when the fast form does not apply.
    """
    from tinykit.codegen.quant import multiply_by_quantized_multiplier as mbqm

    per_tensor = len(multipliers) == 1 and len(bias) > 1
    out_m, out_s, out_b, constant = [], [], list(bias), []
    for c, (m, s) in enumerate(zip(multipliers, shifts, strict=True)):
        fast = s in FAST_SHIFTS or (m == 0 and not per_tensor)
        reach = 128 * abs_sums[c]
        if fast and (per_tensor or abs(bias[c]) + reach < IM2COL_ACC_LIMIT):
            out_m.append(m)
            out_s.append(s if s in FAST_SHIFTS else -2)
            continue
        if per_tensor:
            return RequantPlan(False, multipliers, shifts, bias)
        low, high = (mbqm(max(bias[c] - reach, -(1 << 31)), m, s),
                     mbqm(min(bias[c] + reach, (1 << 31) - 1), m, s))
        if fast and (low != high or abs(low) > (1 << 20)):
            out_m.append(m)  # fast, but too large for the im2col kernel (accumulators_fit)
            out_s.append(s if s in FAST_SHIFTS else -2)
            continue
        if low != high or abs(low) > (1 << 20):
            return RequantPlan(False, multipliers, shifts, bias)
        out_m.append(1 << 30)
        out_s.append(-2)
        out_b[c] = 8 * low
        constant.append(c)
    return RequantPlan(True, out_m, out_s, out_b, tuple(constant))


def im2col_weights(weights: np.ndarray, k_pad: int) -> np.ndarray:
    """[out_c][k_h][k_w][depth] -> [out_c][k_pad], zeros after each row's k values."""
    rows = weights.reshape(weights.shape[0], -1).astype(np.int8)
    out = np.zeros((rows.shape[0], k_pad), dtype=np.int8)
    out[:, :rows.shape[1]] = rows
    return out


def fc_blocked_weights(weights: np.ndarray) -> np.ndarray:
    """[out][in] -> [out_pad/4][in_pad/4][4 rows][4 inputs] (see the module docstring)."""
    out_depth, in_depth = weights.shape
    out_pad, in_pad = round_up(out_depth, 4), fc_in_pad(in_depth)
    padded = np.zeros((out_pad, in_pad), dtype=np.int8)
    padded[:out_depth, :in_depth] = weights
    blocks = padded.reshape(out_pad // 4, 4, in_pad // 4, 4)  # [ob][row][g][k]
    return np.ascontiguousarray(blocks.transpose(0, 2, 1, 3))  # [ob][g][row][k]
