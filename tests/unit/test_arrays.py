"""C arrays of a .tflite: content, determinism, compilation with gcc and arm-none-eabi-gcc."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import require_tool
from tinykit.cli import main
from tinykit.codegen.arrays import resolver_method, tflite_type_name, write_arrays
from tinykit.tflite.planner import plan_memory
from tinykit.tflite.reader import read_model

MODELS = ["mlperf_kws_dscnn_int8.tflite", "tflm_hello_world_float.tflite",
          "tflm_keyword_scrambled_svdf_int8.tflite", "mcunet_detection_int8_floatio.tflite"]


def _bytes_of(source: str, name: str = "model") -> bytes:
    body = source.split(f"{name}_data[")[1].split("};")[0]
    return bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body.split("{", 1)[1]))


@pytest.mark.parametrize("name", MODELS)
def test_arrays_hold_the_exact_bytes_and_describe_the_model(shared_model, tmp_path, name):
    path = shared_model(name)
    result = write_arrays(path, tmp_path, labels=["yes", 'say "no"'])
    header = result.header.read_text()
    source = result.source.read_text()
    assert _bytes_of(source) == path.read_bytes()
    model = read_model(path)
    graph = model.main
    assert f"#define MODEL_DATA_LEN {path.stat().st_size}u" in header
    assert model.sha256 in header
    floor = plan_memory(graph, scratch={}, streaming_ops={}, op_alignment={}, alignment=16,
                        reorder=False).arena_bytes
    assert f"MODEL_TFLM_ARENA_MIN_BYTES {floor}u" in header
    assert "MODEL_ARENA_BYTES" not in header  # that name is the native C's (model.h)
    for role, indices in (("INPUT", graph.inputs), ("OUTPUT", graph.outputs)):
        assert f"#define MODEL_{role}_COUNT {len(indices)}" in header
        for i, t in enumerate(indices):
            tensor = graph.tensors[t]
            shape = ", ".join(str(d) for d in tensor.shape)
            assert f"model_{role.lower()}{i}_shape[{len(tensor.shape)}] = {{{shape}}};" in source
            assert f"#define MODEL_{role}{i}_ELEMENTS {tensor.num_elements}" in header
            if tensor.quantization is not None and len(tensor.quantization.scale) == 1:
                scale = float(re.search(rf"MODEL_{role}{i}_SCALE ([^f]+)f", header).group(1))
                assert scale == pytest.approx(tensor.quantization.scale[0], rel=1e-7)
                assert f"MODEL_{role}{i}_ZERO_POINT ({tensor.quantization.zero_point[0]})" in header
    ops = sorted({op.opcode for op in graph.operators})
    assert f"#define MODEL_OP_COUNT {len(ops)}" in header
    for op in ops:
        assert f"X({op}, {resolver_method(op)})" in header
    assert '"say \\"no\\""' in source and "MODEL_CLASS_COUNT 2" in header


def test_same_input_same_bytes(shared_model, tmp_path):
    path = shared_model("tflm_hello_world_int8.tflite")
    write_arrays(path, tmp_path / "a")
    write_arrays(path, tmp_path / "b")
    for name in ("model_data.h", "model_data.c"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_resolver_names_and_type_names():
    assert resolver_method("CONV_2D") == "AddConv2D"
    assert resolver_method("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert resolver_method("FULLY_CONNECTED") == "AddFullyConnected"
    assert resolver_method("UNIDIRECTIONAL_SEQUENCE_LSTM") == "AddUnidirectionalSequenceLSTM"
    assert resolver_method("SVDF") == "AddSvdf"
    assert resolver_method("RESIZE_NEAREST_NEIGHBOR") == "AddResizeNearestNeighbor"
    assert resolver_method("CUSTOM:TFLite_Detection_PostProcess") == ""
    assert tflite_type_name("int8") == "kTfLiteInt8"
    assert tflite_type_name("uint8") == "kTfLiteUInt8"
    assert tflite_type_name("float32") == "kTfLiteFloat32"


_MAIN = r"""
#include <stdio.h>
#include "kws_data.h"
#define COUNT(op, method) + 1
int main(void) {
    int ops = 0 KWS_OPS(COUNT);
    if (ops != KWS_OP_COUNT) return 1;
    if (((unsigned long)kws_data) % 16u != 0u) return 2;
    if (kws_data_len != KWS_DATA_LEN || kws_data[4] != 'T' || kws_data[7] != '3') return 3;
    printf("%d %u %d %d\n", ops, kws_data_len, (int)kws_input0_shape[1], KWS_INPUT0_ZERO_POINT);
    return 0;
}
"""


@pytest.mark.toolchain
def test_arrays_compile_and_run_on_the_host(shared_model, tmp_path):
    gcc = require_tool("gcc", "gcc")
    path = shared_model("mlperf_kws_dscnn_int8.tflite")
    write_arrays(path, tmp_path, name="kws")
    (tmp_path / "main.c").write_text(_MAIN)
    exe = tmp_path / "main"
    subprocess.run([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o", str(exe),
                    str(tmp_path / "main.c"), str(tmp_path / "kws_data.c")], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["6", str(path.stat().st_size), "49", "83"]  # 6 distinct op types
    gxx = require_tool("g++", "g++")
    subprocess.run([gxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-x", "c++", "-c",
                    str(tmp_path / "main.c"), "-o", str(tmp_path / "main.o")], check=True)


@pytest.mark.toolchain
def test_arrays_cross_compile_for_cortex_m4_into_flash(shared_model, tmp_path):
    cc = require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    path = shared_model("mlperf_kws_dscnn_int8.tflite")
    result = write_arrays(path, tmp_path)
    obj = tmp_path / "model_data.o"
    subprocess.run([cc, "-mcpu=cortex-m4", "-mthumb", "-std=c99", "-Wall", "-Wextra", "-Werror",
                    "-Os", "-c", str(result.source), "-o", str(obj)], check=True)
    size = require_tool("arm-none-eabi-size", "binutils-arm-none-eabi")
    text, data, bss = map(int, subprocess.run([size, str(obj)], capture_output=True, text=True,
                                              check=True).stdout.splitlines()[1].split()[:3])
    assert text >= path.stat().st_size and data == 0 and bss == 0  # const: all in flash


def test_cli_writes_arrays_and_reports_errors(shared_model, tmp_path, capsys):
    path = shared_model("tflm_hello_world_int8.tflite")
    labels = tmp_path / "labels.txt"
    labels.write_text("sine\n\n")
    assert main(["arrays", str(path), "-o", str(tmp_path / "out"), "--labels", str(labels)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert "model_class_names[1]" in (tmp_path / "out" / "model_data.h").read_text()
    assert main(["arrays", str(path), "-o", str(tmp_path), "--name", "int"]) == 2
    assert "C keyword" in capsys.readouterr().err
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    assert main(["arrays", str(junk), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    assert main(["arrays", str(path), "-o", str(blocker / "sub")]) == 2
    assert "cannot" in capsys.readouterr().err
