"""A real binary task (digits 3 and 8 from an image folder, a fast build): ROC and
precision-recall curves with AUC, checked against scikit-learn on the build's predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from tinykit.report import load_report

pytestmark = pytest.mark.slow


def test_binary_reports_roc_and_pr_curves_that_scikit_learn_confirms(binary_build):
    report = load_report(binary_build)
    stats = report["statistics"]
    assert stats["class_names"] == ["3", "8"] and stats["positive_class"] == "8"
    with np.load(binary_build / "predictions.npz") as arrays:
        labels = arrays["labels"]
        for variant in report["variants"]:
            name = variant["name"]
            score = arrays[f"{name}.probabilities"][:, 1]
            figures = stats["variants"][name]
            assert figures["roc"]["auc"] == pytest.approx(
                metrics.roc_auc_score(labels, score), abs=1e-6)
            assert figures["pr"]["average_precision"] == pytest.approx(
                metrics.average_precision_score(labels, score), abs=1e-6)
            fpr, tpr, _ = metrics.roc_curve(labels, score, drop_intermediate=False)
            assert figures["roc"]["fpr"] == pytest.approx(fpr, abs=1e-6)
            assert figures["roc"]["tpr"] == pytest.approx(tpr, abs=1e-6)
    html = (binary_build / "report.html").read_text()
    assert 'data-plot="roc-pr"' in html and html.count('<figure class="plot"') == 8
    assert "ROC AUC" in (binary_build / "report.md").read_text()


def test_multiclass_reports_have_no_roc(spine):
    report = load_report(spine["root"] / "cortex-m4")
    assert report["statistics"]["positive_class"] is None
    assert 'data-plot="roc-pr"' not in (spine["root"] / "cortex-m4" / "report.html").read_text()
