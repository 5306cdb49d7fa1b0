"""Where samples come from: one loader per `data.source`, and a fingerprint for the cache."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinykit.config import Config
from tinykit.data.dataset import RawData


def load_digits(config: Config) -> RawData:
    """scikit-learn's bundled 8x8 digits (1797 images, values 0..16); no download."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return RawData(
        x=bunch.images.astype(np.float32)[..., None], y=bunch.target.astype(np.int64),
        class_names=tuple(str(name) for name in bunch.target_names), kind="image",
        description="scikit-learn digits (8x8 grayscale, 10 classes)",
    )


def _load_tfds(config: Config) -> RawData:
    from tinykit.data.tfds_source import load_tfds

    return load_tfds(config)


def _load_files(kind: str) -> Callable[[Config], RawData]:
    def load(config: Config) -> RawData:
        from tinykit.data import files

        loader = {"image_folder": files.load_image_folder,
                  "audio_folder": files.load_audio_folder, "csv": files.load_csv}[kind]
        return loader(config)

    return load


#: data.source -> loader
SOURCES: dict[str, Callable[[Config], RawData]] = {
    "digits": load_digits,
    "tfds": _load_tfds,
    "image_folder": _load_files("image_folder"),
    "audio_folder": _load_files("audio_folder"),
    "csv": _load_files("csv"),
}


def load_raw(config: Config) -> RawData:
    """All samples of the configured source (may raise DataError)."""
    return SOURCES[config.data.source](config)


def fingerprint(config: Config) -> dict[str, Any]:
    """What identifies the source's content without reading it all (part of the cache key).

    Files count by relative path, size and modification time; the bundled digits by the
    scikit-learn version.
    """
    cfg = config.data
    if cfg.source == "digits":
        from importlib.metadata import version  # importing sklearn itself takes a second

        return {"sklearn": version("scikit-learn")}
    if cfg.source == "tfds":
        root = config.resolve(cfg.path) / cfg.name if cfg.path else None
        return {"name": cfg.name, "files": _listing(root) if root else "default data_dir"}
    return {"files": _listing(config.resolve(cfg.path))}


def _listing(root: Path) -> str:
    digest = hashlib.sha256()
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.relative_to(root.parent)}\0{stat.st_size}\0"
                      f"{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
