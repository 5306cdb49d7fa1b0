"""`tinykit compare` on the real cortex-m4 and cortex-m7 builds, and a build for a target
without an emulator (reusing the spine's cache, so it takes seconds)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tinykit.cli import main
from tinykit.paths import targets_dir
from tinykit.report import load_report

pytestmark = pytest.mark.slow


def test_compare_puts_the_two_targets_side_by_side(spine, tmp_path, capsys):
    m4, m7 = spine["root"] / "cortex-m4", spine["root"] / "cortex-m7"
    assert main(["compare", str(m4), str(m7), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["target"] for c in data["builds"]] == ["cortex-m4", "cortex-m7"]
    assert data["same_model"] is True  # one cache, one model, two targets
    second = data["builds"][1]
    assert second["vs_first"]["difference"] == 0 and second["vs_first"]["mcnemar_p"] == 1.0
    for column, folder in zip(data["builds"], (m4, m7), strict=True):
        assert column["verdict"] == load_report(folder)["verdict"]

    page = tmp_path / "compare.html"
    assert main(["compare", str(m4), str(m7), "-o", str(page)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^latency\s+~[\d.]+ ms ESTIMATE at 80 MHz\s+~[\d.]+ ms ESTIMATE at 216 MHz",
                     out, re.M)
    assert "only the costs on the targets differ" in out
    html = page.read_text()
    assert "<svg" in html and "cortex-m7" in html and "<script" not in html
    assert main(["compare", str(m4), str(m7), "-o", str(tmp_path / "c.md")]) == 0
    assert (tmp_path / "c.md").read_text().startswith("# tinykit compare")


def test_compare_refuses_what_it_cannot_compare(spine, tmp_path, capsys):
    m4 = str(spine["root"] / "cortex-m4")
    assert main(["compare", m4]) == 2
    assert "at least two build folders" in capsys.readouterr().err
    assert main(["compare", m4, m4, "-o", str(tmp_path / "x.txt")]) == 2
    assert "name the file with one of: .md, .html" in capsys.readouterr().err
    assert main(["compare", m4, str(tmp_path)]) == 2
    assert f"{tmp_path / 'report.json'} does not exist" in capsys.readouterr().err


def test_a_target_without_an_emulator_is_reported_not_failed(spine, tmp_path):
    folder = tmp_path / "targets"
    shutil.copytree(targets_dir(), folder)
    (folder / "bare-m4.toml").write_text(
        'extends = "cortex-m4"\ndescription = "a Cortex-M4 part QEMU does not model"\n'
        'kind = "board"\n[emulator]\nqemu_machine = ""\n')
    out = tmp_path / "bare-m4"
    cache = tmp_path / "cache"  # a copy: the spine's cache must keep only its own entries
    shutil.copytree(spine["root"] / "cache", cache)
    proc = subprocess.run(
        [sys.executable, "-m", "tinykit.cli", "build", "--target", "bare-m4", "--out", str(out),
         "--cache-dir", str(cache)], capture_output=True, text=True,
        env={**os.environ, "TINYKIT_TARGETS_DIR": str(folder)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "teacher: reused from cache" in proc.stderr
    report = load_report(out)
    verdict = report["verdict"]
    assert report["on_target"]["ran"] is False
    assert "has no emulator" in verdict["note"] and "--port" in verdict["note"]
    assert verdict["status"] == "UNMEASURED" and not verdict["measured"]
    assert verdict["flash"]["source"].startswith("estimate") and verdict["flash"]["fits"]
    assert re.search(r"^verdict\s+UNMEASURED$", proc.stdout, re.M)
    assert "Not measured on the target" in (out / "report.html").read_text()
