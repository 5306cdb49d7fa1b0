"""Shared helpers of the codegen tests: verify a model's C against tflite-runtime."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinykit.codegen.verify import VerifyOptions, VerifyResult, verify


def verify_file(path: Path, samples: int | Sequence[Sequence[np.ndarray]] = 6,
                seed: int = 0) -> VerifyResult:
    """Generate, compile (strict warnings) and compare with tflite-runtime's reference."""
    if isinstance(samples, int):
        return verify(VerifyOptions(model=path, samples=samples, seed=seed))
    return verify(VerifyOptions(model=path), samples=samples)


def verify_bytes(data: bytes, folder: Path, name: str = "model",
                 samples: int | Sequence[Sequence[np.ndarray]] = 6) -> VerifyResult:
    path = folder / f"{name}.tflite"
    path.write_bytes(data)
    return verify_file(path, samples)


def assert_exact(result: VerifyResult) -> None:
    """Fail with the per-output figures when any output byte differs."""
    bad = [c for c in result.outputs if not c.ok]
    assert not bad, (
        f"{result.model.name}: outputs differ from tflite-runtime: "
        + "; ".join(f"output {c.index} ({c.name}) exact {100 * c.exact_fraction:.2f}%, "
                    f"max diff {c.max_abs_diff}, {c.mismatched_samples} samples" for c in bad)
    )
