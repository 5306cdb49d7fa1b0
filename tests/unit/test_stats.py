"""Every statistic of the report against an independent computation (scipy, scikit-learn).

The prediction set is small and fixed (seeded), so a failure names exact numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn import metrics

from tinykit.report import stats
from tinykit.report.predictions import PAIRS, statistics

N = 120
CLASSES = 3


@pytest.fixture(scope="module")
def fixed():
    """Labels and two variants' predictions and probabilities: a right 85%, b right 78%."""
    rng = np.random.default_rng(1234)
    labels = rng.integers(0, CLASSES, N)

    def variant(accuracy: float) -> tuple[np.ndarray, np.ndarray]:
        logits = rng.normal(0, 1, (N, CLASSES))
        right = rng.random(N) < accuracy
        logits[np.arange(N), labels] += np.where(right, 3.0, -3.0)
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return probabilities.argmax(axis=1), probabilities.astype(np.float32)

    a, pa = variant(0.85)
    b, pb = variant(0.78)
    return labels, a, pa, b, pb


def test_accuracy_and_its_interval_match_scipy_bootstrap_and_the_exact_limit(fixed):
    labels, a, *_ = fixed
    correct = (a == labels).astype(float)
    blocks = stats.resample_indices(N)
    accuracy, (low, high) = stats.accuracy_interval(correct, blocks)
    assert accuracy == pytest.approx(metrics.accuracy_score(labels, a), abs=1e-12)
    reference = scipy_stats.bootstrap((correct,), np.mean, n_resamples=20000,
                                      confidence_level=0.95, method="percentile",
                                      rng=np.random.default_rng(7)).confidence_interval
    # Two Monte Carlo estimates of the same quantiles: they agree to a sample or two.
    assert low == pytest.approx(reference.low, abs=2.5 / N)
    assert high == pytest.approx(reference.high, abs=2.5 / N)
    # The bootstrap distribution of a mean of 0/1 values is Binomial(n, p)/n exactly.
    exact = scipy_stats.binom(N, accuracy)
    assert low == pytest.approx(exact.ppf(0.025) / N, abs=2.5 / N)
    assert high == pytest.approx(exact.ppf(0.975) / N, abs=2.5 / N)


def test_mcnemar_matches_scipy_binomtest_on_the_discordant_pairs(fixed):
    labels, a, _, b, _ = fixed
    figures = stats.compare_pair(labels, a, b, stats.resample_indices(N))
    only_a = int(np.sum((a == labels) & (b != labels)))
    only_b = int(np.sum((b == labels) & (a != labels)))
    assert (figures["only_a_correct"], figures["only_b_correct"]) == (only_a, only_b)
    assert only_a + only_b > 10  # the fixture has real discordance to test
    expected = scipy_stats.binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    assert figures["mcnemar_p"] == pytest.approx(expected, abs=1e-6)
    assert figures["difference"] == pytest.approx(np.mean(b == labels) - np.mean(a == labels),
                                                  abs=1e-6)
    assert figures["agreement"] == pytest.approx(np.mean(a == b), abs=1e-6)
    assert sum(figures[k] for k in ("both_correct", "only_a_correct", "only_b_correct",
                                    "both_wrong")) == N


@pytest.mark.parametrize(("only_a", "only_b"), [(0, 0), (0, 1), (3, 3), (1, 9), (40, 61),
                                                 (2600, 2800), (3000, 2990)])
def test_mcnemar_exact_and_log_space_paths_match_scipy(only_a, only_b):
    expected = 1.0 if only_a + only_b == 0 else scipy_stats.binomtest(
        min(only_a, only_b), only_a + only_b, 0.5).pvalue
    assert stats.mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_paired_difference_interval_matches_scipy_paired_bootstrap(fixed):
    labels, a, _, b, _ = fixed
    figures = stats.compare_pair(labels, a, b, stats.resample_indices(N))
    right_a, right_b = (a == labels).astype(float), (b == labels).astype(float)
    reference = scipy_stats.bootstrap((right_a, right_b), lambda x, y: np.mean(y) - np.mean(x),
                                      paired=True, vectorized=False, n_resamples=4000,
                                      method="percentile",
                                      rng=np.random.default_rng(3)).confidence_interval
    assert figures["difference_ci"][0] == pytest.approx(reference.low, abs=3 / N)
    assert figures["difference_ci"][1] == pytest.approx(reference.high, abs=3 / N)


