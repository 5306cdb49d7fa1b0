"""Quantization-aware training that keeps sparsity and clusters (PCQAT, TFMOT).

The scheme follows what came before: cluster-preserving (and sparsity-preserving if
pruned) after clustering, prune-preserving after pruning alone, plain 8-bit otherwise.
TFMOT starts every activation range at [-6, 6] and moves it by an exponential average
with decay 0.999, far too slowly for a short fine-tune (inputs of 0..16 stay clipped at
6). `calibrate` therefore sets each range from the float model's activations first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinykit._tf import keras, tfmot
from tinykit.errors import ConversionError
from tinykit.optimize.prune import copy_model

#: Activation range variables of a QuantizeWrapper (output quantizers, post-activation).
_RANGE_MIN = ("output_min", "post_activation_min")
_RANGE_MAX = ("output_max", "post_activation_max")


def scheme(clustered: bool, pruned: bool) -> Any:
    combine = tfmot.experimental.combine
    if clustered:
        return combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=pruned)
    if pruned:
        return combine.Default8BitPrunePreserveQuantizeScheme()
    return tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme()


def apply_qat(model: Any, clustered: bool, pruned: bool) -> Any:
    """A fake-quantized copy of `model`; raises ConversionError naming a layer TFMOT refuses."""
    quantization = tfmot.quantization.keras
    try:
        annotated = quantization.quantize_annotate_model(copy_model(model))
        with quantization.quantize_scope():
            return quantization.quantize_apply(annotated, scheme(clustered, pruned))
    except (ValueError, RuntimeError) as exc:
        layer = _layer_in(str(exc), model)
        raise ConversionError(
            f"quantization-aware training cannot quantize layer {layer!r}: "
            f"{str(exc).splitlines()[0][:240]}",
            hint="replace the layer with one TFLite has int8 kernels for, or set "
                 "qat.enabled = false",
        ) from exc


def _layer_in(message: str, model: Any) -> str:
    names = [layer.name for layer in model.layers]
    found = [name for name in names if f"{name}:" in message or f"'{name}'" in message
             or f" {name} " in message]
    return max(found, key=len) if found else "?"


def calibrate(qat_model: Any, float_model: Any, x: np.ndarray) -> int:
    """Set activation ranges of `qat_model` from `float_model`'s activations on `x`.

    Returns how many ranges were set. Ranges always include 0, as TFLite requires.
    """
    source = copy_model(float_model)  # a fresh graph: shared layers have several outputs
    probe = keras.Model(source.input, [layer.output for layer in source.layers[1:]])
    outputs = dict(zip([layer.name for layer in source.layers[1:]],
                       probe.predict(x, batch_size=256, verbose=0), strict=True))
    outputs[source.layers[0].name] = x
    count = 0
    for layer in qat_model.layers:
        entry = type(layer).__name__ == "QuantizeLayer"
        name = source.layers[0].name if entry else getattr(getattr(layer, "layer", None),
                                                              "name", None)
        if name not in outputs:
            continue
        low = min(0.0, float(np.min(outputs[name])))
        high = max(0.0, float(np.max(outputs[name])))
        for variable in layer.non_trainable_weights:
            short = variable.name.split("/")[-1].split(":")[0]
            # The entry layer's variables carry its own (numbered) name: quantize_layer_1_min.
            if short in _RANGE_MIN or (entry and short.endswith("_min")):
                variable.assign(low)
                count += 1
            elif short in _RANGE_MAX or (entry and short.endswith("_max")):
                variable.assign(high)
    return count
