"""Packed weights: the formats, their encoders, and which layers use them.

Pruned and clustered int8 layers hold far less information than their dense bytes: half
of the weights are zero and a channel takes at most 16 distinct values. The formats
(`tk_packed_weights` in tinykit_kernels.h; one channel = the `k` weights of one output
channel, in the order of the dense kernel's layout):

- `idx2`, `idx4`: every weight as a 2- or 4-bit index into a table of int8 values, low
  bits first, each channel's indices padded to a whole byte;
- `sparse`: a bitmap per channel (bit j%8 of byte j/8 set: weight j is not zero, bytes
  rounded up) and the non-zero int8 values in order;
- `sparse+idx2`, `sparse+idx4`: the bitmap, and the non-zeros as indices into a table of
  the channel's non-zero values (zero needs no entry: 2 bits hold 5 distinct values).

A table is per channel (`table_stride` entries each), or one for the whole layer when every
channel's values fit in one (`/layer`: per-tensor layers, depthwise clustered per layer).
Decoding is exact: the kernels compute with the same int8 values the .tflite holds.

`plan_weights(graph)` decides per layer: a layer is packed only where its smallest format
takes at least `MIN_SAVING` fewer bytes than its dense layout (padding included), and a
packed kernel is used only where what its layers save exceeds its code
(`PACKED_CODE_BYTES`). The registry's
`kernel_choice` asks `packed_choice` after the dense choosers, so the memory plan gets the
packed kernels' scratch. `weights_mode("dense")` forces dense weights, `"packed"` packs
every layer a packed kernel can run (tests, benchmarks); the default is `"auto"`.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np

from tinykit.codegen import kernels
from tinykit.errors import ConfigError
from tinykit.tflite.model import Operator, Subgraph

WEIGHT_MODES = ("auto", "dense", "packed")
#: Suffixes of the constant arrays that hold a layer's weights (`<prefix>_const_op<i>_*`):
#: the dense layouts and the packed arrays. Biases and requantization are not weights.
WEIGHT_SUFFIXES = ("filter", "weights", "wbitmap", "wdata", "wtable")

#: Dense kernel -> the packed kernel that reads the same layer from packed weights.
PACKED_KERNELS = {
    "tk_conv2d_im2col_s8": "tk_conv2d_packed_s8",
    "tk_conv2d_im2col_bytes_s8": "tk_conv2d_packed_s8",
    "tk_conv2d_1ch_s8": "tk_conv2d_packed_s8",
    "tk_depthwise_conv2d_s8": "tk_depthwise_conv2d_packed_s8",
    "tk_depthwise_conv2d_rows_s8": "tk_depthwise_conv2d_rows_packed_s8",
    "tk_depthwise_conv2d_3x3_s8": "tk_depthwise_conv2d_3x3_packed_s8",
    "tk_depthwise_conv2d_3x3s2_s8": "tk_depthwise_conv2d_3x3s2_packed_s8",
    "tk_fully_connected_s8": "tk_fully_connected_packed_s8",
}
#: Flash bytes of each packed entry point with the helpers only it calls, and of the
#: channel decoder they share (tk_unpack): the most any core needs, measured with
#: arm-none-eabi-gcc 12.2 as the benchmark firmware builds tk_packed.c (-O2; set-up code
#: -Os) for cortex-m0plus, m3, m4, m33 and m55 (the ARMv6-M requantization is the largest).
#: `tests/integration/test_packed_cores.py` checks them against the compiled kernels.
PACKED_CODE_BYTES = {
    "tk_conv2d_packed_s8": 2150,
    "tk_depthwise_conv2d_packed_s8": 240,
    "tk_depthwise_conv2d_rows_packed_s8": 240,
    "tk_depthwise_conv2d_3x3_packed_s8": 240,
    "tk_depthwise_conv2d_3x3s2_packed_s8": 240,
    "tk_fully_connected_packed_s8": 820,
}
DECODER_CODE_BYTES = 480
#: In auto mode a layer is packed only when that saves at least this share of its dense
#: bytes: decoding costs instructions, and a few percent of a layer's flash is not worth
#: them (fully connected layers of a plain int8 model save 5-15% with the bitmap format
#: and run 2-4x slower on DSP cores).
MIN_SAVING = 0.25

_MODE: ContextVar[str] = ContextVar("tinykit_weights_mode", default="auto")


@contextlib.contextmanager
def weights_mode(mode: str) -> Iterator[None]:
    """Generate (and plan) with `mode` weights inside the block: auto, dense or packed."""
    if mode not in WEIGHT_MODES:
        raise ConfigError(f"unknown weights mode {mode!r}; valid: {', '.join(WEIGHT_MODES)}",
                          hint="--weights auto (packed where it saves flash) or dense")
    token = _MODE.set(mode)
    try:
        yield
    finally:
        _MODE.reset(token)


def current_mode() -> str:
    return _MODE.get()


# ---- formats and encoding ------------------------------------------------------------


@dataclass(frozen=True)
class PackedFormat:
    """One packed format: sparse (bitmap + non-zeros) or not, bits per stored value (2 or
    4: table indices; 8: int8 values, sparse only), and one table for the whole layer."""

    sparse: bool
    bits: int
    shared_table: bool = False

    @property
    def name(self) -> str:
        base = ("sparse" + (f"+idx{self.bits}" if self.bits < 8 else "")) if self.sparse \
            else f"idx{self.bits}"
        return base + ("/layer" if self.shared_table else "")


FORMATS = tuple(PackedFormat(sparse, bits, shared)
                for sparse, bits in ((False, 2), (False, 4), (True, 2), (True, 4), (True, 8))
                for shared in ((False, True) if bits < 8 else (False,)))


@dataclass(frozen=True)
class PackedWeights:
    """A layer's weights in one format: the three arrays the kernel reads.

    `bitmap` [channels * ceil(k/8)] uint8 (sparse formats, else empty), `data` uint8
    (indices or values, channel after channel), `table` int8 (`table_stride` entries per
    channel, or one table when `table_stride` is 0; empty for int8 values).
    """

    format: PackedFormat
    channels: int
    k: int
    bitmap: np.ndarray
    data: np.ndarray
    table: np.ndarray
    table_stride: int

    @property
    def nbytes(self) -> int:
        return int(self.bitmap.size + self.data.size + self.table.size)


def _pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned values < 2**bits, low bits first, into bytes (the last one padded)."""
    per_byte = 8 // bits
    padded = np.zeros(math.ceil(values.size / per_byte) * per_byte, dtype=np.uint32)
    padded[:values.size] = values
    groups = padded.reshape(-1, per_byte) << (np.arange(per_byte, dtype=np.uint32) * bits)
    return groups.sum(axis=1).astype(np.uint8)


