"""The streaming contract: distances, the kernels' loop orders against it, the checker.

The loop-order tests replay the portable kernels' reads and writes (tinykit_kernels.c:
tk_conv2d_s8, tk_depthwise_conv2d_s8, the pooling kernels, the element-wise loops) byte
by byte over one buffer where the output starts `stream_distance` bytes before the input,
and fail on the first read of an input byte that a write has already replaced.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import shared_model_paths
from tinykit.tflite.model import Operator, Subgraph, Tensor
from tinykit.tflite.order import candidate_orders
from tinykit.tflite.plancheck import check_plan
from tinykit.tflite.planner import Stream, plan_memory
from tinykit.tflite.reader import read_model
from tinykit.tflite.streaming import (
    ELEMENTS,
    KERNEL_STREAMING,
    RING,
    ROWS,
    STREAMING_OPS,
    TILES,
    op_units,
    out_size,
    pad_before,
    stream_distance,
)

MODELS = shared_model_paths()


def _t(index: int, shape: tuple[int, ...], dtype: str = "int8",
       data: bytes | None = None) -> Tensor:
    return Tensor(index, f"t{index}", shape, dtype, 0, data)


def _window_op(opcode: str, in_shape: tuple[int, ...], out_c: int, k: tuple[int, int],
               stride: int, dilation: int, padding: str) -> tuple[Subgraph, Operator]:
    """One CONV_2D / DEPTHWISE_CONV_2D / pooling op over an NHWC input, as TFLite shapes it."""
    n, h, w, c = in_shape
    out_h = out_size(padding, h, k[0], stride, dilation)
    out_w = out_size(padding, w, k[1], stride, dilation)
    tensors = [_t(0, in_shape), _t(1, (n, out_h, out_w, out_c))]
    options: dict[str, Any] = {"padding": padding, "stride_h": stride, "stride_w": stride}
    inputs: tuple[int, ...] = (0,)
    if opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        shape = (out_c, *k, c) if opcode == "CONV_2D" else (1, *k, out_c)
        tensors.append(_t(2, shape, data=bytes(int(np.prod(shape)))))
        inputs = (0, 2)
        options.update(dilation_h_factor=dilation, dilation_w_factor=dilation)
    else:
        options.update(filter_height=k[0], filter_width=k[1])
    op = Operator(0, opcode, 1, inputs, (1,), options)
    return Subgraph("g", tuple(tensors), (op,), (0,), (1,)), op


# --- distances worked out by hand -------------------------------------------------------


def test_distances_of_the_table_models_layers() -> None:
    # KWS depthwise 3x3, stride 1, SAME on 25x5x64: the row below the one being written is
    # still needed, so the output sits two rows (2 x 320 bytes) before the input.
    graph, op = _window_op("DEPTHWISE_CONV_2D", (1, 25, 5, 64), 64, (3, 3), 1, 1, "SAME")
    assert stream_distance(op, graph, 0, ROWS) == 640
    # KWS pointwise 1x1: one row.
    graph, op = _window_op("CONV_2D", (1, 25, 5, 64), 64, (1, 1), 1, 1, "SAME")
    assert stream_distance(op, graph, 0, ROWS) == 320
    # micro_speech: 49x40x1 -> 25x20x8, 10x8 window, stride 2, pad_top 4. Output rows are
    # 160 bytes, input rows 40: the last row decides, 25 * 160 - (24 * 2 - 4) * 40.
    graph, op = _window_op("DEPTHWISE_CONV_2D", (1, 49, 40, 1), 8, (10, 8), 2, 1, "SAME")
    assert stream_distance(op, graph, 0, ROWS) == 2240
    # VALID 3x3 on 8x8x4: output row r needs input rows from r on: one 24-byte row.
    graph, op = _window_op("CONV_2D", (1, 8, 8, 4), 4, (3, 3), 1, 1, "VALID")
    assert stream_distance(op, graph, 0, ROWS) == 24
    # A stride that skips rows: only output row 0 (4 bytes) must sit before the input.
    graph, op = _window_op("MAX_POOL_2D", (1, 9, 4, 2), 2, (1, 1), 3, 1, "VALID")
    assert stream_distance(op, graph, 0, ROWS) == 4
    # Two batches: batch 1's rows come after all of batch 0's.
    graph, op = _window_op("CONV_2D", (2, 4, 3, 2), 2, (3, 3), 1, 1, "SAME")
    units = op_units(op, graph, 0, ROWS)
    assert units is not None and list(units.floors()) == [0, 0, 1, 2, 4, 4, 5, 6]


def test_distances_of_tiles_and_rings() -> None:
    # KWS pointwise, four pixels a tile: a tile reads four input pixels, 4 x 64 bytes.
    graph, op = _window_op("CONV_2D", (1, 25, 5, 64), 64, (1, 1), 1, 1, "SAME")
    assert stream_distance(op, graph, 0, TILES) == 256
    # KWS depthwise from a ring of rows: the rows of a window are copied before the row
    # that needs them is written, so the output may take the input's very bytes.
    graph, op = _window_op("DEPTHWISE_CONV_2D", (1, 25, 5, 64), 64, (3, 3), 1, 1, "SAME")
    assert stream_distance(op, graph, 0, RING) == 0
    assert stream_distance(op, graph, 0, TILES) == 640  # 5-pixel rows: a tile spans rows
    # The window of the first pixels is clipped by the padding: floors count from 0.
    graph, op = _window_op("DEPTHWISE_CONV_2D", (1, 49, 40, 1), 8, (10, 8), 2, 1, "SAME")
    units = op_units(op, graph, 0, TILES)
    assert units is not None and units.count == 125 and units.out_unit == 32
    assert list(units.floors()[:8]) == [0] * 8
    # The last tile, output pixels (24, 16..19), ends at byte 4,000; its first window
    # starts at input row 44 (24 * 2 - 4), column 29 (16 * 2 - 3): 4,000 - 1,789.
    assert units.ends()[-1] == 4000 and units.floors()[-1] == 44 * 40 + 29
    assert stream_distance(op, graph, 0, TILES) == 2211


def test_element_wise_distances() -> None:
    tensors = (_t(0, (1, 10)), _t(1, (1, 10), "float32"), _t(2, (1, 10)), _t(3, (10,)),
               _t(4, (1, 1)), _t(5, (1, 10)))
    graph = Subgraph("g", tensors, (), (0,), (1,))
    dequantize = Operator(0, "DEQUANTIZE", 1, (0,), (1,))
    quantize = Operator(1, "QUANTIZE", 1, (1,), (2,))
    add = Operator(2, "ADD", 1, (3, 4), (5,))
    assert stream_distance(dequantize, graph, 0, ELEMENTS) == 27  # 3 per element but the last
    assert stream_distance(quantize, graph, 0, ELEMENTS) == 0
    assert stream_distance(add, graph, 0, ELEMENTS) == 0
    assert stream_distance(add, graph, 1, ELEMENTS) is None  # broadcast: read many times


def test_geometries_the_kernels_refuse_do_not_stream() -> None:
    graph, op = _window_op("CONV_2D", (1, 6, 6, 2), 2, (3, 3), 1, 1, "SAME")
    for change in ({"padding": "EXPLICIT"}, {"stride_h": 0}):
        bad = dataclasses.replace(op, options={**op.options, **change})
        assert stream_distance(bad, graph, 0, ROWS) is None
    flat = dataclasses.replace(graph, tensors=(_t(0, (36, 2)), *graph.tensors[1:]))
    assert stream_distance(op, flat, 0, ROWS) is None


def test_padding_follows_the_code_generator() -> None:
    from tinykit.codegen.common import out_size as codegen_out_size
    from tinykit.codegen.common import padding_before

    for size in range(1, 12):
        for k in range(1, 6):
            for stride in (1, 2, 3):
                for dilation in (1, 2, 3):
                    for padding in ("SAME", "VALID"):
                        out = out_size(padding, size, k, stride, dilation)
                        assert out == codegen_out_size(padding, size, k, stride, dilation)
                        if out > 0:
                            assert pad_before(stride, dilation, size, k, out) == \
                                padding_before(stride, dilation, size, k, out)


# --- the portable kernels' loop orders, replayed over overlapping buffers ----------------


class _Arena:
    """Input at `distance`, output at 0: reads fail once a write has replaced the byte."""

    def __init__(self, distance: int, in_bytes: int) -> None:
        self.distance = distance
        self.clobbered = np.zeros(distance + in_bytes, dtype=bool)

    def read(self, index: int, itemsize: int = 1) -> None:
        start = self.distance + index * itemsize
        assert not self.clobbered[start:start + itemsize].any(), f"input {index} clobbered"

    def write(self, index: int, itemsize: int = 1) -> None:
        self.clobbered[index * itemsize:(index + 1) * itemsize] = True


def _replay_window(opcode: str, g: dict[str, int], arena: _Arena) -> None:
    """tk_conv2d_s8 / tk_depthwise_conv2d_s8 / tk_*_pool_s8 loop nests (reads, then write)."""
    n, h, w, c, oh, ow, oc = (g[k] for k in ("n", "h", "w", "c", "oh", "ow", "oc"))
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for o in range(oc):
                    ic = o // (oc // c) if opcode == "DEPTHWISE_CONV_2D" else None
                    for ky in range(g["kh"]):
                        iy = oy * g["stride"] - g["pad_top"] + ky * g["dilation"]
                        for kx in range(g["kw"]):
                            ix = ox * g["stride"] - g["pad_left"] + kx * g["dilation"]
                            if 0 <= iy < h and 0 <= ix < w:
                                for ch in ([ic] if ic is not None else range(c)):
                                    arena.read(((b * h + iy) * w + ix) * c + ch)
                    arena.write(((b * oh + oy) * ow + ox) * oc + o)


def _replay_ring(g: dict[str, int], arena: _Arena) -> None:
    """tk_depthwise_conv2d_rows_s8: rows copied to the ring once, in order, before the
    output row that needs them; output rows read only the ring."""
    n, h, w, c = (g[k] for k in ("n", "h", "w", "c"))
    for b in range(n):
        loaded = -1
        for oy in range(g["oh"]):
            top = oy * g["stride"] - g["pad_top"]
            last = top + (g["kh"] - 1) * g["dilation"]
            for iy in range(max(loaded + 1, top), min(last, h - 1) + 1):
                if iy >= 0:
                    for i in range((b * h + iy) * w * c, (b * h + iy + 1) * w * c):
                        arena.read(i)
                    loaded = iy
            for i in range((b * g["oh"] + oy) * g["ow"] * g["oc"],
                           (b * g["oh"] + oy + 1) * g["ow"] * g["oc"]):
                arena.write(i)


def _replay_direct_tiles(g: dict[str, int], arena: _Arena) -> None:
    """tk_conv2d_im2col_s8 on a 1x1 convolution without a copy (portable, ARMv6-M, Helium):
    per output channel, the four pixels of a tile are read again from the input."""
    pixels = [(b, oy, ox) for b in range(g["n"]) for oy in range(g["oh"])
              for ox in range(g["ow"])]
    for first in range(0, len(pixels), 4):
        tile = pixels[first:first + 4]
        for o in range(g["oc"]):
            for b, oy, ox in tile:
                iy, ix = oy * g["stride"], ox * g["stride"]
                for ch in range(g["c"]):
                    arena.read(((b * g["h"] + iy) * g["w"] + ix) * g["c"] + ch)
            for b, oy, ox in tile:
                arena.write(((b * g["oh"] + oy) * g["ow"] + ox) * g["oc"] + o)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.sampled_from(("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RING",
                        "DIRECT")),
       st.sampled_from((ROWS, TILES)), st.integers(1, 2), st.integers(1, 7),
       st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4),
       st.integers(1, 4), st.integers(1, 3), st.integers(1, 2), st.booleans())
def test_kernels_never_read_a_clobbered_byte(
        kernel: str, kind: str, n: int, h: int, w: int, c: int, mult: int, kh: int, kw: int,
        stride: int, dilation: int, same: bool) -> None:
    """Each kernel's loop order, over one buffer at the distance its kind allows."""
    opcode = {"RING": "DEPTHWISE_CONV_2D", "DIRECT": "CONV_2D"}.get(kernel, kernel)
    if kernel == "DIRECT":
        kh = kw = dilation = 1
        kind = TILES
    elif kernel == "RING":
        kind = RING
    if opcode == "AVERAGE_POOL_2D":
        dilation = 1
    out_c = c * mult if opcode == "DEPTHWISE_CONV_2D" else (mult if opcode == "CONV_2D" else c)
    padding = "SAME" if same else "VALID"
    oh, ow = (out_size(padding, s, k, stride, dilation) for s, k in ((h, kh), (w, kw)))
    if oh <= 0 or ow <= 0:
        return
    graph, op = _window_op(opcode, (n, h, w, c), out_c, (kh, kw), stride, dilation, padding)
    distance = stream_distance(op, graph, 0, kind)
    assert distance is not None
    geometry = dict(n=n, h=h, w=w, c=c, oh=oh, ow=ow, oc=out_c, kh=kh, kw=kw, stride=stride,
                    dilation=dilation, pad_top=pad_before(stride, dilation, h, kh, oh),
                    pad_left=pad_before(stride, dilation, w, kw, ow))
    arena = _Arena(distance, n * h * w * c)
    if kernel == "RING":
        _replay_ring(geometry, arena)
    elif kernel == "DIRECT":
        _replay_direct_tiles(geometry, arena)
    else:
        _replay_window(opcode, geometry, arena)


