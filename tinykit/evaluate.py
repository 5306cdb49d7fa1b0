"""Host evaluation: every variant's .tflite run in tflite-runtime on the test split.

tflite-runtime runs in a worker process (`tinykit.tflite.litert`, reference kernels), so
this module never imports TensorFlow. For each variant it measures top-1 accuracy, the
agreement of predicted classes with its float twin (the Keras model it was converted
from) on the test split and on seeded synthetic inputs, and the weight statistics of its
conv and dense kernels read from the flatbuffer: sparsity and distinct values per output
channel. `evaluate_stage` writes `predictions.npz` and returns the per-variant figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinykit.data.dataset import Splits, npz_bytes
from tinykit.fsutil import write_bytes_atomic


@dataclass(frozen=True)
class Variant:
    """A model the build evaluates: where its .tflite comes from and its float twin."""

    name: str
    stage: str
    twin_stage: str
    twin: str
    int8: bool
    description: str
    #: Evaluated only when its stage wrote the file (the step that makes it may not run).
    optional: bool = False


VARIANTS: tuple[Variant, ...] = (
    Variant("teacher_float", "convert", "convert", "teacher", False, "float teacher"),
    Variant("student_float", "convert", "convert", "student", False, "distilled float student"),
    Variant("student_int8_ptq", "convert", "convert", "student", True,
            "student, post-training int8 (no compression)"),
    Variant("student_int8_pcqat", "depthwise", "compress", "compressed", True,
            "student, pruned + clustered + QAT int8, before depthwise clustering",
            optional=True),
    Variant("student_int8_compressed", "depthwise", "compress", "compressed", True,
            "student, pruned + clustered + QAT int8 (deployed)"),
)
DEPLOYED = "student_int8_compressed"
#: Name of the frozen input-standardization layer (tinykit.train.zoo.standardize).
STANDARDIZE = "standardize"
#: Ops whose input 1 is a weight kernel, and the axis of its output channels.
KERNEL_OPS = {"CONV_2D": 0, "FULLY_CONNECTED": 0, "DEPTHWISE_CONV_2D": 3}


def check_inputs(splits: Splits, count: int, seed: int) -> np.ndarray:
    """`count` seeded synthetic inputs, uniform between each feature's train min and max.

    They probe int8/float agreement off the data manifold, where quantization hurts first.
    """
    rng = np.random.default_rng(seed + 7)
    low = splits.x_train.min(axis=0)
    high = splits.x_train.max(axis=0)
    shape = (count, *splits.x_train.shape[1:])
    return (low + rng.random(shape) * (high - low)).astype(np.float32)


def run_tflite(path: Path, x: np.ndarray) -> np.ndarray:
    """Outputs (float32, dequantized for int8 models) of a .tflite for each sample of `x`."""
    from tinykit.tflite import litert
    from tinykit.tflite.reader import read_model

    model = read_model(path)
    graph = model.main
    source = graph.tensors[graph.inputs[0]]
    sink = graph.tensors[graph.outputs[0]]
    if source.dtype == "int8":
        q = source.quantization
        assert q is not None
        quantized = np.round(x / q.scale[0]) + q.zero_point[0]
        samples = [[s[None].astype(np.int8)] for s in np.clip(quantized, -128, 127)]
    else:
        samples = [[s[None].astype(np.float32)] for s in x]
    outputs = np.concatenate([out[0] for out in litert.run_model(path, samples)])
    if sink.dtype == "int8":
        q = sink.quantization
        assert q is not None
        return ((outputs.astype(np.float32) - q.zero_point[0]) * q.scale[0]).astype(np.float32)
    return outputs.astype(np.float32)


def weight_stats(path: Path) -> dict[str, Any]:
    """Sparsity and distinct values per output channel of every conv and dense kernel.

    Both model-level figures count learned kernels only (not the input standardization).
    """
    from tinykit.tflite.reader import read_model

    model = read_model(path)
    graph = model.main
    layers: list[dict[str, Any]] = []
    zeros = total = 0
    for op in graph.operators:
        axis = KERNEL_OPS.get(op.opcode)
        if axis is None or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        tensor = graph.tensors[op.inputs[1]]
        if not tensor.is_constant:
            continue
        kernel = tensor.numpy()
        channels = np.moveaxis(kernel, axis, 0).reshape(kernel.shape[axis], -1)
        unique = max(len(np.unique(row)) for row in channels)
        # The input standardization is a frozen 1x1 depthwise conv holding 1/std, not a
        # learned kernel: listed, but left out of the model's sparsity and unique counts.
        learned = STANDARDIZE not in tensor.name
        if learned:
            zeros += int(np.count_nonzero(kernel == 0))
            total += int(kernel.size)
        layers.append({"op": op.index, "opcode": op.opcode, "tensor": tensor.name,
                       "weights": int(kernel.size), "dtype": tensor.dtype, "learned": learned,
                       "sparsity": round(float(np.mean(kernel == 0)), 6),
                       "max_unique_per_channel": int(unique)})
    return {
        "sparsity": round(zeros / total, 6) if total else 0.0,
        "max_unique_weights_per_channel": max(
            (r["max_unique_per_channel"] for r in layers if r["learned"]), default=0),
        "kernel_weights": total,
        "layers": layers,
        "ops": sorted({op.opcode for op in graph.operators}),
        "sha256": model.sha256,
    }


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of samples whose predicted classes are equal."""
    return float(np.mean(np.argmax(a, axis=-1) == np.argmax(b, axis=-1)))


