"""Lowering of layers whose weights the weight plan packs (`tinykit.codegen.packing`).

The dense lowering (lower_conv.py) computes everything as usual and asks `packed_layer`
before it emits the weights: for a packed layer it gets the packed arrays (already in
flash) and emits its parameter block as `<dense struct>` + `weights`, calling the packed
kernel instead. The format is chosen again here from the weights the lowering emits
(dead channels zeroed), which can only be smaller than the plan's estimate; the kernel and
its scratch, which the memory plan used, depend on the layer's shape alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykit.codegen import packing
from tinykit.codegen.program import OpContext

#: C type of the packed parameter block, and the name of its dense part, per dense type.
_PACKED_STRUCTS = {"tk_conv_params": ("tk_conv_packed_params", "conv"),
                   "tk_fc_params": ("tk_fc_packed_params", "fc")}


@dataclass(frozen=True)
class PackedLayer:
    """A packed layer's kernel, its weights' fields (arrays already emitted), and format."""

    kernel: str
    format: str
    fields: tuple[tuple[str, object], ...]
    nbytes: int

    def struct(self, dense_ctype: str, dense_fields: list[tuple[str, object]]
               ) -> tuple[str, list[tuple[str, object]]]:
        """The packed block's C type and fields: the dense block nested, then `weights`."""
        ctype, part = _PACKED_STRUCTS[dense_ctype]
        fields = [(f"{part}.{key}", value) for key, value in dense_fields]
        return ctype, fields + [(f"weights.{key}", value) for key, value in self.fields]


def packed_layer(ctx: OpContext, dense_kernel: str, rows: np.ndarray) -> PackedLayer | None:
    """Emit the packed weights of the op being lowered, or None when it stays dense.

    `rows` [channels][k] int8: the weights exactly as the dense kernel would read them
    (im2col order for convolutions, [k_h][k_w] per channel for depthwise, FC rows),
    without padding.
    """
    chosen = packing.packed_choice(ctx.graph, ctx.op, _dense(dense_kernel))
    if chosen.kernel == dense_kernel:
        return None
    packed = packing.best_packed(np.ascontiguousarray(rows, dtype=np.int8))
    fmt = packed.format
    what = f"{fmt.name} weights, {packed.channels} channels of {packed.k}"
    bitmap = ctx.array("wbitmap", "uint8_t", packed.bitmap,
                       f"{what}: bitmap of the non-zeros") if packed.bitmap.size else "NULL"
    data = ctx.array("wdata", "uint8_t", packed.data,
                     f"{what}: " + ("non-zero values" if fmt.bits == 8 else
                                    f"{fmt.bits}-bit indices")) if packed.data.size else "NULL"
    table = ctx.array("wtable", "int8_t", packed.table,
                      f"{what}: " + ("one table" if fmt.shared_table else
                                     f"{packed.table_stride} values per channel")) \
        if packed.table.size else "NULL"
    ctx.code.weights = fmt.name
    fields: tuple[tuple[str, object], ...] = (
        ("bitmap", bitmap), ("data", data), ("table", table), ("k", packed.k),
        ("table_stride", packed.table_stride), ("bits", fmt.bits), ("sparse", int(fmt.sparse)),
        ("nonzero_percent", _nonzero_percent(rows)))
    return PackedLayer(chosen.kernel, fmt.name, fields, packed.nbytes)


def _nonzero_percent(rows: np.ndarray) -> int:
    """Non-zero weights in 100, rounded up (the kernels walk the non-zeros below a
    threshold of their own)."""
    return -(-100 * int(np.count_nonzero(rows)) // max(1, rows.size))


def _dense(kernel: str) -> packing.kernels.KernelChoice:
    return packing.kernels.KernelChoice(kernel)
