"""`tinykit build`: the pipeline from data to a compressed int8 model, C arrays and a report.

The build is the list `STAGES`. Target-independent stages (data, teacher, student,
compress, convert, evaluate) are cached by content under `<cache>/<stage>-<key>/`, so a
build for a second target reuses them and imports no TensorFlow. Per-target stages write
into the output folder, which is assembled in a temporary sibling and swapped in whole
at the end: an interrupted build leaves the previous complete build (or nothing).

Adding a stage is one entry in `STAGES`, before "report": a name, the function
("module:function", taking a `tinykit.pipeline.StageContext`, returning a JSON-able
summary), the config sections and upstream stages it depends on, and whether it depends on
the target. Its summary appears in report.json under `stages.<name>`.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinykit.config import Config, load_config
from tinykit.errors import OutputError
from tinykit.pipeline import Progress, Stage, run_stages
from tinykit.stderr_filter import live_filter
from tinykit.targets import Target, load_target

_TRAIN = ("seed", "augment")
STAGES: list[Stage] = [
    Stage("data", "tinykit.data.prepare:run_stage", config=("seed", "data"),
          fingerprint="tinykit.data.sources:fingerprint",
          describe="load, check and split the data"),
    Stage("teacher", "tinykit.train.stages:teacher_stage", config=(*_TRAIN, "teacher"),
          inputs=("data",), describe="train the float teacher"),
    Stage("student", "tinykit.train.stages:student_stage", config=(*_TRAIN, "student"),
          inputs=("data", "teacher"), describe="distill the student from the teacher"),
    Stage("compress", "tinykit.optimize.compress:compress_stage",
          config=(*_TRAIN, "prune", "cluster", "qat", "convert", "evaluate"),
          inputs=("data", "student"), describe="prune, cluster, QAT, convert to int8"),
    Stage("depthwise", "tinykit.optimize.depthwise:depthwise_stage",
          config=("seed", "cluster_depthwise"), inputs=("data", "compress"),
          describe="cluster depthwise kernels of the int8 model (optional)"),
    Stage("convert", "tinykit.convert:convert_stage", config=("seed", "convert", "evaluate"),
          inputs=("data", "teacher", "student"),
          describe="float and post-training int8 .tflite files"),
    Stage("evaluate", "tinykit.evaluate:evaluate_stage", config=("seed", "evaluate"),
          inputs=("data", "convert", "compress", "depthwise"),
          publish=("*.tflite", "predictions.npz"),
          describe="run every .tflite in tflite-runtime on the test split"),
    Stage("budget", "tinykit.evaluate:budget_stage", inputs=("evaluate",), per_target=True,
          cached=False, describe="arena plan and flash/RAM fit on the target"),
    Stage("arrays", "tinykit.codegen.arrays:arrays_stage", inputs=("data", "evaluate"),
          per_target=True, cached=False, describe="C arrays of the deployed model"),
    Stage("codegen", "tinykit.deploy:codegen_stage", inputs=("evaluate",), per_target=True,
          cached=False, describe="integer-only C of the deployed model"),
    Stage("bench", "tinykit.deploy:bench_stage", config=("seed",),
          inputs=("evaluate", "codegen"),
          per_target=True, publish=("bench.json",),
          fingerprint="tinykit.deploy:toolchain_fingerprint",
          describe="the deployed model as firmware on the target's emulated core"),
    Stage("report", "tinykit.report:report_stage", inputs=(), per_target=True, cached=False,
          describe="report.json, report.md and report.html with plots"),
]
#: Marks a folder as a tinykit build output (safe to replace).
MARKER = ".tinykit-build"


@dataclass(frozen=True)
class BuildOptions:
    """What `tinykit build` was asked for; None means the default."""

    target: str | None = None
    config: Path | None = None
    out: Path | None = None
    cache_dir: Path | None = None
    overrides: tuple[str, ...] = ()
    force: bool = False
    quiet: bool = False


@dataclass(frozen=True)
class BuildResult:
    out: Path
    report: dict[str, Any]
    seconds: float


def default_out(target: Target) -> Path:
    return Path("build") / target.name


def cache_dir_for(options: BuildOptions, out: Path) -> Path:
    """--cache-dir, else $TINYKIT_CACHE_DIR, else `cache/` beside the output folder."""
    if options.cache_dir is not None:
        return options.cache_dir
    env = os.environ.get("TINYKIT_CACHE_DIR")
    return Path(env) if env else out.parent / "cache"


def _check_writable(folder: Path, what: str) -> None:
    hint = f"choose a {what} you can write to" + (" (--out)" if what == "output folder" else
                                                 " (--cache-dir)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write the {what} {folder}: {exc.strerror or exc}",
                          hint=hint) from exc


def _check_out(out: Path) -> None:
    """Refuse to replace a folder that is not a previous tinykit build."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"the output folder {out} is a file",
                          hint="choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise OutputError(
            f"the output folder {out} holds files that are not a tinykit build",
            hint="choose an empty or new folder with --out (the build replaces it whole)",
        )
    _check_writable(out.parent, "output folder")


def _folder_mode() -> int:
    """0o777 less the process umask, as a plain mkdir would give."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


def build(options: BuildOptions, stages: list[Stage] | None = None,
          progress: Progress | None = None) -> BuildResult:
    """Run the build; raises TinykitError subclasses for everything a user can cause."""
    from tinykit.fsutil import atomic_dir, write_text_atomic

    start = time.perf_counter()
    target = load_target(options.target)
    config: Config = load_config(options.config, options.overrides)
    out = options.out or default_out(target)
    cache = cache_dir_for(options, out)
    _check_out(out)
    _check_writable(cache, "cache folder")
    with live_filter() as clean_stderr:
        progress = progress or Progress(stream=clean_stderr, quiet=options.quiet)
        progress.info(f"target {target.name}, config {config.source_file}, output {out}, "
                      f"cache {cache}")
        with atomic_dir(out) as staging:
            staging.chmod(_folder_mode())  # mkdtemp made it private; a build folder is not
            write_text_atomic(staging / MARKER, f"tinykit build for {target.name}\n")
            artifacts = run_stages(stages or STAGES, config, target, staging, cache,
                                   progress, force=options.force)
    report = dict(artifacts["report"].summary) if "report" in artifacts else {}
    return BuildResult(out=out, report=report, seconds=time.perf_counter() - start)
