"""Statistics of the report, every figure computed from the test split's predictions.

Inputs are the integer labels (n,), each variant's predicted classes (n,) and its
probabilities (n, classes) as `predictions.npz` holds them. Nothing here trains or runs a
model, so every number in the report can be recomputed from that file.

- Accuracy with a 95% percentile bootstrap interval: `RESAMPLES` resamples of the test
  samples with replacement, drawn from `numpy.random.default_rng(SEED)`; every variant is
  evaluated on the *same* resamples, so differences between variants are paired.
- For a pair of variants (a, b): the exact McNemar test, i.e. a two-sided binomial test
  of the discordant pairs (samples only a gets right versus only b gets right) against
  p = 1/2, p = min(1, 2 * P[X <= min(n01, n10)]) with X ~ Binomial(n01 + n10, 1/2);
  and the bootstrap interval of acc(b) - acc(a) over the same resamples.
- Per class: precision, recall, F1 and support (None where a ratio is 0/0).
- Calibration: the confidence of a prediction is its top probability; the reliability
  diagram bins it in `CALIBRATION_BINS` equal bins of [0, 1]; ECE is the sample-weighted
  mean |accuracy - confidence| over the bins.
- Binary tasks: ROC and precision-recall curves of the score of class 1 (the second
  class name), with the ROC AUC (trapezoids) and average precision (sum over thresholds
  of the recall step times the precision, as scikit-learn defines it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95
CALIBRATION_BINS = 10
#: Resamples drawn per block, which bounds memory (block x samples indices). Part of the
#: method: the draws of a block depend on its size.
_BLOCK = 250
#: Figures are rounded so the JSON stays small and stable; enough for every use.
_DIGITS = 6


def method() -> dict[str, Any]:
    """How the intervals and tests are computed (stored in the report)."""
    return {
        "bootstrap_resamples": RESAMPLES, "bootstrap_seed": SEED, "confidence": CONFIDENCE,
        "interval": "percentile bootstrap over test samples, paired across variants",
        "paired_test": "exact McNemar (two-sided binomial test on the discordant pairs)",
        "calibration_bins": CALIBRATION_BINS,
    }


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED
                     ) -> list[np.ndarray]:
    """Blocks of bootstrap index rows, shape (block, n), int64; the same for a given n."""
    rng = np.random.default_rng(seed)
    blocks = []
    left = resamples
    while left > 0:
        size = min(_BLOCK, left)
        blocks.append(rng.integers(0, n, size=(size, n)))
        left -= size
    return blocks


def bootstrap_means(values: np.ndarray, blocks: Sequence[np.ndarray]) -> np.ndarray:
    """The mean of `values` (n,) over each resample: (resamples,) float64."""
    values = np.asarray(values, dtype=np.float64)
    return np.concatenate([values[block].mean(axis=1) for block in blocks])


def percentile_interval(samples: np.ndarray, confidence: float = CONFIDENCE
                        ) -> tuple[float, float]:
    """The central `confidence` interval of bootstrap samples (numpy's linear percentiles)."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def accuracy_interval(correct: np.ndarray, blocks: Sequence[np.ndarray]
                      ) -> tuple[float, tuple[float, float]]:
    """Accuracy of a 0/1 vector and its bootstrap interval."""
    correct = np.asarray(correct, dtype=np.float64)
    return float(correct.mean()), percentile_interval(bootstrap_means(correct, blocks))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there are none).

    Exact integer arithmetic up to 5000 discordant pairs, log-space sums above.
    """
    n = only_a + only_b
    k = min(only_a, only_b)
    if n == 0:
        return 1.0
    if n <= 5000:
        tail = sum(math.comb(n, i) for i in range(k + 1))
        return min(1.0, 2 * tail / 2**n)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
            for i in range(k + 1)]
    top = max(logs)
    return min(1.0, 2 * math.exp(top) * sum(math.exp(v - top) for v in logs))


def compare_pair(labels: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray,
                 blocks: Sequence[np.ndarray]) -> dict[str, Any]:
    """Paired comparison of two variants on the same samples (difference is b - a)."""
    right_a = predicted_a == labels
    right_b = predicted_b == labels
    only_a = int(np.sum(right_a & ~right_b))
    only_b = int(np.sum(right_b & ~right_a))
    difference = right_b.astype(np.float64) - right_a.astype(np.float64)
    low, high = percentile_interval(bootstrap_means(difference, blocks))
    return {
        "accuracy_a": _round(float(right_a.mean())), "accuracy_b": _round(float(right_b.mean())),
        "difference": _round(float(difference.mean())),
        "difference_ci": [_round(low), _round(high)],
        "both_correct": int(np.sum(right_a & right_b)), "only_a_correct": only_a,
        "only_b_correct": only_b, "both_wrong": int(np.sum(~right_a & ~right_b)),
        "mcnemar_p": _round(mcnemar_exact(only_a, only_b)),
        "agreement": _round(float(np.mean(predicted_a == predicted_b))),
    }


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Counts (classes, classes): row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def _ratio(a: float, b: float) -> float | None:
    return _round(a / b) if b else None


def per_class(matrix: np.ndarray, class_names: Sequence[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    rows = []
    for i, name in enumerate(class_names):
        tp = float(matrix[i, i])
        predicted, support = float(matrix[:, i].sum()), float(matrix[i, :].sum())
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = None
        if precision is not None and recall is not None:
            f1 = _ratio(2 * tp, predicted + support)
        rows.append({"class": str(name), "precision": precision, "recall": recall, "f1": f1,
                     "support": int(support)})
    return rows


def calibration(labels: np.ndarray, probabilities: np.ndarray,
                bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Reliability bins of the top probability and the expected calibration error."""
    confidence = probabilities.max(axis=1).astype(np.float64)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    # Bin i holds (i/bins, (i+1)/bins]; a confidence of exactly 0 goes to the first bin.
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    rows, ece = [], 0.0
    for i in range(bins):
        mask = which == i
        count = int(mask.sum())
        accuracy = float(correct[mask].mean()) if count else None
        mean_confidence = float(confidence[mask].mean()) if count else None
        if count:
            ece += count / len(labels) * abs(accuracy - mean_confidence)  # type: ignore[operator]
        rows.append({"lower": i / bins, "upper": (i + 1) / bins, "count": count,
                     "accuracy": None if accuracy is None else _round(accuracy),
                     "confidence": None if mean_confidence is None else _round(mean_confidence)})
    return {"ece": _round(ece), "bins": rows}


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """False and true positive rates at every distinct score threshold, and the AUC.

    `labels` are 0/1 (1 positive); the curve starts at (0, 0) and ends at (1, 1).
    """
    tp, fp, _ = _cumulative(labels, scores)
    positives, negatives = tp[-1], fp[-1]
    tpr = np.concatenate([[0.0], tp / positives]) if positives else np.zeros(len(tp) + 1)
    fpr = np.concatenate([[0.0], fp / negatives]) if negatives else np.zeros(len(fp) + 1)
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)) if positives and negatives \
        else None
    return {"fpr": _rounded(fpr), "tpr": _rounded(tpr),
            "auc": None if auc is None else _round(auc)}


