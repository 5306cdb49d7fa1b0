"""Packed weight formats, their encoders, and the per-layer choice (pure Python)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.codegen_flatbuffers import GraphBuilder
from tinykit.codegen import packing
from tinykit.codegen.packing import FORMATS, PackedFormat, decode, encode
from tinykit.errors import ConfigError
from tinykit.tflite.reader import read_model


def _rows(rng: np.random.Generator, channels: int, k: int, values: int, zeros: float,
          shared: bool = False) -> np.ndarray:
    common = rng.choice(np.r_[-128:0, 1:128], size=values, replace=False)
    rows = np.zeros((channels, k), dtype=np.int8)
    for c in range(channels):
        levels = common if shared else rng.choice(np.r_[-128:0, 1:128], size=values,
                                                  replace=False)
        rows[c] = np.where(rng.random(k) >= zeros, rng.choice(levels, size=k), 0)
    return rows


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), channels=st.integers(1, 9), k=st.integers(1, 70),
       values=st.integers(1, 20), zeros=st.floats(0, 1), shared=st.booleans())
def test_every_format_that_holds_the_rows_gives_them_back(seed, channels, k, values, zeros,
                                                          shared):
    rows = _rows(np.random.default_rng(seed), channels, k, values, zeros, shared)
    held = 0
    for fmt in FORMATS:
        packed = encode(rows, fmt)
        if packed is None:
            continue
        held += 1
        assert np.array_equal(decode(packed), rows), fmt.name
        assert packed.nbytes == packed.bitmap.size + packed.data.size + packed.table.size
    assert held >= 1  # sparse int8 values hold anything


def test_formats_refuse_what_they_cannot_hold():
    rows = np.array([[1, 2, 3, 4, 5], [0, 0, 0, 0, 7]], dtype=np.int8)
    assert encode(rows, PackedFormat(False, 2)) is None          # 5 values in 2 bits
    assert encode(rows, PackedFormat(True, 2)) is None           # 5 non-zeros in 2 bits
    assert encode(rows, PackedFormat(False, 4, True)) is not None
    assert encode(rows[:1, :4], PackedFormat(False, 2)) is not None
    # a shared table needs every channel's values in 2**bits entries
    wide = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.int8)
    assert encode(wide, PackedFormat(False, 2, True)) is None
    assert encode(wide, PackedFormat(False, 2)) is not None


def test_the_layouts_are_what_the_kernels_read():
    rows = np.array([[0, 5, 0, 0, 0, 0, 0, 0, -3, 0, 5],
                     [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]], dtype=np.int8)
    sparse = encode(rows, PackedFormat(True, 4))
    assert sparse is not None
    # bitmap: 2 bytes a channel, bit j%8 of byte j/8; channel 0 non-zeros at 1, 8, 10
    assert sparse.bitmap.tolist() == [0b10, 0b101, 0xFF, 0b111]
    # table per channel: sorted non-zeros, stride = the longest table
    assert sparse.table_stride == 2 and sparse.table.tolist() == [-3, 5, 7, 0]
    # indices low bits first, each channel padded to a whole byte: (1, 0, 1) then 11 zeros
    assert sparse.data.tolist() == [0x01, 0x01] + [0x00] * 6
    idx2 = encode(rows, PackedFormat(False, 2, True))
    assert idx2 is not None and idx2.table_stride == 0
    assert idx2.table.tolist() == [-3, 0, 5, 7]
    # indices (1, 2, 1, 1), (1, 1, 1, 1), (0, 1, 2): low bits first
    assert idx2.data[:3].tolist() == [0b01011001, 0b01010101, 0b00100100]
    values = encode(rows, PackedFormat(True, 8))
    assert values is not None and values.table.size == 0
    assert values.data.view(np.int8).tolist() == [5, -3, 5] + [7] * 11


def test_the_smallest_format_wins():
    rng = np.random.default_rng(1)
    assert packing.best_packed(_rows(rng, 8, 288, 15, 0.5)).format.name == "sparse+idx4"
    assert packing.best_packed(_rows(rng, 8, 288, 16, 0.0)).format.name == "idx4"
    assert packing.best_packed(_rows(rng, 8, 288, 4, 0.0)).format.name == "idx2"
    assert packing.best_packed(_rows(rng, 8, 288, 100, 0.95)).format.name == "sparse"
    assert packing.best_packed(_rows(rng, 8, 288, 4, 0.0, True)).format.name == "idx2/layer"


def _conv_model(rows: np.ndarray, k: int = 3) -> bytes:
    """One 3x3 CONV_2D whose weights are `rows` [out_c][9 * in_c]."""
    out_c, taps = rows.shape
    in_c = taps // (k * k)
    g = GraphBuilder()
    x = g.tensor([1, 6, 6, in_c], quant=(0.05, 3))
    w = g.tensor([out_c, k, k, in_c], quant=([0.01] * out_c, [0] * out_c, 0),
                 data=rows.reshape(out_c, k, k, in_c))
    b = g.tensor([out_c], "int32", data=np.zeros(out_c, np.int32))
    y = g.tensor([1, 6, 6, out_c], quant=(0.1, -2))
    g.op("CONV_2D", [x, w, b], [y], "Conv2DOptions", padding=0, strideH=1, strideW=1)
    return g.build([x], [y])


def test_a_layer_is_packed_only_where_it_saves_flash_kernel_code_included():
    rng = np.random.default_rng(2)
    big = read_model(_conv_model(_rows(rng, 48, 216, 15, 0.5))).main  # saves ~6 KB
    small = read_model(_conv_model(_rows(rng, 4, 27, 15, 0.5))).main  # saves < the code
    plain = read_model(_conv_model(_rows(rng, 48, 216, 200, 0.1))).main  # int8, no zeros
    layer = packing.plan_weights(big, "auto").layers[0]
    assert layer.packed and layer.kernel == "tk_conv2d_packed_s8"
    assert layer.bytes < 0.5 * layer.dense_bytes
    assert packing.plan_weights(big, "auto").code_bytes == \
        packing.PACKED_CODE_BYTES["tk_conv2d_packed_s8"] + packing.DECODER_CODE_BYTES
    saved = packing.plan_weights(small, "auto").layers[0]
    assert saved.packed_bytes < 0.75 * saved.dense_bytes and not saved.packed
    assert not packing.plan_weights(plain, "auto").layers[0].packed
    assert packing.plan_weights(small, "packed").layers[0].packed
    assert not packing.plan_weights(big, "dense").layers[0].packed


def test_the_mode_applies_inside_the_block_and_is_checked():
    graph = read_model(_conv_model(_rows(np.random.default_rng(3), 48, 216, 15, 0.5))).main
    op = graph.operators[0]
    from tinykit.codegen.registry import kernel_choice

    assert kernel_choice(graph, op).kernel == "tk_conv2d_packed_s8"
    with packing.weights_mode("dense"):
        assert kernel_choice(graph, op).kernel == "tk_conv2d_im2col_s8"
    assert packing.current_mode() == "auto"
    with pytest.raises(ConfigError, match="unknown weights mode 'tiny'"):
        with packing.weights_mode("tiny"):
            pass


def test_the_packed_kernel_asks_for_its_scratch():
    graph = read_model(_conv_model(_rows(np.random.default_rng(4), 48, 216, 15, 0.5))).main
    from tinykit.codegen import kernels
    from tinykit.codegen.registry import kernel_choice

    with packing.weights_mode("dense"):
        dense = kernel_choice(graph, graph.operators[0])
    packed = kernel_choice(graph, graph.operators[0])
    assert packed.scratch_bytes == dense.scratch_bytes + kernels.conv_k_pad(3, 3, 24)
