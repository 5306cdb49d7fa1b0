"""The folder and CSV loaders read files the tests write (nothing is downloaded)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import wavfile

from tinykit.config import AudioConfig, config_from_dict
from tinykit.data import audio
from tinykit.data.prepare import prepare
from tinykit.data.sources import fingerprint, load_raw
from tinykit.errors import ConfigError, DataError


def _images(root: Path, classes=("cat", "dog"), per_class=6, size=(12, 10), mode="L"):
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            shape = (size[0], size[1]) if mode == "L" else (size[0], size[1], 3)
            pixels = (rng.integers(0, 60, shape) + 150 * c).astype(np.uint8)
            Image.fromarray(pixels, mode=mode).save(root / name / f"p{i % 3}_{i}.png")


def test_image_folder_reads_classes_in_order_with_groups(tmp_path: Path):
    _images(tmp_path / "img")
    config = config_from_dict({"data": {"source": "image_folder", "path": "img",
                                        "group_pattern": r"^(p\d)_"}}, base_dir=tmp_path)
    raw = load_raw(config)
    assert raw.class_names == ("cat", "dog") and raw.kind == "image"
    assert raw.x.shape == (12, 12, 10, 1) and raw.x.dtype == np.float32
    assert raw.x[raw.y == 1].mean() > raw.x[raw.y == 0].mean() + 100
    assert sorted(set(raw.groups.tolist())) == ["p0", "p1", "p2"]


def test_image_folder_resizes_and_converts_to_rgb(tmp_path: Path):
    _images(tmp_path / "img", mode="RGB")
    (tmp_path / "img" / "dog" / "notes.txt").write_text("ignored")
    config = config_from_dict({"data": {"source": "image_folder", "path": str(tmp_path / "img"),
                                        "image_size": [8, 6], "color": "rgb"}})
    raw = load_raw(config)
    assert raw.x.shape == (12, 8, 6, 3)


def test_image_folder_errors_name_the_problem(tmp_path: Path):
    config = config_from_dict({"data": {"source": "image_folder", "path": "none"}},
                              base_dir=tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_raw(config)
    (tmp_path / "none" / "empty_class").mkdir(parents=True)
    with pytest.raises(DataError, match="no .* files in class folders"):
        load_raw(config)
    _images(tmp_path / "mixed", per_class=2)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "mixed" / "cat" / "odd.png")
    mixed = config_from_dict({"data": {"source": "image_folder", "path": "mixed"}},
                             base_dir=tmp_path)
    with pytest.raises(DataError, match="differ in shape"):
        load_raw(mixed)
    (tmp_path / "mixed" / "cat" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read image"):
        load_raw(mixed)
    with pytest.raises(ConfigError, match="not a valid regex"):
        load_raw(config_from_dict({"data": {"source": "image_folder", "path": "mixed",
                                            "group_pattern": "("}}, base_dir=tmp_path))


def test_single_class_folder_is_refused_by_prepare(tmp_path: Path):
    _images(tmp_path / "one", classes=("only",))
    config = config_from_dict({"data": {"source": "image_folder", "path": "one"}},
                              base_dir=tmp_path)
    with pytest.raises(DataError, match="single class"):
        prepare(config)


def _tone(freq: float, rate: int, seconds: float, dtype=np.int16) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t)
    if dtype == np.float32:
        return wave.astype(np.float32)
    return (wave * 32767).astype(dtype)


def test_audio_folder_gives_mfcc_features_and_speaker_groups(tmp_path: Path):
    root = tmp_path / "wav"
    for label, freq in (("low", 300.0), ("high", 3000.0)):
        (root / label).mkdir(parents=True)
        for speaker in ("aa11", "bb22", "cc33"):
            for n in range(2):
                wavfile.write(root / label / f"{speaker}_nohash_{n}.wav", 16000,
                              _tone(freq * (1 + 0.05 * n), 16000, 0.8))
    # another rate and float samples are resampled and scaled
    wavfile.write(root / "low" / "dd44_nohash_0.wav", 8000, _tone(300.0, 8000, 1.2, np.float32))
    config = config_from_dict({"data": {"source": "audio_folder", "path": "wav",
                                        "group_pattern": r"^([0-9a-f]+)_nohash_"}},
                              base_dir=tmp_path)
    raw = load_raw(config)
    assert raw.kind == "audio" and raw.x.shape == (13, 49, 10, 1)
    assert raw.class_names == ("high", "low")
    assert set(raw.groups.tolist()) == {"aa11", "bb22", "cc33", "dd44"}
    # the resampled 8 kHz clip looks like the 16 kHz clips of its class
    low = raw.x[raw.y == 1]
    assert np.abs(low[-1] - low[0]).mean() < np.abs(raw.x[0] - low[0]).mean()


def test_audio_features_shape_and_log_mel():
    cfg = AudioConfig()
    assert audio.feature_shape(cfg) == (49, 10, 1)
    signal = audio.to_float(_tone(1000.0, 16000, 1.0))
    assert np.abs(signal).max() <= 1.0
    mel = audio.features(signal, AudioConfig(features="log_mel", mel_bins=32))
    assert mel.shape == (49, 32, 1)
    peak = int(np.argmax(mel[10, :, 0]))
    assert 5 < peak < 25  # 1 kHz sits in the lower-middle mel bins
    assert audio.to_float(np.array([0, 255], np.uint8)).tolist() == [-1.0, 127 / 128]


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_csv_windows_never_span_labels_and_split_in_time(tmp_path: Path):
    rows = []
    for t in range(600):
        label = ["walk", "run", "sit"][(t // 100) % 3]
        rows.append({"t": t, "ax": np.sin(t / 5) * (t // 100 + 1), "ay": t % 7,
                     "label": label})
    rows.reverse()  # the time column puts them back in order
    _write_csv(tmp_path / "log.csv", rows)
    config = config_from_dict({"data": {"source": "csv", "path": "log.csv",
                                        "csv": {"time_column": "t", "window": 20,
                                                "stride": 10}}}, base_dir=tmp_path)
    raw = load_raw(config)
    assert raw.kind == "series" and raw.x.shape[1:] == (20, 1, 2)  # ax, ay
    assert raw.class_names == ("run", "sit", "walk")
    # a window of 20 starting every 10 rows inside each run of 100 rows: 9 per run
    assert len(raw.y) == 6 * 9
    data = prepare(config)
    assert data.summary["split"] == "time"


def test_csv_feature_columns_groups_and_errors(tmp_path: Path):
    rows = [{"a": i, "b": -i, "who": f"p{i // 40}", "label": "x" if i % 40 < 20 else "y"}
            for i in range(200)]
    _write_csv(tmp_path / "d.csv", rows)
    base = {"source": "csv", "path": "d.csv"}
    config = config_from_dict({"data": {**base, "csv": {
        "feature_columns": ["a"], "group_column": "who", "window": 10, "stride": 5}}},
        base_dir=tmp_path)
    raw = load_raw(config)
    assert raw.x.shape[1:] == (10, 1, 1) and raw.groups is not None
    assert prepare(config).summary["split"] == "grouped"
    missing = config_from_dict({"data": {**base, "csv": {"label_column": "class"}}},
                               base_dir=tmp_path)
    with pytest.raises(DataError, match="no column 'class'"):
        load_raw(missing)
    with pytest.raises(DataError, match="not numeric.*'p0'"):
        load_raw(config_from_dict({"data": base}, base_dir=tmp_path))
    too_long = config_from_dict({"data": {**base, "csv": {"window": 64, "stride": 8,
                                                          "group_column": "who"}}},
                                base_dir=tmp_path)
    with pytest.raises(DataError, match="no window of 64 rows"):
        load_raw(too_long)
    (tmp_path / "header.csv").write_text("a,b,label\n")
    empty = config_from_dict({"data": {**base, "path": "header.csv"}}, base_dir=tmp_path)
    with pytest.raises(DataError, match="no window"):
        load_raw(empty)


def test_fingerprint_changes_when_files_change(tmp_path: Path):
    _images(tmp_path / "img", per_class=3)
    config = config_from_dict({"data": {"source": "image_folder", "path": "img"}},
                              base_dir=tmp_path)
    before = fingerprint(config)
    Image.fromarray(np.zeros((12, 10), np.uint8)).save(tmp_path / "img" / "cat" / "new.png")
    assert fingerprint(config) != before
    assert "sklearn" in fingerprint(config_from_dict({}))
