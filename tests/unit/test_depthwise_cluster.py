"""Post-training clustering of depthwise kernels on the int8 weights (no TensorFlow)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.codegen_flatbuffers import GraphBuilder
from tinykit.codegen import packing
from tinykit.config import ClusterDepthwiseConfig
from tinykit.optimize.depthwise import cluster_depthwise, cluster_values, kmeans_1d
from tinykit.tflite.reader import read_model


def _cost(values, weights, centroids):
    return sum(w * min((v - c) ** 2 for c in centroids) for v, w in zip(values, weights,
                                                                          strict=True))


@pytest.mark.parametrize("seed", range(12))
def test_kmeans_is_the_best_partition_into_intervals(seed):
    rng = np.random.default_rng(seed)
    values = np.unique(rng.integers(-60, 60, size=9))
    weights = rng.random(len(values)) + 0.05
    k = int(rng.integers(2, 5))
    found = kmeans_1d(values, weights, k)
    assert len(found) <= k and set(found) <= set(range(-60, 60))
    best = min(
        _cost(values, weights, [round(float(np.average(values[a:b], weights=weights[a:b])))
                                for a, b in zip((0, *cuts), (*cuts, len(values)), strict=True)])
        for cuts in itertools.combinations(range(1, len(values)), k - 1))
    assert _cost(values, weights, found) <= best + 1e-9


def test_zeros_stay_zero_and_count_as_a_value():
    rng = np.random.default_rng(5)
    kernel = rng.integers(-127, 128, size=(9, 32)).astype(np.int8)
    kernel[rng.random(kernel.shape) < 0.3] = 0
    out = cluster_values(kernel, rng.random(32) + 0.5, 16)
    assert len(np.unique(out)) <= 16 and 0 in out
    assert np.all(out[kernel == 0] == 0)
    assert np.abs(out.astype(int) - kernel).max() < 40


def _model(rng: np.random.Generator, standardize_name: str = "standardize/kernel") -> bytes:
    """standardize (1x1 depthwise) -> 3x3 depthwise (8 channels) -> 3x3 depthwise."""
    g = GraphBuilder()
    x = g.tensor([1, 6, 6, 8], quant=(0.05, 0))
    t = x
    for i, (k, name) in enumerate(((1, standardize_name), (3, "dw1/kernel"),
                                   (3, "dw2/kernel"))):
        w = g.tensor([1, k, k, 8], quant=(list(rng.random(8) * 0.01 + 0.002), [0] * 8, 3),
                     data=rng.integers(-127, 128, size=(1, k, k, 8)).astype(np.int8),
                     name=name)
        b = g.tensor([8], "int32", data=rng.integers(-50, 50, size=8).astype(np.int32))
        y = g.tensor([1, 6, 6, 8], quant=(0.05 * (i + 2), 1))
        g.op("DEPTHWISE_CONV_2D", [t, w, b], [y], "DepthwiseConv2DOptions", padding=0,
             strideH=1, strideW=1, depthMultiplier=1)
        t = y
    return g.build([x], [t])


def test_clustering_rewrites_only_the_learned_depthwise_kernels_in_place():
    data = _model(np.random.default_rng(1))
    out, changes = cluster_depthwise(data, ClusterDepthwiseConfig(enabled=True, clusters=16))
    assert len(out) == len(data) and [c.op for c in changes] == [1, 2]
    before, after = read_model(data).main, read_model(out).main
    for op in before.operators:
        old = before.tensors[op.inputs[1]].numpy()
        new = after.tensors[op.inputs[1]].numpy()
        if op.index == 0:
            assert np.array_equal(old, new)  # the input standardization is never touched
        else:
            assert len(np.unique(new)) <= 16 and not np.array_equal(old, new)
        for i in (0, 2):  # activations, scales and biases as they were
            assert before.tensors[op.inputs[i]] == after.tensors[op.inputs[i]]
    assert changes[0].values_after <= 16 < changes[0].values_before
    # one table of 16 values for the whole layer: packed as 4-bit indices into it
    plan = packing.plan_weights(after, "packed")
    assert plan.layers[1].packed_format == "idx4/layer"


def test_channel_scope_and_nothing_to_do():
    data = _model(np.random.default_rng(2))
    out, changes = cluster_depthwise(data, ClusterDepthwiseConfig(enabled=True, clusters=4,
                                                                  scope="channel"))
    graph = read_model(out).main
    kernel = graph.tensors[graph.operators[1].inputs[1]].numpy().reshape(9, 8)
    assert max(len(np.unique(kernel[:, c])) for c in range(8)) <= 4
    assert changes[0].values_after <= 4 and changes[0].values_before == 9
    same, none = cluster_depthwise(data, ClusterDepthwiseConfig(enabled=True, clusters=200))
    assert same == data and none == []
