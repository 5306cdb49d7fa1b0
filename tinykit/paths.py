"""Where tinykit finds its data folders (targets, templates, examples, shared test models)."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository (or source tree) that holds `targets/`, `firmware_templates/`, `examples/`.
ROOT = Path(__file__).resolve().parent.parent


def targets_dir() -> Path:
    """Folder of target TOML files; `TINYKIT_TARGETS_DIR` overrides it."""
    return Path(os.environ.get("TINYKIT_TARGETS_DIR", ROOT / "targets"))


def templates_dir() -> Path:
    """Folder of firmware template families."""
    return ROOT / "firmware_templates"


def examples_dir() -> Path:
    """Folder of runnable example projects."""
    return ROOT / "examples"


def shared_models_dir() -> Path:
    """Third-party .tflite models for tests: `TINYKIT_MODELS_DIR`, else ../shared/models."""
    env = os.environ.get("TINYKIT_MODELS_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "models"
