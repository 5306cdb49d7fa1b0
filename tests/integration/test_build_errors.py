"""Every error a user can cause in `tinykit build`: exit code 2, a clear message, no traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinykit.cli import main


def _fails(args: list[str], capsys) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_unknown_target_lists_the_known_ones(tmp_path, capsys):
    err = _fails(["build", "--target", "cortex-m5", "--out", str(tmp_path / "o")], capsys)
    assert "unknown target 'cortex-m5'" in err and "cortex-m4, cortex-m55" in err
    assert "hint: run `tinykit targets`" in err


def test_bad_config_key_names_it_and_what_is_valid(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[student.distill]\ntemprature = 3.0\n")
    err = _fails(["build", "--config", str(config), "--out", str(tmp_path / "o")], capsys)
    assert "unknown key 'student.distill.temprature'" in err
    assert "valid in [student.distill]: temperature, alpha" in err
    assert "did you mean 'student.distill.temperature'?" in err


def test_bad_config_value_names_it_and_what_is_valid(tmp_path, capsys):
    err = _fails(["build", "--set", "cluster.init=random", "--out", str(tmp_path / "o")],
                 capsys)
    assert "cluster.init = 'random' is not valid; valid: kmeans++, linear, density" in err
    err = _fails(["build", "--set", "prune.sparsity=1.5", "--out", str(tmp_path / "o")], capsys)
    assert "prune.sparsity = 1.5 is out of range; valid: 0 < value <= 0.95" in err


def _image_config(tmp_path: Path, classes: dict[str, int]) -> Path:
    for name, count in classes.items():
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(
                tmp_path / "images" / name / f"{i}.png")
    config = tmp_path / "tinykit.toml"
    config.write_text('[data]\nsource = "image_folder"\npath = "images"\n')
    return config


def test_empty_data_is_refused(tmp_path, capsys):
    config = _image_config(tmp_path, {"cats": 0, "dogs": 0})
    err = _fails(["build", "--config", str(config), "--out", str(tmp_path / "o")], capsys)
    assert "no .png" in err and "class folders" in err
    assert not (tmp_path / "o").exists()


def test_single_class_data_is_refused(tmp_path, capsys):
    config = _image_config(tmp_path, {"cats": 5})
    err = _fails(["build", "--config", str(config), "--out", str(tmp_path / "o")], capsys)
    assert "single class ('cats', 5 samples)" in err


def test_output_folder_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    err = _fails(["build", "--out", str(blocker / "cortex-m4")], capsys)
    assert "cannot write the output folder" in err and "hint: choose" in err
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("precious")
    err = _fails(["build", "--out", str(precious)], capsys)
    assert "not a tinykit build" in err
    assert (precious / "chapter1.tex").read_text() == "precious"


_BODY = """
from tinykit._tf import keras, tf


def build(x, num_classes, width):
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = keras.layers.Lambda(lambda t: tf.math.sin(t), name="sine")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.layers.Dense(num_classes, name="logits")(x)
"""

_FAST = """
[data]
max_samples = 300
[teacher.model]
width = 0.5
[teacher.train]
epochs = 1
[student.model]
arch = "custom"
custom = "body.py:build"
[student.train]
epochs = 1
[prune]
enabled = false
[cluster]
enabled = false
[qat]
epochs = 1
[convert]
representative_samples = 16
[evaluate]
check_samples = 16
"""


@pytest.mark.slow
def test_model_that_cannot_be_full_int8_names_the_layer(tmp_path):
    (tmp_path / "body.py").write_text(_BODY)
    (tmp_path / "tinykit.toml").write_text(textwrap.dedent(_FAST))
    proc = subprocess.run(
        [sys.executable, "-m", "tinykit.cli", "build", "--config", "tinykit.toml", "--out",
         str(tmp_path / "build" / "cortex-m4")],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "cannot be converted to full int8: layer 'sine' has no int8 kernel" in proc.stderr
    assert "hint: replace that layer" in proc.stderr
    assert not (tmp_path / "build" / "cortex-m4").exists()  # nothing that looks complete
