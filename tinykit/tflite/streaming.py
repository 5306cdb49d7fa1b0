"""The streaming contract: when an op's output may overlap the input it is still reading.

A kernel that honours the contract may have its output placed `distance` bytes *before*
its input, overlapping it, as long as the input dies at that op. The output is cut into
**units** of `out_unit` bytes (unit u holds output bytes [u*out_unit, (u+1)*out_unit)),
the input into units of `in_unit` bytes, and each output unit u has a **floor** lo(u): an
input unit index. The contract a kernel promises:

    Once the kernel has written any byte of output unit u, it never again reads an input
    unit below lo(u). It writes nothing but its output's bytes.

Units and floors per kind (`STREAMING_OPS` says which op has which kind):

- `rows` (CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, MAX_POOL_2D; NHWC tensors): a unit
  is one row of one batch, `out_w * out_c` elements; output row (b, y) has the floor
  b*in_h + clamp(y*stride_h - pad_top, 0, in_h), the first input row its window can touch
  (dilation only moves the other kernel rows further down). So: any order within a row,
  rows in increasing order, never look back above the window of the row being written.
- `elements` (element-wise ops whose output and input have the same element count, in the
  same order): a unit is one element and the floor of element i is i + 1. So: read input
  element i before writing output element i, and never read elements <= i afterwards
  (vector code that reads a chunk before it writes the chunk does).
- `in_place` (a kernel that keeps its own copy of what it still needs, such as a
  depthwise kernel that copies each channel plane to scratch before writing that channel):
  the output may take exactly the input's bytes (same size, distance 0) and nothing else.
  It has no units; the kind is chosen per op (`plan_memory(op_streaming=...)`).

A write into output unit u lands at input-relative bytes [(u+1)*out_unit - distance)
and below; the input bytes the kernel may still read start at lo(u)*in_unit. Hence the
smallest safe distance is

    distance = max(0, max over u of ((u + 1) * out_unit - lo(u) * in_unit))

which `stream_distance` computes (the last unit included: for it lo(u) is the floor of
the last row's window, not the end of the input). The C kernels receive `input` and
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
ELEMENTS = "elements"
IN_PLACE = "in_place"
KINDS = (ROWS, ELEMENTS, IN_PLACE)

#: Op -> the kind of streaming its kernels honour, on every core (portable, DSP, Helium).
#: The code generator's kernel registry mirrors this table (`KernelEntry.streaming`) and
#: a test checks that both agree; `plan_memory(streaming_ops=...)` takes another table.
STREAMING_OPS: Mapping[str, str] = {
    "CONV_2D": ROWS, "DEPTHWISE_CONV_2D": ROWS,
    "AVERAGE_POOL_2D": ROWS, "MAX_POOL_2D": ROWS,
    "ADD": ELEMENTS, "SUB": ELEMENTS, "MUL": ELEMENTS,
    "RELU": ELEMENTS, "RELU6": ELEMENTS, "RELU_N1_TO_1": ELEMENTS, "LEAKY_RELU": ELEMENTS,
    "HARD_SWISH": ELEMENTS, "LOGISTIC": ELEMENTS, "TANH": ELEMENTS,
    "QUANTIZE": ELEMENTS, "DEQUANTIZE": ELEMENTS,
}

#: Ops whose rows geometry comes from a filter tensor (input 1) rather than options.
_FILTER_H_AXIS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1}


@dataclass(frozen=True)
class Units:
    """How one op walks its output against its input (see the module docstring).

    `count` output units of `out_unit` bytes, input units of `in_unit` bytes; `floors()`
    gives lo(u) for every output unit (non-decreasing). For rows, `row_floors` holds them;
    for elements lo(u) = u + 1 and nothing is stored (tensors can be large).
    """

    kind: str
    in_unit: int
    out_unit: int
    count: int
    row_floors: tuple[int, ...] = ()

    def floors(self) -> np.ndarray:
        """lo(u) for u = 0 .. count - 1, as int64."""
        if self.kind == ELEMENTS:
            return np.arange(1, self.count + 1, dtype=np.int64)
        return np.asarray(self.row_floors, dtype=np.int64)

    def distance(self) -> int:
        """Smallest number of bytes the output must start before the input (may be < 0)."""
        if self.kind == ELEMENTS:  # (u + 1) * (out - in) is largest at one end
            return max(self.out_unit - self.in_unit, self.count * (self.out_unit - self.in_unit))
        ends = np.arange(1, self.count + 1, dtype=np.int64) * self.out_unit
        return int((ends - self.floors() * self.in_unit).max())


def kind_of(op: Operator, streaming: Mapping[str, str],
            op_streaming: Mapping[int, str | None]) -> str | None:
    """The streaming kind of one op: its per-op override, else its op type's."""
    if op.index in op_streaming:
        return op_streaming[op.index]
    return streaming.get(op.opcode)


def stream_inputs(op: Operator, kind: str) -> tuple[int, ...]:
    """Input positions whose bytes the output may overlap under `kind`."""
    if kind in (ROWS, IN_PLACE):
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
        return Units(kind, source.itemsize, result.itemsize, count)
    if kind == ROWS:
        return _row_units(op, subgraph, source, result)
    return None


def stream_distance(op: Operator, subgraph: Subgraph, position: int, kind: str) -> int | None:
    """Bytes the output of `op` must start before input `position` (None: cannot stream)."""
    if kind == IN_PLACE:
        return 0 if _same_size(op, subgraph, position) else None
    units = op_units(op, subgraph, position, kind)
    return None if units is None else max(0, units.distance())


def _same_size(op: Operator, subgraph: Subgraph, position: int) -> bool:
    if position >= len(op.inputs) or not op.outputs or min(op.inputs[position],
                                                            op.outputs[0]) < 0:
        return False
    source, result = subgraph.tensors[op.inputs[position]], subgraph.tensors[op.outputs[0]]
    return source.shape == result.shape and source.nbytes == result.nbytes > 0


# --- rows -------------------------------------------------------------------------------


def _window_height(op: Operator, subgraph: Subgraph) -> int | None:
    axis = _FILTER_H_AXIS.get(op.opcode)
    if axis is None:
        return int(op.options.get("filter_height", 0)) or None
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return None
    shape = subgraph.tensors[op.inputs[1]].shape
    return shape[axis] if len(shape) == 4 else None


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


def _row_units(op: Operator, subgraph: Subgraph, source: Tensor,
               result: Tensor) -> Units | None:
    if len(source.shape) != 4 or len(result.shape) != 4:
        return None
    batches, in_h, in_w, in_c = source.shape
    out_b, out_h, out_w, out_c = result.shape
    k_h = _window_height(op, subgraph)
    stride = int(op.options.get("stride_h", 1))
    dilation = int(op.options.get("dilation_h_factor", 1))
    padding = str(op.options.get("padding", ""))
    dims = (batches, in_h, in_w, in_c, out_h, out_w, out_c)
    if (k_h is None or min(dims) <= 0 or out_b != batches or stride <= 0 or dilation <= 0
            or padding not in ("SAME", "VALID")
            or out_size(padding, in_h, k_h, stride, dilation) != out_h):
        return None  # the kernel would refuse it; never guess a geometry
    pad_top = pad_before(stride, dilation, in_h, k_h, out_h)
    floors = tuple(
        b * in_h + min(max(y * stride - pad_top, 0), in_h)
        for b in range(batches) for y in range(out_h)
    )
    return Units(ROWS, in_w * in_c * source.itemsize, out_w * out_c * result.itemsize,
                 len(floors), floors)
