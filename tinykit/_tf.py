"""The one door to TensorFlow, Keras 2 (tf_keras) and TFMOT.

TFMOT works only with Keras 2, which TensorFlow 2.21 gives as `tf.keras` only when
`TF_USE_LEGACY_KERAS=1` is set before TensorFlow is first imported. Every other module
gets TensorFlow from here: `from tinykit._tf import tf, keras, tfmot`.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError(  # a programming error, not a user error
        "TensorFlow was imported before tinykit._tf could set TF_USE_LEGACY_KERAS=1"
    )
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no CUDA/cuInit noise on CPU machines

warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated.*")

import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
keras = tf.keras

__all__ = ["keras", "tf", "tfmot"]
