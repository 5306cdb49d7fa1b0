"""The two forms data takes: `RawData` as a source gives it, `Splits` as training uses it."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinykit.fsutil import write_bytes_atomic

#: What a sample is; it decides augmentation and which models make sense.
KINDS = ("image", "audio", "series", "features")
SPLIT_NAMES = ("train", "val", "test")


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """A compressed .npz (readable by `np.load`) whose bytes depend only on the arrays.

    `np.savez` stamps each member with the current time; identical results must give
    identical files (and cache digests), so members get a fixed date here.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


@dataclass
class RawData:
    """Every sample of a source, before splitting.

    `x` is float32 with one sample per row (images `(N, H, W, C)`, audio features
    `(N, frames, coefficients, 1)`, sensor windows `(N, T, 1, channels)`), `y` int64 class
    indices into `class_names`. Optional per-sample arrays: `groups` (a speaker, a subject:
    samples of one group never straddle splits), `recording` and `position` (where a window
    sits in time, for time-ordered splits), `given_split` ("train"/"val"/"test" where the
    source defines its own splits, "" where it does not).
    """

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    kind: str
    description: str
    groups: np.ndarray | None = None
    recording: np.ndarray | None = None
    position: np.ndarray | None = None
    span: int = 0
    given_split: np.ndarray | None = None

    def take(self, keep: np.ndarray) -> RawData:
        """The samples at indices (or where the mask is true) `keep`."""
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[keep]

        return RawData(
            x=self.x[keep], y=self.y[keep], class_names=self.class_names, kind=self.kind,
            description=self.description, groups=pick(self.groups),
            recording=pick(self.recording), position=pick(self.position), span=self.span,
            given_split=pick(self.given_split),
        )


@dataclass(frozen=True)
class Splits:
    """Train, validation and test arrays with what was learned on the training split.

    `mean` and `inv_std` (float32, one value per channel, the last axis) standardize inputs
    inside the model; `class_weights` maps class index to loss weight, or is None.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    kind: str
    mean: np.ndarray
    inv_std: np.ndarray
    class_weights: dict[int, float] | None = None
    summary: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of "train", "val" or "test"."""
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def save(self, path: Path) -> None:
        """Write every array and the metadata to one .npz (atomically)."""
        meta = {"class_names": list(self.class_names), "kind": self.kind,
                "class_weights": self.class_weights, "summary": self.summary}
        write_bytes_atomic(path, npz_bytes({
            "x_train": self.x_train, "y_train": self.y_train, "x_val": self.x_val,
            "y_val": self.y_val, "x_test": self.x_test, "y_test": self.y_test,
            "mean": self.mean, "inv_std": self.inv_std,
            "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8),
        }))

    @classmethod
    def load(cls, path: Path) -> Splits:
        with np.load(path) as arrays:
            meta = json.loads(arrays["meta"].tobytes().decode())
            weights = meta["class_weights"]
            return cls(
                x_train=arrays["x_train"], y_train=arrays["y_train"], x_val=arrays["x_val"],
                y_val=arrays["y_val"], x_test=arrays["x_test"], y_test=arrays["y_test"],
                class_names=tuple(meta["class_names"]), kind=meta["kind"],
                mean=arrays["mean"], inv_std=arrays["inv_std"],
                class_weights={int(k): float(v) for k, v in weights.items()} if weights else None,
                summary=meta["summary"],
            )