def _tables(rows: np.ndarray, fmt: PackedFormat) -> tuple[list[np.ndarray], int] | None:
    """Per channel its sorted table (non-zero values for sparse formats), and the stride;
    None when the format cannot hold the rows."""
    limit = 1 << fmt.bits
    stored = [np.unique(r[r != 0]) if fmt.sparse else np.unique(r) for r in rows]
    if fmt.shared_table:
        union = np.unique(np.concatenate(stored)) if stored else np.zeros(0, np.int8)
        if union.size > limit:
            return None
        return [union] * len(rows), 0
    if any(t.size > limit for t in stored):
        return None
    return stored, max((t.size for t in stored), default=0)


def encode(rows: np.ndarray, fmt: PackedFormat) -> PackedWeights | None:
    """`rows` [channels][k] int8 in `fmt`, or None when the format cannot hold them."""
    rows = np.asarray(rows, dtype=np.int8)
    channels, k = rows.shape
    bitmap, data, table, stride = np.zeros(0, np.uint8), [], np.zeros(0, np.int8), 0
    if fmt.sparse:
        bits = np.zeros((channels, math.ceil(k / 8) * 8), dtype=np.uint8)
        bits[:, :k] = rows != 0
        bitmap = np.packbits(bits, axis=1, bitorder="little").reshape(-1)
    if fmt.bits == 8:
        data = [r[r != 0].view(np.uint8) for r in rows]
    else:
        found = _tables(rows, fmt)
        if found is None:
            return None
        tables, stride = found
        for r, t in zip(rows, tables, strict=True):
            values = r[r != 0] if fmt.sparse else r
            data.append(_pack_bits(np.searchsorted(t, values).astype(np.uint32), fmt.bits))
        if stride:
            table = np.zeros((channels, stride), dtype=np.int8)
            for c, t in enumerate(tables):
                table[c, :t.size] = t
            table = table.reshape(-1)
        else:
            table = tables[0].astype(np.int8) if channels else table
    packed = np.concatenate(data).astype(np.uint8) if data else np.zeros(0, np.uint8)
    return PackedWeights(fmt, channels, k, bitmap, packed, table, stride)


