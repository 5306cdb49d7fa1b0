"""Post-training clustering of depthwise kernels, on the int8 weights of a .tflite.

TFMOT never prunes or clusters DepthwiseConv2D, so after PCQAT a depthwise layer still
holds up to 255 distinct int8 values. This step maps each depthwise kernel's int8 values
onto `clusters` values (the optimal 1-D k-means, computed exactly by dynamic programming)
and writes them back into the flatbuffer, in place: scales, zero points and biases stay.
The packed formats (tinykit.codegen.packing) then store the layer as 4-bit (16 values) or
2-bit (4) indices into one table.

Why on the int8 weights, after conversion, rather than on the float kernel before it:
- a 3x3 kernel has only 9 taps, so a table per channel costs more than it saves; one table
  for the whole layer pays, and that table exists only in int8 once the per-channel
  scales are fixed (float centroids shared by the layer become different int8 values in
  every channel);
- what is measured is exactly what runs: no float-to-int8 rounding after the clustering;
- no retraining and no TensorFlow: a build that changes only these settings redoes this
  step in a second, not the compression.

Errors are weighted by each channel's scale squared (what the error costs in real units),
zeros stay zeros, and the frozen input standardization is never touched. The accuracy
cost is measured: the stage keeps the model before the step as `student_int8_pcqat`, and
when the validation accuracy drops by more than `max_drop` points it deploys that one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinykit.config import ClusterDepthwiseConfig
from tinykit.tflite.flatbuf import FlatBuffer
from tinykit.tflite.model import Subgraph

#: Name part of the frozen input standardization (tinykit.train.zoo), never clustered.
STANDARDIZE = "standardize"
#: File names the stage writes: the model before the step, and the deployed one.
BEFORE = "student_int8_pcqat.tflite"
DEPLOYED = "student_int8_compressed.tflite"


def kmeans_1d(values: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Integer centroids (sorted) of the weighted optimal 1-D k-means of `values`.

    `values` are distinct sorted integers, `weights` their (positive) weights. Optimal:
    dynamic programming over contiguous segments of the sorted values (clusters of 1-D
    k-means are intervals); each segment's centroid is its weighted mean rounded to an
    integer, and its cost is computed with that rounded centroid. O(k n^2), n <= 256.
    """
    n = len(values)
    if n <= k:
        return values.astype(np.int64)
    x, w = values.astype(np.float64), weights.astype(np.float64)
    cw, cx, cxx = (np.concatenate(([0.0], np.cumsum(a))) for a in (w, w * x, w * x * x))
    i, j = np.triu_indices(n + 1, 1)  # segment [i, j)
    sw, sx, sxx = cw[j] - cw[i], cx[j] - cx[i], cxx[j] - cxx[i]
    centre = np.round(sx / sw)
    cost = np.full((n + 1, n + 1), np.inf)
    cost[i, j] = sxx - 2 * centre * sx + centre * centre * sw
    best = np.full((k + 1, n + 1), np.inf)
    cut = np.zeros((k + 1, n + 1), dtype=np.int64)
    best[0, 0] = 0.0
    for c in range(1, k + 1):
        totals = best[c - 1][:, None] + cost  # [start, end]
        cut[c] = np.argmin(totals, axis=0)
        best[c] = totals[cut[c], np.arange(n + 1)]
    centroids, end = [], n
    for c in range(k, 0, -1):
        start = int(cut[c, end])
        if start < end:
            seg = slice(start, end)
            centroids.append(int(np.round(np.sum(w[seg] * x[seg]) / np.sum(w[seg]))))
        end = start
    return np.unique(np.asarray(centroids, dtype=np.int64))


def cluster_values(kernel: np.ndarray, scales: np.ndarray, clusters: int) -> np.ndarray:
    """`kernel` [taps, channels] int8 (scales per channel) with its non-zero values mapped
    to at most `clusters` int8 values (`clusters - 1` when zeros occur: zero is one)."""
    out = kernel.astype(np.int64)
    nonzero = out != 0
    budget = clusters - (1 if (~nonzero).any() else 0)
    if budget < 1 or not nonzero.any():
        return kernel.copy()
    importance = np.broadcast_to((scales.astype(np.float64) ** 2)[None, :], out.shape)
    values, inverse = np.unique(out[nonzero], return_inverse=True)
    weights = np.bincount(inverse, weights=importance[nonzero])
    centroids = kmeans_1d(values, np.maximum(weights, 1e-30), budget)
    nearest = np.abs(values[:, None] - centroids[None, :]).argmin(axis=1)
    out[nonzero] = centroids[nearest][inverse]
    return np.clip(out, -127, 127).astype(np.int8)


@dataclass(frozen=True)
class LayerChange:
    """What clustering did to one depthwise layer."""

    op: int
    tensor: str
    channels: int
    taps: int
    values_before: int
    values_after: int
    changed_weights: int
    max_abs_change: int

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def _buffer_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, length) in the file of each buffer's data vector."""
    root = FlatBuffer(data).root("model")
    return [table.vector_span(0, 1, f"buffers[{i}].data")
            for i, table in enumerate(root.tables(4, "buffers"))]


