"""The streaming contract: when an op's output may overlap the input it is still reading.

A kernel that honours the contract may have its output placed `distance` bytes *before*
its input, overlapping it, as long as the input dies at that op. The output is cut into
**units** of `out_unit` bytes (unit u holds output bytes [u*out_unit, (u+1)*out_unit)),
the input into units of `in_unit` bytes, and each output unit u has a **floor** lo(u): an
input unit index. The contract a kernel promises:

    Once the kernel has written any byte of output unit u, it never again reads an input
    unit below lo(u). It writes nothing but its output's bytes.

Units and floors per kind (`STREAMING_OPS` gives each op type the kind all its kernels
honour, `KERNEL_STREAMING` each C kernel its own; window geometry is NHWC):

- `rows`: a unit is one output row of one batch (`out_w * out_c` elements); row (b, y)
  has the floor b*in_h + clamp(y*stride_h - pad_top, 0, in_h), the first input row its
  window can touch (dilation only moves the other window rows further down). So: any
  order within a row, rows in increasing order, never look back above the window of the
  row being written.
- `tiles` (CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, MAX_POOL_2D): a unit is a tile of
  `TILE_PIXELS` = 4 consecutive output pixels in raster order over batch, row and column
  (the last tile may be short); its floor is the first input pixel (row-major, counting
  batches) that the window of its first pixel, or of any later pixel, can touch. A kernel
  that computes pixel after pixel, or four pixels at once reading their inputs again for
  each output channel, honours it; one that interleaves two tiles does not.
- `ring` (a depthwise kernel that copies each input row into its own ring of rows before
  the first output row that needs it): a unit is one output row; its floor is the input
  row after the last row of its window, clamp(y*stride_h - pad_top + (k_h - 1)*dilation_h
  + 1, 0, in_h) (+ b*in_h). Such a kernel never reads an input row again once copied, so
  a 3x3 stride-1 layer can write its output exactly over its input.
- `elements` (element-wise ops whose output and input have the same element count, in the
  same order): a unit is one element and the floor of element i is i + 1. So: read input
  element i before writing output element i, and never read elements <= i afterwards
  (vector code that reads a chunk before it writes the chunk does).
- `in_place` (a kernel that keeps its own copy of what it still needs): the output may
  take exactly the input's bytes (same shape, distance 0) and nothing else; no units.

A write into output unit u lands at input-relative bytes [(u+1)*out_unit - distance)
and below; the input bytes the kernel may still read start at lo(u)*in_unit. Hence the
smallest safe distance is

    distance = max(0, max over u of ((u + 1) * out_unit - lo(u) * in_unit))

over the units u after which input is still read (lo(u) * in_unit < input bytes), which
`stream_distance` computes (the last unit included when its window still reads input; a
short last tile ends at the output's end). The C kernels receive `input` and
`output` pointers that overlap: **they must not be declared `restrict`**, and the compiler
then keeps every load and store in program order (int8_t is a character type, so even a
float store may alias an int8 load).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tinykit.tflite.model import Operator, Subgraph, Tensor

ROWS = "rows"
TILES = "tiles"
RING = "ring"
ELEMENTS = "elements"
IN_PLACE = "in_place"
WINDOW_KINDS = (ROWS, TILES, RING)
#: Output pixels per unit of the `tiles` kind.
TILE_PIXELS = 4
KINDS = (*WINDOW_KINDS, ELEMENTS, IN_PLACE)

#: Op -> the streaming kind **every** kernel of the op honours, on every core (portable,
#: DSP, Helium, ARMv6-M). The registry's `KernelEntry.streaming` mirrors it (a test checks).
STREAMING_OPS: Mapping[str, str] = {
    "CONV_2D": TILES, "DEPTHWISE_CONV_2D": TILES,
    "AVERAGE_POOL_2D": TILES, "MAX_POOL_2D": TILES,
    "ADD": ELEMENTS, "SUB": ELEMENTS, "MUL": ELEMENTS,
    "RELU": ELEMENTS, "RELU6": ELEMENTS, "RELU_N1_TO_1": ELEMENTS, "LEAKY_RELU": ELEMENTS,
    "HARD_SWISH": ELEMENTS, "LOGISTIC": ELEMENTS, "TANH": ELEMENTS,
    "QUANTIZE": ELEMENTS, "DEQUANTIZE": ELEMENTS,
}

#: C kernel -> the streaming kind all its versions honour (a kernel absent does not
#: stream). The registry's `KERNEL_STREAMING` mirrors it (a test checks).
KERNEL_STREAMING: Mapping[str, str] = {
    "tk_conv2d_s8": TILES, "tk_conv2d_im2col_s8": TILES, "tk_conv2d_im2col_bytes_s8": TILES,
    "tk_conv2d_1ch_s8": TILES,
    "tk_depthwise_conv2d_s8": TILES,
    "tk_depthwise_conv2d_rows_s8": RING, "tk_depthwise_conv2d_3x3_s8": RING,
    "tk_depthwise_conv2d_3x3s2_s8": RING,
    # packed weights (tk_packed.c): the conv kernel walks tiles like the im2col one; the
    # depthwise ones decode the filter, then run the dense kernel they wrap
    "tk_conv2d_packed_s8": TILES, "tk_depthwise_conv2d_packed_s8": TILES,
    "tk_depthwise_conv2d_rows_packed_s8": RING, "tk_depthwise_conv2d_3x3_packed_s8": RING,
    "tk_depthwise_conv2d_3x3s2_packed_s8": RING,
    "tk_average_pool_s8": TILES, "tk_max_pool_s8": TILES,
    "tk_binary_s8": ELEMENTS, "tk_add_table_s8": ELEMENTS, "tk_lut_s8": ELEMENTS,
    "tk_quantize_f32_s8": ELEMENTS, "tk_dequantize_s8_f32": ELEMENTS,
}

#: Ops whose rows geometry comes from a filter tensor (input 1) rather than options.
_FILTER_H_AXIS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1}


@dataclass(frozen=True)
class Units:
    """How one op walks its output against its input (see the module docstring).

    `count` output units of `out_unit` bytes, input units of `in_unit` bytes; `floors()`
    gives lo(u) for every output unit (non-decreasing). For the window kinds
    `window_floors` holds them; for elements lo(u) = u + 1 and nothing is stored.
    """

    kind: str
    in_unit: int
    out_unit: int
    count: int
    window_floors: tuple[int, ...] = ()
    #: Output bytes, when the last unit is short (a last tile of fewer pixels).
    out_bytes: int = 0
    #: Input bytes: a unit whose floor is past them leaves nothing to read.
    in_bytes: int = 0

    def ends(self) -> np.ndarray:
        """Output byte where each unit ends, as int64."""
        ends = np.arange(1, self.count + 1, dtype=np.int64) * self.out_unit
        return np.minimum(ends, self.out_bytes) if self.out_bytes else ends

    def floors(self) -> np.ndarray:
        """lo(u) for u = 0 .. count - 1, as int64."""
        if self.kind == ELEMENTS:
            return np.arange(1, self.count + 1, dtype=np.int64)
        return np.asarray(self.window_floors, dtype=np.int64)

    def needed(self) -> np.ndarray:
        """For each unit: whether the kernel may still read input once it has written it."""
        return self.floors() * self.in_unit < self.in_bytes

    def distance(self) -> int | None:
        """Smallest number of bytes the output must start before the input (may be < 0);
        None when no write comes before a read (a single element, say)."""
        if self.kind == ELEMENTS:  # (u + 1) * (out - in) over u < count - 1: an end decides
            step = self.out_unit - self.in_unit
            return None if self.count < 2 else max(step, (self.count - 1) * step)
        needed = self.needed()
        if not needed.any():
            return None
        return int((self.ends() - self.floors() * self.in_unit)[needed].max())


def kind_of(op: Operator, streaming: Mapping[str, str],
            op_streaming: Mapping[int, str | None]) -> str | None:
    """The streaming kind of one op: its per-op override, else its op type's."""
    if op.index in op_streaming:
        return op_streaming[op.index]
    return streaming.get(op.opcode)


