"""Sources that read files: images or WAV clips in one folder per class, CSV sensor logs.

Class folders are sorted by name; that order is the class index. A `group_pattern` regex
applied to each file's name (its first group, else the whole match) gives the group id
that keeps, for instance, one speaker's clips in one split.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from tinykit.config import Config, DataConfig
from tinykit.data import audio
from tinykit.data.dataset import RawData
from tinykit.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".tif", ".tiff")
AUDIO_SUFFIXES = (".wav",)


def class_files(root: Path, suffixes: tuple[str, ...]) -> list[tuple[str, list[Path]]]:
    """(class name, files) for each sub-folder of `root`, sorted; raises DataError if none."""
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist",
                        hint="set data.path to a folder with one sub-folder per class")
    classes = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)
        if files:
            classes.append((folder.name, files))
    if not classes:
        raise DataError(
            f"no {'/'.join(suffixes)} files in class folders under {root}",
            hint=f"lay the data out as {root}/<class name>/<file>",
        )
    return classes


def _group_of(path: Path, pattern: re.Pattern[str] | None) -> str:
    if pattern is None:
        return ""
    match = pattern.search(path.name)
    if match is None:
        raise DataError(f"data.group_pattern {pattern.pattern!r} does not match {path.name}",
                        hint="fix the pattern or leave it empty for no groups")
    return match.group(1) if match.groups() else match.group(0)


def _compile(pattern: str) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        from tinykit.errors import ConfigError

        raise ConfigError(f"data.group_pattern {pattern!r} is not a valid regex: {exc}") from exc


def _collect(
    classes: list[tuple[str, list[Path]]], cfg: DataConfig, read: object, kind: str,
    description: str,
) -> RawData:
    pattern = _compile(cfg.group_pattern)
    samples, labels, groups, paths = [], [], [], []
    for index, (_, files) in enumerate(classes):
        for path in files:
            samples.append(read(path))  # type: ignore[operator]
            labels.append(index)
            groups.append(_group_of(path, pattern))
            paths.append(path)
    first = samples[0].shape
    for path, sample in zip(paths, samples, strict=True):
        if sample.shape != first:
            raise DataError(
                f"samples differ in shape: {path} is {sample.shape}, {paths[0]} is {first}",
                hint="set data.image_size = [height, width] to resize images",
            )
    return RawData(
        x=np.stack(samples).astype(np.float32), y=np.asarray(labels, np.int64),
        class_names=tuple(name for name, _ in classes), kind=kind, description=description,
        groups=np.asarray(groups) if pattern is not None else None,
    )


def load_image_folder(config: Config) -> RawData:
    """Images in `data.path/<class>/`; grayscale or RGB, resized to `data.image_size`."""
    from PIL import Image, UnidentifiedImageError

    cfg = config.data
    root = config.resolve(cfg.path)
    mode = "L" if cfg.color == "grayscale" else "RGB"

    def read(path: Path) -> np.ndarray:
        try:
            with Image.open(path) as opened:
                image = opened.convert(mode)
            if cfg.image_size:
                height, width = cfg.image_size
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.float32)
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"cannot read image {path}: {exc}") from exc
        return array[..., None] if array.ndim == 2 else array

    classes = class_files(root, IMAGE_SUFFIXES)
    return _collect(classes, cfg, read, "image", f"images in {root}")


def load_audio_folder(config: Config) -> RawData:
    """WAV clips in `data.path/<class>/`, resampled and turned into `data.audio` features."""
    from scipy.io import wavfile

    cfg = config.data
    root = config.resolve(cfg.path)

    def read(path: Path) -> np.ndarray:
        try:
            rate, samples = wavfile.read(path)
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot read WAV file {path}: {exc}") from exc
        signal = audio.resample(audio.to_float(samples), int(rate), cfg.audio.sample_rate)
        return audio.features(signal, cfg.audio)

    classes = class_files(root, AUDIO_SUFFIXES)
    return _collect(classes, cfg, read, "audio", f"WAV clips in {root}")


def load_csv(config: Config) -> RawData:
    """Windows of `data.csv.window` rows from one CSV file or a folder of them.

    Each file is one recording. A window never spans two labels, two groups or two files.
    Windows become `(window, 1, channels)` so that 2-D convolutions run along time.
    """
    cfg = config.data
    path = config.resolve(cfg.path)
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise DataError(f"no CSV file at {path}", hint="set data.path to a .csv file or folder")
    windows: list[np.ndarray] = []
    labels: list[str] = []
    groups: list[str] = []
    recording: list[int] = []
    position: list[int] = []
    for number, file in enumerate(files):
        rows, names = _read_rows(file, cfg)
        for start, x, label, group in _windows(rows, names, cfg, file):
            windows.append(x)
            labels.append(label)
            groups.append(group)
            recording.append(number)
            position.append(start)
    if not windows:
        raise DataError(f"no window of {cfg.csv.window} rows with one label in {path}",
                        hint="lower data.csv.window or check the label column")
    class_names = tuple(sorted(set(labels)))
    lookup = {name: i for i, name in enumerate(class_names)}
    return RawData(
        x=np.stack(windows)[:, :, None, :].astype(np.float32),
        y=np.asarray([lookup[label] for label in labels], np.int64),
        class_names=class_names, kind="series", description=f"CSV windows from {path}",
        groups=np.asarray(groups) if cfg.csv.group_column else None,
        recording=np.asarray(recording), position=np.asarray(position), span=cfg.csv.window,
    )


def _read_rows(file: Path, cfg: DataConfig) -> tuple[list[dict[str, str]], list[str]]:
    try:
        with open(file, newline="") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read CSV file {file}: {exc}") from exc
    spec = cfg.csv
    needed = [spec.label_column, spec.group_column, spec.time_column, *spec.feature_columns]
    missing = [c for c in needed if c and c not in header]
    if missing:
        raise DataError(f"{file}: no column {', '.join(map(repr, missing))}; "
                        f"columns: {', '.join(header)}",
                        hint="set data.csv.label_column / group_column / feature_columns")
    special = {spec.label_column, spec.group_column, spec.time_column}
    names = list(spec.feature_columns) or [c for c in header if c not in special]
    if spec.time_column:
        try:
            rows.sort(key=lambda row: float(row[spec.time_column]))
        except ValueError as exc:
            raise DataError(f"{file}: column {spec.time_column!r} is not numeric: {exc}") from exc
    return rows, names


def _windows(rows: list[dict[str, str]], names: list[str], cfg: DataConfig, file: Path):
    """Yield (start row, window array, label, group) for runs of one label and group."""
    spec = cfg.csv
    try:
        values = np.array([[float(row[n]) if row[n] != "" else np.nan for n in names]
                           for row in rows], np.float32).reshape(len(rows), len(names))
    except ValueError as exc:
        raise DataError(f"{file}: a feature column is not numeric: {exc}",
                        hint="list the numeric columns in data.csv.feature_columns") from exc
    keys = [(row[spec.label_column], row[spec.group_column] if spec.group_column else "")
            for row in rows]
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and keys[end] == keys[start]:
            end += 1
        for first in range(start, end - spec.window + 1, spec.stride):
            yield first, values[first:first + spec.window], keys[start][0], keys[start][1]
        start = end
