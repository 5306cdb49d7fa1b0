"""Filter file descriptor 2: TensorFlow's C++ chatter goes, everything else stays.

TensorFlow, XLA and the TFLite converter log through C++ straight to descriptor 2, below
Python's logging and warnings, so the only place to drop their noise ("failed call to
cuInit", oneDNN notices, converter statistics) is the descriptor itself. Two forms:

- `filtered_stderr()` captures a block's output and re-emits the kept lines afterwards
  (for short blocks: an import, a conversion);
- `live_filter()` pipes descriptor 2 through a thread that forwards kept lines as they
  come, and yields a stream on the real stderr for progress that must not wait
  (the build runs inside it).

This module imports nothing heavy: commands that never touch TensorFlow may use it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import TextIO

#: Lines TensorFlow, XLA and the TFLite converter print that say nothing to a user of a
#: CPU machine. Matched with `re.search` against each line written to stderr.
NOISE: tuple[str, ...] = (
    r"All log messages before absl::InitializeLog\(\) is called",
    r"oneDNN custom operations are on",
    r"Could not find cuda drivers",
    r"failed call to cuInit",
    r"cuda_platform\.cc|cudart_stub\.cc|cuda_executor\.cc|cuda_dnn\.cc|cuda_blas\.cc",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"TF-TRT Warning",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"To enable the following instructions",
    r"rebuild TensorFlow with the appropriate compiler flags",
    r"fully_quantize: \d+, inference_type",
    r"Statistics for quantized inputs were expected",
    r"warnings\.warn\(",
    r"tf\.lite\.Interpreter is deprecated",
    r"Gradients do not exist for variables",
    r"Ignored output_format|Ignored drop_control_dependency",
    r"Reading SavedModel from|Reading meta graph with tags|Reading SavedModel debug info",
    r"Restoring SavedModel bundle|Running initialization op|SavedModel load for tags",
    r"SavedModel (bundle|load)|TensorFlow Lite Converter",
    r"saving/loading of a model that uses DepthwiseConv2D|Found untraced functions",
    r"NodeDef mentions attribute .* which is not in the op definition",
    r"You are saving your model as an HDF5 file",
    r"saving_api\.save_model\(",
    r"^\s*$",
)
_NOISE_RE = re.compile("|".join(f"(?:{pattern})" for pattern in NOISE))


def _pattern(noise: Sequence[str]) -> re.Pattern[str]:
    if not noise:
        return _NOISE_RE
    return re.compile("|".join([_NOISE_RE.pattern, *(f"(?:{p})" for p in noise)]))


@contextlib.contextmanager
def filtered_stderr(noise: Sequence[str] = ()) -> Iterator[None]:
    """Capture descriptor 2 while the block runs; re-emit the lines that are not noise.

    `noise` adds patterns to `NOISE`. If descriptor 2 cannot be duplicated (an unusual
    embedding), nothing is filtered.
    """
    pattern = _pattern(noise)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(ValueError, OSError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = [
                line for line in sink.read().decode("utf-8", "replace").splitlines()
                if not pattern.search(line)
            ]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


@contextlib.contextmanager
def live_filter(noise: Sequence[str] = ()) -> Iterator[TextIO]:
    """Forward descriptor 2 line by line, dropping noise, while the block runs.

    Yields a text stream on the real stderr that bypasses the filter (for progress lines
    that redraw in place). Falls back to yielding `sys.stderr` unfiltered when descriptor
    2 cannot be duplicated.
    """
    pattern = _pattern(noise)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield sys.stderr
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as lines:
            for line in lines:
                if not pattern.search(line.decode("utf-8", "replace")):
                    os.write(saved, line)

    thread = threading.Thread(target=pump, name="tinykit-stderr-filter", daemon=True)
    thread.start()
    clean = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        yield clean
    finally:
        with contextlib.suppress(ValueError, OSError):
            sys.stderr.flush()
            clean.flush()
        os.dup2(saved, 2)  # drops the pipe's last write end: the pump sees end of file
        thread.join(timeout=5)
        clean.close()
        os.close(saved)
