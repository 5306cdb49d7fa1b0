"""The data stage: load, check, split, learn standardization and class weights on train.

`prepare(config)` is the library call; `run_stage(ctx)` is the build stage, which writes
`splits.npz` (every split and what was learned) and returns the data summary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinykit.config import Config
from tinykit.data import checks, sources, splits
from tinykit.data.dataset import RawData, Splits


def prepare(config: Config) -> Splits:
    """Split the configured data; raises DataError on empty or single-class data."""
    raw, findings = checks.check_raw(sources.load_raw(config))
    if config.data.max_samples and len(raw.y) > config.data.max_samples and (
        raw.given_split is None
    ):
        raw = _subsample(raw, config.data.max_samples, config.seed)
    indices, strategy = splits.split_indices(raw, config.data, config.seed)
    indices, split_findings = checks.check_splits(raw, indices, config.data.drop_duplicates)
    findings.update(split_findings)
    x_train = raw.x[indices["train"]]
    findings.update(checks.feature_findings(x_train))
    mean, inv_std = standardization(x_train)
    y = {name: raw.y[chosen] for name, chosen in indices.items()}
    counts = {name: np.bincount(y[name], minlength=len(raw.class_names)).tolist()
              for name in y}
    weights = class_weights(counts["train"], config.data.class_weights)
    summary: dict[str, Any] = {
        "source": config.data.source, "description": raw.description, "kind": raw.kind,
        "input_shape": list(raw.x.shape[1:]), "class_names": list(raw.class_names),
        "split": strategy, "sizes": {name: int(len(v)) for name, v in y.items()},
        "class_counts": counts,
        "class_weights": {str(k): round(v, 6) for k, v in weights.items()} if weights else None,
        "standardization": {"mean": [float(v) for v in mean],
                            "inv_std": [float(v) for v in inv_std]},
        "groups": int(len(np.unique(raw.groups))) if raw.groups is not None else None,
        "checks": findings,
        "warnings": checks.warnings_for(findings, counts),
    }
    return Splits(
        x_train=x_train, y_train=y["train"], x_val=raw.x[indices["val"]], y_val=y["val"],
        x_test=raw.x[indices["test"]], y_test=y["test"], class_names=raw.class_names,
        kind=raw.kind, mean=mean, inv_std=inv_std, class_weights=weights, summary=summary,
    )


def standardization(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (last axis) mean and 1/std of the training split, float32.

    A constant channel gets 1/std = 1, so it is only centred, never blown up.
    """
    flat = x_train.reshape(-1, x_train.shape[-1]).astype(np.float64)
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    inv_std = np.where(std > 1e-6, 1.0 / np.maximum(std, 1e-12), 1.0)
    return mean.astype(np.float32), inv_std.astype(np.float32)


def class_weights(train_counts: list[int], mode: str) -> dict[int, float] | None:
    """Loss weights n / (classes * count) ("balanced"), or None.

    "auto" weighs only when the largest class has over 1.5 times the samples of the
    smallest; classes absent from train get weight 0.
    """
    counts = np.asarray(train_counts, np.float64)
    present = counts[counts > 0]
    if mode == "none" or (mode == "auto" and present.max() <= 1.5 * present.min()):
        return None
    total, k = counts.sum(), len(present)
    return {c: (float(total / (k * n)) if n else 0.0) for c, n in enumerate(counts)}


def _subsample(raw: RawData, limit: int, seed: int) -> RawData:
    """A seeded, class-stratified subset of `limit` samples."""
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(raw.y)), train_size=limit, random_state=seed,
                               stratify=raw.y if np.bincount(raw.y).min() >= 2 else None)
    return raw.take(np.sort(keep))


def run_stage(ctx: Any) -> dict[str, Any]:
    """Build stage: write splits.npz; the summary is the report's data section."""
    data = prepare(ctx.config)
    data.save(ctx.work / "splits.npz")
    for line in data.summary["warnings"]:
        ctx.progress.info(f"data: {line}")
    sizes = data.summary["sizes"]
    ctx.progress.info(
        f"{data.summary['description']}: {sizes['train']} train / {sizes['val']} val / "
        f"{sizes['test']} test, {len(data.class_names)} classes, split {data.summary['split']}"
    )
    return data.summary
