"""The stage runner and its cache, with small stages that need no TensorFlow."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tinykit.build import MARKER, BuildOptions, _check_out, cache_dir_for
from tinykit.config import config_from_dict
from tinykit.errors import OutputError
from tinykit.pipeline import MANIFEST, Progress, Stage, run_stages, stage_key
from tinykit.targets import load_target

CALLS: list[str] = []


def produce(ctx):
    CALLS.append(ctx.stage.name)
    (ctx.work / "value.txt").write_text(f"seed={ctx.config.seed}\n")
    return {"seed": ctx.config.seed}


def consume(ctx):
    CALLS.append(ctx.stage.name)
    text = ctx.input("produce").file("value.txt").read_text()
    (ctx.work / "double.txt").write_text(text * 2)
    return {"upstream": ctx.input("produce").summary["seed"]}


def per_target(ctx):
    CALLS.append(ctx.stage.name)
    (ctx.out / "target.txt").write_text(ctx.target.name)
    return {"target": ctx.target.name, "timed": sorted(ctx.timings)}


def explode(ctx):
    (ctx.work / "half-written.bin").write_bytes(b"x")
    raise KeyboardInterrupt


def explode_in_out(ctx):
    (ctx.out / "report.json").write_text("{half")
    raise KeyboardInterrupt


STAGES = [
    Stage("produce", f"{__name__}:produce", config=("seed",)),
    Stage("consume", f"{__name__}:consume", config=("teacher",), inputs=("produce",),
          publish=("*.txt",)),
    Stage("per_target", f"{__name__}:per_target", per_target=True, cached=False),
]


def _run(tmp_path: Path, seed: int = 0, target: str = "cortex-m4", force: bool = False,
         stages=None):
    CALLS.clear()
    out = tmp_path / "out" / target
    out.mkdir(parents=True, exist_ok=True)
    stream = io.StringIO()
    artifacts = run_stages(stages or STAGES, config_from_dict({"seed": seed}),
                           load_target(target), out, tmp_path / "cache",
                           Progress(stream=stream), force=force)
    return artifacts, stream.getvalue(), out


def test_second_run_reuses_every_cached_stage(tmp_path: Path):
    first, log, out = _run(tmp_path)
    assert CALLS == ["produce", "consume", "per_target"]
    assert (out / "double.txt").read_text() == "seed=0\nseed=0\n"  # published
    assert (out / "target.txt").read_text() == "cortex-m4"
    assert "[1/3] produce" in log and "produce: done in" in log
    second, log, _ = _run(tmp_path, target="cortex-m7")
    assert CALLS == ["per_target"]
    assert "produce: reused from cache" in log and "consume: reused from cache" in log
    assert second["consume"].cached and second["consume"].digest == first["consume"].digest
    assert second["per_target"].summary == {"target": "cortex-m7",
                                            "timed": ["consume", "produce"]}


def test_a_config_change_reruns_the_stage_and_everything_downstream(tmp_path: Path):
    first, _, _ = _run(tmp_path, seed=0)
    second, _, _ = _run(tmp_path, seed=1)
    assert CALLS == ["produce", "consume", "per_target"]
    assert second["produce"].key != first["produce"].key
    # consume's config did not change, but its input's content did
    assert second["consume"].key != first["consume"].key
    _run(tmp_path, seed=0, force=True)
    assert CALLS == ["produce", "consume", "per_target"]


def test_cache_folder_holds_a_manifest_with_file_hashes(tmp_path: Path):
    artifacts, _, _ = _run(tmp_path)
    folder = artifacts["produce"].path
    assert folder.parent == tmp_path / "cache" and folder.name.startswith("produce-")
    manifest = json.loads((folder / MANIFEST).read_text())
    assert set(manifest["files"]) == {"value.txt"} and manifest["summary"] == {"seed": 0}


def test_a_damaged_cache_entry_is_rebuilt(tmp_path: Path):
    artifacts, _, _ = _run(tmp_path)
    (artifacts["produce"].path / "value.txt").write_text("tampered")
    _run(tmp_path)
    # produce runs again and yields the same content, so consume is still reused
    assert CALLS == ["produce", "per_target"]
    (artifacts["produce"].path / MANIFEST).unlink()
    _run(tmp_path)
    assert CALLS == ["produce", "per_target"]


def test_an_interrupted_stage_leaves_no_cache_entry(tmp_path: Path):
    stages = [STAGES[0], Stage("explode", f"{__name__}:explode", inputs=("produce",))]
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, stages=stages)
    names = [p.name for p in (tmp_path / "cache").iterdir()]
    assert len(names) == 1 and names[0].startswith("produce-")


def test_key_covers_version_target_and_fingerprint(tmp_path: Path):
    config = config_from_dict({})
    m4, m7 = load_target("cortex-m4"), load_target("cortex-m7")
    plain = Stage("s", f"{__name__}:produce", config=("data",))
    assert stage_key(plain, config, m4, {}) == stage_key(plain, config, m7, {})
    targeted = Stage("s", f"{__name__}:produce", config=("data",), per_target=True)
    assert stage_key(targeted, config, m4, {}) != stage_key(targeted, config, m7, {})
    bumped = Stage("s", f"{__name__}:produce", config=("data",), version=2)
    assert stage_key(bumped, config, m4, {}) != stage_key(plain, config, m4, {})
    printed = Stage("s", f"{__name__}:produce", fingerprint="tinykit.data.sources:fingerprint")
    assert stage_key(printed, config, m4, {}) != stage_key(
        Stage("s", f"{__name__}:produce"), config, m4, {})


def test_output_folder_checks(tmp_path: Path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match="not a tinykit build"):
        _check_out(foreign)
    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / MARKER).write_text("tinykit build")
    (previous / "report.json").write_text("{}")
    _check_out(previous)  # a previous build may be replaced
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        _check_out(a_file)
    with pytest.raises(OutputError, match="cannot write the output folder"):
        _check_out(a_file / "sub" / "cortex-m4")


def test_cache_dir_defaults_beside_the_output(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("TINYKIT_CACHE_DIR", raising=False)
    assert cache_dir_for(BuildOptions(), tmp_path / "cortex-m4") == tmp_path / "cache"
    monkeypatch.setenv("TINYKIT_CACHE_DIR", str(tmp_path / "env"))
    assert cache_dir_for(BuildOptions(), tmp_path / "x") == tmp_path / "env"
    assert cache_dir_for(BuildOptions(cache_dir=tmp_path / "c"), tmp_path / "x") == (
        tmp_path / "c")


def test_progress_prints_epochs_sparingly_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream=stream)
    for epoch in range(1, 41):
        progress.epoch("teacher", epoch, 40, {"loss": 0.5, "accuracy": 0.9, "lr": 1.0})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5 and lines[-1].strip().startswith("teacher: epoch 40/40")
    assert "lr" not in lines[0]
    quiet = io.StringIO()
    Progress(stream=quiet, quiet=True).info("x")
    assert quiet.getvalue() == ""


def test_an_interrupted_build_keeps_the_previous_complete_output(tmp_path: Path):
    from tinykit.build import build

    out = tmp_path / "build" / "cortex-m4"
    options = BuildOptions(out=out, quiet=True)
    build(options, stages=STAGES)
    assert (out / "target.txt").read_text() == "cortex-m4" and (out / MARKER).exists()
    stages = [*STAGES, Stage("explode", f"{__name__}:explode_in_out", per_target=True,
                             cached=False)]
    with pytest.raises(KeyboardInterrupt):
        build(options, stages=stages)
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "double.txt",
                                                            "target.txt"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["cache", "cortex-m4"]  # no staging
    fresh = tmp_path / "fresh" / "cortex-m4"
    with pytest.raises(KeyboardInterrupt):
        build(BuildOptions(out=fresh, quiet=True), stages=stages)
    assert not fresh.exists()
