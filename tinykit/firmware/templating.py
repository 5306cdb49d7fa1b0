"""Jinja2 set-up shared by the template families in firmware_templates/.

A file ending in `.jinja` is rendered (the suffix dropped); any other file is copied as
it is. StrictUndefined turns a value the template names but the context lacks into an
error, so a template never silently renders an empty string.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import jinja2

from tinykit.errors import ConfigError
from tinykit.fsutil import write_bytes_atomic
from tinykit.paths import templates_dir

FAMILIES = ("baremetal", "cmake-lib", "arduino")


def family_dir(family: str) -> Path:
    """Folder of one template family; raises ConfigError naming the known ones."""
    if family not in FAMILIES:
        raise ConfigError(
            f"unknown firmware template '{family}'; known: {', '.join(FAMILIES)}",
            hint="set [firmware] template in the target file to one of them",
        )
    return templates_dir() / family


def environment(family: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(family_dir(family))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_tree(
    env: jinja2.Environment,
    files: Iterable[str],
    context: Mapping[str, object],
    out_dir: Path,
    rename: Mapping[str, str] | None = None,
) -> list[Path]:
    """Render or copy `files` (paths relative to the family folder) into `out_dir`."""
    root = Path(env.loader.searchpath[0])  # type: ignore[union-attr]
    written = []
    for name in sorted(files):
        target_name = (rename or {}).get(name, name)
        if target_name.endswith(".jinja"):
            target_name = target_name[: -len(".jinja")]
        target = out_dir / target_name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".jinja"):
            text = env.get_template(name).render(**context)
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(root / name, target)
        written.append(target)
    return written


def sync_tree(source: Path, dest: Path, keep: Iterable[str] = ("build",)) -> None:
    """Make `dest` hold exactly the files of `source`, rewriting only the changed ones.

    Unchanged files keep their timestamps, so `make` rebuilds only what changed; each
    changed file is replaced atomically. Top-level entries named in `keep` (the build
    output) are left alone.
    """
    wanted = {p.relative_to(source) for p in source.rglob("*") if p.is_file()}
    for relative in sorted(wanted):
        data = (source / relative).read_bytes()
        target = dest / relative
        if not (target.is_file() and target.read_bytes() == data):
            write_bytes_atomic(target, data)
    if not dest.is_dir():
        return
    for path in sorted(dest.rglob("*"), reverse=True):
        relative = path.relative_to(dest)
        if relative.parts[0] in keep:
            continue
        if path.is_file() and relative not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
