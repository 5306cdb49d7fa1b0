"""The compression chain: prune -> cluster -> PCQAT -> full-integer int8, each optional.

`compress(student, splits, config, progress)` is the library call; `compress_stage` is the
build stage. It writes `student_int8_compressed.tflite`, `student_compressed.h5` (the
pruned and clustered float model, before QAT) and `twin.npz` (outputs of the model that
was converted, for the int8/float agreement check), and returns the fine-tune histories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinykit.config import Config, FitConfig
from tinykit.data.dataset import Splits


@dataclass
class Compressed:
    """The outcome: the float model after pruning/clustering, the model that is converted
    (fake-quantized after QAT, else the same float model), and one history per fine-tune."""

    float_model: Any
    final_model: Any
    histories: list[dict[str, Any]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


def _fine_tune(model: Any, splits: Splits, cfg: FitConfig, name: str, config: Config,
               progress: Any, callbacks: list[Any] | None = None) -> dict[str, Any]:
    from tinykit.train.fit import fit

    return fit(model, splits, cfg, name=name, seed=config.seed, augment=config.augment,
               progress=progress, callbacks=callbacks or [])


def compress(student: Any, splits: Splits, config: Config, progress: Any = None) -> Compressed:
    """Run the enabled steps on a copy of `student` (the student itself is not changed)."""
    from tinykit.optimize import cluster, prune, qat

    model = prune.copy_model(student)
    result = Compressed(float_model=model, final_model=model)
    if config.prune.enabled:
        p = config.prune
        steps = prune.steps_per_epoch(len(splits.y_train), p.batch_size)
        wrapped = prune.apply_pruning(model, p.sparsity, steps, p.epochs)
        result.histories.append(_fine_tune(
            wrapped, splits, FitConfig(p.epochs, p.batch_size, p.learning_rate), "prune",
            config, progress, prune.callbacks()))
        model = prune.strip_pruning(wrapped)
        result.steps.append(f"pruned to {p.sparsity:.0%}")
    if config.cluster.enabled:
        c = config.cluster
        wrapped = cluster.apply_clustering(model, c.clusters, c.init,
                                           preserve_sparsity=config.prune.enabled)
        result.histories.append(_fine_tune(
            wrapped, splits, FitConfig(c.epochs, c.batch_size, c.learning_rate), "cluster",
            config, progress))
        model = cluster.strip_clustering(wrapped)
        result.steps.append(f"clustered to {c.clusters} values per layer")
    result.float_model = result.final_model = model
    if config.qat.enabled:
        q = config.qat
        quantized = qat.apply_qat(model, clustered=config.cluster.enabled,
                                  pruned=config.prune.enabled)
        qat.calibrate(quantized, model, splits.x_train[:512])
        result.histories.append(_fine_tune(
            quantized, splits, FitConfig(q.epochs, q.batch_size, q.learning_rate), "qat",
            config, progress))
        result.final_model = quantized
        result.steps.append("quantization-aware trained")
    return result


def kernel_stats(model: Any) -> list[dict[str, Any]]:
    """Per compressible layer of a float Keras model: sparsity and distinct values."""
    from tinykit.optimize.prune import compressible

    rows = []
    for layer in model.layers:
        if compressible(layer):
            kernel = np.asarray(layer.get_weights()[0])
            rows.append({"layer": layer.name, "weights": int(kernel.size),
                         "sparsity": round(float(np.mean(kernel == 0)), 6),
                         "unique_values": int(len(np.unique(kernel)))})
    return rows


def compress_stage(ctx: Any) -> dict[str, Any]:
    """Build stage: compress the distilled student and convert it to full int8."""
    from tinykit._tf import seed_everything
    from tinykit.convert import keras_outputs, representative, to_tflite
    from tinykit.data.dataset import npz_bytes
    from tinykit.evaluate import check_inputs
    from tinykit.fsutil import write_bytes_atomic
    from tinykit.train.fit import accuracy
    from tinykit.train.stages import load_model, load_splits, save_model

    config: Config = ctx.config
    splits = load_splits(ctx)
    student = load_model(ctx.input("student").file("student.h5"), config)
    seed_everything(config.seed + 2)
    result = compress(student, splits, config, ctx.progress)
    save_model(result.float_model, ctx.work / "student_compressed.h5")
    samples = representative(splits.x_train, config.convert.representative_samples,
                             config.seed)
    data = to_tflite(result.final_model, int8=True, samples=samples)
    write_bytes_atomic(ctx.work / "student_int8_compressed.tflite", data)
    ctx.progress.info(f"student_int8_compressed.tflite: {len(data):,} bytes "
                      f"({', '.join(result.steps) or 'post-training quantized only'})")
    probes = check_inputs(splits, config.evaluate.check_samples, config.seed)
    write_bytes_atomic(ctx.work / "twin.npz", npz_bytes({
        "compressed.test": keras_outputs(result.final_model, splits.x_test),
        "compressed.check": keras_outputs(result.final_model, probes),
    }))
    return {
        "steps": result.steps,
        "histories": result.histories,
        "layers": kernel_stats(result.float_model),
        "val_accuracy": {"float": accuracy(result.float_model, splits.x_val, splits.y_val),
                         "final": accuracy(result.final_model, splits.x_val, splits.y_val)},
        "tflite_bytes": len(data),
    }
