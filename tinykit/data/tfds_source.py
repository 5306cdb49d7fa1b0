"""tensorflow-datasets as a source: mnist, fashion_mnist, cifar10 and speech_commands.

The data must be prepared in `data.path` (the tfds data_dir; default
~/tensorflow_datasets) or `data.download = true` lets tfds fetch it. The splits the data
set defines are kept: its test split stays the test split, so figures compare with
published ones; a validation split is carved from train when it has none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinykit.config import Config
from tinykit.data import audio
from tinykit.data.dataset import RawData
from tinykit.errors import DataError

#: name -> (sample kind, feature key holding the sample)
SUPPORTED: dict[str, tuple[str, str]] = {
    "mnist": ("image", "image"),
    "fashion_mnist": ("image", "image"),
    "cifar10": ("image", "image"),
    "speech_commands": ("audio", "audio"),
}
_SPLIT_NAMES = {"train": "train", "validation": "val", "test": "test"}


def load_tfds(config: Config) -> RawData:
    """Every split of a prepared tfds data set as one `RawData` with `given_split` set."""
    cfg = config.data
    if cfg.name not in SUPPORTED:
        raise DataError(f"tensorflow-datasets '{cfg.name}' is not supported; supported: "
                        f"{', '.join(SUPPORTED)}",
                        hint="or export it to class folders and use data.source = "
                             "'image_folder' / 'audio_folder'")
    from tinykit._tf import tfds

    module = tfds()
    data_dir = str(config.resolve(cfg.path)) if cfg.path else None
    builder = module.builder(cfg.name, data_dir=data_dir)
    if not builder.is_prepared():
        if not cfg.download:
            raise DataError(
                f"tensorflow-datasets '{cfg.name}' is not prepared in {builder.data_dir}",
                hint=f"run `tfds build {cfg.name} --data_dir DIR` where there is internet and "
                     "set data.path = DIR, or set data.download = true",
            )
        builder.download_and_prepare()
    kind, key = SUPPORTED[cfg.name]
    splits = [s for s in builder.info.splits if s in _SPLIT_NAMES]
    total = sum(builder.info.splits[s].num_examples for s in splits)
    parts: list[tuple[np.ndarray, np.ndarray, str]] = []
    for split in splits:
        count = builder.info.splits[split].num_examples
        if cfg.max_samples:
            count = max(1, int(count * min(1.0, cfg.max_samples / max(total, 1))))
        dataset = builder.as_dataset(split=f"{split}[:{count}]", shuffle_files=False)
        x, y = _read(module, dataset, key, kind, config)
        if len(y):
            parts.append((x, y, _SPLIT_NAMES[split]))
    if not parts:
        raise DataError(f"tensorflow-datasets '{cfg.name}' in {builder.data_dir} is empty")
    names = tuple(builder.info.features["label"].names)
    return RawData(
        x=np.concatenate([p[0] for p in parts]), y=np.concatenate([p[1] for p in parts]),
        class_names=names, kind=kind,
        description=f"tensorflow-datasets {cfg.name} {builder.version} ({builder.data_dir})",
        given_split=np.concatenate([np.full(len(p[1]), p[2]) for p in parts]),
    )


def _read(module: Any, dataset: Any, key: str, kind: str,
          config: Config) -> tuple[np.ndarray, np.ndarray]:
    samples: list[np.ndarray] = []
    labels: list[int] = []
    if kind == "image":
        for batch in module.as_numpy(dataset.batch(1024)):
            samples.extend(batch[key].astype(np.float32))
            labels.extend(int(v) for v in batch["label"])
    else:
        settings = config.data.audio
        for example in module.as_numpy(dataset):
            signal = audio.to_float(example[key])
            samples.append(audio.features(signal, settings))
            labels.append(int(example["label"]))
    if not samples:
        return np.zeros((0,), np.float32), np.zeros((0,), np.int64)
    return np.stack(samples), np.asarray(labels, np.int64)
