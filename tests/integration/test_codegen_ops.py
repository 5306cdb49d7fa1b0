"""Kernels against tflite-runtime on hand-built models with random parameters.

Each model puts many instances of some ops side by side, each with its own seeded scales
and zero points (or shapes), so one compile and one tflite-runtime call check dozens of
parameter combinations; element-wise int8 ops see every one of the 256 input values.
A part adds ops to a shared `GraphBuilder` and returns its inputs, outputs and one
sample array per input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pytest

from tests.codegen_flatbuffers import GraphBuilder
from tests.codegen_helpers import assert_exact, verify_bytes
from tinykit.tflite.reader import read_model

pytestmark = pytest.mark.toolchain

RNG_SEED = 20240611
SWEEP = np.arange(-128, 128, dtype=np.int8)


@dataclass
class Part:
    """Inputs, outputs and per-sample input arrays a part added to the graph."""

    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    arrays: list[list[np.ndarray]] = field(default_factory=list)  # [input][sample]


def _scale(rng: np.random.Generator, low: float = 1e-3, high: float = 1.0) -> float:
    return float(np.float32(math.exp(rng.uniform(math.log(low), math.log(high)))))


def _zp(rng: np.random.Generator) -> int:
    return int(rng.integers(-128, 128))


def _any_quant(rng):
    return (_scale(rng, 1e-3, 0.5), _zp(rng)), (_scale(rng, 1e-3, 0.5), _zp(rng))


def _hard_swish_quant(rng):
    scale = _scale(rng, 1e-3, 0.5)  # TFLite needs output scale > input scale / 128
    return (scale, _zp(rng)), (scale * float(rng.uniform(0.1, 4.0)), _zp(rng))


UNARY = {
    "LOGISTIC": (lambda rng: ((_scale(rng, 1e-3, 0.5), _zp(rng)), (1 / 256, -128)), None),
    "TANH": (lambda rng: ((_scale(rng, 1e-3, 0.5), _zp(rng)), (1 / 128, 0)), None),
    "HARD_SWISH": (_hard_swish_quant, None),
    "RELU": (_any_quant, None),
    "RELU6": (_any_quant, None),
    "RELU_N1_TO_1": (_any_quant, None),
    "LEAKY_RELU": (_any_quant, "LeakyReluOptions"),
    "QUANTIZE": (_any_quant, None),
}


def unary(graph: GraphBuilder, op: str, count: int = 12) -> Part:
    """`count` instances of an element-wise op, each fed all 256 int8 values."""
    rng = np.random.default_rng(RNG_SEED + len(op))
    quant_of, options = UNARY[op]
    part = Part()
    for _ in range(count):
        q_in, q_out = quant_of(rng)
        a, b = graph.tensor([256], quant=q_in), graph.tensor([256], quant=q_out)
        fields = {"alpha": float(np.float32(rng.uniform(0.01, 0.9)))} if options else {}
        graph.op(op, [a], [b], options, **fields)
        part.inputs.append(a)
        part.outputs.append(b)
        part.arrays.append([SWEEP, SWEEP[::-1].copy()])
    return part


def _random_int8(rng: np.random.Generator, shape: list[int]) -> list[np.ndarray]:
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(2)]


def softmax(graph: GraphBuilder) -> Part:
    """Betas, input scales, row counts and depths."""
    rng = np.random.default_rng(RNG_SEED)
    part = Part()
    for _ in range(10):
        shape = [1, int(rng.integers(1, 5)), int(rng.integers(1, 40))]
        beta = float(np.float32(rng.choice([1.0, 0.5, 2.0, float(rng.uniform(0.1, 3))])))
        a = graph.tensor(shape, quant=(_scale(rng, 0.01, 0.5), _zp(rng)))
        b = graph.tensor(shape, quant=(1 / 256, -128))
        graph.op("SOFTMAX", [a], [b], "SoftmaxOptions", beta=beta)
        part.inputs.append(a)
        part.outputs.append(b)
        part.arrays.append(_random_int8(rng, shape))
    return part


def binary(graph: GraphBuilder, op: str) -> Part:
    """Broadcasting up to 5-d, different input scales, every fused activation."""
    rng = np.random.default_rng(RNG_SEED + len(op))
    options = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions"}[op]
    pairs = [([2, 3, 5], [2, 3, 5]), ([2, 3, 5], [5]), ([1, 4, 1, 3], [2, 1, 5, 3]),
             ([3, 1], [1, 7]), ([1], [4, 6])]
    if op != "MUL":  # tflite-runtime 2.14 aborts on a 5-d int8 MUL broadcast
        pairs.append(([2, 1, 3, 1, 2], [1, 4, 1, 5, 2]))
    part = Part()
    for k, (shape_a, shape_b) in enumerate(pairs * 2):
        out_shape = list(np.broadcast_shapes(tuple(shape_a), tuple(shape_b)))
        a = graph.tensor(shape_a, quant=(_scale(rng, 0.005, 0.5), _zp(rng)))
        b = graph.tensor(shape_b, quant=(_scale(rng, 0.005, 0.5), _zp(rng)))
        c = graph.tensor(out_shape, quant=(_scale(rng, 0.5 if op == "MUL" else 0.02, 1.0),
                                           _zp(rng)))
        graph.op(op, [a, b], [c], options, fusedActivationFunction=k % 4)
        part.inputs += [a, b]
        part.outputs.append(c)
        part.arrays += [_random_int8(rng, shape_a), _random_int8(rng, shape_b)]
    return part


def mean(graph: GraphBuilder) -> Part:
    """Reductions over various axes, with and without keep_dims, rescaling."""
    rng = np.random.default_rng(RNG_SEED + 2)
    cases = [([1, 5, 7, 3], [1, 2], True), ([1, 5, 7, 3], [1, 2], False),
             ([1, 4, 6, 8], [3], True), ([2, 3, 4], [0, 2], False),
             ([1, 9, 2, 5], [-1, 1], True), ([1, 11, 13, 2], [1, 2], False),
             ([6, 5], [0, 1], False), ([1, 3, 3, 40], [1], False)]
    part = Part()
    for shape, axes, keep in cases:
        resolved = sorted({a % len(shape) for a in axes})
        out_shape = [1 if d in resolved else n for d, n in enumerate(shape)] if keep else \
            [n for d, n in enumerate(shape) if d not in resolved]
        a = graph.tensor(shape, quant=(_scale(rng, 0.01, 0.5), _zp(rng)))
        axis = graph.tensor([len(axes)], "int32", data=np.array(axes, dtype=np.int32))
        b = graph.tensor(out_shape, quant=(_scale(rng, 0.01, 0.5), _zp(rng)))
        graph.op("MEAN", [a, axis], [b], "ReducerOptions", keepDims=keep)
        part.inputs.append(a)
        part.outputs.append(b)
        part.arrays.append(_random_int8(rng, shape))
    return part


def float_edges(graph: GraphBuilder) -> Part:
    """float32 -> int8 -> float32 with inputs exactly halfway between two steps."""
    rng = np.random.default_rng(RNG_SEED + 3)
    part = Part()
    for _ in range(6):
        scale, zp = _scale(rng, 1e-3, 0.5), _zp(rng)
        x, q = graph.tensor([64], "float32"), graph.tensor([64], quant=(scale, zp))
        y = graph.tensor([64], "float32")
        graph.op("QUANTIZE", [x], [q])
        graph.op("DEQUANTIZE", [q], [y])
        part.inputs.append(x)
        part.outputs += [q, y]
        steps = rng.integers(-140 - zp, 140 - zp, size=64).astype(np.float32)
        halfway = ((steps + np.float32(0.5)) * np.float32(scale)).astype(np.float32)
        noisy = ((steps + rng.uniform(-0.5, 0.5, 64)) * scale).astype(np.float32)
        part.arrays.append([halfway, noisy])
    return part


def _const(graph: GraphBuilder, values) -> int:
    array = np.asarray(values, dtype=np.int32)
    return graph.tensor(list(array.shape), "int32", data=array)


def data_movement(graph: GraphBuilder) -> Part:
    """PAD(V2), CONCATENATION, TRANSPOSE, (STRIDED_)SLICE, resizing, space <-> batch."""
    q = (0.05, -7)
    x, y = graph.tensor([1, 5, 4, 3], quant=q), graph.tensor([2, 3, 4], quant=q)
    part = Part(inputs=[x, y], arrays=[
        [np.resize(np.arange(-60, 60, dtype=np.int8), (1, 5, 4, 3))],
        [np.resize(np.arange(60, -60, -1, dtype=np.int8), (2, 3, 4))]])

    def op(name, inputs, shape, options=None, **fields):
        part.outputs.append(graph.tensor(shape, quant=q))
        graph.op(name, inputs, [part.outputs[-1]], options, **fields)
        return part.outputs[-1]

    op("PAD", [x, _const(graph, [[0, 1], [2, 0], [1, 3], [0, 2]])], [2, 7, 8, 5])
    pad_value = graph.tensor([1], quant=q, data=np.array([11], np.int8))
    op("PADV2", [y, _const(graph, [[1, 0], [0, 2], [3, 1]]), pad_value], [3, 5, 8])
    op("CONCATENATION", [x, x, x], [1, 5, 12, 3], "ConcatenationOptions", axis=2)
    op("CONCATENATION", [y, y], [2, 3, 8], "ConcatenationOptions", axis=-1)
    op("TRANSPOSE", [x, _const(graph, [3, 1, 0, 2])], [3, 5, 1, 4])
    op("TRANSPOSE", [y, _const(graph, [2, 0, 1])], [4, 2, 3])
    op("STRIDED_SLICE", [x, _const(graph, [0, 4, 0, 2]), _const(graph, [1, 0, 4, 0]),
                         _const(graph, [1, -2, 3, -1])], [1, 2, 2, 3],
       "StridedSliceOptions", endMask=0b1100)
    op("STRIDED_SLICE", [y, _const(graph, [1, -2, 0]), _const(graph, [2, 3, 4]),
                         _const(graph, [1, 1, 2])], [2, 2],
       "StridedSliceOptions", shrinkAxisMask=0b001)
    op("SLICE", [x, _const(graph, [0, 1, 2, 0]), _const(graph, [1, 3, -1, 2])], [1, 3, 2, 2])
    op("SLICE", [y, _const(graph, [1, 0, 1]), _const(graph, [-1, 2, 3])], [1, 2, 3])
    for size, align, half in [((10, 8), False, False), ((9, 3), True, False),
                              ((11, 9), False, True), ((3, 5), False, True),
                              ((7, 7), True, False)]:
        op("RESIZE_NEAREST_NEIGHBOR", [x, _const(graph, list(size))], [1, *size, 3],
           "ResizeNearestNeighborOptions", alignCorners=align, halfPixelCenters=half)
    op("SPACE_TO_BATCH_ND", [x, _const(graph, [3, 2]), _const(graph, [[0, 1], [0, 2]])],
       [6, 2, 3, 3])
    batch = op("SPACE_TO_BATCH_ND", [y, _const(graph, [2]), _const(graph, [[1, 0]])],
               [4, 2, 4])
    op("BATCH_TO_SPACE_ND", [batch, _const(graph, [2]), _const(graph, [[1, 0]])], [2, 3, 4])
    return part


def _weights(graph: GraphBuilder, rng: np.random.Generator, shape: list[int], axis: int,
             per_channel: bool) -> int:
    channels = shape[axis]
    scales = [_scale(rng, 0.002, 0.05) for _ in range(channels if per_channel else 1)]
    data = rng.integers(-127, 128, size=shape, dtype=np.int8)
    return graph.tensor(shape, quant=(scales, [0] * len(scales), axis), data=data)


def _bias(graph: GraphBuilder, rng: np.random.Generator, count: int) -> int:
    data = rng.integers(-3000, 3000, size=count).astype(np.int32)
    return graph.tensor([count], "int32", data=data)


def convolutions(graph: GraphBuilder) -> Part:
    """CONV_2D (groups too), DEPTHWISE_CONV_2D, pooling, FULLY_CONNECTED, random geometry."""
    rng = np.random.default_rng(RNG_SEED + 4)
    part = Part()

    def activation(k: int) -> int:
        return (0, 1, 3, 2)[k % 4]  # NONE, RELU, RELU6, RELU_N1_TO_1

    for k in range(8):
        groups = (1, 2, 3)[k % 3]
        in_c, out_c = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
        h, w = int(rng.integers(3, 9)), int(rng.integers(3, 9))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride, dil, same = int(rng.integers(1, 3)), int(rng.integers(1, 3)), k % 2 == 0
        eff_h, eff_w = (kh - 1) * dil + 1, (kw - 1) * dil + 1
        if not same and (eff_h > h or eff_w > w):
            same = True
        out_h = -(-h // stride) if same else (h - eff_h) // stride + 1
        out_w = -(-w // stride) if same else (w - eff_w) // stride + 1
        x = graph.tensor([1, h, w, in_c], quant=(_scale(rng, 0.01, 0.1), _zp(rng)))
        weights = _weights(graph, rng, [out_c, kh, kw, in_c // groups], 0, k % 4 != 3)
        y = graph.tensor([1, out_h, out_w, out_c], quant=(_scale(rng, 0.02, 0.2), _zp(rng)))
        graph.op("CONV_2D", [x, weights, _bias(graph, rng, out_c)], [y], "Conv2DOptions",
                 padding=0 if same else 1, strideH=stride, strideW=stride,
                 dilationHFactor=dil, dilationWFactor=dil,
                 fusedActivationFunction=activation(k))
        part.inputs.append(x)
        part.outputs.append(y)
        part.arrays.append(_random_int8(rng, [1, h, w, in_c]))
    for k in range(6):
        in_c, mult = int(rng.integers(1, 5)), (1, 2, 3)[k % 3]
        h, w, kh, kw = 7, 6, int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride, dil = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        out_h, out_w = -(-h // stride), -(-w // stride)
        x = graph.tensor([1, h, w, in_c], quant=(_scale(rng, 0.01, 0.1), _zp(rng)))
        weights = _weights(graph, rng, [1, kh, kw, in_c * mult], 3, k % 2 == 0)
        y = graph.tensor([1, out_h, out_w, in_c * mult], quant=(_scale(rng, 0.02, 0.2),
                                                                _zp(rng)))
        graph.op("DEPTHWISE_CONV_2D", [x, weights, _bias(graph, rng, in_c * mult)], [y],
                 "DepthwiseConv2DOptions", padding=0, strideH=stride, strideW=stride,
                 depthMultiplier=mult, dilationHFactor=dil, dilationWFactor=dil,
                 fusedActivationFunction=activation(k))
        part.inputs.append(x)
        part.outputs.append(y)
        part.arrays.append(_random_int8(rng, [1, h, w, in_c]))
    for k in range(8):
        op = ("AVERAGE_POOL_2D", "MAX_POOL_2D")[k % 2]
        h, w, c = int(rng.integers(2, 10)), int(rng.integers(2, 10)), int(rng.integers(1, 4))
        fh, fw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride, same = int(rng.integers(1, 3)), k % 4 < 2 or fh > h or fw > w
        out_h = -(-h // stride) if same else (h - fh) // stride + 1
        out_w = -(-w // stride) if same else (w - fw) // stride + 1
        quant = (_scale(rng, 0.01, 0.1), _zp(rng))
        x, y = graph.tensor([1, h, w, c], quant=quant), graph.tensor([1, out_h, out_w, c],
                                                                     quant=quant)
        graph.op(op, [x], [y], "Pool2DOptions", padding=0 if same else 1, strideH=stride,
                 strideW=stride, filterHeight=fh, filterWidth=fw,
                 fusedActivationFunction=activation(k))
        part.inputs.append(x)
        part.outputs.append(y)
        part.arrays.append(_random_int8(rng, [1, h, w, c]))
    for k in range(4):
        batches, depth, units = int(rng.integers(1, 4)), int(rng.integers(1, 50)), 6
        x = graph.tensor([batches, depth], quant=(_scale(rng, 0.01, 0.1), _zp(rng)))
        weights = _weights(graph, rng, [units, depth], 0, k % 2 == 1)
        y = graph.tensor([batches, units], quant=(_scale(rng, 0.05, 0.5), _zp(rng)))
        bias = _bias(graph, rng, units) if k != 2 else -1
        graph.op("FULLY_CONNECTED", [x, weights, bias], [y], "FullyConnectedOptions",
                 fusedActivationFunction=activation(k))
        part.inputs.append(x)
        part.outputs.append(y)
        part.arrays.append(_random_int8(rng, [batches, depth]))
    return part


def _model(*parts: Callable[[GraphBuilder], Part]) -> tuple[bytes, list[list[np.ndarray]]]:
    graph = GraphBuilder()
    built = [make(graph) for make in parts]
    inputs = [i for p in built for i in p.inputs]
    outputs = [o for p in built for o in p.outputs]
    arrays = [a for p in built for a in p.arrays]
    count = max(len(a) for a in arrays)
    samples = [[a[s % len(a)] for a in arrays] for s in range(count)]
    return graph.build(inputs, outputs), samples


#: model name -> the parts it is made of.
MODELS: dict[str, tuple[Callable[[GraphBuilder], Part], ...]] = {
    "lut_float_math": tuple(partial(unary, op=op)
                            for op in ("LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU")),
    "lut_fixed_point": tuple(partial(unary, op=op)
                             for op in ("RELU", "RELU6", "RELU_N1_TO_1", "QUANTIZE")),
    "arithmetic": (partial(binary, op="ADD"), partial(binary, op="SUB"),
                   partial(binary, op="MUL"), mean),
    "softmax_and_float_edges": (softmax, float_edges),
    "data_movement": (data_movement,),
    "convolutions": (convolutions,),
}


def ops_built() -> set[str]:
    """Every op the hand-built models contain (read back from their bytes)."""
    return {op.opcode for parts in MODELS.values()
            for op in read_model(_model(*parts)[0]).main.operators}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_hand_built_model_is_byte_exact(name, tmp_path):
    data, samples = _model(*MODELS[name])
    assert_exact(verify_bytes(data, tmp_path, name, samples=samples))
