"""Training loops: seeded tf.data input pipelines with augmentation, and `fit`.

Augmentation runs in the tf.data pipeline, on training batches only, never inside the
model (TFMOT refuses to prune or quantize models holding augmentation layers). Each
sample gets its own stateless random seed from a seeded `Dataset.random`, so a run is
reproducible with parallel mapping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tinykit._tf import keras, tf
from tinykit.config import AugmentConfig, FitConfig
from tinykit.data.dataset import Splits

AUTOTUNE = tf.data.AUTOTUNE


def sample_weights(y: np.ndarray, class_weights: Mapping[int, float] | None) -> np.ndarray:
    """Per-sample loss weights (float32 ones when there are no class weights)."""
    if not class_weights:
        return np.ones(len(y), np.float32)
    return np.asarray([class_weights.get(int(c), 1.0) for c in y], np.float32)


def _augmenter(cfg: AugmentConfig, kind: str, mean: np.ndarray, inv_std: np.ndarray) -> Any:
    """A tf function (x, seed) -> augmented x for one sample, or None if nothing to do."""
    std = tf.constant(1.0 / inv_std, tf.float32)
    centre = tf.constant(mean, tf.float32)
    shift = cfg.shift if kind in ("image", "audio", "series") else 0
    flip = cfg.flip and kind == "image"
    if not (shift or flip or cfg.noise):
        return None

    def apply(x: Any, seed: Any) -> Any:
        seeds = tf.random.experimental.stateless_split(seed, 3)
        if shift:
            spatial = [[shift, shift], [shift, shift]] if kind == "image" else [[shift, shift],
                                                                                [0, 0]]
            padded = tf.pad(x - centre, [*spatial, [0, 0]]) + centre  # pad with the mean
            x = tf.image.stateless_random_crop(padded, tf.shape(x), seed=seeds[0])
        if flip:
            x = tf.image.stateless_random_flip_left_right(x, seed=seeds[1])
        if cfg.noise:
            x = x + tf.random.stateless_normal(tf.shape(x), seed=seeds[2]) * cfg.noise * std
        return x

    return apply


def train_dataset(splits: Splits, batch_size: int, seed: int,
                  augment: AugmentConfig) -> tuple[Any, int]:
    """An endless shuffled (x, y, weight) dataset of the training split, and steps/epoch."""
    x, y = splits.x_train.astype(np.float32, copy=False), splits.y_train
    w = sample_weights(y, splits.class_weights)
    ds = tf.data.Dataset.from_tensor_slices((x, y, w))
    ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True).repeat()
    apply = _augmenter(augment, splits.kind, splits.mean, splits.inv_std)
    if apply is not None:
        seeds = tf.data.Dataset.random(seed=seed + 1).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda item, s: (apply(item[0], s), item[1], item[2]),
            num_parallel_calls=AUTOTUNE, deterministic=True,
        )
    steps = max(1, math.ceil(len(y) / batch_size))
    return ds.batch(batch_size).prefetch(AUTOTUNE), steps


def eval_dataset(x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> Any:
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


class EpochProgress(keras.callbacks.Callback):
    """Reports each epoch to a `tinykit.pipeline.Progress` and keeps the history."""

    def __init__(self, name: str, epochs: int, progress: Any) -> None:
        super().__init__()
        self.fit_name = name
        self.epochs = epochs
        self.progress = progress
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        values = {k: float(v) for k, v in (logs or {}).items() if k != "lr"}
        for key, value in values.items():
            self.history.setdefault(key, []).append(round(value, 6))
        if self.progress is not None:
            self.progress.epoch(self.fit_name, epoch + 1, self.epochs, values)


def optimizer(learning_rate: float, total_steps: int) -> Any:
    """Adam with cosine decay to 1% of `learning_rate` over `total_steps`."""
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, total_steps),
                                                      alpha=0.01)
    return keras.optimizers.Adam(schedule)


def fit(model: Any, splits: Splits, cfg: FitConfig, *, name: str, seed: int,
        augment: AugmentConfig, progress: Any = None, compile_model: bool = True,
        callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train `model` on the training split, validating each epoch; returns the history.

    With `compile_model` the model is compiled with Adam (cosine decay), sparse categorical
    cross-entropy on its probabilities and accuracy; otherwise it must be compiled already.
    """
    data, steps = train_dataset(splits, cfg.batch_size, seed, augment)
    if compile_model:
        model.compile(optimizer=optimizer(cfg.learning_rate, steps * cfg.epochs),
                      loss=keras.losses.SparseCategoricalCrossentropy(),
                      metrics=["accuracy"])
    tracker = EpochProgress(name, cfg.epochs, progress)
    start = time.perf_counter()
    model.fit(data, epochs=cfg.epochs, steps_per_epoch=steps,
              validation_data=eval_dataset(splits.x_val, splits.y_val),
              callbacks=[tracker, *callbacks], verbose=0)
    return {
        "name": name, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
        "learning_rate": cfg.learning_rate, "seconds": round(time.perf_counter() - start, 3),
        **tracker.history,
    }


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of a Keras classifier (0..1)."""
    probabilities = model.predict(x, batch_size=256, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == y))
