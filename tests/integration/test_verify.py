"""`tinykit verify`: the verdict, the per-output figures and the exit status."""

from __future__ import annotations

import numpy as np
import pytest

from tests.codegen_flatbuffers import GraphBuilder
from tinykit.cli import main

pytestmark = pytest.mark.toolchain


def test_verify_passes_on_kws(shared_model, capsys):
    assert main(["verify", str(shared_model("mlperf_kws_dscnn_int8.tflite")),
                 "--samples", "4"]) == 0
    out = capsys.readouterr().out
    assert "100.00%" in out and "PASS" in out and "0/4" in out


def _per_channel_fc_keep_dims() -> bytes:
    """RELU, then FULLY_CONNECTED with per-channel weights and a 4-d output (keep_num_dims),
    then RELU."""
    rng = np.random.default_rng(5)
    graph = GraphBuilder()
    x = graph.tensor([1, 1, 1, 8], quant=(0.05, 3))
    r = graph.tensor([1, 1, 1, 8], quant=(0.05, 3))
    graph.op("RELU", [x], [r])
    weights = rng.integers(-127, 128, size=(4, 8), dtype=np.int8)
    w = graph.tensor([4, 8], quant=([0.01, 0.02, 0.015, 0.03], [0, 0, 0, 0], 0), data=weights)
    y = graph.tensor([1, 1, 1, 4], quant=(0.1, -5), name="dense")
    graph.op("FULLY_CONNECTED", [r, w, -1], [y], "FullyConnectedOptions", keepNumDims=True)
    z = graph.tensor([1, 1, 1, 4], quant=(0.1, -5))
    graph.op("RELU", [y], [z])
    return graph.build([x], [z])


def test_verify_reports_a_mismatch_with_exit_status_1(tmp_path, capsys):
    """A real disagreement: tflite-runtime 2.14's reference per-channel FULLY_CONNECTED
    fills only the first channel of a 4-d output. verify says so and fails."""
    path = tmp_path / "fc.tflite"
    path.write_bytes(_per_channel_fc_keep_dims())
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", str(path), "--samples", "3"])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "first output channel" in captured.out
    assert "op 1 (FULLY_CONNECTED) is the first whose output differs: tensor 3 (dense)" \
        in captured.out
    row = next(line for line in captured.out.splitlines() if line.strip().startswith("0 "))
    assert "3/3" in row


def test_verify_rejects_a_model_it_cannot_generate(shared_model, capsys):
    assert main(["verify", str(shared_model("tflm_hello_world_float.tflite"))]) == 2
    assert "float32" in capsys.readouterr().err
