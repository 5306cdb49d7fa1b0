"""Checks run on the data before training; what they find goes into the report.

Fatal findings raise `DataError` (no samples, a single class, an empty split). The rest
are fixed where that is safe (samples with NaN or infinity are dropped; validation and
test samples identical to a training sample are dropped when `data.drop_duplicates`) and
reported: constant features, duplicates, classes missing from a split, imbalance.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from tinykit.data.dataset import RawData
from tinykit.errors import DataError


def check_raw(raw: RawData) -> tuple[RawData, dict[str, Any]]:
    """Refuse empty or single-class data; drop samples holding NaN or infinity."""
    if len(raw.y) == 0:
        raise DataError(f"the data set is empty: {raw.description}",
                        hint="check data.source and data.path")
    finite = np.isfinite(raw.x.reshape(len(raw.x), -1)).all(axis=1)
    dropped = int(np.count_nonzero(~finite))
    if dropped:
        raw = raw.take(finite)
    if len(raw.y) == 0:
        raise DataError(f"every sample holds NaN or infinity: {raw.description}")
    present = np.unique(raw.y)
    if len(present) < 2:
        only = raw.class_names[int(present[0])] if len(raw.class_names) else "?"
        raise DataError(
            f"the data has a single class ({only!r}, {len(raw.y)} samples); "
            "a classifier needs at least two",
            hint="add a folder of samples for another class",
        )
    return raw, {"samples": int(len(finite)), "non_finite_samples_dropped": dropped}


def sample_hashes(x: np.ndarray) -> np.ndarray:
    """A SHA-1 hex digest per sample (identical bytes, identical digest)."""
    flat = np.ascontiguousarray(x.reshape(len(x), -1))
    return np.array([hashlib.sha1(row.tobytes()).hexdigest() for row in flat])


def check_splits(raw: RawData, indices: dict[str, np.ndarray],
                 drop_duplicates: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Duplicates within train and across splits, empty splits, classes missing a split."""
    hashes = sample_hashes(raw.x)
    train_hashes = set(hashes[indices["train"]].tolist())
    unique_train = np.unique(hashes[indices["train"]])
    within = int(len(indices["train"]) - len(unique_train))
    conflicting = _conflicting_labels(hashes, raw.y)
    shared: dict[str, int] = {}
    kept = dict(indices)
    for name in ("val", "test"):
        leaked = np.isin(hashes[indices[name]], list(train_hashes))
        shared[name] = int(np.count_nonzero(leaked))
        if drop_duplicates:
            kept[name] = indices[name][~leaked]
    for name, chosen in kept.items():
        if len(chosen) == 0:
            raise DataError(f"the {name} split is empty ({len(raw.y)} samples in all)",
                            hint="add samples or raise data.val_fraction / test_fraction")
    all_classes = set(range(len(raw.class_names)))
    missing = {
        name: [raw.class_names[c] for c in sorted(all_classes - set(raw.y[chosen].tolist()))]
        for name, chosen in kept.items()
    }
    if missing["train"]:
        raise DataError(f"class(es) {', '.join(map(repr, missing['train']))} have no "
                        "training sample", hint="add samples or use a stratified split")
    return kept, {
        "duplicates_within_train": within,
        "duplicates_shared_with_train": shared,
        "duplicates_dropped": bool(drop_duplicates and any(shared.values())),
        "conflicting_labels": conflicting,
        "classes_missing": {k: v for k, v in missing.items() if v},
    }


def _conflicting_labels(hashes: np.ndarray, y: np.ndarray) -> int:
    """How many distinct samples appear with more than one label."""
    labels: dict[str, set[int]] = {}
    for digest, label in zip(hashes.tolist(), y.tolist(), strict=True):
        labels.setdefault(digest, set()).add(label)
    return sum(1 for seen in labels.values() if len(seen) > 1)


def feature_findings(x_train: np.ndarray) -> dict[str, Any]:
    """Constant features on the training split (they carry no information)."""
    flat = x_train.reshape(len(x_train), -1)
    constant = np.ptp(flat, axis=0) == 0
    return {"features": int(flat.shape[1]), "constant_features": int(np.count_nonzero(constant))}


def warnings_for(findings: dict[str, Any], counts: dict[str, list[int]]) -> list[str]:
    """Sentences for people, from the findings and per-split class counts."""
    notes = []
    if findings.get("non_finite_samples_dropped"):
        notes.append(f"{findings['non_finite_samples_dropped']} sample(s) with NaN or infinity "
                     "were dropped")
    shared = findings.get("duplicates_shared_with_train", {})
    for name, count in shared.items():
        if count:
            verb = "dropped" if findings.get("duplicates_dropped") else "kept (they inflate scores)"
            notes.append(f"{count} {name} sample(s) identical to a training sample were {verb}")
    if findings.get("constant_features"):
        notes.append(f"{findings['constant_features']} of {findings['features']} features are "
                     "constant on the training split")
    if findings.get("conflicting_labels"):
        notes.append(f"{findings['conflicting_labels']} sample(s) appear with different labels")
    for name, classes in findings.get("classes_missing", {}).items():
        notes.append(f"the {name} split has no sample of {', '.join(classes)}")
    train = [c for c in counts["train"] if c]
    if train and max(train) > 1.5 * min(train):
        notes.append(f"classes are imbalanced on train ({min(train)} to {max(train)} samples)")
    return notes
