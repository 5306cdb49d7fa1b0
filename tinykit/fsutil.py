"""Atomic writes: a file either has its complete new content or is not there at all.

Everything tinykit writes goes through these helpers, so an interrupted run never leaves
a file (or a folder of generated sources) that looks complete but is not.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tinykit.errors import OutputError


def _default_file_mode() -> int:
    """0666 minus the process umask: the mode a plain open() gives a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# Read once: os.umask can only be read by setting it, which is not thread safe.
_FILE_MODE = _default_file_mode()


def _ensure_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create folder {path}: {exc.strerror or exc}",
            hint="choose an output folder you can write to (--out / -o)",
        ) from exc


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    target = Path(path)
    _ensure_dir(target.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="choose an output folder you can write to",
        ) from exc
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would.
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically (newlines are written as given)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a folder's content in a temporary sibling and swap it in on success.

    Yields the temporary folder to write into. On any exception the temporary folder is
    removed and `path` is left as it was; on success an existing `path` is replaced.
    """
    target = Path(path)
    _ensure_dir(target.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
