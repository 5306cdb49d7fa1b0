"""The one door to TensorFlow, Keras 2 (tf_keras) and TFMOT.

TFMOT works only with Keras 2, which TensorFlow 2.21 gives as `tf.keras` only when
`TF_USE_LEGACY_KERAS=1` is set before TensorFlow is first imported. Every other module
gets TensorFlow from here: `from tinykit._tf import tf, keras, tfmot`.

Importing this module takes several seconds: only stages that train or convert do it.
TensorFlow's C++ start-up chatter (oneDNN notices, "Could not find cuda drivers", "failed
call to cuInit") is written straight to file descriptor 2, below Python's logging; it is
filtered here at the descriptor level so users see only what matters.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError(  # a programming error, not a user error
        "TensorFlow was imported before tinykit._tf could set TF_USE_LEGACY_KERAS=1"
    )
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no CUDA/cuInit noise on CPU machines

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
    r"^\s*$",
)
_NOISE_RE = re.compile("|".join(f"(?:{pattern})" for pattern in NOISE))


@contextlib.contextmanager
def filtered_stderr(noise: Sequence[str] = ()) -> Iterator[None]:
    """Capture file descriptor 2 while the block runs; re-emit lines that are not noise.

    Works below Python (C++ logging writes to fd 2 directly). `noise` adds patterns to
    `NOISE`. If fd 2 cannot be duplicated (an unusual embedding), nothing is filtered.
    """
    pattern = _NOISE_RE if not noise else re.compile(
        "|".join([_NOISE_RE.pattern, *(f"(?:{p})" for p in noise)])
    )
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


warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated.*")
warnings.filterwarnings("ignore", message=r".*Statistics for quantized inputs were expected.*")

with filtered_stderr():
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    tf.config.list_logical_devices()  # initializes the runtime, which logs cuInit errors

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("absl").setLevel(logging.ERROR)
keras = tf.keras


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and TensorFlow and make TensorFlow's kernels deterministic.

    Same seed, same data and same config then give the same weights, bit for bit, on the
    same machine (op determinism costs a little speed on CPU).
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def tfds() -> Any:
    """The tensorflow_datasets module (it imports TensorFlow, hence it lives here)."""
    with filtered_stderr():
        import tensorflow_datasets

    return tensorflow_datasets


__all__ = ["filtered_stderr", "keras", "seed_everything", "tf", "tfds", "tfmot"]
