"""Run .tflite models in tflite-runtime, in a worker process that imports no TensorFlow.

`run_model` is the host reference used by evaluation and by the byte-exact checks of the
generated C. With `reference=True` (the default) it uses the `BUILTIN_REF` op resolver,
whose kernels match TensorFlow Lite Micro's reference kernels byte for byte; the default
resolver (XNNPACK) is not bit-exact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinykit.errors import ModelError, ToolchainError

_WORKER = "tinykit.tflite._litert_worker"


def _call(args: list[str], model_path: Path) -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", _WORKER, *args], capture_output=True, text=True, env=env
        )
    except OSError as exc:  # pragma: no cover - the interpreter itself is missing
        raise ToolchainError(f"cannot start the tflite-runtime worker: {exc}") from exc
    if proc.returncode == 3:
        message = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "refused"
        if len(message) > 300:
            message = message[:300] + " ..."
        raise ModelError(f"tflite-runtime refused {model_path}: {message}")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise ToolchainError(
            f"the tflite-runtime worker failed (exit {proc.returncode}) on {model_path}:\n{tail}",
            hint="check that tflite-runtime==2.14.0 and numpy<2 are installed (make setup)",
        )


def run_model(
    model_path: str | os.PathLike[str],
    samples: Sequence[Sequence[np.ndarray]],
    *,
    reference: bool = True,
) -> list[list[np.ndarray]]:
    """Invoke the model once per sample; returns the outputs of each sample in order.

    Each sample is a list with one array per model input, already in the input's dtype
    and shape (int8 models take int8 arrays).
    """
    path = Path(model_path)
    with tempfile.TemporaryDirectory(prefix="tinykit-litert-") as tmp:
        request = Path(tmp) / "in.npz"
        reply = Path(tmp) / "out.npz"
        arrays: dict[str, Any] = {"count": np.array(len(samples))}
        for s, sample in enumerate(samples):
            for i, array in enumerate(sample):
                arrays[f"in_{s}_{i}"] = np.asarray(array)
        np.savez(request, **arrays)
        args = ["run", str(path), str(request), str(reply)]
        _call([*args, "--reference"] if reference else args, path)
        with np.load(reply) as result:
            outputs_per_sample = len([k for k in result.files if k.startswith("out_0_")])
            return [
                [result[f"out_{s}_{o}"] for o in range(outputs_per_sample)]
                for s in range(len(samples))
            ]


def model_details(model_path: str | os.PathLike[str]) -> dict[str, Any]:
    """What tflite-runtime reports: inputs, outputs, tensors and ops (an independent oracle)."""
    path = Path(model_path)
    with tempfile.TemporaryDirectory(prefix="tinykit-litert-") as tmp:
        out = Path(tmp) / "details.json"
        _call(["details", str(path), str(out)], path)
        return dict(json.loads(out.read_text()))
