"""Hand-built int8 models for the arena tests: every stream kind, two batches, branches.

`streams_model()` chains every op that streams (convolutions with padding, stride and
dilation, depthwise with a depth multiplier, both poolings, ADD/MUL with a broadcast
constant, table activations, requantization, float QUANTIZE in and DEQUANTIZE out), a
second chain of batch 2, and a two-tower branch that the planner reorders. Scales keep
values spread over the int8 range (a saturated output would hide a clobbered input).
Built with the flatbuffers schema of ai-edge-litert, no TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np

from tests.codegen_flatbuffers import GraphBuilder

SEED = 20_240


class _Chain:
    """Appends ops to a graph, each reading the previous op's output."""

    def __init__(self, graph: GraphBuilder, rng: np.random.Generator, tensor: int,
                 shape: list[int], scale: float, zero_point: int) -> None:
        self.graph, self.rng = graph, rng
        self.tensor, self.shape, self.scale, self.zp = tensor, shape, scale, zero_point

    def _next(self, shape: list[int], scale: float, zero_point: int | None = None) -> int:
        zp = int(self.rng.integers(-20, 21)) if zero_point is None else zero_point
        out = self.graph.tensor(shape, quant=(scale, zp))
        self.shape, self.scale, self.zp = shape, scale, zp
        return out

    def _weights(self, shape: list[int], axis: int, taps: int) -> int:
        """Per-channel weights whose products keep the output near the input's spread."""
        base = 1.0 / (73.0 * math.sqrt(taps))
        scales = [base * float(self.rng.uniform(0.7, 1.4)) for _ in range(shape[axis])]
        data = self.rng.integers(-127, 128, size=shape, dtype=np.int8)
        return self.graph.tensor(shape, quant=(scales, [0] * len(scales), axis), data=data)

    def _bias(self, count: int) -> int:
        data = self.rng.integers(-500, 500, size=count).astype(np.int32)
        return self.graph.tensor([count], "int32", data=data)

    def window(self, opcode: str, out_c: int, k: tuple[int, int], stride: int,
               dilation: int = 1, same: bool = True) -> None:
        n, h, w, c = self.shape
        eff = [(size - 1) * dilation + 1 for size in k]
        out_h = -(-h // stride) if same else (h - eff[0]) // stride + 1
        out_w = -(-w // stride) if same else (w - eff[1]) // stride + 1
        source = self.tensor
        if opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            out = self._next([n, out_h, out_w, c], self.scale, self.zp)
            self.graph.op(opcode, [source], [out], "Pool2DOptions", padding=0 if same else 1,
                          strideH=stride, strideW=stride, filterHeight=k[0], filterWidth=k[1])
        elif opcode == "CONV_2D":
            weights = self._weights([out_c, *k, c], 0, k[0] * k[1] * c)
            out = self._next([n, out_h, out_w, out_c], self.scale * 1.8)
            self.graph.op(opcode, [source, weights, self._bias(out_c)], [out],
                          "Conv2DOptions", padding=0 if same else 1, strideH=stride,
                          strideW=stride, dilationHFactor=dilation, dilationWFactor=dilation)
        else:
            weights = self._weights([1, *k, out_c], 3, k[0] * k[1])
            out = self._next([n, out_h, out_w, out_c], self.scale * 1.8)
            self.graph.op(opcode, [source, weights, self._bias(out_c)], [out],
                          "DepthwiseConv2DOptions", padding=0 if same else 1, strideH=stride,
                          strideW=stride, depthMultiplier=out_c // c,
                          dilationHFactor=dilation, dilationWFactor=dilation)
        self.tensor = out

    def binary(self, opcode: str) -> None:
        """ADD or MUL with a per-channel constant as input 0: the stream is on input 1."""
        c = self.shape[-1]
        const_scale = 0.02
        data = self.rng.integers(-100, 101, size=[1, 1, 1, c], dtype=np.int8)
        const = self.graph.tensor([1, 1, 1, c], quant=(const_scale, 0), data=data)
        source = self.tensor
        scale = self.scale * 1.5 if opcode == "ADD" else self.scale * const_scale * 74 / 40
        out = self._next(list(self.shape), scale)
        options = "AddOptions" if opcode == "ADD" else "MulOptions"
        self.graph.op(opcode, [const, source], [out], options)
        self.tensor = out

    def unary(self, opcode: str) -> None:
        source = self.tensor
        if opcode == "LOGISTIC":
            out = self._next(list(self.shape), 1.0 / 256, -128)
        else:  # RELU, QUANTIZE (int8 -> int8 requantization)
            out = self._next(list(self.shape), self.scale * 0.8)
        self.graph.op(opcode, [source], [out])
        self.tensor = out


def _float_chain(graph: GraphBuilder, rng: np.random.Generator) -> tuple[int, int]:
    """Float input, QUANTIZE, every streaming int8 op, DEQUANTIZE: (input, output)."""
    shape = [1, 12, 10, 3]
    source = graph.tensor(shape, "float32")
    chain = _Chain(graph, rng, -1, shape, 0.03, 5)
    quantized = chain._next(shape, 0.03, 5)
    graph.op("QUANTIZE", [source], [quantized])
    chain.tensor = quantized
    chain.window("CONV_2D", 8, (3, 3), 1)
    chain.window("DEPTHWISE_CONV_2D", 8, (3, 3), 2)
    chain.window("DEPTHWISE_CONV_2D", 16, (3, 3), 1, dilation=2)
    chain.window("CONV_2D", 12, (5, 3), 1, dilation=2)         # pad_top 4
    chain.window("CONV_2D", 12, (1, 1), 1)
    chain.window("DEPTHWISE_CONV_2D", 12, (3, 3), 1)             # in place from its ring
    chain.binary("ADD")
    chain.unary("RELU")
    chain.window("MAX_POOL_2D", 12, (2, 2), 2)
    chain.window("AVERAGE_POOL_2D", 12, (3, 3), 1)
    chain.binary("MUL")
    chain.unary("QUANTIZE")
    chain.window("CONV_2D", 10, (2, 2), 1, same=False)
    chain.unary("LOGISTIC")
    result = graph.tensor(chain.shape, "float32")
    graph.op("DEQUANTIZE", [chain.tensor], [result])
    return source, result


def _batch_chain(graph: GraphBuilder, rng: np.random.Generator) -> tuple[int, int]:
    """Two images at once: rows of batch 1 come after every row of batch 0."""
    shape = [2, 7, 6, 4]
    source = graph.tensor(shape, quant=(0.05, -3))
    chain = _Chain(graph, rng, source, shape, 0.05, -3)
    chain.window("CONV_2D", 6, (3, 3), 1)
    chain.window("DEPTHWISE_CONV_2D", 6, (3, 3), 2)
    chain.window("MAX_POOL_2D", 6, (2, 2), 1)
    return source, chain.tensor


def _towers(graph: GraphBuilder, rng: np.random.Generator) -> tuple[int, int]:
    """Two wide FULLY_CONNECTED branches from one input, each narrowed, then joined.

    In the file's order both wide tensors are live at once; run branch by branch, one.
    """
    source = graph.tensor([1, 16], quant=(0.05, 2))
    ends = []
    wide = [graph.tensor([1, 1500], quant=(0.09, 1)) for _ in range(2)]
    chain = _Chain(graph, rng, source, [1, 16], 0.05, 2)
    for tensor in wide:
        graph.op("FULLY_CONNECTED", [source, chain._weights([1500, 16], 0, 16),
                                     chain._bias(1500)], [tensor], "FullyConnectedOptions")
    for tensor in wide:
        end = graph.tensor([1, 8], quant=(0.16, 0))
        graph.op("FULLY_CONNECTED", [tensor, chain._weights([8, 1500], 0, 1500),
                                     chain._bias(8)], [end], "FullyConnectedOptions")
        ends.append(end)
    joined = graph.tensor([1, 16], quant=(0.16, 0))
    graph.op("CONCATENATION", ends, [joined], "ConcatenationOptions", axis=1)
    return source, joined


def streams_model() -> tuple[bytes, list[list[np.ndarray]]]:
    """The model and 4 seeded input samples (extremes first)."""
    rng = np.random.default_rng(SEED)
    graph = GraphBuilder()
    parts = [_float_chain(graph, rng), _batch_chain(graph, rng), _towers(graph, rng)]
    data = graph.build([p[0] for p in parts], [p[1] for p in parts])
    shapes = [([1, 12, 10, 3], "float32"), ([2, 7, 6, 4], "int8"), ([1, 16], "int8")]
    samples = []
    for s in range(4):
        sample = []
        for shape, dtype in shapes:
            if dtype == "float32":
                sample.append(rng.normal(0.0, 1.5, size=shape).astype(np.float32))
            elif s < 2:
                sample.append(np.full(shape, (-128, 127)[s], dtype=np.int8))
            else:
                sample.append(rng.integers(-128, 128, size=shape, dtype=np.int8))
        samples.append(sample)
    return data, samples
