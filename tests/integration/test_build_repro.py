"""Same config and seed, same results: two fresh builds of a fast config, compared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FAST = [
    "data.max_samples=600", "teacher.model.width=1.0", "teacher.train.epochs=3",
    "student.train.epochs=3", "prune.epochs=2", "cluster.epochs=1", "qat.epochs=1",
    "convert.representative_samples=32", "evaluate.check_samples=32",
]


def _build(root: Path, name: str) -> dict:
    args = [sys.executable, "-m", "tinykit.cli", "build", "--quiet", "--out",
            str(root / name / "cortex-m4"), "--cache-dir", str(root / name / "cache")]
    for item in FAST:
        args += ["--set", item]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((root / name / "cortex-m4" / "report.json").read_text())


def test_same_config_and_seed_give_the_same_models_and_figures(tmp_path):
    first = _build(tmp_path, "a")
    second = _build(tmp_path, "b")
    assert first["config_hash"] == second["config_hash"]
    for a, b in zip(first["variants"], second["variants"], strict=True):
        assert a["sha256"] == b["sha256"], a["name"]  # byte-identical .tflite files
        assert a["accuracy"] == b["accuracy"] and a["agreement"] == b["agreement"]
    def histories(report: dict) -> dict:
        return {fit: {k: v for k, v in h.items() if k != "seconds"}
                for fit, h in report["training"].items()}

    assert histories(first) == histories(second)
    for name in ("model_data.c", "predictions.npz", "student_int8_compressed.tflite"):
        assert (tmp_path / "a" / "cortex-m4" / name).read_bytes() == (
            tmp_path / "b" / "cortex-m4" / name).read_bytes()
