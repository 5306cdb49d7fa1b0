"""The inputs a benchmark feeds, and the host outputs the device must equal.

The reference is tflite-runtime with its reference kernels (BUILTIN_REF), which match
TensorFlow Lite Micro byte for byte. For a model tflite-runtime refuses (some old TOCO
files), the same generated C compiled for the host stands in, and the note says so: that
checks the cross-build, not the equivalence with TFLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tinykit.errors import ModelError, ToolchainError

Outputs = list[list[np.ndarray]]
TFLITE_REFERENCE = "tflite-runtime, reference kernels (BUILTIN_REF)"
#: (model SHA-256, seed, samples) -> outputs: a session benchmarking one model on several
#: targets asks tflite-runtime once.
_CACHE: dict[tuple[str, int, int], tuple[Outputs, str]] = {}


def make_samples(model: Any, count: int, seed: int) -> list[list[np.ndarray]]:
    """Seeded random inputs in each input's dtype and shape (full range for integers)."""
    rng = np.random.default_rng(seed)
    subgraph = model.main
    samples = []
    for _ in range(count):
        sample = []
        for index in subgraph.inputs:
            tensor = subgraph.tensors[index]
            dtype = np.dtype(tensor.dtype)
            if np.issubdtype(dtype, np.integer):
                info = np.iinfo(dtype)
                array = rng.integers(info.min, int(info.max) + 1, size=tensor.shape, dtype=dtype)
            else:
                array = rng.uniform(-1.0, 1.0, size=tensor.shape).astype(dtype)
            sample.append(array)
        samples.append(sample)
    return samples


def host_reference(model_path: Path, model: Any, samples: list[list[np.ndarray]], *,
                   seed: int, c_dir: Path, name: str) -> tuple[Outputs | None, str]:
    """Host outputs for `samples` and what they come from; (None, why) when there are none."""
    from tinykit.tflite import litert

    key = (model.sha256, seed, len(samples))
    if key in _CACHE:
        return _CACHE[key]
    try:
        result = litert.run_model(model_path, samples), TFLITE_REFERENCE
    except ModelError as exc:
        refused = exc.message.splitlines()[0]
        if len(refused) > 160:
            refused = refused[:160] + " ..."
        try:
            outputs = _host_twin(model, samples, c_dir, name)
        except ToolchainError as twin_error:
            return None, f"no host reference: {refused}; host C: {twin_error.message}"
        result = outputs, (f"the generated C built for the host ({refused}; so this "
                           "checks the cross-build, not equivalence with TFLite)")
    _CACHE[key] = result
    return result


def _host_twin(model: Any, samples: list[list[np.ndarray]], c_dir: Path, name: str
               ) -> Outputs:
    from tinykit.emulate.host import TensorSpec, compile_host, run_host

    graph = model.main

    def specs(indices: tuple[int, ...]) -> list[TensorSpec]:
        return [TensorSpec(tuple(graph.tensors[i].shape), graph.tensors[i].dtype)
                for i in indices]

    folder = c_dir.parent / "host"
    folder.mkdir(parents=True, exist_ok=True)
    exe = compile_host(c_dir, name, folder / f"{name}_host")
    return run_host(exe, samples, specs(graph.inputs), specs(graph.outputs))
