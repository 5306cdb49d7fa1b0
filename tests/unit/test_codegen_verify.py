"""How verify compares outputs and draws its inputs (no compiler, no tflite-runtime)."""

from __future__ import annotations

import numpy as np

from tinykit.codegen.verify import compare, make_samples
from tinykit.tflite.model import Model, Operator, Quantization, Subgraph, Tensor


def _tensor(index, shape, dtype, quant=None):
    return Tensor(index, f"t{index}", tuple(shape), dtype, 0, None, quant)


def test_integer_outputs_count_equal_elements_and_the_largest_step():
    out = [_tensor(0, [4], "int8")]
    got = [[np.array([1, 2, 3, 4], np.int8)], [np.array([0, 0, 0, 0], np.int8)]]
    ref = [[np.array([1, 2, 3, 4], np.int8)], [np.array([0, 0, 3, -1], np.int8)]]
    (check,) = compare(got, ref, out)
    assert check.exact_fraction == 6 / 8 and check.max_abs_diff == 3
    assert check.mismatched_samples == 1 and not check.ok


def test_float_outputs_are_compared_bit_for_bit():
    out = [_tensor(0, [3], "float32")]
    nan = np.float32("nan")
    same = compare([[np.array([nan, 1.5, 0.0], np.float32)]],
                   [[np.array([nan, 1.5, 0.0], np.float32)]], out)[0]
    assert same.ok and same.exact_fraction == 1.0
    signed_zero = compare([[np.array([0.0], np.float32)]], [[np.array([-0.0], np.float32)]],
                          [_tensor(0, [1], "float32")])[0]
    assert not signed_zero.ok


def test_samples_are_seeded_and_cover_the_int8_extremes_and_float_ranges():
    q = Quantization((0.5,), (-10,))
    tensors = (_tensor(0, [2, 3], "int8", q), _tensor(1, [5], "float32"),
               _tensor(2, [5], "int8", q))
    graph = Subgraph("main", tensors, (Operator(0, "QUANTIZE", 1, (1,), (2,)),), (0, 1), (2,))
    model = Model(3, "", (graph,), {}, "0" * 64, 0)
    first, again = make_samples(model, 5, seed=7), make_samples(model, 5, seed=7)
    assert all(np.array_equal(a, b) for s, t in zip(first, again, strict=True)
               for a, b in zip(s, t, strict=True))
    assert (first[0][0] == -128).all() and (first[1][0] == 127).all()
    floats = np.concatenate([s[1] for s in first])
    low, high = 0.5 * (-128 + 10), 0.5 * (127 + 10)
    assert floats.dtype == np.float32 and floats.min() >= low - 0.06 * (high - low)
    assert floats.max() <= high + 0.06 * (high - low)