@pytest.mark.parametrize("in_size,out_size_", [(1, 1), (4, 1), (1, 4)])
def test_element_loops_never_read_a_clobbered_byte(in_size: int, out_size_: int) -> None:
    dtypes = {1: "int8", 4: "float32"}
    graph = Subgraph("g", (_t(0, (7,), dtypes[in_size]), _t(1, (7,), dtypes[out_size_])),
                     (), (0,), (1,))
    op = Operator(0, "QUANTIZE", 1, (0,), (1,))
    distance = stream_distance(op, graph, 0, ELEMENTS)
    assert distance is not None
    arena = _Arena(distance, 7 * in_size)
    for i in range(7):  # tk_lut_s8, tk_quantize_f32_s8, tk_dequantize_s8_f32
        arena.read(i, in_size)
        arena.write(i, out_size_)


# --- the tables the planner and the code generator share ----------------------------------


def test_every_streaming_kernel_is_one_the_registry_calls() -> None:
    from tinykit.codegen.registry import KERNELS

    assert set(STREAMING_OPS) <= set(KERNELS)
    named = {k for entry in KERNELS.values() for k in entry.kernels}
    assert set(KERNEL_STREAMING) <= named


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_analyze_shows_the_plan_the_c_uses(path: Path) -> None:
    from tinykit.codegen.generate import generate_sources
    from tinykit.errors import UnsupportedError
    from tinykit.tflite.analyze import AnalyzeOptions, analyze

    model = read_model(path)
    result = analyze(AnalyzeOptions(model=path))
    try:
        sources = generate_sources(model, "model")
    except UnsupportedError:
        assert result.plan_note and "cannot run this model" in result.plan_note
        return
    assert result.plan_note is None
    assert sources.plan == result.plan
    assert f"MODEL_ARENA_BYTES {sources.plan.arena_bytes} " in sources.files["model.h"]