def decode(packed: PackedWeights) -> np.ndarray:
    """The [channels][k] int8 rows back (what the C decoder computes; for tests)."""
    fmt, k = packed.format, packed.k
    out = np.zeros((packed.channels, k), dtype=np.int8)
    position, bitmap_bytes = 0, math.ceil(k / 8)
    for c in range(packed.channels):
        mask = np.ones(k, bool)
        if fmt.sparse:
            row_bits = packed.bitmap[c * bitmap_bytes:(c + 1) * bitmap_bytes]
            mask = np.unpackbits(row_bits, bitorder="little")[:k].astype(bool)
        count = int(mask.sum())
        size = count if fmt.bits == 8 else math.ceil(count * fmt.bits / 8)
        chunk = packed.data[position:position + size]
        position += size
        if fmt.bits == 8:
            out[c, mask] = chunk.view(np.int8)
            continue
        per_byte = 8 // fmt.bits
        shifts = np.arange(per_byte, dtype=np.uint8) * fmt.bits
        indices = ((chunk[:, None] >> shifts) & ((1 << fmt.bits) - 1)).reshape(-1)[:count]
        start = c * packed.table_stride
        out[c, mask] = packed.table[start + indices]
    return out


def packed_formats(rows: np.ndarray) -> list[PackedWeights]:
    """The rows in every format that can hold them, smallest first (ties: the order of
    FORMATS, which puts the cheaper decoders first)."""
    found = [p for p in (encode(rows, fmt) for fmt in FORMATS) if p is not None]
    return sorted(found, key=lambda p: p.nbytes)


def best_packed(rows: np.ndarray) -> PackedWeights:
    """The smallest packed form of `rows` (`sparse` int8 holds any rows)."""
    return packed_formats(rows)[0]


# ---- the per-layer choice ---------------------------------------------------------------


@dataclass(frozen=True)
class LayerWeights:
    """The weights of one conv, depthwise or fully connected op, dense and packed."""

    op: int
    opcode: str
    dense_kernel: str
    dense_bytes: int
    #: The smallest packed format and its bytes ("" and 0 when no packed kernel runs it).
    packed_format: str = ""
    packed_bytes: int = 0
    packed: bool = False

    @property
    def kernel(self) -> str:
        return PACKED_KERNELS[self.dense_kernel] if self.packed else self.dense_kernel

    @property
    def format(self) -> str:
        return self.packed_format if self.packed else "dense"

    @property
    def bytes(self) -> int:
        return self.packed_bytes if self.packed else self.dense_bytes


@dataclass(frozen=True)
class WeightPlan:
    """Every weighted layer of a graph, and the packed kernels' code the plan adds."""

    mode: str
    layers: dict[int, LayerWeights]
    code_bytes: int = 0

    @property
    def dense_bytes(self) -> int:
        return sum(layer.dense_bytes for layer in self.layers.values())

    @property
    def chosen_bytes(self) -> int:
        return sum(layer.bytes for layer in self.layers.values())


def weight_rows(graph: Subgraph, op: Operator, dense_kernel: str) -> tuple[np.ndarray, int] | None:
    """The op's weights as [channels][k] int8 rows in its kernel's order, and the bytes of
    its dense layout; None for ops without constant int8 weights."""
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return None
    tensor = graph.tensors[op.inputs[1]]
    if tensor.dtype != "int8" or not tensor.is_constant or tensor.is_sparse:
        return None
    w = tensor.numpy()
    if op.opcode == "FULLY_CONNECTED" and w.ndim == 2:
        out, k = w.shape
        return w, kernels.round_up(out, 4) * kernels.fc_in_pad(k)
    if w.ndim != 4:
        return None
    if op.opcode == "CONV_2D":
        rows = w.reshape(w.shape[0], -1)
    else:  # DEPTHWISE_CONV_2D [1][k_h][k_w][c]: channel c's taps in [k_h][k_w] order
        rows = np.ascontiguousarray(w.reshape(-1, w.shape[3]).T)
    dense = rows.shape[0] * kernels.round_up(rows.shape[1], 4) \
        if dense_kernel.startswith("tk_conv2d_im2col") else rows.size
    # tk_conv2d_1ch_s8 stores int16 pairs (about twice these bytes) to run faster; it is
    # judged by its int8 weights, or packing would win back only what speed cost
    return rows, dense


def _dense_choice(graph: Subgraph, op: Operator) -> kernels.KernelChoice | None:
    chooser = {"CONV_2D": kernels.choose_conv, "DEPTHWISE_CONV_2D": kernels.choose_depthwise,
               "FULLY_CONNECTED": kernels.choose_fully_connected}.get(op.opcode)
    return chooser(graph, op) if chooser else None


def _layer(graph: Subgraph, op: Operator) -> LayerWeights | None:
    choice = _dense_choice(graph, op)
    found = weight_rows(graph, op, choice.kernel) if choice else None
    if choice is None or found is None:
        return None
    rows, dense = found
    layer = LayerWeights(op.index, op.opcode, choice.kernel, dense)
    if choice.kernel not in PACKED_KERNELS or rows.size == 0:
        return layer
    best = best_packed(rows)
    return LayerWeights(op.index, op.opcode, choice.kernel, dense, best.format.name,
                        best.nbytes)


