"""Stages, their content-addressed cache, and the progress they print.

A `Stage` names one function (`"module:function"`, imported only when the stage runs),
the config sections and upstream stages its result depends on, and whether it depends on
the target. Its cache key is the SHA-256 of: the stage name and version, the tinykit
version, those config sections, the content digests of the upstream artifacts, a source
fingerprint where the stage reads outside data, and the target for per-target stages.

A cached stage writes into a temporary folder that becomes `<cache>/<stage>-<key>/` only
when it succeeded, with `manifest.json` (files, their SHA-256, the stage's summary) written
last: an interrupted stage leaves nothing that looks complete. An uncached stage writes
straight into the build's output folder (itself assembled in a temporary folder).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from tinykit import __version__
from tinykit.config import Config
from tinykit.errors import OutputError
from tinykit.fsutil import atomic_dir, sha256_file, write_text_atomic
from tinykit.targets import Target

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Stage:
    """One step of the build. `run` is "module:function" taking a `StageContext` and
    returning a JSON-able summary dict; files go into `ctx.work`."""

    name: str
    run: str
    config: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    describe: str = ""
    per_target: bool = False
    cached: bool = True
    #: Glob patterns (relative to the stage's folder) copied into the output folder.
    publish: tuple[str, ...] = ()
    #: "module:function" mapping the Config to JSON-able data identifying outside inputs.
    fingerprint: str | None = None
    #: Bump when the stage's code changes what it produces for the same inputs.
    version: int = 1


@dataclass(frozen=True)
class Artifact:
    """What a stage left: its folder, files with their SHA-256, and its summary."""

    stage: str
    path: Path
    key: str
    digest: str
    summary: Mapping[str, Any]
    files: Mapping[str, str]
    cached: bool = False
    seconds: float = 0.0

    def file(self, name: str) -> Path:
        return self.path / name


@dataclass
class StageContext:
    """Everything a stage function may use."""

    stage: Stage
    config: Config
    target: Target
    work: Path
    out: Path
    inputs: Mapping[str, Artifact]
    artifacts: Mapping[str, Artifact]
    progress: Progress
    timings: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    def input(self, name: str) -> Artifact:
        return self.inputs[name]


def _resolve(spec: str) -> Callable[..., Any]:
    module, _, attribute = spec.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    return function


def stage_key(stage: Stage, config: Config, target: Target,
              inputs: Mapping[str, Artifact]) -> str:
    """The cache key of `stage` for these inputs (hex SHA-256)."""
    material: dict[str, Any] = {
        "stage": stage.name, "stage_version": stage.version, "tinykit": __version__,
        "config": {name: config.section(name) for name in stage.config},
        "inputs": {name: inputs[name].digest for name in stage.inputs},
    }
    if stage.fingerprint:
        material["fingerprint"] = _resolve(stage.fingerprint)(config)
    if stage.per_target:
        material["target"] = {"name": target.name, "table": target.table}
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _digest(files: Mapping[str, str], summary: Mapping[str, Any]) -> str:
    text = json.dumps({"files": files, "summary": summary}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _load_cached(folder: Path, stage: Stage, key: str) -> Artifact | None:
    """The artifact in `folder` if its manifest and every file are intact, else None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files: dict[str, str] = manifest["files"]
        if manifest["key"] != key or any(sha256_file(folder / n) != d for n, d in files.items()):
            return None
    except (OSError, ValueError, KeyError):
        return None
    return Artifact(stage.name, folder, key, manifest["digest"], manifest["summary"], files,
                    cached=True, seconds=float(manifest.get("seconds", 0.0)))


def _hash_files(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): sha256_file(path)
        for path in sorted(folder.rglob("*")) if path.is_file() and path.name != MANIFEST
    }


