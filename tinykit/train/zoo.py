"""A small model zoo for microcontrollers, built with tf_keras (Keras 2).

Every classifier is `input -> standardize -> body -> logits (Dense) -> probabilities
(Softmax)`. `standardize` is a frozen 1x1 DepthwiseConv2D holding the training split's
per-channel 1/std and -mean/std: it converts to one int8 DEPTHWISE_CONV_2D, which every
runtime has, so the deployed model takes raw sensor values. (A Keras Normalization layer
would not survive TFMOT's cloning and becomes float DEQUANTIZE/QUANTIZE pairs in int8.)

`width` multiplies every layer's channels. Models: tiny_cnn (small images), ds_cnn
(keyword spotting, MLPerf Tiny), mobilenet_v1 (depthwise-separable, alpha = width),
resnet8 (MLPerf Tiny image classification), mlp, and autoencoder (MLPerf Tiny anomaly
detection; a reconstruction model, not a classifier). A custom body comes from
"file.py:function" with `function(x, num_classes, width) -> logits tensor`.
"""

from __future__ import annotations

import importlib.util
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinykit._tf import keras
from tinykit.config import ModelConfig
from tinykit.errors import ConfigError

layers = keras.layers
Body = Callable[[Any, int, float], Any]


def _ch(base: int, width: float) -> int:
    return max(1, int(round(base * width)))


def _batch_norm() -> Any:
    """BatchNormalization whose moving statistics settle within a few dozen steps.

    Keras' default momentum (0.99) needs thousands of steps; on a small data set the
    moving variance is still near its initial 1 after training, inference divides by it
    instead of the true (much smaller) variance, and a deep net outputs a constant.
    """
    return layers.BatchNormalization(momentum=0.9)


def _conv_bn(x: Any, filters: int, kernel: Any, strides: Any = 1) -> Any:
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = _batch_norm()(x)
    return layers.ReLU()(x)


def _separable(x: Any, filters: int, strides: int = 1) -> Any:
    x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
    x = _batch_norm()(x)
    x = layers.ReLU()(x)
    return _conv_bn(x, filters, 1)


