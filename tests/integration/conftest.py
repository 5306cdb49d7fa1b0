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
