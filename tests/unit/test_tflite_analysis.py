"""MAC counts, weight bytes, the fit check and the rendering of `tinykit analyze`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinykit.errors import ModelError
from tinykit.tflite.analysis import analyze_subgraph
from tinykit.tflite.analyze import AnalyzeOptions, analyze
from tinykit.tflite.fit import BASE_RUNTIME, check_fit, runtime_estimate
from tinykit.tflite.model import Operator, Quantization, Subgraph, Tensor
from tinykit.tflite.reader import read_model
from tinykit.tflite.render import as_json, clean, json_text, text

#: Total MACs measured with TensorFlow Lite Micro (ground truth given with the issue).
TFLM_MACS = {
    "mlperf_kws_dscnn_int8": 2_656_768, "mlperf_vww_mobilenetv1_int8": 7_489_664,
    "mlperf_ic_resnet8_int8": 12_501_632, "mlperf_ad_fc_autoencoder_int8": 264_192,
    "tflm_person_detect_int8": 7_157_888, "tflm_micro_speech_int8": 336_000,
}


@pytest.mark.parametrize("name", sorted(TFLM_MACS))
def test_macs_reproduce_tflm_exactly(name: str, shared_model: Any) -> None:
    analysis = analyze_subgraph(read_model(shared_model(f"{name}.tflite")).main)
    assert analysis.macs_total == TFLM_MACS[name]


def test_per_op_convention_on_kws(shared_model: Any) -> None:
    ops = analyze_subgraph(read_model(shared_model("mlperf_kws_dscnn_int8.tflite")).main).ops
    # CONV_2D 10x4 on 1 channel -> 1x25x5x64; DEPTHWISE 3x3; CONV 1x1 on 64 channels.
    assert ops[0].macs == 25 * 5 * 64 * 10 * 4 * 1
    assert ops[1].macs == 25 * 5 * 64 * 3 * 3
    assert ops[2].macs == 25 * 5 * 64 * 64
    assert ops[11].macs == 12 * 64 and ops[11].formula == "out 1x12 x 64 features"
    assert [op.macs for op in ops[9:11] + ops[12:]] == [0, 0, 0]  # pool, reshape, softmax
    assert ops[0].weight_quantization == "per-channel"
    assert ops[11].weight_quantization == "per-tensor"
    assert ops[10].weight_bytes == 8 and ops[10].weight_quantization == "-"


def test_recurrent_ops(shared_model: Any) -> None:
    lstm = analyze_subgraph(read_model(shared_model("tflm_mnist_lstm_int8.tflite")).main)
    # 28 steps x 4 gates x 20 cells x (28 inputs + 20 recurrent), no peephole/projection.
    assert lstm.ops[0].macs == 28 * 4 * 20 * (28 + 20)
    svdf = analyze_subgraph(read_model(
        shared_model("tflm_keyword_scrambled_svdf_int8.tflite")).main)
    assert svdf.ops[1].macs == 64 * (96 + 8)
    assert svdf.macs_total == sum(op.macs for op in svdf.ops)


def _const(index: int, shape: tuple[int, ...], dtype: str = "int8") -> Tensor:
    size = int(np.prod(shape)) * {"int8": 1, "int32": 4, "float32": 4}[dtype]
    return Tensor(index, f"c{index}", shape, dtype, index, bytes(size),
                  Quantization((0.1,), (0,)) if dtype == "int8" else None)


def _act(index: int, shape: tuple[int, ...]) -> Tensor:
    return Tensor(index, f"a{index}", shape, "int8", 0, None)


def _single(opcode: str, tensors: tuple[Tensor, ...], inputs: tuple[int, ...],
            **options: Any) -> Subgraph:
    out = len(tensors) - 1
    op = Operator(0, opcode, 1, inputs, (out,), options)
    return Subgraph("g", tensors, (op,), (inputs[0],), (out,))


def test_grouped_conv_transpose_conv_and_batch_matmul() -> None:
    grouped = _single("CONV_2D", (_act(0, (1, 8, 8, 16)), _const(1, (32, 3, 3, 4)),
                                  _act(2, (1, 8, 8, 32))), (0, 1))
    assert analyze_subgraph(grouped).macs_total == 8 * 8 * 32 * 3 * 3 * 4
    transpose = _single("TRANSPOSE_CONV", (_const(0, (4,), "int32"), _const(1, (8, 3, 3, 4)),
                                           _act(2, (1, 5, 5, 4)), _act(3, (1, 10, 10, 8))),
                        (0, 1, 2))
    assert analyze_subgraph(transpose).macs_total == 5 * 5 * 4 * 3 * 3 * 8
    matmul = _single("BATCH_MATMUL", (_act(0, (2, 3, 7)), _act(1, (2, 7, 5)),
                                      _act(2, (2, 3, 5))), (0, 1))
    assert analyze_subgraph(matmul).macs_total == 2 * 3 * 5 * 7


def test_odd_weight_shapes_are_model_errors() -> None:
    bad = _single("CONV_2D", (_act(0, (1, 8, 8, 16)), _const(1, (32, 9)), _act(2, (1, 8, 8, 32))),
                  (0, 1))
    with pytest.raises(ModelError, match=r"expected \[out, kh, kw, in\]"):
        analyze_subgraph(bad)
    missing = _single("FULLY_CONNECTED", (_act(0, (1, 8)), _act(1, (1, 4))), (0, -1))
    with pytest.raises(ModelError, match="no weights"):
        analyze_subgraph(missing)


def test_weights_bytes_count_each_buffer_once() -> None:
    shared = _const(1, (4, 8))
    tensors = (_act(0, (1, 8)), shared, _act(2, (1, 4)), _act(3, (1, 4)))
    ops = (Operator(0, "FULLY_CONNECTED", 1, (0, 1), (2,)),
           Operator(1, "FULLY_CONNECTED", 1, (0, 1), (3,)))
    analysis = analyze_subgraph(Subgraph("g", tensors, ops, (0,), (2, 3)))
    assert [op.weight_bytes for op in analysis.ops] == [32, 32]
    assert analysis.weights_bytes == 32 and analysis.activation_bytes == 16


def test_fit_terms_and_verdict(shared_model: Any) -> None:
    subgraph = read_model(shared_model("mlperf_kws_dscnn_int8.tflite")).main
    analysis = analyze_subgraph(subgraph)
    fit = check_fit(subgraph, analysis, 16_000, target="t", flash_bytes=100_000,
                    ram_bytes=20_096, stack_bytes=4_096)
    assert fit.ram.needed == 20_096 and fit.ram.margin == 0 and fit.fits
    assert fit.flash.terms[0].bytes == analysis.weights_bytes
    assert fit.flash.terms[1].estimate and not fit.flash.terms[0].estimate
    assert runtime_estimate(subgraph) > BASE_RUNTIME
    tight = check_fit(subgraph, analysis, 16_000, target="t", flash_bytes=1_000,
                      ram_bytes=20_095, stack_bytes=4_096)
    assert not tight.fits and tight.ram.margin == -1 and tight.flash.margin < 0


def test_stage_text_and_json(shared_model: Any) -> None:
    path = shared_model("tflm_micro_speech_int8.tflite")
    result = analyze(AnalyzeOptions(model=path, target="cortex-m0plus"))
    report = text(result, show_plan=True)
    for expected in ("DEPTHWISE_CONV_2D", "per-channel", "336,000", "arena plan",
                     "view of", "runtime code and op parameters (estimate)", "verdict: FITS"):
        assert expected in report
    payload = json.loads(json_text(result))
    assert payload["macs_total"] == 336_000
    assert payload["arena_bytes"] == result.plan.arena_bytes
    assert [op["type"] for op in payload["ops"]] == [
        "RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    assert payload["fit"]["ram"]["needed"] == result.plan.arena_bytes + 2048
    assert len(payload["tensors"]) == len(result.model.main.tensors)
    assert payload["tensors"][payload["inputs"][0]]["arena"]["offset"] >= 0


def test_untrusted_names_are_escaped(tmp_path: Path) -> None:
    assert clean("a\nb\x1b[31mred\u202e") == "a\\x0ab\\x1b[31mred\\u202e"
    assert clean("x" * 100, limit=10) == "x" * 9 + "…"
    tensors = (Tensor(0, "in\x1b[2J", (1, 4), "int8", 0, None,
                      Quantization((float("nan"),), (0,))),
               Tensor(1, "out\nforged line", (1, 4), "int8", 0, None))
    op = Operator(0, "ABS", 1, (0,), (1,), {"alpha": float("inf")})
    subgraph = Subgraph("g", tensors, (op,), (0,), (1,))
    from tinykit.tflite.analyze import AnalyzeResult
    from tinykit.tflite.model import Model
    from tinykit.tflite.planner import plan_memory

    model = Model(3, "desc\x07", (subgraph,), {}, "0" * 64, 10)
    result = AnalyzeResult(tmp_path / "m.tflite", model, analyze_subgraph(subgraph),
                           plan_memory(subgraph), None)
    report = text(result, show_plan=True)
    assert "\x1b" not in report and "\x07" not in report and "forged line" in report
    assert "out\\x0aforged line" in report
    payload = json.loads(json_text(result))  # NaN and inf became null: valid JSON
    assert payload["tensors"][0]["quantization"]["scale"] == [None]
    assert payload["ops"][0]["options"]["alpha"] is None
    assert as_json(result)["model"]["description"] == "desc\x07"