# --- the checker -------------------------------------------------------------------------


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_checker_catches_every_stream_moved_one_step_too_close(path: Path) -> None:
    subgraph = read_model(path).main
    plan = plan_memory(subgraph)
    for op, stream in plan.streams.items():
        step = plan.entry(stream.result).alignment
        entries = tuple(dataclasses.replace(e, offset=e.offset + step)
                        if e.tensor == stream.result else e for e in plan.entries)
        closer = dataclasses.replace(stream, distance=stream.distance - step)
        bad = dataclasses.replace(plan, entries=entries, streams={**plan.streams, op: closer})
        problems = check_plan(subgraph, bad)
        position = subgraph.operators[op].inputs.index(stream.source)
        units = op_units(subgraph.operators[op], subgraph, position, stream.kind)
        # Tight unless the contract left room (a float input read 4 bytes per output byte).
        needs = None if units is None else units.distance()
        if needs is not None and needs > stream.distance - step:
            assert any("may still be read" in p for p in problems), (op, stream)


def test_checker_refuses_streams_the_kernels_do_not_allow_and_bad_orders() -> None:
    tensors = (_t(0, (1, 64)), _t(1, (1, 64)), _t(2, (1, 64)))
    ops = (Operator(0, "RELU", 1, (0,), (1,)), Operator(1, "RELU", 1, (1,), (2,)))
    subgraph = Subgraph("g", tensors, ops, (0,), (2,))
    plan = plan_memory(subgraph)
    assert plan.streams and check_plan(subgraph, plan) == []
    assert any("does not stream" in p
               for p in check_plan(subgraph, plan, streaming_ops={"RELU": ROWS}))
    assert any("does not stream" in p for p in check_plan(subgraph, plan, streaming_ops={}))
    assert any("before its input" in p
               for p in check_plan(subgraph, dataclasses.replace(plan, order=(1, 0))))
    fake = {1: Stream(1, 0, 2, 0, ELEMENTS)}
    assert any("not its input" in p
               for p in check_plan(subgraph, dataclasses.replace(plan, streams=fake)))