def test_per_class_figures_and_confusion_match_scikit_learn(fixed):
    labels, a, pa, *_ = fixed
    names = [f"c{i}" for i in range(CLASSES)]
    figures = stats.variant_statistics(labels, a, pa, names, stats.resample_indices(N))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, a, labels=range(CLASSES), zero_division=0)
    for i, row in enumerate(figures["per_class"]):
        assert row["precision"] == pytest.approx(precision[i], abs=1e-6)
        assert row["recall"] == pytest.approx(recall[i], abs=1e-6)
        assert row["f1"] == pytest.approx(f1[i], abs=1e-6)
        assert row["support"] == support[i]
    assert figures["macro_f1"] == pytest.approx(f1.mean(), abs=1e-6)
    assert figures["confusion"] == metrics.confusion_matrix(labels, a).tolist()


def test_undefined_precision_is_null_not_zero():
    labels = np.array([0, 0, 1, 1])
    predicted = np.array([0, 0, 0, 0])  # class 1 never predicted: precision is 0/0
    rows = stats.per_class(stats.confusion_matrix(labels, predicted, 2), ["a", "b"])
    assert rows[1]["precision"] is None and rows[1]["recall"] == 0.0 and rows[1]["f1"] is None


def test_calibration_bins_and_ece_by_hand(fixed):
    labels, a, pa, *_ = fixed
    figures = stats.calibration(labels, pa)
    confidence = pa.max(axis=1).astype(np.float64)
    correct = pa.argmax(axis=1) == labels
    ece = 0.0
    for row in figures["bins"]:
        mask = (confidence > row["lower"]) & (confidence <= row["upper"])
        assert row["count"] == int(mask.sum())
        if row["count"]:
            assert row["accuracy"] == pytest.approx(correct[mask].mean(), abs=1e-6)
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    assert sum(row["count"] for row in figures["bins"]) == N
    assert figures["ece"] == pytest.approx(ece, abs=1e-6)


def test_roc_auc_and_average_precision_match_scikit_learn_with_ties():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 200)
    # Scores on a 1/256 grid, as dequantized int8 softmax outputs are: many ties.
    scores = np.clip(np.round((labels * 0.3 + rng.random(200) * 0.7) * 256) / 256, 0, 1)
    roc = stats.roc_curve(labels, scores)
    pr = stats.pr_curve(labels, scores)
    assert roc["auc"] == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-6)
    assert pr["average_precision"] == pytest.approx(
        metrics.average_precision_score(labels, scores), abs=1e-6)
    fpr, tpr, _ = metrics.roc_curve(labels, scores, drop_intermediate=False)
    assert roc["fpr"] == pytest.approx(fpr, abs=1e-6) and roc["tpr"] == pytest.approx(tpr,
                                                                                      abs=1e-6)
    assert pr["prevalence"] == pytest.approx(labels.mean(), abs=1e-6)


def test_statistics_section_pairs_and_determinism(fixed):
    labels, a, pa, b, pb = fixed
    arrays = {"labels": labels, "class_names": np.asarray(["x", "y", "z"]),
              "variants": np.asarray(["teacher_float", "student_int8_compressed"]),
              "teacher_float.predicted": a, "teacher_float.probabilities": pa,
              "student_int8_compressed.predicted": b,
              "student_int8_compressed.probabilities": pb}
    first, second = statistics(arrays), statistics(arrays)
    assert first == second  # fixed seed: the same file gives the same report
    assert [(p["a"], p["b"]) for p in first["pairs"]] == [
        (x, y) for x, y, _ in PAIRS if {x, y} <= {"teacher_float", "student_int8_compressed"}]
    assert first["positive_class"] is None and "roc" not in first["variants"]["teacher_float"]
    assert first["method"]["bootstrap_resamples"] == stats.RESAMPLES


def test_all_correct_gives_a_degenerate_interval():
    labels = np.arange(10) % 2
    accuracy, interval = stats.accuracy_interval(labels == labels, stats.resample_indices(10))
    assert accuracy == 1.0 and interval == (1.0, 1.0)
