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

import logging
import os
import sys
import warnings
from typing import Any

from tinykit.stderr_filter import filtered_stderr

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError(  # a programming error, not a user error
        "TensorFlow was imported before tinykit._tf could set TF_USE_LEGACY_KERAS=1"
    )
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no CUDA/cuInit noise on CPU machines

warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated.*")
warnings.filterwarnings("ignore", message=r".*Statistics for quantized inputs were expected.*")
# tinykit saves HDF5 on purpose: its bytes do not carry a save date, unlike .keras archives.
warnings.filterwarnings("ignore", message=r".*saving your model as an HDF5 file.*")

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


def allow_lambda_layers() -> None:
    """Let Keras clone and load Lambda layers (off by default: their code is pickled).

    Called when the user's own model code (`model.custom`) runs, which is no more trusted
    than the Lambda layers it creates; TFMOT clones models at every step.
    """
    from tf_keras.src.saving import serialization_lib

    serialization_lib.enable_unsafe_deserialization()


def tfds() -> Any:
    """The tensorflow_datasets module (it imports TensorFlow, hence it lives here)."""
    with filtered_stderr():
        import tensorflow_datasets

    return tensorflow_datasets


__all__ = ["allow_lambda_layers", "filtered_stderr", "keras", "seed_everything", "tf", "tfds",
           "tfmot"]