# --- execution order ---------------------------------------------------------------------


def _two_towers() -> Subgraph:
    """Two 4000-byte branches from one input, each reduced to 100 bytes, then joined."""
    tensors = (_t(0, (1000,)), _t(1, (4000,)), _t(2, (4000,)), _t(3, (100,)),
               _t(4, (100,)), _t(5, (200,)))
    ops = (Operator(0, "FULLY_CONNECTED", 1, (0,), (1,)),
           Operator(1, "FULLY_CONNECTED", 1, (0,), (2,)),
           Operator(2, "FULLY_CONNECTED", 1, (1,), (3,)),
           Operator(3, "FULLY_CONNECTED", 1, (2,), (4,)),
           Operator(4, "CONCATENATION", 1, (3, 4), (5,)))
    return Subgraph("g", tensors, ops, (0,), (5,))


def test_branches_are_reordered_when_the_arena_shrinks() -> None:
    graph = _two_towers()
    plan = plan_memory(graph)
    assert plan.order == (0, 2, 1, 3, 4) and plan.reordered
    assert check_plan(graph, plan) == []
    kept = plan_memory(graph, reorder=False)
    assert kept.order == (0, 1, 2, 3, 4) and not kept.reordered
    assert plan.arena_bytes < kept.arena_bytes  # 1000 + 4000 + 100 + ... < 1000 + 8000
    # Lifetimes count steps: tensor 3 is written at step 1 (op 2) and read at step 4.
    assert (plan.entry(3).first_op, plan.entry(3).last_op) == (1, 4)


def test_no_reordering_for_chains_or_state() -> None:
    tensors = (_t(0, (8,)), _t(1, (8,)), _t(2, (8,)))
    chain = Subgraph("g", tensors, (Operator(0, "RELU", 1, (0,), (1,)),
                                    Operator(1, "RELU", 1, (1,), (2,))), (0,), (2,))
    assert candidate_orders(chain) == []
    towers = _two_towers()
    state = dataclasses.replace(towers, tensors=(*towers.tensors[:5],
                                                 dataclasses.replace(towers.tensors[5],
                                                                     is_variable=True)))
    assert candidate_orders(state) == []
