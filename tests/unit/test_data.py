from __future__ import annotations

import numpy as np
import pytest

from tinykit.config import DataConfig, config_from_dict
from tinykit.data import checks, splits
from tinykit.data.dataset import RawData, Splits
from tinykit.data.prepare import class_weights, prepare, standardization
from tinykit.errors import DataError


def _raw(n_per_class=(30, 30, 30), groups=None, shape=(4,)) -> RawData:
    rng = np.random.default_rng(0)
    y = np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)]).astype(np.int64)
    x = rng.normal(size=(len(y), *shape)).astype(np.float32) + y.reshape(-1, *[1] * len(shape))
    return RawData(x=x, y=y, class_names=tuple(f"c{c}" for c in range(len(n_per_class))),
                   kind="features", description="synthetic", groups=groups)


def test_stratified_split_keeps_proportions_and_is_seeded():
    raw = _raw((100, 50, 30))
    cfg = DataConfig(val_fraction=0.2, test_fraction=0.2)
    first, strategy = splits.split_indices(raw, cfg, seed=1)
    again, _ = splits.split_indices(raw, cfg, seed=1)
    other, _ = splits.split_indices(raw, cfg, seed=2)
    assert strategy == "stratified"
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["test"], other["test"])
    every = np.concatenate(list(first.values()))
    assert sorted(every.tolist()) == list(range(180))  # a partition
    for name in ("val", "test"):
        counts = np.bincount(raw.y[first[name]], minlength=3)
        assert np.allclose(counts / counts.sum(), [100 / 180, 50 / 180, 30 / 180], atol=0.03)


def test_grouped_split_never_puts_a_group_in_two_splits():
    groups = np.array([f"speaker{i % 12}" for i in range(120)])
    raw = _raw((40, 40, 40), groups=groups)
    indices, strategy = splits.split_indices(raw, DataConfig(), seed=0)
    assert strategy == "grouped"
    sets = {k: set(groups[v].tolist()) for k, v in indices.items()}
    assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"])
    assert not (sets["val"] & sets["test"]) and all(sets.values())
    with pytest.raises(DataError, match="a grouped split needs at least 3"):
        splits.split_indices(_raw(groups=np.array(["a", "b"] * 45)), DataConfig(), 0)
    with pytest.raises(DataError, match="carry no group id"):
        splits.split_indices(_raw(), DataConfig(split="grouped"), 0)


def test_time_split_is_ordered_and_drops_windows_that_overlap_a_boundary():
    positions = np.arange(0, 1000, 10)  # windows of 40 rows every 10 rows: they overlap
    raw = RawData(x=np.zeros((100, 40, 1, 2), np.float32), y=np.arange(100) % 2,
                  class_names=("a", "b"), kind="series", description="t",
                  recording=np.zeros(100, int), position=positions, span=40)
    indices, strategy = splits.split_indices(raw, DataConfig(), seed=0)
    assert strategy == "time"
    train_end = positions[indices["train"]].max() + 40
    val_start, val_end = positions[indices["val"]].min(), positions[indices["val"]].max() + 40
    assert train_end <= val_start and val_end <= positions[indices["test"]].min()
    assert len(np.concatenate(list(indices.values()))) < 100  # some were purged


def test_a_given_test_split_is_kept():
    raw = _raw((40, 40))
    raw.given_split = np.array(["train"] * 60 + ["test"] * 20)
    raw.given_split[[0, 1, 40, 41]] = "test"
    indices, strategy = splits.split_indices(raw, DataConfig(), seed=0)
    assert strategy.startswith("given test")
    assert sorted(indices["test"].tolist()) == sorted(np.flatnonzero(raw.given_split == "test"))


def test_too_few_samples_of_a_class_is_a_data_error():
    with pytest.raises(DataError, match="'c2' have fewer than 3 samples"):
        splits.split_indices(_raw((30, 30, 2)), DataConfig(), seed=0)


def test_checks_refuse_empty_and_single_class_data():
    with pytest.raises(DataError, match="empty"):
        checks.check_raw(_raw((0, 0)))
    with pytest.raises(DataError, match="single class"):
        checks.check_raw(_raw((10, 0)))


def test_checks_drop_nan_samples_and_count_them():
    raw = _raw((20, 20))
    raw.x[3, 1] = np.nan
    raw.x[25, 0] = np.inf
    kept, findings = checks.check_raw(raw)
    assert findings["non_finite_samples_dropped"] == 2 and len(kept.y) == 38
    assert np.isfinite(kept.x).all()


def test_duplicates_shared_with_train_are_found_and_dropped():
    raw = _raw((30, 30))
    raw.x[50] = raw.x[2]  # a test sample identical to a train sample
    raw.x[51] = raw.x[2]
    indices = {"train": np.arange(0, 40), "val": np.arange(40, 50),
               "test": np.arange(50, 60)}
    kept, findings = checks.check_splits(raw, indices, drop_duplicates=True)
    assert findings["duplicates_shared_with_train"] == {"val": 0, "test": 2}
    assert 50 not in kept["test"] and 51 not in kept["test"] and len(kept["test"]) == 8
    same, findings = checks.check_splits(raw, indices, drop_duplicates=False)
    assert len(same["test"]) == 10 and not findings["duplicates_dropped"]
    notes = checks.warnings_for(findings, {"train": [20, 20]})
    assert any("identical to a training sample" in n for n in notes)


def test_constant_features_and_imbalance_are_reported():
    x = np.zeros((10, 3), np.float32)
    x[:, 1] = np.arange(10)
    findings = checks.feature_findings(x)
    assert findings == {"features": 3, "constant_features": 2}
    notes = checks.warnings_for(findings, {"train": [100, 10]})
    assert any("constant" in n for n in notes) and any("imbalanced" in n for n in notes)


def test_standardization_is_per_channel_and_safe_for_constant_channels():
    x = np.stack([np.full((5, 5), 3.0), np.random.default_rng(0).normal(2, 4, (5, 5))], -1)
    mean, inv_std = standardization(x[None].astype(np.float32))
    assert mean.shape == (2,) and mean[0] == 3.0 and inv_std[0] == 1.0
    assert np.isclose(inv_std[1], 1 / x[..., 1].std(), rtol=1e-5)


def test_class_weights_balance_rare_classes_only_when_needed():
    assert class_weights([50, 50, 40], "auto") is None
    weights = class_weights([90, 10], "auto")
    assert weights is not None and weights[1] == pytest.approx(5.0) and weights[0] < 1
    assert class_weights([90, 10], "none") is None
    assert class_weights([50, 50], "balanced") == {0: 1.0, 1: 1.0}


def test_prepare_digits_fits_everything_on_train_and_round_trips(tmp_path):
    data = prepare(config_from_dict({"seed": 3}))
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10
    assert sum(data.summary["sizes"].values()) == 1797
    assert data.mean[0] == pytest.approx(data.x_train.mean(), rel=1e-5)
    assert data.summary["checks"]["constant_features"] >= 1
    data.save(tmp_path / "s.npz")
    loaded = Splits.load(tmp_path / "s.npz")
    assert np.array_equal(loaded.x_test, data.x_test) and loaded.summary == data.summary
    assert loaded.class_names == data.class_names


def test_max_samples_takes_a_stratified_subset():
    data = prepare(config_from_dict({"data": {"max_samples": 300}}))
    assert sum(data.summary["sizes"].values()) == 300
    assert min(data.summary["class_counts"]["train"]) > 10