def stream_inputs(op: Operator, kind: str) -> tuple[int, ...]:
    """Input positions whose bytes the output may overlap under `kind`."""
    if kind in (*WINDOW_KINDS, IN_PLACE):
        return (0,)
    return tuple(range(len(op.inputs)))


def op_units(op: Operator, subgraph: Subgraph, position: int, kind: str) -> Units | None:
    """The units of `op` against its input `position`, or None when the op does not fit
    the kind (wrong rank, broadcast input, unknown padding, inconsistent shapes)."""
    if position >= len(op.inputs) or not op.outputs:
        return None
    source_index, result_index = op.inputs[position], op.outputs[0]
    if source_index < 0 or result_index < 0:
        return None
    source, result = subgraph.tensors[source_index], subgraph.tensors[result_index]
    if source.itemsize == 0 or result.itemsize == 0:
        return None
    if kind == ELEMENTS:
        count = result.num_elements
        if source.num_elements != count or count <= 0:
            return None  # a broadcast input: one element feeds many outputs
        return Units(kind, source.itemsize, result.itemsize, count,
                     in_bytes=count * source.itemsize)
    if kind in WINDOW_KINDS:
        window = window_of(op, subgraph, source, result)
        return None if window is None else _window_units(kind, window, source.itemsize,
                                                          result.itemsize)
    return None


def stream_distance(op: Operator, subgraph: Subgraph, position: int, kind: str) -> int | None:
    """Bytes the output of `op` must start before input `position` (None: cannot stream)."""
    if kind == IN_PLACE:
        return 0 if _same_size(op, subgraph, position) else None
    units = op_units(op, subgraph, position, kind)
    if units is None:
        return None
    distance = units.distance()
    return 0 if distance is None else max(0, distance)


