"""Fixtures of the integration tests: the real default build, run once per session.

`spine` runs `tinykit build` for cortex-m4 and then cortex-m7 in subprocesses, exactly as
a user does (the second reuses the first's cache). tests/integration/test_spine.py checks
the build itself; the report tests read the same two build folders instead of building
again.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

_RUN = ("import sys\nfrom tinykit.cli import main\nrc = main(sys.argv[1:])\n"
        "print('tensorflow imported:', 'tensorflow' in sys.modules, file=sys.stderr)\n"
        "sys.exit(rc)\n")


def run_build(root: Path, target: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RUN, "build", "--target", target, "--out",
                           str(root / target)], capture_output=True, text=True, cwd=root)
    return proc, time.perf_counter() - start


@pytest.fixture(scope="session")
def spine(tmp_path_factory):
    """{"root", "m4", "m7", "m4_seconds", "m7_seconds"}: folders root/cortex-m4, root/cortex-m7,
    root/cache, and each build's CompletedProcess."""
    root = tmp_path_factory.mktemp("spine")
    m4, m4_seconds = run_build(root, "cortex-m4")
    assert m4.returncode == 0, m4.stderr[-3000:]
    m7, m7_seconds = run_build(root, "cortex-m7")
    assert m7.returncode == 0, m7.stderr[-3000:]
    return {"root": root, "m4": m4, "m7": m7, "m4_seconds": m4_seconds,
            "m7_seconds": m7_seconds}


#: A fast build config: small models, few epochs (the figures are real, just not tuned).
FAST = ("teacher.model.width=1.0", "teacher.train.epochs=4", "student.train.epochs=4",
        "prune.epochs=2", "cluster.epochs=1", "qat.epochs=1",
        "convert.representative_samples=32", "evaluate.check_samples=32")


@pytest.fixture(scope="session")
def binary_build(tmp_path_factory):
    """A real build of a binary task: scikit-learn's digits 3 and 8 written as PNG files
    into an image folder, a fast config, cortex-m4. Returns the build folder."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("binary")
    digits = load_digits()
    for digit in (3, 8):
        folder = root / "images" / str(digit)
        folder.mkdir(parents=True)
        for i, image in enumerate(digits.images[digits.target == digit]):
            pixels = np.round(image * 255 / 16).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    (root / "tinykit.toml").write_text('[data]\nsource = "image_folder"\npath = "images"\n')
    args = [sys.executable, "-m", "tinykit.cli", "build", "--quiet", "--config",
            str(root / "tinykit.toml"), "--out", str(root / "cortex-m4")]
    for item in FAST:
        args += ["--set", item]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "cortex-m4"
