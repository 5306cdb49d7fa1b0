"""`tinykit analyze` end to end through the CLI, on every shared model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_model_paths
from tinykit.cli import main

MODELS = shared_model_paths()


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_json_has_the_promised_keys(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    for key in ("ops", "macs_total", "weights_bytes", "arena_bytes", "tensors", "plan"):
        assert key in payload
    assert all({"type", "macs"} <= set(op) for op in payload["ops"])
    assert payload["macs_total"] == sum(op["macs"] for op in payload["ops"])
    assert payload["fit"] is None


def test_table_plan_and_fit(shared_model: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_model("mlperf_ic_resnet8_int8.tflite")
    assert main(["analyze", str(path), "--plan", "--target", "cortex-m4"]) == 0
    out = capsys.readouterr().out
    for expected in ("CONV_2D", "ADD", "12,501,632", "first op", "verdict: FITS", "margin"):
        assert expected in out


def test_over_budget_exits_1_with_the_numbers(shared_model: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # 479 KB of weights and a 96 KB arena against 256 KB flash and 32 KB RAM.
    path = shared_model("coral_mobilenet_v1_025_128_uint8.tflite")
    assert main(["analyze", str(path), "--target", "cortex-m0plus"]) == 1
    out = capsys.readouterr().out
    assert "DOES NOT FIT" in out and "RAM over by" in out and "flash over by" in out
    assert main(["analyze", str(path), "--target", "cortex-m0plus", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["fit"]["fits"] is False and payload["fit"]["ram"]["margin"] < 0


def test_user_errors_exit_2_with_a_hint(tmp_path: Path, shared_model: Any,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(shared_model("mlperf_kws_dscnn_int8.tflite").read_bytes()[:5000])
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a model\n")
    cases = [
        ([str(truncated)], "corrupt TFLite file"),
        ([str(text)], "not a TFLite model"),
        ([str(tmp_path / "absent.tflite")], "does not exist"),
        ([str(truncated), "--target", "cortex-m5"], "unknown target"),
        ([str(text), "--alignment", "12"], "power of two"),
    ]
    for args, message in cases:
        assert main(["analyze", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and "hint:" in err and "Traceback" not in err


def test_analyze_imports_no_tensorflow(shared_model: Any) -> None:
    path = shared_model("tflm_hello_world_int8.tflite")
    code = (
        "import sys\nfrom tinykit.cli import main\n"
        f"assert main(['analyze', {str(path)!r}, '--json']) == 0\n"
        "heavy = [m for m in ('tensorflow', 'tf_keras', 'keras', 'tflite_runtime') "
        "if m in sys.modules]\nprint(heavy, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stderr.strip().splitlines()[-1] == "[]"