def evaluate_variant(variant: Variant, path: Path, twin: dict[str, np.ndarray],
                     splits: Splits, probes: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """Figures for one variant, and its test-split probabilities."""
    test = run_tflite(path, splits.x_test)
    check = run_tflite(path, probes)
    predicted = np.argmax(test, axis=-1)
    twin_test, twin_check = twin[f"{variant.twin}.test"], twin[f"{variant.twin}.check"]
    figures: dict[str, Any] = {
        "name": variant.name, "description": variant.description,
        "dtype": "int8" if variant.int8 else "float32",
        "file": f"{variant.name}.tflite", "tflite_bytes": path.stat().st_size,
        "accuracy": float(np.mean(predicted == splits.y_test)),
        "test_samples": int(len(splits.y_test)),
        "deployed": variant.name == DEPLOYED,
        "agreement": {
            "twin": variant.twin,
            "test": agreement(test, twin_test),
            "check": agreement(check, twin_check),
            "check_samples": int(len(probes)),
            "max_abs_probability_diff": float(np.max(np.abs(test - twin_test))),
        },
    }
    figures.update(weight_stats(path))
    return figures, test


def evaluate_stage(ctx: Any) -> dict[str, Any]:
    """Build stage: evaluate every variant; writes predictions.npz and the .tflite files."""
    import shutil

    from tinykit.train.stages import load_splits

    splits = load_splits(ctx)
    probes = check_inputs(splits, ctx.config.evaluate.check_samples, ctx.config.seed)
    arrays: dict[str, np.ndarray] = {"labels": splits.y_test.astype(np.int64),
                                     "class_names": np.asarray(splits.class_names)}
    results = []
    twins: dict[str, dict[str, np.ndarray]] = {}
    for variant in VARIANTS:
        if variant.twin_stage not in twins:
            with np.load(ctx.input(variant.twin_stage).file("twin.npz")) as loaded:
                twins[variant.twin_stage] = {k: loaded[k] for k in loaded.files}
        source = ctx.input(variant.stage).file(f"{variant.name}.tflite")
        if variant.optional and not source.is_file():
            continue
        shutil.copyfile(source, ctx.work / source.name)
        figures, probabilities = evaluate_variant(variant, ctx.work / source.name,
                                                  twins[variant.twin_stage], splits, probes)
        arrays[f"{variant.name}.predicted"] = np.argmax(probabilities, axis=-1).astype(np.int64)
        arrays[f"{variant.name}.probabilities"] = probabilities
        results.append(figures)
        ctx.progress.info(f"{variant.name}: accuracy {figures['accuracy']:.4f}, agreement "
                          f"with its float twin {figures['agreement']['test']:.4f} (test) / "
                          f"{figures['agreement']['check']:.4f} (seeded inputs)")
    arrays["variants"] = np.asarray([v["name"] for v in results])
    write_bytes_atomic(ctx.work / "predictions.npz", npz_bytes(arrays))
    return {"variants": results, "deployed": DEPLOYED}


def budget_stage(ctx: Any) -> dict[str, Any]:
    """Per-target stage: arena plan, flash and RAM needs of every variant versus the budget.

    Flash counts the model's constant data plus an estimated runtime; RAM the planned
    arena plus the target's stack reserve (`tinykit.tflite.fit.check_fit`).
    """
    from tinykit.codegen.generate import arena_plan
    from tinykit.tflite.analysis import analyze_subgraph
    from tinykit.tflite.fit import check_fit
    from tinykit.tflite.reader import read_model

    target = ctx.target
    rows: dict[str, dict[str, Any]] = {}
    for variant in VARIANTS:
        path = ctx.input("evaluate").file(f"{variant.name}.tflite")
        if variant.optional and not path.is_file():
            continue
        graph = read_model(path).main
        arena = arena_plan(graph).plan.arena_bytes
        verdict = check_fit(graph, analyze_subgraph(graph), arena, target=target.name,
                            flash_bytes=target.flash_bytes, ram_bytes=target.ram_bytes,
                            stack_bytes=int(target.get("memory", "stack_bytes", 0) or 0))
        rows[variant.name] = {"arena_bytes": arena, "flash_needed": verdict.flash.needed,
                              "ram_needed": verdict.ram.needed, "fits": verdict.fits}
    return {"target": target.name, "variants": rows}