def pr_curve(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """Precision and recall at every distinct threshold (recall rising) and the average
    precision; `prevalence` is the precision of a classifier that guesses."""
    tp, fp, _ = _cumulative(labels, scores)
    positives = tp[-1]
    precision = tp / (tp + fp)
    recall = tp / positives if positives else np.zeros_like(tp)
    steps = np.diff(np.concatenate([[0.0], recall]))
    average_precision = float(np.sum(steps * precision)) if positives else None
    return {"recall": _rounded(np.concatenate([[0.0], recall])),
            "precision": _rounded(np.concatenate([[1.0], precision])),
            "average_precision": None if average_precision is None else
            _round(average_precision),
            "prevalence": _round(float(positives / len(labels)))}


def _cumulative(labels: np.ndarray, scores: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives when predicting positive for score >= each distinct
    threshold, thresholds falling."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    sorted_scores = np.asarray(scores, dtype=np.float64)[order]
    positive = (np.asarray(labels)[order] == 1).astype(np.float64)
    # The last index of each run of equal scores: ties are one threshold.
    ends = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(sorted_scores) - 1]
    tp = np.cumsum(positive)[ends]
    fp = (ends + 1) - tp
    return tp, fp, sorted_scores[ends]


def variant_statistics(labels: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray,
                       class_names: Sequence[str], blocks: Sequence[np.ndarray]
                       ) -> dict[str, Any]:
    """Everything the report shows about one variant's predictions."""
    accuracy, (low, high) = accuracy_interval(predicted == labels, blocks)
    matrix = confusion_matrix(labels, predicted, len(class_names))
    classes = per_class(matrix, class_names)
    f1s = [row["f1"] or 0.0 for row in classes]
    result: dict[str, Any] = {
        "accuracy": _round(accuracy), "accuracy_ci": [_round(low), _round(high)],
        "correct": int(np.sum(predicted == labels)), "samples": int(len(labels)),
        "macro_f1": _round(float(np.mean(f1s))), "per_class": classes,
        "confusion": matrix.tolist(), "calibration": calibration(labels, probabilities),
    }
    if len(class_names) == 2:
        positive = (labels == 1).astype(np.int64)
        result["roc"] = roc_curve(positive, probabilities[:, 1])
        result["pr"] = pr_curve(positive, probabilities[:, 1])
    return result


def _round(value: float) -> float:
    return round(float(value), _DIGITS)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), _DIGITS) for v in values]
