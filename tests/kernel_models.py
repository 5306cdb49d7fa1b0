"""Hand-built models that reach every kernel and every code path of the per-core kernels.

`variants_model()` puts side by side one op per path of tinykit/runtime (im2col words and
bytes, direct 1x1, short last tile, the 3x3 depthwise loops in assembly and in C, the
generic ring, the generic kernels, the blocked fully connected layer, the ADD/SUB
tables, SXTAB16 pooling, clamp passes, dead channels, general requantization), each op's
output a model output. `chain_model()` chains layers so that the memory planner streams
outputs over dying inputs and the ring kernel writes in place. The ids name what each op
must reach; a test checks the generated C calls the kernel each one expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tests.codegen_flatbuffers import GraphBuilder

SEED = 20240623


@dataclass
class Built:
    """A model's bytes, and per op (in order) the kernel it must call."""

    data: bytes
    kernels: list[str] = field(default_factory=list)


class _Maker:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.graph = GraphBuilder()
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self.kernels: list[str] = []

    def scale(self, low: float, high: float) -> float:
        return float(np.float32(math.exp(self.rng.uniform(math.log(low), math.log(high)))))

    def zp(self) -> int:
        return int(self.rng.integers(-128, 128))

    def activation(self, shape: list[int]) -> int:
        tensor = self.graph.tensor(shape, quant=(self.scale(0.01, 0.1), self.zp()))
        self.inputs.append(tensor)
        return tensor

    def weights(self, shape: list[int], axis: int, per_channel: bool = True,
                low: float = 0.002, high: float = 0.02, dead: tuple[int, ...] = ()) -> int:
        channels = shape[axis]
        scales = [self.scale(low, high) for _ in range(channels if per_channel else 1)]
        data = self.rng.integers(-127, 128, size=shape, dtype=np.int8)
        for c in dead:  # dead channels: zero weights (their bias makes a constant)
            data[(slice(None),) * axis + (c,)] = 0
            scales[c if per_channel else 0] = 1e-9
        return self.graph.tensor(shape, quant=(scales, [0] * len(scales), axis), data=data)

    def bias(self, count: int, dead: tuple[int, ...] = ()) -> int:
        data = self.rng.integers(-4000, 4000, size=count).astype(np.int32)
        for c in dead:
            data[c] = 1 << 30
        return self.graph.tensor([count], "int32", data=data)

    def output(self, shape: list[int], low: float = 0.02, high: float = 0.2) -> int:
        tensor = self.graph.tensor(shape, quant=(self.scale(low, high), self.zp()))
        self.outputs.append(tensor)
        return tensor

    def conv(self, x: int, in_shape: list[int], out_c: int, k: tuple[int, int],
             kernel: str, stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1),
             same: bool = True, act: int = 0, per_channel: bool = True,
             dead: tuple[int, ...] = ()) -> int:
        n, h, w, c = in_shape
        out_h, out_w = _out(h, k[0], stride[0], dilation[0], same), \
            _out(w, k[1], stride[1], dilation[1], same)
        y = self.output([n, out_h, out_w, out_c])
        self.graph.op("CONV_2D", [x, self.weights([out_c, k[0], k[1], c], 0, per_channel,
                                                  dead=dead), self.bias(out_c, dead)], [y],
                      "Conv2DOptions", padding=0 if same else 1, strideH=stride[0],
                      strideW=stride[1], dilationHFactor=dilation[0],
                      dilationWFactor=dilation[1], fusedActivationFunction=act)
        self.kernels.append(kernel)
        return y

    def depthwise(self, x: int, in_shape: list[int], k: tuple[int, int], kernel: str,
                  mult: int = 1, stride: tuple[int, int] = (1, 1),
                  dilation: tuple[int, int] = (1, 1), same: bool = True, act: int = 0,
                  per_channel: bool = True, out_scale: tuple[float, float] = (0.02, 0.2)
                  ) -> int:
        n, h, w, c = in_shape
        out_h, out_w = _out(h, k[0], stride[0], dilation[0], same), \
            _out(w, k[1], stride[1], dilation[1], same)
        y = self.output([n, out_h, out_w, c * mult], *out_scale)
        self.graph.op("DEPTHWISE_CONV_2D",
                      [x, self.weights([1, k[0], k[1], c * mult], 3, per_channel),
                       self.bias(c * mult)], [y], "DepthwiseConv2DOptions",
                      padding=0 if same else 1, strideH=stride[0], strideW=stride[1],
                      depthMultiplier=mult, dilationHFactor=dilation[0],
                      dilationWFactor=dilation[1], fusedActivationFunction=act)
        self.kernels.append(kernel)
        return y

    def built(self) -> Built:
        return Built(self.graph.build(self.inputs, self.outputs), self.kernels)