def run_stages(stages: list[Stage], config: Config, target: Target, out: Path, cache: Path,
               progress: Progress, force: bool = False) -> dict[str, Artifact]:
    """Run (or reuse) each stage in order; returns the artifacts by stage name."""
    artifacts: dict[str, Artifact] = {}
    timings: dict[str, dict[str, Any]] = {}
    for number, stage in enumerate(stages, start=1):
        inputs = {name: artifacts[name] for name in stage.inputs}
        progress.stage_start(number, len(stages), stage)
        start = time.perf_counter()
        key = stage_key(stage, config, target, inputs)
        folder = cache / f"{stage.name}-{key[:20]}"
        found = None if (force or not stage.cached) else _load_cached(folder, stage, key)
        if found is None:
            context = StageContext(stage, config, target, out, out, inputs, dict(artifacts),
                                   progress, dict(timings))
            found = _execute(stage, context, folder, key)
        seconds = time.perf_counter() - start
        timings[stage.name] = {"seconds": round(seconds, 3), "cached": found.cached}
        artifacts[stage.name] = found
        _publish(stage, found, out)
        progress.stage_done(stage, seconds, found.cached)
    return artifacts


def _execute(stage: Stage, context: StageContext, folder: Path, key: str) -> Artifact:
    function = _resolve(stage.run)
    start = time.perf_counter()
    if not stage.cached:
        summary = dict(function(context))
        return Artifact(stage.name, context.out, key, _digest({}, summary), summary, {},
                        seconds=time.perf_counter() - start)
    with atomic_dir(folder) as work:
        context.work = work
        summary = dict(function(context))
        files = _hash_files(work)
        seconds = time.perf_counter() - start
        digest = _digest(files, summary)
        manifest = {"stage": stage.name, "key": key, "digest": digest, "files": files,
                    "summary": summary, "seconds": round(seconds, 3), "tinykit": __version__}
        write_text_atomic(work / MANIFEST, json.dumps(manifest, indent=1, default=str) + "\n")
    return Artifact(stage.name, folder, key, digest, summary, files, seconds=seconds)


def _publish(stage: Stage, artifact: Artifact, out: Path) -> None:
    if not stage.cached:
        return
    for pattern in stage.publish:
        for source in sorted(artifact.path.glob(pattern)):
            if source.is_file():
                try:
                    shutil.copyfile(source, out / source.name)
                except OSError as exc:
                    raise OutputError(f"cannot write {out / source.name}: {exc}") from exc


class Progress:
    """Stage lines and training progress on stderr; epoch lines redraw in place on a TTY."""

    def __init__(self, stream: Any = None, quiet: bool = False) -> None:
        self._stream = stream
        self.quiet = quiet
        self._open_line = False

    @property
    def _tty(self) -> bool:
        stream = self._stream or sys.stderr
        return bool(getattr(stream, "isatty", lambda: False)())

    def _write(self, text: str, newline: bool = True) -> None:
        if self.quiet:
            return
        click.echo(text, file=self._stream, nl=newline, err=True)

    def _close_line(self) -> None:
        if self._open_line:
            self._write("")
            self._open_line = False

    def stage_start(self, number: int, total: int, stage: Stage) -> None:
        self._close_line()
        what = f" - {stage.describe}" if stage.describe else ""
        self._write(f"[{number}/{total}] {stage.name}{what}")

    def stage_done(self, stage: Stage, seconds: float, cached: bool) -> None:
        self._close_line()
        state = "reused from cache" if cached else "done"
        self._write(f"      {stage.name}: {state} in {seconds:.1f} s")

    def info(self, text: str) -> None:
        self._close_line()
        self._write(f"      {text}")

    def epoch(self, fit: str, epoch: int, epochs: int, logs: Mapping[str, float]) -> None:
        """One finished epoch of the fit called `fit` (1-based `epoch`)."""
        shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items()
                          if k in ("loss", "accuracy", "val_loss", "val_accuracy"))
        text = f"      {fit}: epoch {epoch}/{epochs}  {shown}"
        if self._tty:
            self._write("\r" + text.ljust(100), newline=False)
            self._open_line = True
            if epoch == epochs:
                self._close_line()
        elif epoch == epochs or epoch == 1 or epoch % max(1, epochs // 4) == 0:
            self._write(text)


@contextlib.contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """`with timed() as elapsed: ...; elapsed()` gives seconds since the block began."""
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start
