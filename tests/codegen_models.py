"""Small Keras models, converted to full-int8 .tflite, that cover every op tinykit generates.

Each builder makes a tf_keras model of several small layers; `convert` quantizes it with a
seeded representative dataset. Conversion runs in a subprocess (TensorFlow never enters
the test process, where tflite-runtime would crash) and lands in a cache folder in the
system temp dir, keyed by this file's content and the TensorFlow version, so a test
session converts each model once at most:

    python -m tests.codegen_models OUT_DIR NAME...

`CASES` lists, per model, the ops the converted model must contain; a test checks that,
so a converter change that stops emitting an op is noticed instead of silently losing
coverage.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

#: model name -> ops its .tflite must contain (the coverage this model is for).
CASES: dict[str, tuple[str, ...]] = {
    "conv": ("CONV_2D",),
    "depthwise": ("DEPTHWISE_CONV_2D",),
    "conv1d": ("CONV_2D", "EXPAND_DIMS", "RESHAPE", "SOFTMAX"),
    "dense_flatten": ("FULLY_CONNECTED", "SOFTMAX", "SHAPE", "STRIDED_SLICE", "PACK",
                      "RESHAPE"),
    "pools": ("AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN"),
    "binary": ("ADD", "SUB", "MUL", "LOGISTIC"),
    "activations": ("TANH", "HARD_SWISH", "LEAKY_RELU", "RELU", "RELU6", "RELU_N1_TO_1",
                    "CONCATENATION", "QUANTIZE"),
    "shapes": ("PAD", "TRANSPOSE", "STRIDED_SLICE", "RESIZE_NEAREST_NEIGHBOR",
               "CONCATENATION"),
    "space_batch": ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"),
    "float_io": ("QUANTIZE", "DEQUANTIZE", "CONV_2D"),
}

FLOAT_IO = {"float_io"}


def _build(name: str):  # noqa: C901 - one branch per model, read top to bottom
    from tinykit._tf import keras, tf

    layers = keras.layers
    if name == "conv":
        x = inputs = keras.Input((9, 11, 3), batch_size=1)
        x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv2D(6, (2, 3), padding="valid", activation="relu6")(x)
        x = layers.Conv2D(5, 3, dilation_rate=2, padding="same")(x)
        x = layers.Conv2D(7, 1, strides=(1, 2), padding="same", use_bias=False)(x)
    elif name == "depthwise":
        x = inputs = keras.Input((13, 11, 4), batch_size=1)
        x = layers.DepthwiseConv2D(3, dilation_rate=2, padding="valid")(x)
        x = layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same",
                                   activation="relu6")(x)
        x = layers.DepthwiseConv2D((3, 1), padding="same", use_bias=False)(x)
        x = layers.DepthwiseConv2D(2, strides=(2, 1), padding="valid", activation="relu")(x)
    elif name == "conv1d":
        # A dynamic batch makes the converter keep EXPAND_DIMS around the convolutions.
        x = inputs = keras.Input((20, 6))
        x = layers.Conv1D(8, 3, padding="same", activation="relu")(x)
        x = layers.Conv1D(4, 5, strides=2)(x)
        x = layers.Softmax()(x)  # 8 rows of 4
    elif name == "dense_flatten":
        # A flatten computed from tf.shape on a dynamic batch: SHAPE, STRIDED_SLICE, PACK.
        x = inputs = keras.Input((5, 4, 3))
        x = layers.Lambda(lambda t: tf.reshape(t, [tf.shape(t)[0], 60]))(x)
        x = layers.Dense(10, activation="relu")(x)
        x = layers.Dense(7)(x)
        x = layers.Softmax()(x)
    elif name == "pools":
        x = inputs = keras.Input((11, 9, 4), batch_size=1)
        a = layers.AveragePooling2D(3, strides=2, padding="same")(x)
        a = layers.MaxPooling2D(2, padding="valid")(a)
        a = layers.Flatten()(a)
        b = layers.GlobalAveragePooling2D()(x)
        c = layers.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 3]))(x)
        x = layers.Concatenate()([a, b, c])
    elif name == "binary":
        x = inputs = keras.Input((6, 5, 4), batch_size=1)
        a = layers.Conv2D(4, 1)(x)
        b = layers.Conv2D(4, 3, padding="same")(x)
        s = layers.Add()([a, b])
        d = layers.Subtract()([a, s])
        # Dense on a 2-d input: tflite-runtime 2.14's reference per-channel FULLY_CONNECTED
        # writes only the first channel when the output has more dims (keep_num_dims).
        g = layers.GlobalAveragePooling2D()(d)
        g = layers.Dense(4, activation="sigmoid")(g)
        g = layers.Reshape((1, 1, 4))(g)
        m = layers.Multiply()([d, g])  # broadcast over height and width
        x = layers.Lambda(lambda t: t + tf.constant([0.5, -1.0, 2.0, 0.25]))(m)
    elif name == "activations":
        x = inputs = keras.Input((8, 8, 3), batch_size=1)
        x = layers.Conv2D(6, 3, padding="same")(x)
        # Standalone RELU/RELU6/RELU_N1_TO_1 need a producer they cannot fuse into.
        branches = [
            layers.Lambda(lambda t: t * tf.nn.relu6(t + 3.0) * (1.0 / 6.0))(x),
            layers.ReLU()(layers.Activation("tanh")(x)),
            layers.ReLU(6.0)(layers.LeakyReLU(0.3)(x)),
            layers.Lambda(lambda t: tf.clip_by_value(t, -1.0, 1.0))(layers.LeakyReLU(0.2)(x)),
            layers.ReLU()(layers.Add()([x, x])),
            layers.Activation("tanh")(x),  # fixed output scale: the converter requantizes
        ]
        x = layers.Concatenate()(branches)
    elif name == "shapes":
        x = inputs = keras.Input((6, 8, 4), batch_size=1)
        x = layers.ZeroPadding2D(((1, 2), (0, 3)))(x)
        x = layers.Permute((2, 1, 3))(x)
        x = layers.Lambda(lambda t: t[:, 1:10:2, ::-1, :])(x)
        a = layers.UpSampling2D(2, interpolation="nearest")(x)
        b = layers.Lambda(lambda t: tf.compat.v1.image.resize_nearest_neighbor(
            t, (10, 18), align_corners=True))(x)
        x = layers.Concatenate()([a, b])
    elif name == "space_batch":
        x = inputs = keras.Input((9, 8, 3), batch_size=1)
        x = layers.Lambda(lambda t: tf.space_to_batch_nd(t, [2, 2], [[1, 2], [0, 2]]))(x)
        x = layers.Conv2D(4, 3, padding="valid")(x)
        x = layers.ReLU()(x)  # keeps the converter from fusing a dilated convolution
        x = layers.Lambda(lambda t: tf.batch_to_space(t, [2, 2], [[0, 1], [1, 0]]))(x)
    elif name == "float_io":
        x = inputs = keras.Input((7, 7, 2), batch_size=1)
        x = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv2D(3, 2)(x)
    else:
        raise KeyError(name)
    return keras.Model(inputs, x, name=name)


def convert(name: str, path: Path) -> None:
    """Build and convert one model with full int8 quantization (seeded)."""
    import numpy as np

    from tinykit._tf import keras, tf

    keras.utils.set_random_seed(1234)
    model = _build(name)
    rng = np.random.default_rng(7)
    shape = [1, *model.input_shape[1:]]

    def representative():
        for _ in range(64):
            yield [rng.normal(0.0, 1.5, size=shape).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if name not in FLOAT_IO:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())


def cache_dir() -> Path:
    """Cache folder named by this file's content and the installed TensorFlow version."""
    from importlib.metadata import version

    key = hashlib.sha256(Path(__file__).read_bytes() + version("tensorflow").encode())
    return Path(tempfile.gettempdir()) / f"tinykit-codegen-models-{key.hexdigest()[:12]}"


def ensure_models(names: list[str] | None = None) -> dict[str, Path]:
    """Paths of the converted models, converting the missing ones in one subprocess."""
    folder = cache_dir()
    wanted = names or list(CASES)
    missing = [n for n in wanted if not (folder / f"{n}.tflite").is_file()]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "tests.codegen_models", str(folder),
                               *missing], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent.parent)
        if proc.returncode != 0:
            raise RuntimeError(f"model conversion failed:\n{proc.stderr[-3000:]}")
    return {n: folder / f"{n}.tflite" for n in wanted}


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    for name in argv[1:]:
        target = folder / f"{name}.tflite"
        partial = target.with_suffix(".part")
        convert(name, partial)
        partial.replace(target)  # atomic: a cached file is always complete
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