def _code_bytes(kernel_set: set[str]) -> int:
    return (DECODER_CODE_BYTES if kernel_set else 0) + sum(PACKED_CODE_BYTES[k]
                                                            for k in kernel_set)


def _choose(layers: list[LayerWeights], mode: str) -> tuple[set[int], int]:
    """The ops to pack and the code their kernels add: in auto mode the set of packed
    kernels that saves the most flash, code included (at most 7 kernels: all subsets)."""
    if mode == "dense":
        return set(), 0
    candidates = [layer for layer in layers if layer.packed_format and
                  (mode == "packed" or
                   layer.packed_bytes <= (1 - MIN_SAVING) * layer.dense_bytes)]
    by_kernel: dict[str, list[LayerWeights]] = {}
    for layer in candidates:
        by_kernel.setdefault(PACKED_KERNELS[layer.dense_kernel], []).append(layer)
    if mode == "packed":
        return {layer.op for layer in candidates}, _code_bytes(set(by_kernel))
    best: tuple[int, set[str]] = (0, set())
    names = sorted(by_kernel)
    for size in range(1, len(names) + 1):
        for subset in itertools.combinations(names, size):
            saved = sum(layer.dense_bytes - layer.packed_bytes
                        for name in subset for layer in by_kernel[name])
            gain = saved - _code_bytes(set(subset))
            if gain > best[0]:
                best = (gain, set(subset))
    chosen = {layer.op for name in best[1] for layer in by_kernel[name]}
    return chosen, _code_bytes(best[1])


#: Per graph object (id, checked through a weak reference): its layers before the choice.
_CACHE: dict[int, tuple[weakref.ref[Subgraph], list[LayerWeights], dict[str, WeightPlan]]] = {}


def _layers(graph: Subgraph) -> tuple[list[LayerWeights], dict[str, WeightPlan]]:
    cached = _CACHE.get(id(graph))
    if cached is not None and cached[0]() is graph:
        return cached[1], cached[2]
    layers = [layer for op in graph.operators if (layer := _layer(graph, op)) is not None]
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[id(graph)] = (weakref.ref(graph), layers, {})
    return layers, _CACHE[id(graph)][2]


def plan_weights(graph: Subgraph, mode: str | None = None) -> WeightPlan:
    """Per weighted op, dense and packed bytes and whether it is packed (see the module
    docstring); `mode` None: the current `weights_mode`. Cached per graph object."""
    mode = mode or current_mode()
    layers, plans = _layers(graph)
    if mode not in plans:
        chosen, code = _choose(layers, mode)
        plans[mode] = WeightPlan(mode, {layer.op: LayerWeights(
            layer.op, layer.opcode, layer.dense_kernel, layer.dense_bytes,
            layer.packed_format, layer.packed_bytes, layer.op in chosen) for layer in layers},
            code)
    return plans[mode]


def packed_scratch_bytes(graph: Subgraph, op: Operator, dense: kernels.KernelChoice) -> int:
    """Scratch of the packed kernel that replaces `dense` (layouts in tk_packed.c)."""
    weights = tuple(graph.tensors[op.inputs[1]].shape)
    if dense.kernel == "tk_fully_connected_s8":
        # the whole input row as pairs and as int8 (3 bytes an input), the decoded row
        return 4 * kernels.fc_in_pad(weights[1])
    if dense.kernel.startswith("tk_conv2d_im2col") or dense.kernel == "tk_conv2d_1ch_s8":
        k = int(np.prod(weights[1:])) if op.opcode == "CONV_2D" else weights[1] * weights[2]
        k_pad = kernels.conv_k_pad(1, 1, k)
        out_c = weights[0] if op.opcode == "CONV_2D" else weights[3]
        # the packed kernel is the im2col one (the one-channel kernel has no packed twin)
        return kernels.conv_scratch_bytes(k_pad, out_c) + k_pad
    # depthwise: the decoded [k_h][k_w][c] filter, one channel's row while it is decoded,
    # then the dense kernel's own scratch
    taps = weights[1] * weights[2]
    return kernels.round_up(int(np.prod(weights)), 8) + kernels.round_up(taps, 8) + \
        dense.scratch_bytes


def packed_choice(graph: Subgraph, op: Operator,
                  dense: kernels.KernelChoice) -> kernels.KernelChoice:
    """`dense` (the dense chooser's pick), or the packed kernel the weight plan chose."""
    if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return dense
    layer = plan_weights(graph).layers.get(op.index)
    if layer is None or not layer.packed or layer.dense_kernel != dense.kernel:
        return dense
    return kernels.KernelChoice(layer.kernel, packed_scratch_bytes(graph, op, dense),
                                dense.streaming)
