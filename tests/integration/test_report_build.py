"""The report of the real default build (the `spine` fixture): schema, traceable figures,
the verdict on the target, `tinykit report` and its errors."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn import metrics

from tinykit.cli import main
from tinykit.report import load_report
from tinykit.report.predictions import PAIRS

pytestmark = pytest.mark.slow


def _folder(spine, target="cortex-m4"):
    return spine["root"] / target


def test_every_report_the_build_wrote_matches_the_schema(spine):
    for target in ("cortex-m4", "cortex-m7"):
        report = load_report(_folder(spine, target))  # raises ReportError when not valid
        assert report["schema_version"] == 2 and report["target"] == target


def test_figures_are_traceable_to_the_predictions(spine):
    report = load_report(_folder(spine))
    stats = report["statistics"]
    with np.load(_folder(spine) / "predictions.npz") as arrays:
        labels = arrays["labels"]
        predicted = {v["name"]: arrays[f"{v['name']}.predicted"] for v in report["variants"]}
    n = len(labels)
    assert stats["test_samples"] == n == 359
    for name, figures in stats["variants"].items():
        accuracy = metrics.accuracy_score(labels, predicted[name])
        assert figures["accuracy"] == pytest.approx(accuracy, abs=1e-6)
        # The bootstrap limit of a 0/1 mean's interval is the Binomial(n, acc) quantiles.
        exact = scipy_stats.binom(n, accuracy)
        assert figures["accuracy_ci"][0] == pytest.approx(exact.ppf(0.025) / n, abs=2.5 / n)
        assert figures["accuracy_ci"][1] == pytest.approx(exact.ppf(0.975) / n, abs=2.5 / n)
        assert figures["confusion"] == metrics.confusion_matrix(
            labels, predicted[name], labels=range(10)).tolist()
    assert [(p["a"], p["b"]) for p in stats["pairs"]] == [
        (a, b) for a, b, _ in PAIRS if a in predicted and b in predicted]
    for pair in stats["pairs"]:
        right_a, right_b = predicted[pair["a"]] == labels, predicted[pair["b"]] == labels
        only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
        expected = 1.0 if only_a + only_b == 0 else scipy_stats.binomtest(
            min(only_a, only_b), only_a + only_b, 0.5).pvalue
        assert (pair["only_a_correct"], pair["only_b_correct"]) == (only_a, only_b)
        assert pair["mcnemar_p"] == pytest.approx(expected, abs=1e-6)
        assert pair["agreement"] == pytest.approx(
            np.mean(predicted[pair["a"]] == predicted[pair["b"]]), abs=1e-6)
        low, high = pair["difference_ci"]
        assert low <= pair["difference"] <= high


def test_the_verdict_is_the_benchmark_of_the_deployed_model(spine):
    for target, machine in (("cortex-m4", "mps2-an386"), ("cortex-m7", "mps2-an500")):
        report = load_report(_folder(spine, target))
        bench = json.loads((_folder(spine, target) / "bench.json").read_text())
        verdict = report["verdict"]
        assert report["on_target"] == bench and bench["ran"] and bench["outputs_match"]
        assert verdict["status"] == "PASS" and verdict["measured"]
        assert verdict["runner"] == f"QEMU {machine}"
        assert verdict["flash"]["used"] == bench["flash_bytes"] > verdict[
            "model_constant_bytes"] > 0
        assert verdict["flash"]["margin"] == report["target_budget"]["flash_bytes"] - bench[
            "flash_bytes"]
        assert verdict["ram"]["used"] == bench["ram_bytes"]
        assert verdict["instructions_per_inference"] == bench["instructions_per_inference"] > 0
        latency = verdict["latency_estimate"]
        clock = report["target_budget"]["clock_hz"]
        assert latency["label"] == "estimate" and latency["clock_hz"] == clock
        assert f"{clock / 1e6:g} MHz" in latency["note"]


def test_per_layer_figures_join_the_plan_the_analysis_and_the_counts(spine):
    from tinykit.tflite.analysis import analyze_subgraph
    from tinykit.tflite.reader import read_model

    report = load_report(_folder(spine))
    layers = report["layers"]
    graph = read_model(_folder(spine) / "student_int8_compressed.tflite").main
    assert [layer["type"] for layer in layers] == [
        graph.operators[i].opcode for i in report["memory"]["order"]]
    assert sum(layer["macs"] for layer in layers) == analyze_subgraph(graph).macs_total
    bench = report["on_target"]["per_layer"]
    assert [layer["instructions"] for layer in layers] == [b["instructions"] for b in bench]
    assert max(layer["arena_bytes_in_use"] for layer in layers) <= report["memory"][
        "arena_bytes"]
    assert report["codegen"]["generated"] and report["codegen"]["arena_bytes"] == report[
        "memory"]["arena_bytes"]
    assert report["memory"]["tensors"] and all(
        t["offset"] + t["size"] <= report["memory"]["arena_bytes"]
        for t in report["memory"]["tensors"])


def test_tinykit_report_regenerates_the_same_pages(spine, tmp_path, capsys):
    copy = tmp_path / "cortex-m4"
    shutil.copytree(_folder(spine), copy)
    for name in ("report.md", "report.html"):
        (copy / name).unlink()
    assert main(["report", str(copy)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^verdict\s+PASS$", out, re.M)
    assert re.search(r"report\.md, report\.html \(rendered in \d+\.\d s\)", out)
    for name in ("report.md", "report.html"):  # same report.json, same bytes
        assert (copy / name).read_bytes() == (_folder(spine) / name).read_bytes(), name
    html = (copy / "report.html").read_text()
    assert html.count('<figure class="plot"') == 7
    # Nothing to fetch: the only URLs are the SVG and XLink namespace names.
    assert set(re.findall(r"\w+://[^\"'<> ]*", html)) == {"http://www.w3.org/2000/svg",
                                                         "http://www.w3.org/1999/xlink"}
    assert main(["report", "--check", str(copy)]) == 0


@pytest.mark.parametrize(("damage", "words"), [
    (lambda text: text[: len(text) // 2], "is damaged: not valid JSON"),
    (lambda text: text.replace('"schema_version": 2', '"schema_version": 99', 1),
     "has report schema version 99"),
    (lambda text: re.sub(r'"accuracy": 0\.\d+', '"accuracy": "high"', text, count=1),
     "does not match the report schema v2: $.variants[0].accuracy: 'high' is not of type"),
])
def test_damaged_or_foreign_reports_are_clear_errors(spine, tmp_path, capsys, damage, words):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "report.json").write_text(damage((_folder(spine) / "report.json").read_text()))
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert words in err and "hint:" in err and "Traceback" not in err
    assert not (folder / "report.html").exists()
