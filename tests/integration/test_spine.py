"""The spine: the real default build (digits, cortex-m4), run once, checked many ways.

`tinykit build` runs in a subprocess exactly as a user runs it (the `spine` fixture in
tests/integration/conftest.py); a second build for cortex-m7 must reuse every
target-independent stage without importing TensorFlow.
"""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest

from tests.conftest import require_tool
from tinykit.config import load_config
from tinykit.tflite.reader import read_model

pytestmark = pytest.mark.slow

CACHED = ("data", "teacher", "student", "compress", "depthwise", "convert", "evaluate")
PER_TARGET = ("budget", "arrays", "codegen", "bench")


def _report(spine, target="cortex-m4") -> dict:
    return json.loads((spine["root"] / target / "report.json").read_text())


def _variants(report) -> dict[str, dict]:
    return {v["name"]: v for v in report["variants"]}


def test_compressed_int8_student_reaches_the_bars(spine):
    variants = _variants(_report(spine))
    deployed = variants["student_int8_compressed"]
    teacher = variants["teacher_float"]
    assert deployed["deployed"] and deployed["dtype"] == "int8"
    assert deployed["accuracy"] >= 0.95
    assert teacher["accuracy"] - deployed["accuracy"] <= 0.015
    assert deployed["sparsity"] >= 0.5
    assert deployed["max_unique_weights_per_channel"] <= 16
    assert all(layer["max_unique_per_channel"] <= 16 for layer in deployed["layers"])
    learned = [layer for layer in deployed["layers"] if layer["learned"]]
    assert [layer["opcode"] for layer in learned] == ["CONV_2D"] * 3 + ["FULLY_CONNECTED"]
    assert all(layer["sparsity"] >= 0.5 for layer in learned)
    # plain post-training int8 of the same student is not clustered
    assert variants["student_int8_ptq"]["max_unique_weights_per_channel"] > 16


def test_report_holds_what_the_issue_and_the_design_ask_for(spine):
    report = _report(spine)
    assert report["schema_version"] == 2 and report["tinykit_version"]
    assert report["target"] == "cortex-m4"
    assert report["config_hash"] == load_config(None).digest()
    data = report["data"]
    assert data["sizes"] == {"train": 1168, "val": 270, "test": 359}
    assert len(data["class_counts"]["train"]) == 10 and "class_weights" in data
    assert data["checks"]["constant_features"] == 4 and data["warnings"]
    assert set(report["timings"]) == {*CACHED, *PER_TARGET}
    assert all(t["seconds"] >= 0 and not t["cached"] for t in report["timings"].values())
    assert set(report["training"]) == {"teacher", "student", "prune", "cluster", "qat"}
    for name, history in report["training"].items():
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert len(history[key]) == history["epochs"], (name, key)
    names = [v["name"] for v in report["variants"]]
    assert names == ["teacher_float", "student_float", "student_int8_ptq",
                     "student_int8_compressed"]
    for variant in report["variants"]:
        assert 0 <= variant["accuracy"] <= 1
        path = spine["root"] / "cortex-m4" / variant["file"]
        assert variant["tflite_bytes"] == path.stat().st_size
        assert variant["arena_bytes"] > 0 and variant["fits"] is True
        agreement = variant["agreement"]
        assert agreement["check_samples"] == 256
        if variant["dtype"] == "float32":
            assert agreement["test"] == 1.0  # float .tflite matches Keras
        else:
            assert agreement["test"] >= 0.97 and agreement["check"] >= 0.9
    assert report["deployed"] == "student_int8_compressed"
    assert report["comparison"]["accuracy_drop_points"] <= 1.5


def test_predictions_file_matches_the_report(spine):
    report = _report(spine)
    with np.load(spine["root"] / "cortex-m4" / "predictions.npz") as arrays:
        labels = arrays["labels"]
        assert len(labels) == 359 and list(arrays["class_names"]) == [str(d) for d in range(10)]
        for variant in report["variants"]:
            predicted = arrays[f"{variant['name']}.predicted"]
            probabilities = arrays[f"{variant['name']}.probabilities"]
            assert probabilities.shape == (359, 10)
            assert np.array_equal(predicted, probabilities.argmax(axis=1))
            assert np.mean(predicted == labels) == pytest.approx(variant["accuracy"])


