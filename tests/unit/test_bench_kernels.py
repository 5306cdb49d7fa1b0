"""The kernel each layer ran, in BenchResult's JSON and per-layer table."""

from __future__ import annotations

import json

from tinykit.emulate.results import BenchResult, LayerCount


def _result() -> BenchResult:
    layers = (LayerCount(0, "CONV_2D", 900, "tk_conv2d_im2col_s8 (dsp)"),
              LayerCount(1, "RESHAPE", 20, ""),
              LayerCount(2, "SOFTMAX", 320, "tk_softmax_s8 (portable)"))
    return BenchResult(target="cortex-m4", model="kws.tflite", ran=True, runner="qemu",
                       machine="mps2-an386", count_unit="instructions", samples=1,
                       outputs_match=True, reference="tflite-runtime", counts=(1240,),
                       per_layer=layers, hook_overhead=0, clock_hz=80_000_000)


def test_json_names_the_kernel_of_each_layer():
    layers = json.loads(json.dumps(_result().to_json()))["per_layer"]
    assert [layer["kernel"] for layer in layers] == ["tk_conv2d_im2col_s8 (dsp)", None,
                                                       "tk_softmax_s8 (portable)"]


def test_the_layer_table_has_a_kernel_column():
    summary = _result().summary()
    header = next(line for line in summary.splitlines() if line.lstrip().startswith("#"))
    assert "kernel" in header.split()
    assert "tk_conv2d_im2col_s8 (dsp)" in summary
    row = next(line for line in summary.splitlines() if "RESHAPE" in line)
    assert " - " in row