def _layer(graph: Subgraph, op_index: int, config: ClusterDepthwiseConfig
           ) -> tuple[int, np.ndarray, LayerChange] | None:
    """The buffer and new weights of one depthwise op, or None when it is left alone."""
    op = graph.operators[op_index]
    tensor = graph.tensors[op.inputs[1]]
    shared = sum(1 for t in graph.tensors if t.buffer == tensor.buffer)
    quant = tensor.quantization
    if (STANDARDIZE in tensor.name or tensor.dtype != "int8" or not tensor.is_constant
            or tensor.is_sparse or shared != 1 or quant is None or len(tensor.shape) != 4):
        return None
    weights = tensor.numpy()
    channels = weights.shape[3]
    kernel = weights.reshape(-1, channels)
    scales = np.resize(np.asarray(quant.scale, dtype=np.float64), channels)
    if config.scope == "layer":
        new = cluster_values(kernel, scales, config.clusters)
    else:
        new = np.stack([cluster_values(kernel[:, c:c + 1], scales[c:c + 1],
                                       config.clusters)[:, 0] for c in range(channels)], 1)
    if np.array_equal(new, kernel):
        return None
    per = (lambda a: max(len(np.unique(a[:, c])) for c in range(channels))) \
        if config.scope == "channel" else (lambda a: len(np.unique(a)))
    change = LayerChange(op.index, tensor.name, channels, kernel.shape[0], per(kernel),
                         per(new), int(np.count_nonzero(new != kernel)),
                         int(np.abs(new.astype(int) - kernel).max()))
    return tensor.buffer, new.reshape(weights.shape), change


def cluster_depthwise(data: bytes, config: ClusterDepthwiseConfig
                      ) -> tuple[bytes, list[LayerChange]]:
    """The .tflite `data` with every depthwise kernel clustered (see the module
    docstring), and what changed per layer; the bytes are unchanged when nothing was."""
    from tinykit.tflite.reader import read_model

    graph = read_model(data).main
    spans = _buffer_spans(data)
    out = bytearray(data)
    changes = []
    for op in graph.operators:
        if op.opcode != "DEPTHWISE_CONV_2D" or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        found = _layer(graph, op.index, config)
        if found is None:
            continue
        buffer, new, change = found
        start, length = spans[buffer]
        if length != new.size:  # weights stored elsewhere (offset form): leave them
            continue
        out[start:start + length] = new.astype(np.int8).tobytes()
        changes.append(change)
    return bytes(out), changes


def _val_accuracy(path: Any, splits: Any) -> float:
    from tinykit.evaluate import run_tflite

    outputs = run_tflite(path, splits.x_val)
    return float(np.mean(np.argmax(outputs, axis=-1) == splits.y_val))


def depthwise_stage(ctx: Any) -> dict[str, Any]:
    """Build stage: the deployed int8 model, its depthwise kernels clustered if asked.

    Writes `student_int8_compressed.tflite` (the deployed model) and, when the step
    changed it, `student_int8_pcqat.tflite` (the model before it, evaluated as its own
    variant so the report pairs the two). Returns what changed and both validation
    accuracies; reverts (deploys the model before) above `max_drop` points of drop.
    """
    from tinykit.fsutil import write_bytes_atomic
    from tinykit.train.stages import load_splits

    config: ClusterDepthwiseConfig = ctx.config.cluster_depthwise
    before = ctx.input("compress").file(DEPLOYED).read_bytes()
    summary: dict[str, Any] = {"enabled": config.enabled, "clusters": config.clusters,
                               "scope": config.scope, "max_drop_points": config.max_drop,
                               "layers": [], "applied": False, "note": ""}
    if not config.enabled:
        write_bytes_atomic(ctx.work / DEPLOYED, before)
        summary["note"] = "disabled (cluster_depthwise.enabled = false)"
        return summary
    after, changes = cluster_depthwise(before, config)
    summary["layers"] = [change.to_json() for change in changes]
    if not changes:
        write_bytes_atomic(ctx.work / DEPLOYED, before)
        summary["note"] = ("no depthwise layer to cluster (the input standardization is "
                           "never clustered)")
        ctx.progress.info("cluster_depthwise: " + summary["note"])
        return summary
    splits = load_splits(ctx)
    write_bytes_atomic(ctx.work / BEFORE, before)
    write_bytes_atomic(ctx.work / DEPLOYED, after)
    accuracy = {"before": _val_accuracy(ctx.work / BEFORE, splits),
                "after": _val_accuracy(ctx.work / DEPLOYED, splits)}
    drop = round(100 * (accuracy["before"] - accuracy["after"]), 3)
    summary.update(val_accuracy=accuracy, val_drop_points=drop, applied=drop <= config.max_drop)
    if not summary["applied"]:
        write_bytes_atomic(ctx.work / DEPLOYED, before)
        (ctx.work / BEFORE).unlink()
        summary["note"] = (f"reverted: validation accuracy fell {drop:.2f} points, more than "
                           f"cluster_depthwise.max_drop = {config.max_drop:g}")
    ctx.progress.info(
        f"cluster_depthwise: {len(changes)} layer(s) to {config.clusters} values per "
        f"{config.scope}; validation accuracy {accuracy['before']:.4f} -> "
        f"{accuracy['after']:.4f}" + (f" ({summary['note']})" if summary["note"] else ""))
    return summary