def test_deployed_model_is_full_int8(spine):
    model = read_model(spine["root"] / "cortex-m4" / "student_int8_compressed.tflite")
    graph = model.main
    assert graph.tensors[graph.inputs[0]].dtype == "int8"
    assert graph.tensors[graph.outputs[0]].dtype == "int8"
    for op in graph.operators:
        for index in (*op.inputs, *op.outputs):
            if index >= 0:
                assert graph.tensors[index].dtype in ("int8", "int32"), op.opcode


def test_output_folder_is_complete_and_clean(spine):
    out = spine["root"] / "cortex-m4"
    names = {p.name for p in out.iterdir()}
    assert {"report.json", "report.md", "predictions.npz", "model_data.h", "model_data.c",
            "teacher_float.tflite", "student_float.tflite", "student_int8_ptq.tflite",
            "student_int8_compressed.tflite", ".tinykit-build", "report.html", "bench.json",
            "c"} <= names
    assert {"model.h", "model.c", "tinykit_kernels.c"} <= {p.name for p in (out / "c").iterdir()}
    assert not [n for n in names if n.endswith(".tmp")]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".cortex")]
    cache = spine["root"] / "cache"
    entries = sorted(p.name.split("-")[0] for p in cache.iterdir())
    assert entries == sorted([*CACHED, "bench", "bench"])  # the benchmark per target
    assert all((p / "manifest.json").is_file() for p in cache.iterdir())
    markdown = (out / "report.md").read_text()
    assert "# tinykit build for cortex-m4" in markdown and "student_int8_compressed *" in markdown


def test_progress_shows_each_stage_time_and_epochs(spine):
    err = spine["m4"].stderr
    stages = [*CACHED, *PER_TARGET, "report"]
    for number, stage in enumerate(stages, start=1):
        assert f"[{number}/{len(stages)}] {stage}" in err
        assert re.search(rf"{stage}: done in \d+\.\d s", err)
    assert "teacher: epoch 40/40" in err and "qat: epoch 5/5" in err
    assert "cuInit" not in err and "oneDNN" not in err and "Traceback" not in err
    out = spine["m4"].stdout
    assert re.search(r"student_int8_compressed \*\s+9\d\.\d\d%\s+\[9\d\.\d\d, [\d.]+\]\s+"
                     r"[\d,]+\s+5\d\.\d%\s+1[0-6](?:\s+[\d,]+){4}\s+PASS", out)
    assert re.search(r"^weights\s+[\d,]+ B in flash, 0\.\d\dx .* \(goal <= 0\.5x\): PASS$",
                     out, re.M)
    assert out.count("PASS") == 6 and re.search(r"^verdict\s+PASS$", out, re.M)


def test_second_target_reuses_everything_without_tensorflow(spine):
    err = spine["m7"].stderr
    for stage in CACHED:
        assert f"{stage}: reused from cache" in err
    assert "tensorflow imported: False" in err
    assert spine["m7_seconds"] < 60
    m4, m7 = _report(spine), _report(spine, "cortex-m7")
    assert m7["target"] == "cortex-m7" and m7["target_budget"]["clock_hz"] != (
        m4["target_budget"]["clock_hz"])
    assert [v["accuracy"] for v in m7["variants"]] == [v["accuracy"] for v in m4["variants"]]
    assert all(t["cached"] for name, t in m7["timings"].items() if name in CACHED)
    root = spine["root"]
    for name in ("model_data.c", "student_int8_compressed.tflite"):
        assert (root / "cortex-m7" / name).read_bytes() == (root / "cortex-m4" / name).read_bytes()


def test_arrays_are_the_deployed_model_and_match_tinykit_arrays(spine, tmp_path):
    from tinykit.cli import main

    out = spine["root"] / "cortex-m4"
    model = out / "student_int8_compressed.tflite"
    assert main(["arrays", str(model), "-o", str(tmp_path)]) == 0
    header = (out / "model_data.h").read_text()
    assert read_model(model).sha256 in header and "MODEL_CLASS_COUNT 10" in header
    # the build passes the class names; otherwise the same bytes as `tinykit arrays`
    assert (tmp_path / "model_data.c").read_text() in (out / "model_data.c").read_text()


@pytest.mark.toolchain
def test_build_arrays_compile_for_host_and_cortex_m4(spine, tmp_path):
    out = spine["root"] / "cortex-m4"
    for compiler, flags in ((require_tool("gcc", "gcc"), []),
                            (require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi"),
                             ["-mcpu=cortex-m4", "-mthumb"])):
        subprocess.run([compiler, *flags, "-std=c99", "-Wall", "-Wextra", "-Werror", "-c",
                        str(out / "model_data.c"), "-o", str(tmp_path / "m.o")], check=True)
