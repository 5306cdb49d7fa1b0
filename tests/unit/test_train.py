"""The model zoo, the augmentation pipeline and distillation (real tf_keras)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # imports TensorFlow

from tinykit._tf import keras, seed_everything  # noqa: E402
from tinykit.config import AugmentConfig, FitConfig, ModelConfig  # noqa: E402
from tinykit.data.dataset import Splits  # noqa: E402
from tinykit.errors import ConfigError  # noqa: E402
from tinykit.train.distill import Distiller  # noqa: E402
from tinykit.train.fit import fit, optimizer, train_dataset  # noqa: E402
from tinykit.train.zoo import BODIES, autoencoder, build_classifier, logits_model  # noqa: E402

SHAPES = {"image": (8, 8, 1), "audio": (49, 10, 1), "rgb": (32, 32, 3), "series": (64, 1, 3)}


@pytest.mark.parametrize("arch", sorted(BODIES))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_zoo_model_builds_for_every_input_kind(arch, shape):
    input_shape = SHAPES[shape]
    channels = input_shape[-1]
    mean, inv_std = np.arange(channels, dtype=np.float32), np.full(channels, 0.5, np.float32)
    model = build_classifier(ModelConfig(arch=arch, width=0.25, dropout=0.1), input_shape, 5,
                             mean, inv_std, name="m")
    assert model.output_shape == (None, 5)
    assert model.layers[-1].name == "probabilities" and logits_model(model).output_shape == (
        None, 5)
    kernel, bias = model.get_layer("standardize").get_weights()
    assert np.allclose(kernel.reshape(-1), inv_std) and np.allclose(bias, -mean * inv_std)
    x = np.random.default_rng(0).normal(size=(2, *input_shape)).astype(np.float32)
    assert np.allclose(model.predict(x, verbose=0).sum(axis=1), 1.0, atol=1e-5)


def test_width_multiplies_channels():
    narrow = build_classifier(ModelConfig(width=1.0), (8, 8, 1), 3, np.zeros(1), np.ones(1), "a")
    wide = build_classifier(ModelConfig(width=2.0), (8, 8, 1), 3, np.zeros(1), np.ones(1), "b")
    assert wide.count_params() > 3 * narrow.count_params()


def test_autoencoder_reconstructs_its_input_shape():
    model = autoencoder((5, 128), width=0.5)
    assert model.output_shape == (None, 5, 128)
    assert any(layer.units == 8 for layer in model.layers if hasattr(layer, "units"))


def test_custom_body_from_a_file(tmp_path: Path):
    (tmp_path / "net.py").write_text(
        "from tinykit._tf import keras\n"
        "def body(x, num_classes, width):\n"
        "    x = keras.layers.Flatten()(x)\n"
        "    return keras.layers.Dense(num_classes, name='logits')(x)\n")
    model = build_classifier(ModelConfig(arch="custom", custom="net.py:body"), (4, 4, 1), 3,
                             np.zeros(1), np.ones(1), "c", base_dir=tmp_path)
    assert model.output_shape == (None, 3)
    with pytest.raises(ConfigError, match="has no function 'missing'"):
        build_classifier(ModelConfig(arch="custom", custom="net.py:missing"), (4, 4, 1), 3,
                         np.zeros(1), np.ones(1), "c", base_dir=tmp_path)
    (tmp_path / "broken.py").write_text("raise RuntimeError('oops')\n")
    with pytest.raises(ConfigError, match="importing .* failed: RuntimeError"):
        build_classifier(ModelConfig(arch="custom", custom="broken.py:x"), (4, 4, 1), 3,
                         np.zeros(1), np.ones(1), "c", base_dir=tmp_path)


def _splits(n: int = 96) -> Splits:
    rng = np.random.default_rng(1)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 8, 8, 1)).astype(np.float32) + y[:, None, None, None] * 2
    return Splits(x, y, x[:16], y[:16], x[:16], y[:16], ("a", "b"), "image",
                  np.zeros(1, np.float32), np.ones(1, np.float32), {0: 1.0, 1: 3.0})


def _first_batch(augment: AugmentConfig, seed: int):
    data, steps = train_dataset(_splits(), 32, seed, augment)
    assert steps == 3
    return next(iter(data))


def test_augmentation_is_seeded_and_applies_to_training_batches_only():
    plain = _first_batch(AugmentConfig(), 0)
    shifted = _first_batch(AugmentConfig(shift=2, noise=0.1), 0)
    again = _first_batch(AugmentConfig(shift=2, noise=0.1), 0)
    other = _first_batch(AugmentConfig(shift=2, noise=0.1), 1)
    assert np.array_equal(shifted[0].numpy(), again[0].numpy())
    assert not np.array_equal(shifted[0].numpy(), other[0].numpy())
    assert np.array_equal(plain[1].numpy(), shifted[1].numpy())  # same samples, same order
    assert not np.allclose(plain[0].numpy(), shifted[0].numpy())
    weights = plain[2].numpy()  # class weights become sample weights
    assert set(np.unique(weights)) == {1.0, 3.0}


def test_fit_records_a_history_per_epoch():
    seed_everything(0)
    model = build_classifier(ModelConfig(width=0.5), (8, 8, 1), 2, np.zeros(1), np.ones(1), "t")
    history = fit(model, _splits(), FitConfig(epochs=2, batch_size=32), name="t", seed=0,
                  augment=AugmentConfig())
    assert history["name"] == "t" and history["epochs"] == 2
    assert len(history["loss"]) == len(history["val_accuracy"]) == 2


def test_distillation_trains_only_the_student():
    seed_everything(0)
    splits = _splits()
    teacher = build_classifier(ModelConfig(width=0.5), (8, 8, 1), 2, np.zeros(1), np.ones(1),
                               "teacher")
    student = build_classifier(ModelConfig(arch="mlp", width=0.25), (8, 8, 1), 2, np.zeros(1),
                               np.ones(1), "student")
    frozen = [w.copy() for w in teacher.get_weights()]
    start = [w.copy() for w in student.get_weights()]
    distiller = Distiller(student, teacher, temperature=4.0, alpha=0.5)
    distiller.compile(optimizer=optimizer(1e-2, 6))
    history = fit(distiller, splits, FitConfig(epochs=2, batch_size=32), name="student",
                  seed=0, augment=AugmentConfig(), compile_model=False)
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    assert all(np.array_equal(a, b) for a, b in zip(frozen, teacher.get_weights(), strict=True))
    assert not all(np.array_equal(a, b)
                   for a, b in zip(start, student.get_weights(), strict=True))
    assert isinstance(distiller.student, keras.Model)


def test_batch_norm_models_predict_well_after_a_short_training():
    # With Keras' default BN momentum the moving variance is still ~1 after a few dozen
    # steps and a depthwise net predicts one class for everything in inference mode.
    seed_everything(0)
    splits = _splits(192)
    model = build_classifier(ModelConfig(arch="ds_cnn", width=0.25), (8, 8, 1), 2,
                             np.zeros(1), np.ones(1), "bn")
    fit(model, splits, FitConfig(epochs=6, batch_size=32), name="bn", seed=0,
        augment=AugmentConfig())
    predicted = model.predict(splits.x_val, verbose=0).argmax(axis=1)
    assert np.mean(predicted == splits.y_val) >= 0.75  # a constant output scores 0.5
