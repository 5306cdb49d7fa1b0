"""The tensorflow-datasets loader reads real prepared data directories the test writes.

Nothing can be downloaded here, so each test builder subclasses the real tfds builder
(same name, version and features) and only replaces where examples come from; tfds then
writes its real TFRecord files and dataset_info.json, which the loader reads through
`tfds.builder(name, data_dir=...)` exactly as it would read a downloaded copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinykit.config import config_from_dict
from tinykit.data.prepare import prepare
from tinykit.data.sources import load_raw
from tinykit.errors import DataError

pytestmark = pytest.mark.slow  # imports TensorFlow and writes TFRecords


def _builder_class(tfds, name: str, splits: dict[str, int], example):
    base = type(tfds.builder(name, data_dir="/nonexistent"))

    class Small(base, skip_registration=True):  # type: ignore[misc, valid-type]
        def _split_generators(self, dl_manager):
            return {split: self._make(count, s) for s, (split, count) in enumerate(splits.items())}

        def _make(self, count, seed):
            rng = np.random.default_rng(seed)
            for i in range(count):
                yield f"{seed}-{i}", example(rng, i)

    Small.name = name
    return Small


@pytest.fixture(scope="module")
def tfds():
    from tinykit._tf import tfds as door

    return door()


def _prepare(tfds, data_dir: Path, name: str, splits: dict[str, int], example) -> None:
    builder = _builder_class(tfds, name, splits, example)(data_dir=str(data_dir))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(data_dir)))


def _image(shape):
    def example(rng, i):
        record = {"image": rng.integers(0, 255, shape, dtype=np.uint8), "label": i % 10}
        return record

    return example


@pytest.mark.parametrize(("name", "shape"), [("mnist", (28, 28, 1)),
                                             ("fashion_mnist", (28, 28, 1)),
                                             ("cifar10", (32, 32, 3))])
def test_image_data_sets_keep_their_test_split(tfds, tmp_path, name, shape):
    make = _image(shape)
    example = (lambda rng, i: {**make(rng, i), "id": f"img{i}"}) if name == "cifar10" else make
    _prepare(tfds, tmp_path, name, {"train": 60, "test": 20}, example)
    config = config_from_dict({"data": {"source": "tfds", "name": name, "path": str(tmp_path)}})
    raw = load_raw(config)
    assert raw.x.shape == (80, *shape) and raw.kind == "image"
    assert sorted(set(raw.given_split.tolist())) == ["test", "train"]
    assert len(raw.class_names) == 10 and set(raw.y.tolist()) == set(range(10))
    data = prepare(config)
    assert data.summary["sizes"]["test"] == 20 and data.summary["split"].startswith("given")
    assert data.x_train.max() <= 255


def test_speech_commands_clips_become_mfcc_features(tfds, tmp_path):
    def clip(rng, i):
        t = np.arange(16000) / 16000
        tone = (0.3 * np.sin(2 * np.pi * (200 + 150 * (i % 12)) * t)
                + 0.01 * rng.normal(size=t.shape)) * 32767
        return {"audio": tone[: 12000 + 100 * i].astype(np.int16), "label": i % 12}

    _prepare(tfds, tmp_path, "speech_commands",
             {"train": 36, "validation": 12, "test": 12}, clip)
    config = config_from_dict({"data": {"source": "tfds", "name": "speech_commands",
                                        "path": str(tmp_path)}})
    raw = load_raw(config)
    assert raw.kind == "audio" and raw.x.shape == (60, 49, 10, 1)
    assert "_silence_" in raw.class_names or len(raw.class_names) == 12
    data = prepare(config)
    assert data.summary["split"] == "given" and data.summary["sizes"] == {
        "train": 36, "val": 12, "test": 12}


def test_unprepared_and_unsupported_data_sets_are_data_errors(tfds, tmp_path):
    missing = config_from_dict({"data": {"source": "tfds", "name": "mnist",
                                         "path": str(tmp_path / "empty")}})
    with pytest.raises(DataError, match="not prepared") as caught:
        load_raw(missing)
    assert "tfds build mnist" in (caught.value.hint or "")
    other = config_from_dict({"data": {"source": "tfds", "name": "imagenet2012"}})
    with pytest.raises(DataError, match="not supported; supported: mnist, fashion_mnist"):
        load_raw(other)
