"""Magnitude pruning of conv and dense kernels (TFMOT), as a paired apply/strip.

TFMOT changes the layers of the model it is given, so `apply_pruning` works on a copy.
DepthwiseConv2D is never pruned (TFMOT's registry lists no weights for it), nor is the
frozen `standardize` layer. The schedule ramps sparsity polynomially over the first 3/4
of the fine-tune and updates masks every half epoch; the end step is aligned to that
frequency, because TFMOT only prunes on steps that are multiples of it (its default of
100 never reaches the target in a short fine-tune).
"""

from __future__ import annotations

import math
from typing import Any

from tinykit._tf import keras, tfmot


def copy_model(model: Any) -> Any:
    """An independent copy of a functional model with the same weights."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def compressible(layer: Any) -> bool:
    """Conv2D and Dense kernels (not DepthwiseConv2D, not the frozen standardize layer)."""
    return (isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)
            and not isinstance(layer, keras.layers.DepthwiseConv2D)
            and layer.trainable and layer.name != "standardize")


def schedule(sparsity: float, steps_per_epoch: int, epochs: int) -> Any:
    """PolynomialDecay from 0 to `sparsity`, reaching it at 3/4 of the fine-tune."""
    frequency = max(1, steps_per_epoch // 2)
    ramp = max(1, int(round(epochs * 0.75))) * steps_per_epoch
    end_step = max(frequency, frequency * (ramp // frequency))
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0, end_step=end_step,
        frequency=frequency,
    )


def apply_pruning(model: Any, sparsity: float, steps_per_epoch: int, epochs: int) -> Any:
    """A pruning-wrapped copy of `model`; fit it with `callbacks()`."""
    base = copy_model(model)
    plan = schedule(sparsity, steps_per_epoch, epochs)

    def wrap(layer: Any) -> Any:
        if compressible(layer):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=plan)
        return layer

    return keras.models.clone_model(base, clone_function=wrap)


def callbacks() -> list[Any]:
    """Callbacks a pruning fine-tune needs (the step counter the schedule reads)."""
    return [tfmot.sparsity.keras.UpdatePruningStep()]


def strip_pruning(model: Any) -> Any:
    """The plain model with the pruned (zeroed) kernels, wrappers removed."""
    return tfmot.sparsity.keras.strip_pruning(model)


def steps_per_epoch(samples: int, batch_size: int) -> int:
    return max(1, math.ceil(samples / batch_size))
