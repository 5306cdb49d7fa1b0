"""Hand-built models whose weights look pruned and clustered, for the packed kernels.

`packed_model()` puts side by side one op per path of tinykit/runtime/tk_packed.c, each
op's output a model output, with weights drawn so that each layer's smallest packed form
is the format named in `Built.formats` (idx2, idx4, sparse, sparse+idx2, sparse+idx4, one
table per layer): conv geometries (1x1, borders, dilation, stride, a short last tile, odd
k for the index tails, dead channels, a clamp pass), the four depthwise kernels and the
one-channel depthwise that runs as a convolution, and fully connected layers per channel
and per tensor over 3 batches. Generated with `weights_mode("packed")` every layer runs a
packed kernel; `Built.kernels` names which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tests.kernel_models import RELU, RELU6, Built, _Maker, _out

SEED = 20241124


@dataclass
class PackedBuilt(Built):
    """`Built` plus, per op, the packed format its weights must take."""

    formats: list[str] = field(default_factory=list)


def clustered(rng: np.random.Generator, shape: list[int], axis: int, values: int,
              zeros: float, shared: bool = False) -> np.ndarray:
    """int8 weights with `zeros` of them 0 and at most `values` distinct non-zero values
    per channel along `axis` (one set for all channels when `shared`)."""
    channels = shape[axis]
    moved = [channels] + [s for i, s in enumerate(shape) if i != axis]
    data = np.zeros(moved, dtype=np.int8)
    common = _levels(rng, values)
    for c in range(channels):
        levels = common if shared else _levels(rng, values)
        picks = rng.choice(levels, size=moved[1:])
        keep = rng.random(moved[1:]) >= zeros
        data[c] = np.where(keep, picks, 0)
        data[c].flat[0] = levels[0]  # every channel uses its largest level: no dead channel
    return np.ascontiguousarray(np.moveaxis(data, 0, axis))


def _levels(rng: np.random.Generator, values: int) -> np.ndarray:
    levels = rng.choice(np.r_[-127:0, 1:128], size=values, replace=False).astype(np.int8)
    return levels[np.argsort(-np.abs(levels.astype(int)))]


class _PackedMaker(_Maker):
    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.formats: list[str] = []
        self.style: tuple[int, float, bool] = (16, 0.0, False)

    def weights(self, shape: list[int], axis: int, per_channel: bool = True,
                low: float = 0.002, high: float = 0.02, dead: tuple[int, ...] = ()) -> int:
        values, zeros, shared = self.style
        channels = shape[axis]
        scales = [self.scale(low, high) for _ in range(channels if per_channel else 1)]
        data = clustered(self.rng, shape, axis, values, zeros, shared or not per_channel)
        for c in dead:
            data[(slice(None),) * axis + (c,)] = 0
            scales[c if per_channel else 0] = 1e-9
        return self.graph.tensor(shape, quant=(scales, [0] * len(scales), axis), data=data)

    def with_style(self, fmt: str, values: int, zeros: float, shared: bool = False
                   ) -> _PackedMaker:
        self.style = (values, zeros, shared)
        self.formats.append(fmt)
        return self

    def built(self) -> PackedBuilt:
        return PackedBuilt(self.graph.build(self.inputs, self.outputs), self.kernels,
                           self.formats)


CONV, DW_3X3, DW_3X3S2 = ("tk_conv2d_packed_s8", "tk_depthwise_conv2d_3x3_packed_s8",
                          "tk_depthwise_conv2d_3x3s2_packed_s8")
DW_ROWS, DW_ANY, FC = ("tk_depthwise_conv2d_rows_packed_s8", "tk_depthwise_conv2d_packed_s8",
                       "tk_fully_connected_packed_s8")


def packed_model() -> PackedBuilt:
    """One op per packed path (see the module docstring), side by side."""
    m = _PackedMaker(SEED)
    x_shape, y_shape, z_shape = [1, 9, 11, 8], [1, 7, 6, 3], [1, 20, 14, 1]
    w_shape = [1, 5, 5, 32]  # long channels (k 32, 288): where the table formats pay
    x, y, z = m.activation(x_shape), m.activation(y_shape), m.activation(z_shape)
    w = m.activation(w_shape)
    m.with_style("idx4", 15, 0.0).conv(w, w_shape, 13, (1, 1), CONV)         # short tile
    m.with_style("sparse+idx4", 15, 0.5).conv(w, w_shape, 6, (3, 3), CONV)  # borders
    m.with_style("sparse+idx4", 12, 0.5).conv(w, w_shape, 9, (3, 3), CONV, stride=(2, 2),
                                              act=RELU6)
    m.with_style("sparse", 120, 0.85).conv(x, x_shape, 5, (3, 3), CONV, stride=(2, 2),
                                            dilation=(2, 2))
    # few non-zeros: the DSP (20%) and Helium (2%) versions walk them too
    m.with_style("sparse+idx4", 15, 0.8).conv(w, w_shape, 7, (3, 3), CONV)
    m.with_style("sparse", 120, 0.99).conv(w, w_shape, 16, (3, 3), CONV)
    # a third non-zero int8 values: DSP walks them (tk_walk8_channels), k = 32: one word
    m.with_style("sparse", 120, 0.65).conv(w, w_shape, 5, (1, 1), CONV)
    m.with_style("idx2", 4, 0.0).conv(x, x_shape, 7, (2, 5), CONV, stride=(1, 2),
                                      same=False, act=RELU)
    m.with_style("sparse+idx2", 4, 0.6).conv(w, w_shape, 12, (1, 1), CONV, dead=(1, 3))
    m.with_style("idx2/layer", 4, 0.0, shared=True).conv(
        y, y_shape, 5, (1, 3), CONV, per_channel=False)                      # k = 9, odd
    m.with_style("sparse+idx2", 4, 0.5).conv(z, z_shape, 8, (10, 4), CONV, stride=(2, 2))
    m.with_style("idx2/layer", 3, 0.0, shared=True).depthwise(x, x_shape, (3, 3), DW_3X3)
    m.with_style("idx2/layer", 4, 0.0, shared=True).depthwise(
        x, x_shape, (3, 3), DW_3X3S2, stride=(2, 2), act=RELU6)
    m.with_style("idx2", 4, 0.0).depthwise(x, x_shape, (5, 3), DW_ROWS, same=False)
    m.with_style("sparse+idx2/layer", 4, 0.5, shared=True).depthwise(
        x, x_shape, (3, 3), DW_ROWS, mult=2, act=RELU)
    m.with_style("idx2/layer", 4, 0.0, shared=True).depthwise(
        x, x_shape, (3, 3), DW_ANY, dilation=(1, 2))
    m.with_style("sparse+idx4/layer", 15, 0.5, shared=True).depthwise(
        z, z_shape, (8, 4), CONV, mult=8, stride=(2, 2))                     # one channel
    _fully_connected(m)
    return m.built()


def _fully_connected(m: _PackedMaker) -> None:
    f = m.activation([3, 150])
    for units, per_channel, bias, fmt, style in (
            (10, True, True, "sparse+idx4", (15, 0.5, False)),
            (5, False, False, "idx4/layer", (16, 0.0, True)),
            (6, True, True, "sparse", (100, 0.9, False))):
        m.with_style(fmt, *style)
        out = m.output([3, units], 0.05, 0.5)
        b = m.bias(units) if bias else -1
        m.graph.op("FULLY_CONNECTED", [f, m.weights([units, 150], 0, per_channel), b], [out],
                   "FullyConnectedOptions", fusedActivationFunction=RELU if bias else 0)
        m.kernels.append(FC)


def conv_shape(shape: list[int], k: tuple[int, int], stride: tuple[int, int]) -> list[int]:
    return [shape[0], _out(shape[1], k[0], stride[0], 1, True),
            _out(shape[2], k[1], stride[1], 1, True)]
