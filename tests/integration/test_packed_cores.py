"""Packed weights through the generated C: byte-exact on the host and on every core.

`packed_model()` (tests/packed_models.py) reaches every path of tk_packed.c with every
format; generated with `weights="packed"` each layer runs its packed kernel, and the
outputs must equal tflite-runtime's (which reads the same values, dense) byte for byte:
portable C on the host, and every version (MVE, DSP, ARMv6-M, portable) in QEMU. The
streams model runs with every stream the packed kernels allow at its tightest distance.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.arena_models import streams_model
from tests.codegen_helpers import assert_exact, verify_bytes
from tests.conftest import require_tool
from tests.packed_models import packed_model
from tinykit.codegen import packing
from tinykit.codegen.generate import generate_sources, kernel_sources
from tinykit.codegen.kernels import kernel_label
from tinykit.emulate.bench import BenchOptions, bench_model
from tinykit.targets import load_target
from tinykit.tflite import planner
from tinykit.tflite.reader import read_model

pytestmark = pytest.mark.toolchain

CORES = ["cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]


@pytest.fixture
def every_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans keep every candidate stream, not only those that lower the arena."""
    monkeypatch.setattr(planner, "choose_ties", lambda groups, candidates, blocks:
                        list(candidates))


def _by_op(sources) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    steps = dict(zip(sources.plan.order, zip(sources.op_kernels, sources.op_weights,
                                             strict=True), strict=True))
    return [steps[i] for i in sorted(steps) if steps[i][0]]


def test_each_layer_takes_the_format_and_kernel_it_was_built_for():
    built = packed_model()
    sources = generate_sources(read_model(built.data), "model", "packed")
    assert _by_op(sources) == list(zip(built.kernels, built.formats, strict=True))
    assert sources.weight_bytes < 0.5 * sources.dense_weight_bytes


def test_auto_packs_only_the_layers_that_save_a_quarter():
    built = packed_model()
    graph = read_model(built.data).main
    plan = packing.plan_weights(graph, "auto")
    assert any(layer.packed for layer in plan.layers.values())
    savings: dict[str, int] = {}
    saving = [layer for layer in plan.layers.values() if layer.packed_format and
              layer.packed_bytes <= 0.75 * layer.dense_bytes]
    assert all(layer in saving for layer in plan.layers.values() if layer.packed)
    for layer in saving:
        kernel = packing.PACKED_KERNELS[layer.dense_kernel]
        savings[kernel] = savings.get(kernel, 0) + layer.dense_bytes - layer.packed_bytes
    for layer in saving:  # a kernel left out saves less than its code
        kernel = packing.PACKED_KERNELS[layer.dense_kernel]
        if not layer.packed:
            assert savings[kernel] < packing.PACKED_CODE_BYTES[kernel] + \
                packing.DECODER_CODE_BYTES, layer
    sources = generate_sources(read_model(built.data), "model")
    assert [w for w in sources.op_weights if w] == \
        [plan.layers[op].format for op in sources.plan.order if op in plan.layers]


def test_packed_layers_match_tflite_on_the_host(tmp_path):
    built = packed_model()
    with packing.weights_mode("packed"):
        assert_exact(verify_bytes(built.data, tmp_path, "packed", samples=4))


def test_streams_over_packed_layers_at_their_tightest_are_byte_exact(tmp_path, every_stream):
    data, samples = streams_model()
    with packing.weights_mode("packed"):
        sources = generate_sources(read_model(data), "model")
        kernels = {k for k in sources.op_kernels if "packed" in k}
        assert {"tk_conv2d_packed_s8", "tk_depthwise_conv2d_3x3_packed_s8"} <= kernels
        kinds = {s.kind for s in sources.plan.streams.values()}
        assert {"tiles", "ring"} <= kinds
        assert_exact(verify_bytes(data, tmp_path, "streams", samples=samples))