def _same_size(op: Operator, subgraph: Subgraph, position: int) -> bool:
    if position >= len(op.inputs) or not op.outputs or min(op.inputs[position],
                                                            op.outputs[0]) < 0:
        return False
    source, result = subgraph.tensors[op.inputs[position]], subgraph.tensors[op.outputs[0]]
    return source.shape == result.shape and source.nbytes == result.nbytes > 0


# --- rows -------------------------------------------------------------------------------


def _window_size(op: Operator, subgraph: Subgraph) -> tuple[int, int] | None:
    axis = _FILTER_H_AXIS.get(op.opcode)
    if axis is None:
        k_h, k_w = int(op.options.get("filter_height", 0)), int(op.options.get("filter_width", 0))
        return (k_h, k_w) if k_h > 0 and k_w > 0 else None
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return None
    shape = subgraph.tensors[op.inputs[1]].shape
    return (shape[axis], shape[axis + 1]) if len(shape) == 4 else None


def out_size(padding: str, in_size: int, filter_size: int, stride: int, dilation: int) -> int:
    """TFLite's ComputeOutSize."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride


def pad_before(stride: int, dilation: int, in_size: int, filter_size: int, out: int) -> int:
    """TFLite's ComputePaddingWithOffset: padding before the first row."""
    effective = (filter_size - 1) * dilation + 1
    return max(0, (out - 1) * stride + effective - in_size) // 2


@dataclass(frozen=True)
class Window:
    """The NHWC geometry of a convolution or pooling op, as its kernels compute it."""

    batches: int
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    stride_h: int
    stride_w: int
    dilation_h: int
    pad_top: int
    pad_left: int


def window_of(op: Operator, subgraph: Subgraph, source: Tensor, result: Tensor
              ) -> Window | None:
    """The op's window geometry, or None for anything its kernels would refuse."""
    if len(source.shape) != 4 or len(result.shape) != 4:
        return None
    batches, in_h, in_w, in_c = source.shape
    out_b, out_h, out_w, out_c = result.shape
    size = _window_size(op, subgraph)
    opts = op.options
    stride_h, stride_w = int(opts.get("stride_h", 1)), int(opts.get("stride_w", 1))
    dil_h, dil_w = int(opts.get("dilation_h_factor", 1)), int(opts.get("dilation_w_factor", 1))
    padding = str(opts.get("padding", ""))
    dims = (batches, in_h, in_w, in_c, out_h, out_w, out_c, stride_h, stride_w, dil_h, dil_w)
    if (size is None or min(dims) <= 0 or out_b != batches
            or padding not in ("SAME", "VALID")
            or out_size(padding, in_h, size[0], stride_h, dil_h) != out_h
            or out_size(padding, in_w, size[1], stride_w, dil_w) != out_w):
        return None  # never guess a geometry
    return Window(batches, in_h, in_w, in_c, out_h, out_w, out_c, size[0], stride_h,
                  stride_w, dil_h, pad_before(stride_h, dil_h, in_h, size[0], out_h),
                  pad_before(stride_w, dil_w, in_w, size[1], out_w))


def _window_units(kind: str, w: Window, in_size: int, out_size_: int) -> Units:
    """Units and floors of the window kinds (see the module docstring)."""
    in_bytes = w.batches * w.in_h * w.in_w * w.in_c * in_size
    y = np.arange(w.out_h, dtype=np.int64)
    top = y * w.stride_h - w.pad_top
    if kind == TILES:
        x = np.arange(w.out_w, dtype=np.int64)
        rows = np.clip(top, 0, w.in_h)[:, None]
        cols = np.where(rows < w.in_h, np.clip(x * w.stride_w - w.pad_left, 0, w.in_w), 0)
        per_batch = w.in_h * w.in_w
        starts = ((np.arange(w.batches)[:, None] * per_batch)
                  + (rows * w.in_w + cols).reshape(1, -1)).reshape(-1)
        # A later pixel's window may start further up (a row whose window the padding
        # clips): a pixel's floor is the lowest start of it and every later pixel.
        starts = np.minimum.accumulate(starts[::-1])[::-1]
        floors = starts[::TILE_PIXELS]
        out_pixel = w.out_c * out_size_
        return Units(kind, w.in_c * in_size, TILE_PIXELS * out_pixel, len(floors),
                     tuple(int(f) for f in floors), len(starts) * out_pixel, in_bytes)
    if kind == RING:  # the rows of the window are in the kernel's own buffer
        top = top + (w.k_h - 1) * w.dilation_h + 1
    floors = (np.arange(w.batches)[:, None] * w.in_h
              + np.clip(top, 0, w.in_h)[None, :]).reshape(-1)
    return Units(kind, w.in_w * w.in_c * in_size, w.out_w * w.out_c * out_size_, len(floors),
                 tuple(int(f) for f in floors), in_bytes=in_bytes)
