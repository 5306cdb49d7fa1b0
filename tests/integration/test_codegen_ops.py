"""Kernels against tflite-runtime on hand-built single-op models with random parameters.

Each model puts many instances of one op side by side, each with its own seeded scales
and zero points (or shapes), so one compile and one tflite-runtime call check dozens of
parameter combinations; element-wise int8 ops see every one of the 256 input values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.codegen_flatbuffers import GraphBuilder
from tests.codegen_helpers import assert_exact, int8_sweep, verify_bytes

pytestmark = pytest.mark.toolchain

RNG_SEED = 20240611


def _scale(rng: np.random.Generator, low: float = 1e-3, high: float = 1.0) -> float:
    return float(np.float32(math.exp(rng.uniform(math.log(low), math.log(high)))))


def _zp(rng: np.random.Generator) -> int:
    return int(rng.integers(-128, 128))


def _unary_model(op: str, count: int, quant_of, options: str | None = None,
                 fields_of=None) -> bytes:
    rng = np.random.default_rng(RNG_SEED + len(op))
    graph = GraphBuilder()
    inputs, outputs = [], []
    for k in range(count):
        (s_in, z_in), (s_out, z_out) = quant_of(rng, k)
        a = graph.tensor([256], quant=(s_in, z_in))
        b = graph.tensor([256], quant=(s_out, z_out))
        fields = fields_of(rng, k) if fields_of else {}
        graph.op(op, [a], [b], options, **fields)
        inputs.append(a)
        outputs.append(b)
    return graph.build(inputs, outputs)


def _any_quant(rng, _k):
    return (_scale(rng, 1e-3, 0.5), _zp(rng)), (_scale(rng, 1e-3, 0.5), _zp(rng))


UNARY = {
    "LOGISTIC": (lambda rng, _k: ((_scale(rng, 1e-3, 0.5), _zp(rng)), (1 / 256, -128)),
                 None, None),
    "TANH": (lambda rng, _k: ((_scale(rng, 1e-3, 0.5), _zp(rng)), (1 / 128, 0)), None, None),
    "HARD_SWISH": (lambda rng, _k: (lambda s: ((s, _zp(rng)),
                                               (s * float(rng.uniform(0.1, 4.0)), _zp(rng))))(
        _scale(rng, 1e-3, 0.5)), None, None),
    "RELU": (_any_quant, None, None),
    "RELU6": (_any_quant, None, None),
    "RELU_N1_TO_1": (_any_quant, None, None),
    "LEAKY_RELU": (_any_quant, "LeakyReluOptions",
                   lambda rng, _k: {"alpha": float(np.float32(rng.uniform(0.01, 0.9)))}),
    "QUANTIZE": (_any_quant, None, None),
}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_int8_ops_on_all_inputs(op, tmp_path):
    quant_of, options, fields_of = UNARY[op]
    count = 24
    data = _unary_model(op, count, quant_of, options, fields_of)
    assert_exact(verify_bytes(data, tmp_path, samples=int8_sweep(*[(256,)] * count)))


def test_softmax_betas_scales_and_shapes(tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    graph = GraphBuilder()
    inputs, outputs, shapes = [], [], []
    for _ in range(12):
        shape = [1, int(rng.integers(1, 5)), int(rng.integers(1, 40))]
        beta = float(np.float32(rng.choice([1.0, 0.5, 2.0, float(rng.uniform(0.1, 3))])))
        a = graph.tensor(shape, quant=(_scale(rng, 0.01, 0.5), _zp(rng)))
        b = graph.tensor(shape, quant=(1 / 256, -128))
        graph.op("SOFTMAX", [a], [b], "SoftmaxOptions", beta=beta)
        inputs.append(a)
        outputs.append(b)
        shapes.append(tuple(shape))
    result = verify_bytes(graph.build(inputs, outputs), tmp_path, samples=8)
    assert_exact(result)


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_binary_ops_with_broadcasting_and_activations(op, tmp_path):
    rng = np.random.default_rng(RNG_SEED + 1)
    graph = GraphBuilder()
    options = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions"}[op]
    shape_pairs = [([2, 3, 5], [2, 3, 5]), ([2, 3, 5], [5]), ([1, 4, 1, 3], [2, 1, 5, 3]),
                   ([3, 1], [1, 7]), ([1], [4, 6])]
    if op != "MUL":  # tflite-runtime 2.14 aborts on a 5-d int8 MUL broadcast
        shape_pairs.append(([2, 1, 3, 1, 2], [1, 4, 1, 5, 2]))
    inputs, outputs = [], []
    for k, (shape_a, shape_b) in enumerate(shape_pairs * 2):
        out_shape = list(np.broadcast_shapes(tuple(shape_a), tuple(shape_b)))
        a = graph.tensor(shape_a, quant=(_scale(rng, 0.005, 0.5), _zp(rng)))
        b = graph.tensor(shape_b, quant=(_scale(rng, 0.005, 0.5), _zp(rng)))
        low = 0.5 if op == "MUL" else 0.02
        c = graph.tensor(out_shape, quant=(_scale(rng, low, 1.0), _zp(rng)))
        graph.op(op, [a, b], [c], options, fusedActivationFunction=k % 4)
        inputs += [a, b]
        outputs.append(c)
    assert_exact(verify_bytes(graph.build(inputs, outputs), tmp_path, samples=8))


def test_mean_axes_and_keep_dims(tmp_path):
    rng = np.random.default_rng(RNG_SEED + 2)
    graph = GraphBuilder()
    cases = [([1, 5, 7, 3], [1, 2], True), ([1, 5, 7, 3], [1, 2], False),
             ([1, 4, 6, 8], [3], True), ([2, 3, 4], [0, 2], False), ([1, 9, 2, 5], [-1, 1], True),
             ([1, 11, 13, 2], [1, 2], False), ([6, 5], [0, 1], False), ([1, 3, 3, 40], [1], False)]
    inputs, outputs = [], []
    for shape, axes, keep in cases:
        resolved = sorted({a % len(shape) for a in axes})
        out_shape = [1 if d in resolved else n for d, n in enumerate(shape)] if keep else \
            [n for d, n in enumerate(shape) if d not in resolved]
        a = graph.tensor(shape, quant=(_scale(rng, 0.01, 0.5), _zp(rng)))
        axis = graph.tensor([len(axes)], "int32", data=np.array(axes, dtype=np.int32))
        b = graph.tensor(out_shape, quant=(_scale(rng, 0.01, 0.5), _zp(rng)))
        graph.op("MEAN", [a, axis], [b], "ReducerOptions", keepDims=keep)
        inputs.append(a)
        outputs.append(b)
    assert_exact(verify_bytes(graph.build(inputs, outputs), tmp_path, samples=8))


def test_float_quantize_and_dequantize_round_like_tflite(tmp_path):
    rng = np.random.default_rng(RNG_SEED + 3)
    graph = GraphBuilder()
    inputs, outputs, quants = [], [], []
    for _ in range(6):
        scale, zp = _scale(rng, 1e-3, 0.5), _zp(rng)
        x = graph.tensor([64], "float32")
        q = graph.tensor([64], quant=(scale, zp))
        y = graph.tensor([64], "float32")
        graph.op("QUANTIZE", [x], [q])
        graph.op("DEQUANTIZE", [q], [y])
        inputs.append(x)
        outputs += [q, y]
        quants.append((scale, zp))
    samples = []
    for s in range(4):
        sample = []
        for scale, zp in quants:
            steps = rng.integers(-140 - zp, 140 - zp, size=64).astype(np.float32)
            # Exactly halfway between two steps (round half away from zero), and noise.
            offset = np.float32(0.5) if s % 2 == 0 else rng.uniform(-0.5, 0.5, 64)
            sample.append(((steps + offset) * np.float32(scale)).astype(np.float32))
        samples.append(sample)
    assert_exact(verify_bytes(graph.build(inputs, outputs), tmp_path, samples=samples))


def _const(graph: GraphBuilder, values) -> int:
    array = np.asarray(values, dtype=np.int32)
    return graph.tensor(list(array.shape), "int32", data=array)


def test_data_movement_ops(tmp_path):
    """PAD, PADV2, CONCATENATION, TRANSPOSE, STRIDED_SLICE: bytes in the right places."""
    graph = GraphBuilder()
    q = (0.05, -7)
    x = graph.tensor([1, 5, 4, 3], quant=q)
    y = graph.tensor([2, 3, 4], quant=q)
    outs = []

    def out(shape):
        outs.append(graph.tensor(shape, quant=q))
        return outs[-1]

    graph.op("PAD", [x, _const(graph, [[0, 1], [2, 0], [1, 3], [0, 2]])], [out([2, 7, 8, 5])])
    graph.op("PADV2", [y, _const(graph, [[1, 0], [0, 2], [3, 1]]),
                       graph.tensor([1], quant=q, data=np.array([11], np.int8))],
             [out([3, 5, 8])])
    graph.op("CONCATENATION", [x, x, x], [out([1, 5, 12, 3])], "ConcatenationOptions",
             axis=2)
    graph.op("CONCATENATION", [y, y], [out([2, 3, 8])], "ConcatenationOptions", axis=-1)
    graph.op("TRANSPOSE", [x, _const(graph, [3, 1, 0, 2])], [out([3, 5, 1, 4])])
    graph.op("TRANSPOSE", [y, _const(graph, [2, 0, 1])], [out([4, 2, 3])])
    graph.op("STRIDED_SLICE", [x, _const(graph, [0, 4, 0, 2]), _const(graph, [1, 0, 4, 0]),
                               _const(graph, [1, -2, 3, -1])], [out([1, 2, 2, 3])],
             "StridedSliceOptions", beginMask=0, endMask=0b1100, shrinkAxisMask=0)
    graph.op("STRIDED_SLICE", [y, _const(graph, [1, -2, 0]), _const(graph, [2, 3, 4]),
                               _const(graph, [1, 1, 2])], [out([2, 2])],
             "StridedSliceOptions", shrinkAxisMask=0b001)
    sweep = [[np.resize(np.arange(-60, 60, dtype=np.int8), (1, 5, 4, 3)),
              np.resize(np.arange(60, -60, -1, dtype=np.int8), (2, 3, 4))]]
    assert_exact(verify_bytes(graph.build([x, y], outs), tmp_path, samples=sweep))


def test_resize_nearest_and_space_batch(tmp_path):
    graph = GraphBuilder()
    q = (0.1, 3)
    x = graph.tensor([1, 5, 7, 2], quant=q)
    z = graph.tensor([1, 6, 3], quant=q)
    outs = []
    resizes = [((10, 14), False, False), ((9, 4), True, False), ((11, 15), False, True),
               ((3, 5), False, True), ((7, 7), True, False)]
    for size, align, half in resizes:
        outs.append(graph.tensor([1, *size, 2], quant=q))
        graph.op("RESIZE_NEAREST_NEIGHBOR", [x, _const(graph, list(size))], [outs[-1]],
                 "ResizeNearestNeighborOptions", alignCorners=align, halfPixelCenters=half)
    outs.append(graph.tensor([6, 2, 4, 2], quant=q))
    graph.op("SPACE_TO_BATCH_ND", [x, _const(graph, [3, 2]),
                                   _const(graph, [[0, 1], [0, 1]])], [outs[-1]])
    outs.append(graph.tensor([2, 4, 3], quant=q))
    graph.op("SPACE_TO_BATCH_ND", [z, _const(graph, [2]), _const(graph, [[1, 1]])], [outs[-1]])
    batch = outs[-1]
    outs.append(graph.tensor([1, 7, 3], quant=q))
    graph.op("BATCH_TO_SPACE_ND", [batch, _const(graph, [2]), _const(graph, [[1, 0]])],
             [outs[-1]])
    sweep = [[np.resize(np.arange(-128, 128, 3, dtype=np.int8), (1, 5, 7, 2)),
              np.resize(np.arange(100, -100, -7, dtype=np.int8), (1, 6, 3))]]
    assert_exact(verify_bytes(graph.build([x, z], outs), tmp_path, samples=sweep))