def tiny_cnn(x: Any, num_classes: int, width: float) -> Any:
    """Three 3x3 convolutions (8, 16, 32 channels at width 1), global average pooling."""
    first_stride = 1 if min(x.shape[1], x.shape[2]) <= 16 else 2
    x = layers.Conv2D(_ch(8, width), 3, strides=first_stride, padding="same",
                      activation="relu")(x)
    x = layers.Conv2D(_ch(16, width), 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(_ch(32, width), 3, strides=2, padding="same", activation="relu")(x)
    return layers.GlobalAveragePooling2D()(x)


def ds_cnn(x: Any, num_classes: int, width: float) -> Any:
    """DS-CNN (Zhang et al., MLPerf Tiny KWS): a 10x4 convolution, 4 separable blocks."""
    kernel = (min(10, x.shape[1]), min(4, x.shape[2]))
    filters = _ch(64, width)
    x = _conv_bn(x, filters, kernel, strides=2)
    for _ in range(4):
        x = _separable(x, filters)
    return layers.GlobalAveragePooling2D()(x)


def mobilenet_v1(x: Any, num_classes: int, width: float) -> Any:
    """MobileNetV1 with width multiplier alpha = `width`; stops striding at 2x2."""
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
            (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
    stride = 2 if min(x.shape[1], x.shape[2]) > 16 else 1
    x = _conv_bn(x, _ch(32, width), 3, strides=stride)
    for filters, step in plan:
        step = step if min(x.shape[1], x.shape[2]) > 2 else 1
        x = _separable(x, _ch(filters, width), step)
    return layers.GlobalAveragePooling2D()(x)


def resnet8(x: Any, num_classes: int, width: float) -> Any:
    """ResNet-8 of MLPerf Tiny image classification: three residual stacks (16, 32, 64)."""
    x = _conv_bn(x, _ch(16, width), 3)
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        filters = _ch(filters, width)
        y = _conv_bn(x, filters, 3, strides=stride)
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
        y = _batch_norm()(y)
        if stride != 1 or x.shape[-1] != filters:
            x = layers.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = layers.ReLU()(layers.Add()([x, y]))
    return layers.GlobalAveragePooling2D()(x)


def mlp(x: Any, num_classes: int, width: float) -> Any:
    """Two hidden dense layers (128 and 64 units at width 1)."""
    x = layers.Flatten()(x)
    x = layers.Dense(_ch(128, width), activation="relu")(x)
    return layers.Dense(_ch(64, width), activation="relu")(x)


#: arch -> body builder returning the features the classifier head reads
BODIES: dict[str, Body] = {
    "tiny_cnn": tiny_cnn, "ds_cnn": ds_cnn, "mobilenet_v1": mobilenet_v1,
    "resnet8": resnet8, "mlp": mlp,
}


def standardize(x: Any, mean: np.ndarray, inv_std: np.ndarray) -> Any:
    """A frozen per-channel (x - mean) * inv_std as a 1x1 DepthwiseConv2D (see module doc)."""
    channels = int(x.shape[-1])
    rank = len(x.shape)
    if rank == 2:
        x = layers.Reshape((1, 1, channels))(x)
    layer = layers.DepthwiseConv2D(1, name="standardize", trainable=False)
    y = layer(x)
    kernel = np.asarray(inv_std, np.float32).reshape(1, 1, channels, 1)
    bias = (-np.asarray(mean, np.float32) * np.asarray(inv_std, np.float32)).reshape(channels)
    layer.set_weights([kernel, bias])
    return layers.Reshape((channels,))(y) if rank == 2 else y


def build_classifier(cfg: ModelConfig, input_shape: tuple[int, ...], num_classes: int,
                     mean: np.ndarray, inv_std: np.ndarray, name: str,
                     base_dir: Path | None = None) -> Any:
    """A compiled-free Keras classifier ending in Dense "logits" and Softmax "probabilities"."""
    inputs = keras.Input(input_shape, name="input")
    x = standardize(inputs, mean, inv_std)
    if cfg.arch == "custom":
        body = _custom_body(cfg.custom, base_dir or Path("."))
        logits = body(x, num_classes, cfg.width)
    else:
        x = BODIES[cfg.arch](x, num_classes, cfg.width)
        if cfg.dropout:
            x = layers.Dropout(cfg.dropout)(x)
        logits = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, outputs, name=name)


def logits_model(model: Any) -> Any:
    """A model sharing `model`'s layers that outputs the logits (the Softmax's input)."""
    return keras.Model(model.input, model.get_layer("probabilities").input)


def autoencoder(input_shape: tuple[int, ...], width: float = 1.0, bottleneck: int = 8) -> Any:
    """The MLPerf Tiny anomaly-detection autoencoder: 4x128 dense, 8 wide, 4x128 dense."""
    inputs = keras.Input(input_shape, name="input")
    x = layers.Flatten()(inputs)
    size = int(x.shape[-1])
    for units in (128, 128, 128, 128, bottleneck, 128, 128, 128, 128):
        x = layers.Dense(_ch(units, width) if units != bottleneck else bottleneck)(x)
        x = _batch_norm()(x)
        x = layers.ReLU()(x)
    x = layers.Dense(size, name="reconstruction")(x)
    return keras.Model(inputs, layers.Reshape(input_shape)(x), name="autoencoder")


def _custom_body(spec: str, base_dir: Path) -> Body:
    from tinykit._tf import allow_lambda_layers

    allow_lambda_layers()
    file, _, function = spec.rpartition(":")
    path = Path(file) if Path(file).is_absolute() else base_dir / file
    if not path.is_file():
        raise ConfigError(f"model.custom: {path} does not exist")
    module_spec = importlib.util.spec_from_file_location(f"tinykit_custom_{path.stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any error is theirs to see
        raise ConfigError(f"model.custom: importing {path} failed: {exc!r}") from exc
    body = getattr(module, function, None)
    if not callable(body):
        raise ConfigError(f"model.custom: {path} has no function {function!r}")
    return typing.cast(Body, body)
