"""Train/validation/test splits: stratified, grouped or time-ordered, seeded.

- stratified: every split keeps the class proportions (the default).
- grouped: all samples of a group (a speaker, a person) land in one split, so the test
  measures people the model never heard or saw.
- time: within each recording, the first part trains, the next validates, the last tests;
  windows that overlap an earlier split's windows are dropped (no leakage through overlap).

`auto` picks grouped when the source gives groups, time for sensor windows, else stratified.
A source's own test split (tfds) is kept; validation is then carved from its train split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinykit.config import DataConfig
from tinykit.data.dataset import RawData
from tinykit.errors import DataError

Indices = dict[str, np.ndarray]


def strategy_for(raw: RawData, cfg: DataConfig) -> str:
    """The split strategy `cfg.split` resolves to for this data."""
    if cfg.split != "auto":
        return cfg.split
    if raw.groups is not None:
        return "grouped"
    if raw.kind == "series" and raw.position is not None:
        return "time"
    return "stratified"


def split_indices(raw: RawData, cfg: DataConfig, seed: int) -> tuple[Indices, str]:
    """Indices of each split into `raw`, and the strategy used (raises DataError)."""
    strategy = strategy_for(raw, cfg)
    if strategy == "grouped" and raw.groups is None:
        raise DataError("data.split = 'grouped' but the samples carry no group id",
                        hint="set data.group_pattern (folders) or data.csv.group_column")
    if strategy == "time" and raw.position is None:
        raise DataError("data.split = 'time' needs samples with a position in time",
                        hint="use data.source = 'csv' for time series")
    everything = np.arange(len(raw.y))
    given = raw.given_split
    if given is not None and np.any(given == "test"):
        pool = everything[given != "test"]
        test = everything[given == "test"]
        if np.any(given == "val"):
            return {"train": everything[given == "train"], "val": everything[given == "val"],
                    "test": test}, "given"
        share = cfg.val_fraction / (1.0 - cfg.test_fraction)
        train, val = _two_way(raw, pool, share, strategy, seed)
        return {"train": train, "val": val, "test": test}, f"given test, {strategy} val"
    if strategy == "time":
        return _time(raw, cfg), strategy
    rest, test = _two_way(raw, everything, cfg.test_fraction, strategy, seed)
    share = cfg.val_fraction / (1.0 - cfg.test_fraction)
    train, val = _two_way(raw, rest, share, strategy, seed + 1)
    return {"train": train, "val": val, "test": test}, strategy


def _two_way(raw: RawData, pool: np.ndarray, share: float, strategy: str,
             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split `pool` into (kept, taken) with about `share` of it taken."""
    if strategy == "grouped":
        assert raw.groups is not None
        return _grouped(raw.groups[pool], pool, share, seed)
    if strategy == "time":
        order = np.lexsort((raw.position[pool], raw.recording[pool]))  # type: ignore[index]
        cut = int(round(len(pool) * (1 - share)))
        return pool[order[:cut]], pool[order[cut:]]
    return _stratified(raw.y[pool], pool, share, seed, raw.class_names)


def _stratified(y: np.ndarray, pool: np.ndarray, share: float, seed: int,
                names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import StratifiedShuffleSplit

    counts = np.bincount(y, minlength=len(names))
    rare = [names[c] for c in np.flatnonzero((counts > 0) & (counts < 3))]
    if rare:
        raise DataError(
            f"class(es) {', '.join(map(repr, rare))} have fewer than 3 samples, too few to "
            "appear in train, validation and test",
            hint="add samples or remove the class folder",
        )
    taken = max(int(round(len(pool) * share)), int(np.count_nonzero(counts)))
    if taken >= len(pool):
        raise DataError(f"{len(pool)} samples are too few to split",
                        hint="add samples or lower data.val_fraction / data.test_fraction")
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=taken, random_state=seed)
    keep, take = next(splitter.split(np.zeros(len(pool)), y))
    return pool[np.sort(keep)], pool[np.sort(take)]


def _grouped(groups: np.ndarray, pool: np.ndarray, share: float,
             seed: int) -> tuple[np.ndarray, np.ndarray]:
    unique = np.unique(groups)
    if len(unique) < 3:
        raise DataError(f"only {len(unique)} group(s) ({', '.join(map(str, unique))}); "
                        "a grouped split needs at least 3",
                        hint="set data.split = 'stratified' or add groups")
    rng = np.random.default_rng(seed)
    order = unique[rng.permutation(len(unique))]
    sizes = {g: int(np.count_nonzero(groups == g)) for g in unique}
    target, taken = share * len(pool), 0
    taken_groups: list[Any] = []
    for group in order:
        if taken >= target and taken_groups:
            break
        taken_groups.append(group)
        taken += sizes[group]
    if len(taken_groups) == len(unique):
        taken_groups.pop()
    mask = np.isin(groups, taken_groups)
    return pool[~mask], pool[mask]


def _time(raw: RawData, cfg: DataConfig) -> Indices:
    assert raw.recording is not None and raw.position is not None
    out: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    bounds = (1 - cfg.val_fraction - cfg.test_fraction, 1 - cfg.test_fraction)
    for rec in np.unique(raw.recording):
        members = np.flatnonzero(raw.recording == rec)
        members = members[np.argsort(raw.position[members], kind="stable")]
        start = raw.position[members]
        first, last = start.min(), start.max() + raw.span
        cut1 = first + (last - first) * bounds[0]
        cut2 = first + (last - first) * bounds[1]
        train = members[start + raw.span <= cut1]
        val = members[(start >= cut1) & (start + raw.span <= cut2)]
        test = members[start >= cut2]
        for name, chosen in (("train", train), ("val", val), ("test", test)):
            out[name].append(chosen)
    return {name: np.concatenate(parts) for name, parts in out.items()}
