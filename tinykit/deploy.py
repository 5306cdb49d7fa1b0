"""Build stages that take the deployed variant onto the target: its C and its benchmark.

`codegen_stage` writes tinykit's own integer-only C for the deployed .tflite into
`<out>/c/` (`tinykit codegen`, name `model`). `bench_stage` runs that model as firmware on
the target's core in QEMU (`tinykit bench`) and returns what `tinykit bench --json` prints;
it is cached per target, and its cache key also covers the C runtime, the code generator,
the firmware templates and the cross compiler and QEMU found on the PATH
(`toolchain_fingerprint`), so new kernels or a newly installed compiler measure again.

Neither stage fails the build for something the report can say instead: an op the code
generator does not support, a target whose core has no emulator, a model over the
target's budget, or a missing compiler or QEMU are recorded (`ran: false` and a `note`)
and the report's verdict shows them. A firmware that builds but gives wrong outputs, or a
guest that hangs, is a real failure and stops the build.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinykit.errors import BudgetError, ToolchainError, UnsupportedError
from tinykit.fsutil import write_text_atomic
from tinykit.paths import ROOT

if TYPE_CHECKING:
    from tinykit.config import Config
    from tinykit.pipeline import StageContext

#: C name of the deployed model in the build folder (functions model_init, model_invoke).
C_NAME = "model"
C_FOLDER = "c"
#: Seeded inputs run through the firmware and through tflite-runtime.
BENCH_SAMPLES = 3
#: Sources whose change changes what the benchmark measures.
_SOURCES = ("tinykit/codegen", "tinykit/runtime", "tinykit/emulate", "tinykit/firmware",
            "firmware_templates")
_TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")


def _deployed_model(ctx: StageContext) -> Path:
    from tinykit.evaluate import DEPLOYED

    return ctx.input("evaluate").file(f"{DEPLOYED}.tflite")


def codegen_stage(ctx: StageContext) -> dict[str, Any]:
    """Build stage: `<out>/c/model.{h,c}` and the shared kernels for the deployed model."""
    from tinykit.codegen.generate import CodegenOptions, codegen

    model = _deployed_model(ctx)
    folder = ctx.out / C_FOLDER
    try:
        result = codegen(CodegenOptions(model=model, out_dir=folder, name=C_NAME))
    except UnsupportedError as exc:
        note = f"no C generated: {exc.message}"
        ctx.progress.info(note + " (the C arrays for TensorFlow Lite Micro are still written)")
        return {"generated": False, "note": note, "model": model.name}
    sources = result.sources
    ctx.progress.info(f"{C_FOLDER}/{C_NAME}.c: {sources.num_ops} ops, arena "
                      f"{sources.arena_bytes:,} B, constants {sources.constant_bytes:,} B")
    weights = _weights(ctx, sources)
    return {"generated": True, "note": "", "model": model.name, "name": C_NAME,
            "folder": C_FOLDER, "files": [f"{C_FOLDER}/{p.name}" for p in result.files],
            "arena_bytes": sources.arena_bytes, "constant_bytes": sources.constant_bytes,
            "num_ops": sources.num_ops, "sha256": result.model_sha256, "weights": weights}


def _weights(ctx: StageContext, sources: Any) -> dict[str, Any]:
    """Flash of the weights in generated C per int8 variant, and the goal on the deployed."""
    from tinykit.codegen.weights_table import goal_line, variant_weights
    from tinykit.evaluate import DEPLOYED

    evaluate = ctx.input("evaluate")
    weights = variant_weights(list(evaluate.summary["variants"]), evaluate.path, DEPLOYED,
                              sources)
    deployed = weights["variants"][DEPLOYED]
    ctx.progress.info(f"weights in flash: {deployed['bytes']:,} B (dense "
                      f"{deployed['dense_bytes']:,} B); {goal_line(weights['goal'])}")
    return weights


def bench_stage(ctx: StageContext) -> dict[str, Any]:
    """Build stage: the deployed model on the target's emulated core; writes bench.json.

    Returns `BenchResult.to_json()` without the paths of the temporary firmware project.
    """
    from tinykit.emulate.bench import BenchOptions, bench_model
    from tinykit.emulate.results import BenchResult

    model = _deployed_model(ctx)
    target = ctx.target
    codegen = ctx.inputs.get("codegen")
    base = BenchResult(target=target.name, model=model.name, flash_budget=target.flash_bytes,
                       ram_budget=target.ram_bytes, clock_hz=target.clock_hz)
    why_not = _why_not_run(ctx, codegen.summary if codegen else None)
    if why_not:
        result = replace(base, note=why_not)
    else:
        with tempfile.TemporaryDirectory(prefix="tinykit-bench-") as work:
            options = BenchOptions(model=model, target=target.name, samples=BENCH_SAMPLES,
                                   seed=ctx.config.seed, work_dir=Path(work))
            try:
                result = bench_model(options, progress=ctx.progress.info)
            except BudgetError as exc:
                result = replace(base, note=f"not run: {exc.message}")
    summary = result.to_json()
    summary["model"] = model.name
    summary["firmware"] = {"elf": None, "project": None}  # a temporary folder, now gone
    if not result.ran:
        ctx.progress.info(f"not benchmarked on {target.name}: {result.note}")
    elif result.outputs_match is False:
        ctx.progress.info("the firmware's outputs DIFFER from tflite-runtime's")
    write_text_atomic(ctx.work / "bench.json", json.dumps(summary, indent=1) + "\n")
    return summary


def _why_not_run(ctx: StageContext, codegen: Any) -> str:
    """Why the benchmark cannot run here ('' when it can); missing tools are named."""
    from tinykit.emulate import device
    from tinykit.firmware.build import check_toolchain

    if codegen is not None and not codegen.get("generated", True):
        return codegen.get("note", "no C generated")
    if not ctx.target.has_emulator:
        return (f"target '{ctx.target.name}' has no emulator (its core has no QEMU machine);"
                " benchmark it on the board with `tinykit bench --port`")
    try:
        check_toolchain()
        device.require_qemu()
    except ToolchainError as exc:
        return f"not run: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")
    return ""


def toolchain_fingerprint(config: Config) -> dict[str, Any]:
    """What, besides the model and the target, decides the benchmark's figures.

    The SHA-256 of the code generator, the C runtime, the emulator and firmware code and
    the templates, and the first line of `--version` of each tool on the PATH (None when
    absent, so installing it later runs the benchmark instead of reusing the note).
    """
    digest = hashlib.sha256()
    for folder in _SOURCES:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return {"sources": digest.hexdigest(), "tools": {tool: _tool_version(tool)
                                                     for tool in _TOOLS}}


def _tool_version(tool: str) -> str | None:
    path = shutil.which(tool)
    if path is None:
        return None
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return path
    lines = proc.stdout.splitlines()
    return f"{path}: {lines[0] if lines else ''}"
