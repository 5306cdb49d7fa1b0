"""Pruning, clustering, QAT and int8 conversion on a tiny model (real TFMOT, real converter)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # trains and converts with TensorFlow

from tinykit._tf import keras, seed_everything, tf  # noqa: E402
from tinykit.config import AugmentConfig, FitConfig, ModelConfig  # noqa: E402
from tinykit.convert import representative, to_tflite  # noqa: E402
from tinykit.data.dataset import Splits  # noqa: E402
from tinykit.errors import ConversionError  # noqa: E402
from tinykit.evaluate import run_tflite, weight_stats  # noqa: E402
from tinykit.optimize import cluster, prune, qat  # noqa: E402
from tinykit.optimize.compress import kernel_stats  # noqa: E402
from tinykit.train.fit import fit  # noqa: E402
from tinykit.train.zoo import build_classifier  # noqa: E402


@pytest.fixture(scope="module")
def splits() -> Splits:
    rng = np.random.default_rng(0)
    y = np.arange(240) % 3
    x = rng.normal(size=(240, 8, 8, 1)).astype(np.float32) * 2 + 5
    x[y == 1, :4] += 4
    x[y == 2, :, :4] -= 4
    mean, inv_std = np.array([x.mean()], np.float32), np.array([1 / x.std()], np.float32)
    return Splits(x[:160], y[:160], x[160:200], y[160:200], x[200:], y[200:], ("a", "b", "c"),
                  "image", mean, inv_std)


@pytest.fixture(scope="module")
def trained(splits):
    seed_everything(0)
    model = build_classifier(ModelConfig(width=1.0), splits.input_shape, 3, splits.mean,
                             splits.inv_std, name="student")
    fit(model, splits, FitConfig(epochs=3, batch_size=32), name="t", seed=0,
        augment=AugmentConfig())
    return model


@pytest.fixture(scope="module")
def pruned(splits, trained):
    before = [w.copy() for w in trained.get_weights()]
    steps = prune.steps_per_epoch(len(splits.y_train), 32)
    wrapped = prune.apply_pruning(trained, 0.6, steps, 4)
    fit(wrapped, splits, FitConfig(epochs=4, batch_size=32, learning_rate=1e-3), name="p",
        seed=0, augment=AugmentConfig(), callbacks=prune.callbacks())
    unchanged = all(np.array_equal(a, b)
                    for a, b in zip(before, trained.get_weights(), strict=True))
    return prune.strip_pruning(wrapped), unchanged


def test_pruning_reaches_the_target_and_leaves_the_original_alone(pruned):
    stripped, original_unchanged = pruned
    rows = kernel_stats(stripped)
    assert [r["layer"] for r in rows][-1] == "logits" and len(rows) == 4
    assert all(r["sparsity"] == pytest.approx(0.6, abs=0.02) for r in rows)
    assert original_unchanged
    standardize = stripped.get_layer("standardize").get_weights()[0]
    assert np.count_nonzero(standardize) == standardize.size  # never pruned


def test_schedule_end_step_is_aligned_to_its_frequency():
    plan = prune.schedule(0.5, steps_per_epoch=19, epochs=8).get_config()["config"]
    assert plan["frequency"] == 9 and plan["end_step"] % 9 == 0
    assert plan["end_step"] <= 19 * 8


def test_clustering_bounds_distinct_values_and_keeps_zeros(splits, pruned):
    pruned, _ = pruned
    clustered = cluster.apply_clustering(pruned, 8, "kmeans++", preserve_sparsity=True)
    fit(clustered, splits, FitConfig(epochs=1, batch_size=32, learning_rate=1e-4), name="c",
        seed=0, augment=AugmentConfig())
    clustered = cluster.strip_clustering(clustered)
    for row in kernel_stats(clustered):
        assert row["unique_values"] <= 8
        assert row["sparsity"] >= 0.58
    # QAT that preserves both, then int8: the bounds survive into the .tflite
    quantized = qat.apply_qat(clustered, clustered=True, pruned=True)
    assert qat.calibrate(quantized, clustered, splits.x_train) >= 5
    data = to_tflite(quantized, int8=True, samples=representative(splits.x_train, 32, 0))
    stats = _stats(data)
    assert stats["max_unique_weights_per_channel"] <= 8 and stats["sparsity"] >= 0.58
    standardize = [row for row in stats["layers"] if not row["learned"]]
    assert len(standardize) == 1 and standardize[0]["opcode"] == "DEPTHWISE_CONV_2D"


def _stats(data: bytes):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.tflite"
        path.write_bytes(data)
        return weight_stats(path)


def test_calibration_sets_ranges_from_the_float_activations(splits, trained):
    quantized = qat.apply_qat(trained, clustered=False, pruned=False)
    qat.calibrate(quantized, trained, splits.x_train)
    def bound(layer, suffix):
        return next(float(v.numpy()) for v in layer.non_trainable_weights
                    if v.name.split(":")[0].endswith(suffix))

    entry = next(layer for layer in quantized.layers if type(layer).__name__ == "QuantizeLayer")
    assert bound(entry, "_max") == pytest.approx(splits.x_train.max())
    wrapper = next(layer for layer in quantized.layers
                   if getattr(getattr(layer, "layer", None), "name", "") == "logits")
    logits = keras.Model(trained.input, trained.get_layer("logits").output)(splits.x_train)
    assert bound(wrapper, "post_activation_max") == pytest.approx(
        max(0.0, float(np.max(logits))), rel=1e-4)
    # calibrated, the fake-quantized model already agrees with the float one
    agree = np.mean(np.argmax(quantized.predict(splits.x_test, verbose=0), -1)
                    == np.argmax(trained.predict(splits.x_test, verbose=0), -1))
    assert agree >= 0.9


def test_int8_conversion_is_full_integer_and_runs_in_tflite_runtime(splits, trained, tmp_path):
    data = to_tflite(trained, int8=True, samples=representative(splits.x_train, 64, 0))
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    stats = weight_stats(path)
    assert stats["ops"] == ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MEAN", "SOFTMAX"]
    probabilities = run_tflite(path, splits.x_test)
    float_probabilities = trained.predict(splits.x_test, verbose=0)
    assert probabilities.shape == (40, 3)
    assert np.mean(np.argmax(probabilities, -1) == np.argmax(float_probabilities, -1)) >= 0.9


def _with_sine(splits):
    inputs = keras.Input(splits.input_shape, name="input")
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Lambda(lambda t: tf.math.sin(t), name="sine")(x)
    x = keras.layers.Flatten()(x)
    logits = keras.layers.Dense(3, name="logits")(x)
    return keras.Model(inputs, keras.layers.Softmax(name="probabilities")(logits),
                       name="student")


def test_a_layer_without_int8_kernel_is_named(splits):
    from tinykit._tf import allow_lambda_layers

    model = _with_sine(splits)
    with pytest.raises(ConversionError) as caught:
        to_tflite(model, int8=True, samples=splits.x_train[:8])
    assert "layer 'sine'" in caught.value.message and "SIN" in caught.value.message
    allow_lambda_layers()  # as a custom model body does; TFMOT then leaves the Lambda float
    quantized = qat.apply_qat(model, clustered=False, pruned=False)
    with pytest.raises(ConversionError, match="layer 'sine' has no int8 kernel"):
        to_tflite(quantized, int8=True, samples=splits.x_train[:8])