@pytest.mark.slow
@pytest.mark.emulator
@pytest.mark.parametrize("core", CORES)
def test_every_packed_kernel_matches_the_host_on_every_core(core, tmp_path):
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "qemu-system-arm")
    built = packed_model()
    path = tmp_path / "packed.tflite"
    path.write_bytes(built.data)
    result = bench_model(BenchOptions(model=path, target=core, samples=2, weights="packed",
                                      work_dir=tmp_path / "bench", cycle_estimate=False))
    assert result.outputs_match is True, result.summary()
    target = load_target(core)
    sources = generate_sources(read_model(built.data), "model", "packed")
    expected = [kernel_label(k, target.features, target.arch) + f" [{w}]"
                for k, w in zip(sources.op_kernels, sources.op_weights, strict=True) if k]
    assert [layer.kernel for layer in result.per_layer if layer.kernel] == expected


@pytest.mark.slow
@pytest.mark.emulator
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m0plus", "cortex-m55"])
def test_streams_over_packed_layers_on_the_core(core, tmp_path, every_stream):
    require_tool("qemu-system-arm", "qemu-system-arm")
    data, samples = streams_model()
    path = tmp_path / "streams.tflite"
    path.write_bytes(data)
    result = bench_model(BenchOptions(model=path, target=core, samples=2, weights="packed",
                                      work_dir=tmp_path / "bench", cycle_estimate=False))
    assert result.outputs_match is True, result.summary()


#: Functions of tk_packed.c -> the entry points whose code they are ("decoder": the
#: channel decoder every entry point shares).
_DEPTHWISE = ("tk_depthwise_conv2d_packed_s8", "tk_depthwise_conv2d_rows_packed_s8",
              "tk_depthwise_conv2d_3x3_packed_s8", "tk_depthwise_conv2d_3x3s2_packed_s8")
_CONV, _FC = ("tk_conv2d_packed_s8",), ("tk_fully_connected_packed_s8",)
_FAMILY: dict[str, tuple[str, ...]] = {
    "tk_conv2d_packed_s8": _CONV, "tk_packed_channels": _CONV, "tk_packed_im2col": _CONV,
    "tk_packed_expand": _CONV, "tk_sparse_dot": _CONV, "tk_packed_tile_rows": _CONV,
    "tk_packed_dot": _CONV, "tk_walk8_channels": _CONV, "tk_packed_interleave": _CONV,
    "tk_fully_connected_packed_s8": _FC, "tk_fc_packed_row": _FC, "tk_fc_packed_dot": _FC,
    "tk_fc_packed_input": _FC,
    "tk_unpack": ("decoder",), "tk_next_nonzero": ("decoder",),
    "tk_depthwise_unpack": _DEPTHWISE, **{name: (name,) for name in _DEPTHWISE},
}


def _code_bytes(core: str, folder: Path) -> dict[str, int]:
    """Bytes of each entry point's code (with the helpers only it calls) for one core."""
    target = load_target(core)
    obj = folder / f"{core}.o"
    subprocess.run(["arm-none-eabi-gcc", *target.cflags, "-O2", "-std=c99",
                    "-ffunction-sections", "-I", str(folder), "-c",
                    str(folder / "tk_packed.c"), "-o", str(obj)], check=True)
    nm = subprocess.run(["arm-none-eabi-nm", "-S", str(obj)], capture_output=True, text=True,
                        check=True).stdout
    sizes: dict[str, int] = {}
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[2] not in "tT":
            continue
        name = re.sub(r"\..*$", "", parts[3])  # tk_sparse_dot.isra.0
        assert name in _FAMILY, f"{name}: which entry point's code is it? (_FAMILY)"
        for family in _FAMILY[name]:
            sizes[family] = sizes.get(family, 0) + int(parts[1], 16)
    return sizes


def test_the_code_bytes_the_choice_counts_cover_the_compiled_kernels(tmp_path):
    """packing.PACKED_CODE_BYTES holds the most any core needs, and not much more."""
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    for name, text in kernel_sources().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    most: dict[str, int] = {}
    for core in ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m33", "cortex-m55"):
        for family, size in _code_bytes(core, tmp_path).items():
            most[family] = max(most.get(family, 0), size)
    table = {**packing.PACKED_CODE_BYTES, "decoder": packing.DECODER_CODE_BYTES}
    assert set(most) == set(table)
    for family, size in most.items():
        assert 0.85 * table[family] <= size <= table[family], (family, size, table[family])
