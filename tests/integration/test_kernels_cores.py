"""Every kernel version on every core: hand-built models in QEMU against tflite-runtime.

The variants and one-channel models (tests/kernel_models.py) reach each path of the per-core kernels
(MVE on cortex-m55, DSP on m4/m7/m33, ARMv6-M on m0plus, portable C on m3 and the host);
the chain model makes the planner stream outputs over dying inputs and the ring kernel
write in place. Outputs must equal the host's byte for byte, and the kernel each layer
reports must be the one the compiler built for that core.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.codegen_helpers import assert_exact, verify_bytes
from tests.conftest import require_tool
from tests.kernel_models import Built, chain_model, one_channel_model, variants_model
from tinykit.codegen.generate import generate_sources, kernel_sources
from tinykit.codegen.kernels import kernel_label
from tinykit.codegen.registry import KERNELS
from tinykit.emulate.bench import BenchOptions, bench_model
from tinykit.targets import load_target
from tinykit.tflite.reader import read_model

pytestmark = pytest.mark.toolchain

CORES = ["cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
MODELS = {"variants": variants_model, "chain": chain_model, "one_channel": one_channel_model}


def _model(name: str, folder: Path) -> tuple[Path, Built]:
    built = MODELS[name]()
    path = folder / f"{name}.tflite"
    path.write_bytes(built.data)
    return path, built


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_op_calls_the_kernel_it_was_built_for(name):
    built = MODELS[name]()
    sources = generate_sources(read_model(built.data), "model")
    called = [k for k in sources.op_kernels if k]
    assert called == built.kernels


@pytest.mark.parametrize("name", sorted(MODELS))
def test_portable_versions_match_on_the_host(name, tmp_path):
    built = MODELS[name]()
    assert_exact(verify_bytes(built.data, tmp_path, name, samples=3))


def test_the_chain_is_planned_in_place_and_streamed():
    graph = read_model(chain_model().data).main
    plan = generate_sources(read_model(chain_model().data), "model").plan
    overlaps = 0
    for op in graph.operators:
        source, result = plan.entry(op.inputs[0]), plan.entry(op.outputs[0])
        if source.offset < result.offset + result.size and \
                result.offset < source.offset + source.size:
            overlaps += 1
    assert overlaps >= 3, "the chain no longer exercises output over input"


def test_the_one_channel_kernel_writes_over_its_dying_input():
    built = one_channel_model()
    graph = read_model(built.data).main
    plan = generate_sources(read_model(built.data), "model").plan
    last = max(i for i, kernel in enumerate(built.kernels) if kernel == "tk_conv2d_1ch_s8")
    op = graph.operators[last]  # the streamed one, feeding a convolution
    source, result = plan.entry(op.inputs[0]), plan.entry(op.outputs[0])
    assert result.offset < source.offset < result.offset + result.size


@pytest.mark.slow
@pytest.mark.emulator
@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_kernel_version_matches_the_host_on_every_core(name, core, tmp_path):
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "qemu-system-arm")
    path, built = _model(name, tmp_path)
    result = bench_model(BenchOptions(model=path, target=core, samples=2,
                                      work_dir=tmp_path / "bench"))
    assert result.outputs_match is True, result.summary()
    target = load_target(core)
    reported = [layer.kernel for layer in result.per_layer if layer.kernel]
    assert reported == [kernel_label(k, target.features, target.arch) for k in built.kernels]


@pytest.mark.parametrize("core", CORES)
def test_the_reported_version_is_what_the_compiler_builds(core, tmp_path):
    """kernels.kernel_version mirrors the preprocessor choice of tinykit_kernels.h."""
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    for name, text in kernel_sources().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    kernels = sorted({k for entry in KERNELS.values() for k in entry.kernels})
    probe = tmp_path / "probe.c"
    probe.write_text('#include "tinykit_kernels.h"\n' + "".join(
        f"const char *k{i} = TK_KERNEL_NAME({k});\n" for i, k in enumerate(kernels)))
    target = load_target(core)
    text = subprocess.run(["arm-none-eabi-gcc", *target.cflags, "-E", "-P", "-I",
                           str(tmp_path), str(probe)], capture_output=True, text=True,
                          check=True).stdout
    built = {}
    for i, k in enumerate(kernels):
        found = re.search(rf"const char \*k{i} = ((?:\"[^\"]*\"\s*)+);", text)
        assert found, k
        built[k] = "".join(re.findall(r"\"([^\"]*)\"", found.group(1)))
    assert built == {k: kernel_label(k, target.features, target.arch) for k in kernels}
