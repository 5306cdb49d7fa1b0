"""The report's `statistics` section, computed from `predictions.npz` alone.

`predictions.npz` (written by the evaluate stage) holds `labels` (n,) int64, `class_names`,
`variants` and, per variant, `<name>.predicted` (n,) int64 and `<name>.probabilities`
(n, classes) float32 (int8 outputs dequantized). See `tinykit.report.stats` for the method.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinykit.errors import ReportError
from tinykit.report import stats

#: The pairs the report compares: (a, b, what the comparison shows). `b` is the later or
#: smaller model, so a negative difference is a drop.
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("teacher_float", "student_float", "distillation: float teacher vs float student"),
    ("student_float", "student_int8_ptq", "quantization: float student vs post-training int8"),
    ("student_int8_ptq", "student_int8_compressed",
     "compression: post-training int8 vs pruned + clustered + QAT int8"),
    ("student_int8_pcqat", "student_int8_compressed",
     "depthwise clustering: PCQAT int8 vs the same with depthwise kernels clustered"),
    ("student_float", "student_int8_compressed", "float student vs deployed int8"),
    ("teacher_float", "student_int8_compressed", "end to end: float teacher vs deployed"),
)


def load_predictions(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a predictions.npz; ReportError when it is missing or damaged."""
    try:
        with np.load(path, allow_pickle=False) as loaded:
            arrays = {key: loaded[key] for key in loaded.files}
    except FileNotFoundError:
        raise ReportError(f"{path} is missing",
                          hint="re-run `tinykit build`; the evaluate stage writes it") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} is damaged: {exc}", hint="re-run `tinykit build`") from exc
    for key in ("labels", "class_names", "variants"):
        if key not in arrays:
            raise ReportError(f"{path} has no '{key}' array", hint="re-run `tinykit build`")
    return arrays


def variant_names(arrays: Mapping[str, np.ndarray]) -> list[str]:
    return [str(name) for name in arrays["variants"]]


def statistics(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The statistics section: method, per-variant figures and paired comparisons."""
    labels = np.asarray(arrays["labels"], dtype=np.int64)
    class_names = [str(name) for name in arrays["class_names"]]
    blocks = stats.resample_indices(len(labels))
    names = variant_names(arrays)
    per_variant = {}
    for name in names:
        predicted = np.asarray(arrays[f"{name}.predicted"], dtype=np.int64)
        probabilities = np.asarray(arrays[f"{name}.probabilities"], dtype=np.float64)
        per_variant[name] = stats.variant_statistics(labels, predicted, probabilities,
                                                     class_names, blocks)
    pairs = []
    for a, b, title in PAIRS:
        if a in per_variant and b in per_variant:
            figures = stats.compare_pair(labels, arrays[f"{a}.predicted"],
                                         arrays[f"{b}.predicted"], blocks)
            pairs.append({"a": a, "b": b, "title": title, **figures})
    return {
        "method": stats.method(),
        "test_samples": int(len(labels)),
        "class_names": class_names,
        "positive_class": class_names[1] if len(class_names) == 2 else None,
        "variants": per_variant,
        "pairs": pairs,
    }


def compare_deployed(first: Mapping[str, np.ndarray], second: Mapping[str, np.ndarray],
                     deployed_first: str, deployed_second: str) -> dict[str, Any] | None:
    """Paired comparison of two builds' deployed models, when both were tested on the
    very same samples (equal labels and class names); None otherwise."""
    same = (np.array_equal(first["labels"], second["labels"])
            and [str(c) for c in first["class_names"]] == [str(c) for c in second["class_names"]])
    key_a, key_b = f"{deployed_first}.predicted", f"{deployed_second}.predicted"
    if not same or key_a not in first or key_b not in second:
        return None
    labels = np.asarray(first["labels"], dtype=np.int64)
    return stats.compare_pair(labels, np.asarray(first[key_a]), np.asarray(second[key_b]),
                              stats.resample_indices(len(labels)))
