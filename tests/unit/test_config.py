from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tinykit.config import (
    Config,
    config_from_dict,
    default_config_path,
    load_config,
    to_dict,
)
from tinykit.errors import ConfigError


def test_default_is_the_digits_example_and_every_key_is_spelled_out():
    config = load_config(None)
    assert config.source_file == str(default_config_path())
    assert config.data.source == "digits"
    assert config.teacher.model.width == 2.0 and config.student.model.width == 1.5
    text = default_config_path().read_text()
    for section in ("data", "augment", "teacher.model", "teacher.train", "student.model",
                    "student.train", "student.distill", "prune", "cluster", "qat", "convert",
                    "evaluate"):
        assert f"[{section}]" in text


def test_partial_table_keeps_the_parent_defaults():
    config = config_from_dict({"teacher": {"model": {"arch": "mlp"}}})
    assert config.teacher.model == dataclasses.replace(Config().teacher.model, arch="mlp")
    assert config.teacher.model.width == 2.0


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"teacher": {"modle": {}}}, ["unknown key 'teacher.modle'", "valid in [teacher]",
                                      "model, train"]),
        ({"bogus": 1}, ["unknown key 'bogus'", "valid in the top level", "seed, data"]),
        ({"data": {"source": "kaggle"}}, ["data.source = 'kaggle' is not valid",
                                          "digits, tfds, image_folder, audio_folder, csv"]),
        ({"data": {"val_fraction": 0}}, ["data.val_fraction = 0.0 is out of range",
                                         "0 < value <= 0.5"]),
        ({"prune": {"sparsity": "half"}}, ["prune.sparsity = 'half' should be a number"]),
        ({"seed": True}, ["seed = True should be an integer"]),
        ({"seed": -1}, ["seed = -1 is out of range", "0 <= value"]),
        ({"cluster": {"clusters": 1}}, ["cluster.clusters = 1 is out of range",
                                        "2 <= value <= 256"]),
        ({"data": {"image_size": [8, "x"]}}, ["data.image_size", "list of integers"]),
        ({"data": {"image_size": [8]}}, ["data.image_size = [8] is not valid"]),
        ({"teacher": 3}, ["'teacher' must be a table"]),
        ({"data": {"source": "tfds"}}, ["data.name is required"]),
        ({"data": {"source": "csv"}}, ["data.path is required"]),
        ({"data": {"val_fraction": 0.4, "test_fraction": 0.45}}, ["leaves too little"]),
        ({"student": {"model": {"arch": "custom"}}}, ["student.model.custom", "file.py"]),
        ({"data": {"csv": {"window": 8, "stride": 9}}}, ["stride = 9 is larger"]),
    ],
)
def test_bad_key_or_value_names_it_and_what_is_valid(table, words):
    with pytest.raises(ConfigError) as caught:
        config_from_dict(table)
    for word in words:
        assert word in caught.value.message


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"student": {"distill": {"temprature": 2}}})
    assert caught.value.hint == "did you mean 'student.distill.temperature'?"


def test_file_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[data\nsource = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_overrides_use_toml_literals_and_bare_words(tmp_path: Path):
    path = tmp_path / "p.toml"
    path.write_text("[teacher.train]\nepochs = 5\n")
    config = load_config(path, ["teacher.train.epochs=2", "data.source=digits",
                                "data.image_size=[4, 4]", "prune.enabled=false"])
    assert config.teacher.train.epochs == 2
    assert config.data.image_size == (4, 4)
    assert config.prune.enabled is False
    with pytest.raises(ConfigError, match="should look like"):
        load_config(path, ["teacher.train.epochs"])
    with pytest.raises(ConfigError, match="unknown key 'teacher.train.epoch'"):
        load_config(path, ["teacher.train.epoch=3"])


def test_paths_resolve_against_the_config_folder(tmp_path: Path):
    path = tmp_path / "sub" / "p.toml"
    path.parent.mkdir()
    path.write_text('[data]\nsource = "image_folder"\npath = "images"\n')
    config = load_config(path)
    assert config.resolve(config.data.path) == (tmp_path / "sub" / "images").resolve()
    assert config.resolve("/abs/x") == Path("/abs/x")


def test_digest_is_stable_and_ignores_where_the_file_is(tmp_path: Path):
    a = config_from_dict({"seed": 3}, base_dir=tmp_path)
    b = config_from_dict({"seed": 3}, base_dir=tmp_path / "elsewhere")
    c = config_from_dict({"seed": 4})
    assert a.digest() == b.digest() != c.digest()
    assert "base_dir" not in to_dict(a) and to_dict(a)["seed"] == 3
