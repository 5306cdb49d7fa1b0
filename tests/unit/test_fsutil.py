from __future__ import annotations

import os
import stat

import pytest

from tinykit.errors import OutputError
from tinykit.fsutil import atomic_dir, write_bytes_atomic, write_text_atomic


def test_atomic_write_replaces_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_atomic_write_gives_the_mode_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    atomic = write_bytes_atomic(tmp_path / "atomic", b"x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_unwritable_folder_is_an_output_error(tmp_path):
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("")
        folder = blocker / "below"  # a path under a regular file cannot be created, even by root
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
    with pytest.raises(OutputError):
        write_text_atomic(folder / "x.txt", "data")


def test_atomic_dir_keeps_the_old_folder_on_failure(tmp_path):
    target = tmp_path / "gen"
    with atomic_dir(target) as tmp:
        (tmp / "a.c").write_text("first")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a.c").write_text("half")
        raise RuntimeError("interrupted")
    assert (target / "a.c").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["gen"]
