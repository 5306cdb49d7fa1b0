"""Weight clustering (TFMOT), sparsity-preserving when the model was pruned.

Each compressible kernel is constrained to `clusters` distinct values per layer (zero is
one of them when sparsity is preserved), so after int8 per-channel quantization a channel
holds at most that many distinct values. Works on a copy, like pruning.
"""

from __future__ import annotations

from typing import Any

from tinykit._tf import keras, tfmot
from tinykit.optimize.prune import compressible, copy_model

_INITS = {
    "kmeans++": "KMEANS_PLUS_PLUS",
    "linear": "LINEAR",
    "density": "DENSITY_BASED",
}


def apply_clustering(model: Any, clusters: int, init: str, preserve_sparsity: bool) -> Any:
    """A clustering-wrapped copy of `model`."""
    base = copy_model(model)
    centroid_init = getattr(tfmot.clustering.keras.CentroidInitialization, _INITS[init])

    def wrap(layer: Any) -> Any:
        if compressible(layer):
            return tfmot.clustering.keras.cluster_weights(
                layer, number_of_clusters=clusters, cluster_centroids_init=centroid_init,
                preserve_sparsity=preserve_sparsity,
            )
        return layer

    return keras.models.clone_model(base, clone_function=wrap)


def strip_clustering(model: Any) -> Any:
    """The plain model with clustered kernels, wrappers removed."""
    return tfmot.clustering.keras.strip_clustering(model)
