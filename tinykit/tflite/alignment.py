"""How aligned each arena tensor must be: what its kernels need, not a blanket 16 bytes.

A tensor's offset is a multiple of the largest of:

- the natural alignment of its element type (int8: 1, int16: 2, int32/float32: 4,
  64-bit types: 8), so that a plain C load of one element is aligned on every core
  (Cortex-M0 faults on any unaligned access, VLDR on M4/M7 faults on unaligned floats);
- `OP_ALIGNMENT[op]` of every op that reads or writes it: 4 for the kernels that load four
  int8 values with one 32-bit load in their SIMD versions (SMLAD/SXTB16 on ARMv7E-M), 1 for
  kernels that walk bytes (tables, copies);
- the planner's `alignment` argument (1 by default; 16 reproduces TFLM's layout).

The code generator's kernel registry mirrors `OP_ALIGNMENT` (`KernelEntry.align`) and a
test checks that both agree. The arena itself is 16-byte aligned in the generated C, so no
tensor may ask for more than `MAX_ALIGNMENT`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tinykit.tflite.model import Subgraph

MAX_ALIGNMENT = 16

#: Scratch buffers (im2col and the like) hold int16/int32 data read in pairs (LDRD).
SCRATCH_ALIGNMENT = 8

#: Op -> bytes of alignment its kernels need for their arena tensors (beyond the dtype's).
OP_ALIGNMENT: Mapping[str, int] = {
    "CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 4,
    "AVERAGE_POOL_2D": 4, "MAX_POOL_2D": 4, "ADD": 4, "SUB": 4, "MUL": 4,
}


def natural_alignment(itemsize: int) -> int:
    """Alignment of one element of `itemsize` bytes (a power of two, at most 8)."""
    align = 1
    while align < min(max(itemsize, 1), 8):
        align *= 2
    return align


def tensor_alignments(subgraph: Subgraph, tensors: set[int] | Mapping[int, object],
                      minimum: int, table: Mapping[str, int]) -> dict[int, int]:
    """Tensor index -> required alignment, for every index in `tensors`.

    Raises ValueError when a table entry is not a power of two or exceeds MAX_ALIGNMENT.
    """
    for name, value in table.items():
        if value < 1 or value & (value - 1) or value > MAX_ALIGNMENT:
            raise ValueError(f"alignment of {name} must be a power of two up to "
                             f"{MAX_ALIGNMENT}, not {value}")
    need = {t: max(minimum, natural_alignment(subgraph.tensors[t].itemsize)) for t in tensors}
    for op in subgraph.operators:
        extra = table.get(op.opcode, 1)
        if extra > 1:
            for t in (*op.inputs, *op.outputs):
                if t in need:
                    need[t] = max(need[t], extra)
    return need
