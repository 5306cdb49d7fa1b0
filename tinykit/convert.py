"""Keras to TFLite: float, and full-integer int8 with int8 input and output.

The converter does not refuse a layer it has no int8 kernel for: it quietly wraps it in
DEQUANTIZE/QUANTIZE and runs it in float. `to_tflite(..., int8=True)` therefore checks
the result and raises `ConversionError` naming the Keras layer that stayed float.

The build stage `convert_stage` writes `teacher_float.tflite`, `student_float.tflite` and
`student_int8_ptq.tflite` (post-training quantization of the same student, for
comparison), plus `twin.npz`: the Keras float outputs the int8 models are checked against.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinykit.errors import ConversionError
from tinykit.fsutil import write_bytes_atomic

#: Tensor types an int8 model may hold besides int8: int32 biases and shapes.
_INTEGER = ("int8", "int32", "int16", "int64", "bool")


def representative(x_train: np.ndarray, count: int, seed: int) -> np.ndarray:
    """A seeded sample of `count` training inputs (float32) to calibrate int8 ranges."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(x_train), size=min(count, len(x_train)), replace=False)
    return x_train[np.sort(chosen)].astype(np.float32)


def to_tflite(model: Any, *, int8: bool, samples: np.ndarray | None = None) -> bytes:
    """Convert a Keras model; int8 needs `samples` (representative inputs, float32).

    Raises ConversionError when conversion fails or an op stays float in an int8 model.
    """
    from tinykit._tf import filtered_stderr, tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        if samples is None or not len(samples):
            raise ValueError("int8 conversion needs representative samples")

        def feed() -> Iterator[list[np.ndarray]]:
            for sample in samples:
                yield [sample[None].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = feed
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        with filtered_stderr(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*Statistics for quantized inputs")
            data = bytes(converter.convert())
    except Exception as exc:  # the converter raises several unrelated types
        layer = _layer_from_text(str(exc), model)
        raise ConversionError(
            f"model {model.name!r} cannot be converted to TFLite"
            + (f"; the converter stopped at layer {layer!r}" if layer else "")
            + f": {_first_error(str(exc))}",
            hint="replace that layer with one TFLite supports",
        ) from exc
    if int8:
        check_full_int8(data, model)
    return data


def check_full_int8(data: bytes, model: Any) -> None:
    """Raise ConversionError if any op of the .tflite computes in float (names the layer)."""
    from tinykit.tflite.reader import read_model

    graph = read_model(data).main
    for op in graph.operators:
        if op.opcode in ("QUANTIZE", "DEQUANTIZE"):
            continue
        floats = [graph.tensors[i] for i in (*op.outputs, *op.inputs)
                  if i >= 0 and graph.tensors[i].dtype not in _INTEGER]
        if floats:
            # The op's own output names the layer it came from; its inputs name neighbours.
            layer = next((found for t in floats if (found := _layer_from_text(t.name, model))),
                         "")
            raise ConversionError(
                f"model {model.name!r} cannot be converted to full int8: layer "
                f"{layer or '?'!r} has no int8 kernel (its {op.opcode} op stayed "
                f"{floats[0].dtype})",
                hint="replace that layer with one TFLite has int8 kernels for "
                     "(see the TFLite ops list)",
            )


def _layer_from_text(text: str, model: Any) -> str:
    """The longest name of one of `model`'s layers that appears as a path component."""
    names = {layer.name for layer in model.layers}
    parts = set(re.split(r"[/:;\"'@\[\]()\s,]+", text))
    found = [name for name in names if name in parts]
    if not found:
        return ""
    best = max(found, key=len)
    # A QAT wrapper is "quant_<layer>": name the layer the user wrote.
    return best.removeprefix("quant_")


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error:" in line:
            return line.split("error:", 1)[1].strip()[:300]
    return (text.strip().splitlines() or [""])[0][:300]


def keras_outputs(model: Any, x: np.ndarray) -> np.ndarray:
    """Class probabilities of a Keras model (float32, shape (N, classes))."""
    return np.asarray(model.predict(x, batch_size=256, verbose=0), np.float32)


def convert_stage(ctx: Any) -> dict[str, Any]:
    """Build stage: float teacher and student, post-training int8 student, twin outputs."""
    from tinykit.data.dataset import npz_bytes
    from tinykit.evaluate import check_inputs
    from tinykit.train.stages import load_model, load_splits

    config = ctx.config
    splits = load_splits(ctx)
    teacher = load_model(ctx.input("teacher").file("teacher.h5"), config)
    student = load_model(ctx.input("student").file("student.h5"), config)
    samples = representative(splits.x_train, config.convert.representative_samples,
                             config.seed)
    outputs = {
        "teacher_float": to_tflite(teacher, int8=False),
        "student_float": to_tflite(student, int8=False),
        "student_int8_ptq": to_tflite(student, int8=True, samples=samples),
    }
    for name, data in outputs.items():
        write_bytes_atomic(ctx.work / f"{name}.tflite", data)
        ctx.progress.info(f"{name}.tflite: {len(data):,} bytes")
    probes = check_inputs(splits, config.evaluate.check_samples, config.seed)
    twin: dict[str, np.ndarray] = {}
    for name, model in (("teacher", teacher), ("student", student)):
        twin[f"{name}.test"] = keras_outputs(model, splits.x_test)
        twin[f"{name}.check"] = keras_outputs(model, probes)
    write_bytes_atomic(ctx.work / "twin.npz", npz_bytes(twin))
    return {"tflite_bytes": {name: len(data) for name, data in outputs.items()},
            "representative_samples": int(len(samples))}