def _out(size: int, k: int, stride: int, dilation: int, same: bool) -> int:
    effective = (k - 1) * dilation + 1
    return -(-size // stride) if same else (size - effective) // stride + 1


RELU, RELU6 = 1, 3


def variants_model() -> Built:
    """One op per kernel path (see the module docstring), side by side."""
    m = _Maker(SEED)
    x_shape, y_shape, z_shape = [1, 9, 11, 8], [1, 7, 6, 3], [1, 20, 14, 1]
    x, y, z = m.activation(x_shape), m.activation(y_shape), m.activation(z_shape)
    words, bytes_ = "tk_conv2d_im2col_s8", "tk_conv2d_im2col_bytes_s8"
    m.conv(x, x_shape, 13, (1, 1), words)                                  # direct, short tile
    m.conv(x, x_shape, 6, (1, 1), words, stride=(2, 2), same=False, act=RELU6,
           per_channel=False)                                              # clamp pass
    m.conv(x, x_shape, 6, (3, 3), words)                                   # borders
    m.conv(x, x_shape, 5, (3, 3), bytes_, stride=(2, 2), dilation=(2, 2))  # dilation
    m.conv(x, x_shape, 7, (2, 5), words, stride=(1, 2), same=False, act=RELU)
    m.conv(x, x_shape, 4, (1, 1), words, dead=(1, 3))                      # dead channels
    m.conv(y, y_shape, 9, (3, 3), bytes_, act=RELU6)                       # run of 9 bytes
    m.conv(z, z_shape, 8, (10, 4), words, stride=(2, 2))                   # KWS first layer
    m.conv(z, z_shape, 1, (1, 1), bytes_)                  # one group (k 1), one channel
    m.conv(z, z_shape, 3, (5, 4), words, stride=(1, 2))                    # 5 groups
    three, rows, generic = ("tk_depthwise_conv2d_3x3_s8", "tk_depthwise_conv2d_rows_s8",
                            "tk_depthwise_conv2d_s8")
    m.depthwise(x, x_shape, (3, 3), three)                                 # odd width 11
    m.depthwise(x, x_shape, (3, 3), "tk_depthwise_conv2d_3x3s2_s8", stride=(2, 2), act=RELU6)
    m.depthwise(x, x_shape, (3, 3), rows, dilation=(2, 1), per_channel=False)
    m.depthwise(x, x_shape, (3, 3), three, stride=(2, 1), per_channel=False)  # window by 2
    m.depthwise(x, x_shape, (3, 3), "tk_depthwise_conv2d_3x3s2_s8", stride=(1, 2),
                out_scale=(0.003, 0.004))                                   # e = 1 channels
    m.depthwise(x, x_shape, (5, 3), rows, same=False)
    m.depthwise(x, x_shape, (3, 3), rows, mult=2, act=RELU)
    m.depthwise(x, x_shape, (3, 3), generic, dilation=(1, 2))
    m.depthwise(x, x_shape, (3, 3), rows, out_scale=(1e-4, 2e-4))          # e <= 0: general
    m.depthwise(y, y_shape, (3, 3), three)                                 # 3 channels
    w_shape = [2, 5, 9, 4]
    m.depthwise(m.activation(w_shape), w_shape, (3, 3), three, act=RELU6)   # 2 batches
    m.depthwise(z, z_shape, (8, 4), ONE, mult=8, stride=(2, 2))            # one channel: conv
    m.depthwise(z, z_shape, (3, 3), ONE)
    _fully_connected(m)
    _add_pool(m, x, x_shape, y, y_shape, z, z_shape)
    return m.built()


ONE = "tk_conv2d_1ch_s8"


def one_channel_model() -> Built:
    """Depthwise layers of one input channel side by side: tk_conv2d_1ch_s8 with its window
    cut on every side, rows padded to words, groups of 4 channels with a short last one,
    two batches, one written over its dying input; and the fallbacks (dilation: im2col;
    an accumulator near 2^30: the portable kernel)."""
    m = _Maker(SEED + 2)
    o_shape, b_shape = [1, 9, 13, 1], [2, 6, 7, 1]
    o, b = m.activation(o_shape), m.activation(b_shape)
    m.depthwise(o, o_shape, (3, 3), ONE, mult=8, stride=(2, 2), act=RELU6)  # person_detect
    m.depthwise(o, o_shape, (10, 8), ONE, mult=8, stride=(2, 2), act=RELU)  # micro_speech
    m.depthwise(o, o_shape, (5, 6), ONE, mult=3, act=RELU)                # out_c 3, row 8
    m.depthwise(o, o_shape, (4, 9), ONE, mult=5, stride=(1, 2), same=False)
    m.depthwise(o, o_shape, (11, 15), ONE, mult=6)                        # wider than the image
    m.depthwise(o, o_shape, (2, 2), ONE, mult=1, stride=(2, 3))
    m.depthwise(b, b_shape, (3, 5), ONE, mult=7, stride=(2, 1))           # two batches
    m.depthwise(o, o_shape, (3, 3), "tk_conv2d_im2col_bytes_s8", mult=2, dilation=(2, 2))
    # a bias so large that twice the accumulator could overflow int32: the portable kernel
    # (im2col on DSP doubles the accumulator too)
    y = m.output([1, 9, 13, 4])
    near = np.array([(1 << 30) - 100, -(1 << 30) + 100, 5, -5], dtype=np.int32)
    m.graph.op("DEPTHWISE_CONV_2D", [o, m.weights([1, 3, 4, 4], 3),
                                     m.graph.tensor([4], "int32", data=near)], [y],
               "DepthwiseConv2DOptions", padding=0, strideH=1, strideW=1, depthMultiplier=4,
               dilationHFactor=1, dilationWFactor=1, fusedActivationFunction=0)
    m.kernels.append("tk_conv2d_s8")
    # streamed: the output written over the input that dies there, then used again
    s_shape = [1, 40, 32, 1]
    s = m.activation(s_shape)
    t = m.depthwise(s, s_shape, (5, 4), ONE, mult=8, stride=(2, 2), act=RELU)
    m.outputs.remove(t)
    m.outputs.append(_chain_conv(m, t, [1, 20, 16, 8], 2, (1, 1), (1, 1),
                                 "tk_conv2d_im2col_s8"))
    return m.built()


def _fully_connected(m: _Maker) -> None:
    f = m.activation([3, 37])
    for units, per_channel, bias in ((10, True, True), (5, False, False)):
        out = m.output([3, units], 0.05, 0.5)
        b = m.bias(units) if bias else -1
        m.graph.op("FULLY_CONNECTED", [f, m.weights([units, 37], 0, per_channel), b], [out],
                   "FullyConnectedOptions", fusedActivationFunction=RELU if bias else 0)
        m.kernels.append("tk_fully_connected_s8")
    # A row longer than one chunk (kernels.FC_CHUNK): 3 passes, the last one short, and an
    # input depth that is no multiple of 4.
    long = m.activation([2, 301])
    out = m.output([2, 7], 0.05, 0.5)
    m.graph.op("FULLY_CONNECTED", [long, m.weights([7, 301], 0, True), m.bias(7)], [out],
               "FullyConnectedOptions", fusedActivationFunction=0)
    m.kernels.append("tk_fully_connected_s8")


def _add_pool(m: _Maker, x: int, x_shape: list[int], y: int, y_shape: list[int], z: int,
              z_shape: list[int]) -> None:
    a, b = m.activation([1, 16, 16, 2]), m.activation([1, 16, 16, 2])
    small = m.activation([1, 1, 1, 2])
    for op, other, act, kernel in (("ADD", b, RELU, "tk_add_table_s8"),
                                   ("SUB", b, 0, "tk_add_table_s8"),
                                   ("ADD", small, RELU6, "tk_binary_s8")):
        out = m.output([1, 16, 16, 2], 0.05, 0.3)
        m.graph.op(op, [a, other], [out], f"{op.title()}Options",
                   fusedActivationFunction=act)
        m.kernels.append(kernel)
    for source, shape, window, stride, same in ((x, x_shape, (3, 3), 2, True),
                                                (y, y_shape, (7, 6), 1, False),
                                                (z, z_shape, (20, 14), 1, False)):
        out_shape = [1, _out(shape[1], window[0], stride, 1, same),
                     _out(shape[2], window[1], stride, 1, same), shape[3]]
        scale, zp = m.graph.graph.tensors[source].quantization.scale[0], \
            m.graph.graph.tensors[source].quantization.zeroPoint[0]
        out = m.graph.tensor(out_shape, quant=(scale, zp))
        m.outputs.append(out)
        m.graph.op("AVERAGE_POOL_2D", [source], [out], "Pool2DOptions",
                   padding=0 if same else 1, strideH=stride, strideW=stride,
                   filterHeight=window[0], filterWidth=window[1])
        m.kernels.append("tk_average_pool_s8")


def chain_model() -> Built:
    """A chain the planner streams: each output may overlap the input that dies there."""
    m = _Maker(SEED + 1)
    shape = [1, 12, 10, 8]
    x = m.activation(shape)
    m.outputs = []
    t = _chain_conv(m, x, shape, 16, (3, 3), (2, 2), "tk_conv2d_im2col_s8")
    shape = [1, 6, 5, 16]
    t = _chain_dw(m, t, shape, (1, 1), "tk_depthwise_conv2d_3x3_s8")
    t = _chain_conv(m, t, shape, 16, (1, 1), (1, 1), "tk_conv2d_im2col_s8")
    t = _chain_dw(m, t, shape, (2, 2), "tk_depthwise_conv2d_3x3s2_s8")
    shape = [1, 3, 3, 16]
    t = _chain_conv(m, t, shape, 20, (1, 1), (1, 1), "tk_conv2d_im2col_s8")
    m.outputs = [t]
    return m.built()


def _chain_conv(m: _Maker, x: int, shape: list[int], out_c: int, k: tuple[int, int],
                stride: tuple[int, int], kernel: str) -> int:
    out_shape = [1, _out(shape[1], k[0], stride[0], 1, True),
                 _out(shape[2], k[1], stride[1], 1, True), out_c]
    y = m.graph.tensor(out_shape, quant=(m.scale(0.02, 0.1), -128))
    m.graph.op("CONV_2D", [x, m.weights([out_c, k[0], k[1], shape[3]], 0), m.bias(out_c)],
               [y], "Conv2DOptions", padding=0, strideH=stride[0], strideW=stride[1],
               fusedActivationFunction=RELU)
    m.kernels.append(kernel)
    return y


def _chain_dw(m: _Maker, x: int, shape: list[int], stride: tuple[int, int],
              kernel: str) -> int:
    out_shape = [1, _out(shape[1], 3, stride[0], 1, True), _out(shape[2], 3, stride[1], 1, True),
                 shape[3]]
    y = m.graph.tensor(out_shape, quant=(m.scale(0.02, 0.1), -128))
    m.graph.op("DEPTHWISE_CONV_2D", [x, m.weights([1, 3, 3, shape[3]], 3), m.bias(shape[3])],
               [y], "DepthwiseConv2DOptions", padding=0, strideH=stride[0], strideW=stride[1],
               depthMultiplier=1, fusedActivationFunction=RELU)
    m.kernels.append(kernel)
    return y
