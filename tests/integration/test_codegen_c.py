"""The generated C as C: warnings on every compiler, reproducibility, the API contract,
two models in one firmware, the per-op hook, hostile names and refused models."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.codegen_flatbuffers import rename_tensors, rewrite
from tests.codegen_helpers import assert_exact, verify_bytes
from tests.conftest import require_tool
from tests.integration.test_codegen_ops import MODELS, _model
from tinykit import __version__
from tinykit.cli import main
from tinykit.codegen.generate import KERNEL_FILES, CodegenOptions, codegen, generate_sources
from tinykit.emulate.host import STRICT_CFLAGS, TensorSpec, compile_host, run_host
from tinykit.targets import load_target
from tinykit.tflite import litert
from tinykit.tflite.reader import read_model

pytestmark = pytest.mark.toolchain

ARM_CORES = ("cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m55")


@pytest.fixture(scope="module")
def varied_folder(tmp_path_factory) -> Path:
    """One folder with hand-built models that use every kind of kernel parameter block."""
    folder = tmp_path_factory.mktemp("varied")
    for name in ("data_movement", "softmax_and_float_edges", "arithmetic", "convolutions",
                 "lut_fixed_point"):
        path = folder / f"{name}.tflite"
        path.write_bytes(_model(*MODELS[name])[0])
        codegen(CodegenOptions(path, folder / "c", name))
    return folder / "c"


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_host_compilers_build_it_without_a_warning(compiler, varied_folder, tmp_path):
    cc = require_tool(compiler, compiler)
    for source in sorted(varied_folder.glob("*.c")):
        subprocess.run([cc, *STRICT_CFLAGS, "-O2", "-c", str(source), "-o",
                        str(tmp_path / f"{source.stem}.o")], check=True)


@pytest.mark.parametrize("core", ARM_CORES)
def test_arm_gcc_builds_it_without_a_warning(core, varied_folder, tmp_path):
    cc = require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    flags = list(load_target(core).cflags)
    for source in sorted(varied_folder.glob("*.c")):
        subprocess.run([cc, *STRICT_CFLAGS, *flags, "-Os", "-c", str(source), "-o",
                        str(tmp_path / f"{source.stem}.o")], check=True)


def test_model_constants_are_named_and_kernels_are_not_duplicated(shared_model, tmp_path):
    """`arm-none-eabi-nm` tells the model's data (NAME_const_*) from the shared kernels."""
    cc = require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    nm = require_tool("arm-none-eabi-nm", "gcc-arm-none-eabi")
    codegen(CodegenOptions(shared_model("mlperf_kws_dscnn_int8.tflite"), tmp_path, "kws"))
    flags = [*STRICT_CFLAGS, *load_target("cortex-m4").cflags, "-Os"]
    subprocess.run([cc, *flags, "-c", str(tmp_path / "kws.c"), "-o", str(tmp_path / "kws.o")],
                   check=True)
    symbols = subprocess.run([nm, str(tmp_path / "kws.o")], capture_output=True, text=True,
                             check=True).stdout.split("\n")
    rodata = [line.split()[-1] for line in symbols if re.match(r"^\S+ [rR] ", line)]
    assert rodata and all(name.startswith("kws_const_") for name in rodata), rodata
    defined = {line.split()[-1] for line in symbols if re.match(r"^\S+ [TtDdBbRr] ", line)}
    assert not {name for name in defined if name.startswith("tk_")}
    assert {"kws_init", "kws_invoke", "kws_input", "kws_output", "kws_op_type",
            "kws_set_op_hook", "kws_arena"} <= defined


def test_output_is_reproducible_and_has_a_banner(shared_model):
    path = shared_model("mlperf_ic_resnet8_int8.tflite")
    first = generate_sources(read_model(path), "resnet").files
    second = generate_sources(read_model(path), "resnet").files
    assert first == second
    digest = read_model(path).sha256
    for name in ("resnet.c", "resnet.h"):
        head = first[name].split("\n", 3)
        assert f"tinykit {__version__}" in head[0] and digest in head[1]


APP = r"""
#include <stdio.h>
#include <string.h>
#include "kws.h"
#include "sine.h"

int main(int argc, char **argv)
{
    FILE *in = fopen(argv[1], "rb");
    unsigned char kws_in[KWS_INPUT0_BYTES];
    signed char sine_in;
    size_t i;
    (void)argc;
    if (in == NULL || fread(kws_in, 1, sizeof kws_in, in) != sizeof kws_in ||
        fread(&sine_in, 1, 1, in) != 1) {
        return 2;
    }
    if (kws_init() != 0 || sine_init() != 0) {
        return 3;
    }
    if (kws_input(1) != NULL || kws_output_bytes(1) != 0 || kws_op_type(KWS_NUM_OPS) != NULL
        || strcmp(kws_op_type(0), "CONV_2D") != 0 || KWS_NUM_INPUTS != 1
        || SINE_NUM_OPS != 3 || kws_input_bytes(0) != KWS_INPUT0_BYTES) {
        return 4;
    }
    memcpy(kws_input(0), kws_in, sizeof kws_in);
    memcpy(sine_input(0), &sine_in, 1);
    if (kws_invoke() != 0 || sine_invoke() != 0) {
        return 5;
    }
    for (i = 0; i < kws_output_bytes(0); ++i) {
        printf("%d ", ((signed char *)kws_output(0))[i]);
    }
    printf("%d\n", *(signed char *)sine_output(0));
    return 0;
}
"""


