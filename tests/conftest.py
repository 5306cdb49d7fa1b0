"""Shared fixtures: the third-party models folder, skipped with a reason when absent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tinykit.paths import shared_models_dir


def _models_dir() -> Path:
    return shared_models_dir()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """../shared/models (or $TINYKIT_MODELS_DIR); the test is skipped when it is absent."""
    folder = _models_dir()
    if not folder.is_dir():
        pytest.skip(f"third-party models folder {folder} is absent (set TINYKIT_MODELS_DIR)")
    return folder


@pytest.fixture(scope="session")
def shared_model(models_dir: Path):
    """Return a function name -> path of a model in ../shared/models (skip if missing)."""

    def get(name: str) -> Path:
        path = models_dir / name
        if not path.is_file():
            pytest.skip(f"{path} is absent")
        return path

    return get


def shared_model_paths() -> list[Path]:
    """Every .tflite in ../shared/models, for parametrizing (empty when absent)."""
    folder = _models_dir()
    return sorted(folder.glob("*.tflite")) if folder.is_dir() else []


def require_tool(name: str, install: str) -> str:
    """Path of an executable, or skip the test naming the package that provides it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not found (apt-get install {install})")
    return path


def model_header(inputs: int, outputs: int, ops: int, arena_bytes: int) -> str:
    """The generated model.h API (docs/codegen.md) for hand-written test models that the
    benchmark firmware links in place of a generated one."""
    return f"""#ifndef MODEL_H
#define MODEL_H
#include <stddef.h>
#define MODEL_NUM_INPUTS {inputs}
#define MODEL_NUM_OUTPUTS {outputs}
#define MODEL_NUM_OPS {ops}
#define MODEL_ARENA_BYTES {arena_bytes}
int model_init(void);
int model_invoke(void);
void *model_input(int i);
size_t model_input_bytes(int i);
void *model_output(int i);
size_t model_output_bytes(int i);
const char *model_op_type(int op_index);
void model_set_op_hook(void (*hook)(int op_index));
#endif
"""
