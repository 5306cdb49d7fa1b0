"""Every int8 model of ../shared/models that `tinykit codegen` supports, on cortex-m4 in QEMU.

Outputs must equal the host byte for byte. Models codegen refuses are skipped with its
reason; a model over cortex-m4's budget must be refused with the numbers before building.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_tool, shared_model_paths
from tinykit.emulate.bench import BenchOptions, bench_model
from tinykit.errors import BudgetError, UnsupportedError

pytestmark = [pytest.mark.slow, pytest.mark.toolchain, pytest.mark.emulator]

#: Inputs above this many bytes get one sample: QEMU's UART model moves ~15 KB/s.
LARGE_INPUT = 4096


def _supported(path: Path) -> str | None:
    """None when codegen can generate the model, else codegen's reason."""
    from tinykit.codegen.generate import generate_sources
    from tinykit.tflite.reader import read_model

    try:
        generate_sources(read_model(path), "model")
    except UnsupportedError as exc:
        return exc.message
    return None


# KWS runs on every core, cortex-m4 included, in test_bench_cores.py.
MODELS = [p for p in shared_model_paths() if p.name != "mlperf_kws_dscnn_int8.tflite"]


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_every_supported_model_matches_the_host_on_cortex_m4(path, tmp_path):
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "qemu-system-arm")
    reason = _supported(path)
    if reason is not None:
        pytest.skip(f"codegen does not support it: {reason}")
    from tinykit.tflite.reader import read_model

    graph = read_model(path).main
    input_bytes = sum(graph.tensors[i].nbytes for i in graph.inputs)
    options = BenchOptions(model=path, target="cortex-m4", work_dir=tmp_path,
                           samples=1 if input_bytes > LARGE_INPUT else 2)
    try:
        result = bench_model(options)
    except BudgetError as exc:
        # Over the cortex-m4 budget (256 KiB of RAM): refused before building, with the
        # numbers. benchmarks/bench_firmware.py runs it on a larger M4 board's budget.
        assert "the budget is" in exc.message and "B" in exc.message
        assert not (tmp_path / "firmware").exists()
        return
    assert result.outputs_match is True, result.summary()
    assert result.count_per_inference and result.count_per_inference > 0
    assert len(result.per_layer) == len(graph.operators)