def test_two_models_share_one_folder_and_link_into_one_program(shared_model, tmp_path):
    """Generated into one folder, two models link together (one copy of the kernels, no
    symbol clash) and each still matches tflite-runtime."""
    cc = require_tool("gcc", "gcc")
    kws, sine = shared_model("mlperf_kws_dscnn_int8.tflite"), \
        shared_model("tflm_hello_world_int8.tflite")
    codegen(CodegenOptions(kws, tmp_path, "kws"))
    codegen(CodegenOptions(sine, tmp_path, "sine"))
    assert sorted(p.name for p in tmp_path.glob("*.[ch]")) == sorted(
        ["kws.c", "kws.h", "sine.c", "sine.h", *KERNEL_FILES])
    (tmp_path / "app.c").write_text(APP)
    exe = tmp_path / "app"
    subprocess.run([cc, *STRICT_CFLAGS, "-I", str(tmp_path), *map(str, tmp_path.glob("*.c")),
                    "-o", str(exe), "-lm"], check=True)
    rng = np.random.default_rng(3)
    kws_in = rng.integers(-128, 128, size=(1, 49, 10, 1), dtype=np.int8)
    sine_in = np.array([[37]], dtype=np.int8)
    (tmp_path / "in.bin").write_bytes(kws_in.tobytes() + sine_in.tobytes())
    printed = subprocess.run([str(exe), str(tmp_path / "in.bin")], capture_output=True,
                             text=True, check=True).stdout.split()
    expected_kws = litert.run_model(kws, [[kws_in]])[0][0].reshape(-1).tolist()
    expected_sine = litert.run_model(sine, [[sine_in]])[0][0].reshape(-1).tolist()
    assert [int(v) for v in printed] == expected_kws + expected_sine


def test_hook_sees_every_op_then_the_end(shared_model, tmp_path):
    path = shared_model("mlperf_kws_dscnn_int8.tflite")  # op 10 is a RESHAPE view
    sources = codegen(CodegenOptions(path, tmp_path, "model")).sources
    exe = compile_host(tmp_path, "model", tmp_path / "run")
    log = tmp_path / "hook.log"
    sample = [np.zeros((1, 49, 10, 1), np.int8)]
    run_host(exe, [sample, sample], [TensorSpec((1, 49, 10, 1), "int8")],
             [TensorSpec(sources.outputs[0].tensor.shape, "int8")], hook_log=log)
    calls = [int(v) for v in log.read_text().split()]
    assert calls == list(range(14)) * 2


EVIL = ["*/ evil(); /*", "line\nbreak(); //", "??/ trigraph\\", 'quote " \\" */',
        "\u00e9t\u00e9 */ #define x", "/* nested"]


def test_names_from_the_model_cannot_change_the_code(shared_model, tmp_path):
    """Tensor names, the subgraph name and the description end up in comments only:
    after preprocessing (comments gone), the C is the same as with harmless names."""
    original = shared_model("mlperf_kws_dscnn_int8.tflite").read_bytes()

    def hostile(model, _schema):
        model.description = "*/ int hacked; /*\n#error"
        model.subgraphs[0].name = "*/ x(); /*"

    evil = rewrite(rename_tensors(original, lambda i, _: EVIL[i % len(EVIL)] + str(i)),
                   hostile)
    plain = rename_tensors(original, lambda i, _: f"tensor{i}")
    texts = {}
    for label, data in (("evil", evil), ("plain", plain)):
        folder = tmp_path / label
        files = generate_sources(read_model(data), "model").files
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
        texts[label] = subprocess.run(
            ["gcc", "-std=c99", "-E", "-P", "-I", str(folder), str(folder / "model.c")],
            capture_output=True, text=True, check=True).stdout
    masked = {k: re.sub(r"0x[0-9a-f]{8}UL", "ID", v) for k, v in texts.items()}
    assert masked["evil"] == masked["plain"]
    assert_exact(verify_bytes(evil, tmp_path, "evil", samples=3))


REFUSED = {
    "coral_mobilenet_v1_025_128_uint8.tflite": ("op 0 (CONV_2D)", "uint8"),
    "mlperf_ad_fc_autoencoder_hybrid.tflite": ("op 0 (FULLY_CONNECTED)", "hybrid"),
    "tflm_hello_world_float.tflite": ("op 0 (FULLY_CONNECTED)", "float32"),
    "tflm_mnist_lstm_int8.tflite": ("op 0 (UNIDIRECTIONAL_SEQUENCE_LSTM)", "LSTM"),
    "tflm_keyword_scrambled_svdf_int8.tflite": ("op 1 (SVDF)", "SVDF"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_models_are_refused_and_nothing_is_written(name, shared_model, tmp_path,
                                                               capsys):
    where, what = REFUSED[name]
    out = tmp_path / "out"
    assert main(["codegen", str(shared_model(name)), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert where in err and what in err and "hint:" in err
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["codegen", str(shared_model(name)), "-o", str(out)]) == 2
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_codegen_command(shared_model, tmp_path, capsys):
    model = shared_model("tflm_micro_speech_int8.tflite")
    assert main(["codegen", str(model), "-o", str(tmp_path), "--name", "speech"]) == 0
    out = capsys.readouterr().out
    assert "speech_input(0)" in out and "arena" in out
    assert (tmp_path / "speech.h").stat().st_mode & 0o444 == 0o444
    for bad in ("Model", "int", "2fast", "tk_model", "a-b"):
        assert main(["codegen", str(model), "-o", str(tmp_path / bad), "--name", bad]) == 2
        assert "--name" in capsys.readouterr().err
