"""Streams and reordering through the generated C: byte-exact on the host and on cores.

`streams_model` (tests/arena_models.py) chains every op kind that streams and a branch
the planner reorders. The planner keeps only the streams that pay; `every_stream` makes
it keep every stream the kernels allow, each at its tightest distance, so the byte-exact
checks cover each kernel's side of the contract (portable C on the host; the DSP, Helium
and ARMv6-M versions in QEMU). A plan one unit too tight must give other bytes: the checks
can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.arena_models import streams_model
from tests.codegen_helpers import assert_exact, verify_bytes
from tests.conftest import require_tool
from tinykit.tflite import planner, ties
from tinykit.tflite.reader import read_model
from tinykit.tflite.streaming import WINDOW_KINDS, op_units

pytestmark = pytest.mark.toolchain


@pytest.fixture
def every_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans keep every candidate stream, not only those that lower the arena."""
    monkeypatch.setattr(planner, "choose_ties", lambda groups, candidates, blocks:
                        list(candidates))


def _plan(data: bytes) -> planner.MemoryPlan:
    from tinykit.codegen.generate import plan_arena

    return plan_arena(read_model(data).main)


def test_streams_and_a_reordered_branch_are_byte_exact(tmp_path: Path) -> None:
    data, samples = streams_model()
    plan = _plan(data)
    whole = planner.plan_memory(read_model(data).main, streaming_ops={}, reorder=False)
    assert plan.streams and plan.reordered and plan.arena_bytes < whole.arena_bytes
    assert_exact(verify_bytes(data, tmp_path, "streams", samples=samples))


def test_every_stream_at_its_tightest_is_byte_exact(tmp_path: Path, every_stream: None
                                                    ) -> None:
    data, samples = streams_model()
    plan = _plan(data)
    kinds = {s.kind for s in plan.streams.values()}
    assert len(plan.streams) >= 15 and kinds == {"tiles", "ring", "elements"}
    assert any(s.distance > 0 for s in plan.streams.values() if s.kind == "elements")
    assert_exact(verify_bytes(data, tmp_path, "streams", samples=samples))


def test_a_plan_one_unit_too_tight_gives_other_bytes(tmp_path: Path, every_stream: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Bypass the checker and move every window stream one output unit closer."""
    import tinykit.codegen.generate as generate

    original = ties.stream_distance

    def tighter(op, subgraph, position, kind):  # type: ignore[no-untyped-def]
        distance = original(op, subgraph, position, kind)
        units = op_units(op, subgraph, position, kind) if kind in WINDOW_KINDS else None
        return distance if units is None or distance is None else distance - units.out_unit

    monkeypatch.setattr(ties, "stream_distance", tighter)
    monkeypatch.setattr(generate, "check_plan", lambda *args, **kwargs: [])
    data, samples = streams_model()
    result = verify_bytes(data, tmp_path, "tight", samples=samples)
    assert not all(c.ok for c in result.outputs)


@pytest.mark.slow
@pytest.mark.emulator
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m0plus", "cortex-m55"])
def test_every_stream_on_the_core_in_qemu(target: str, tmp_path: Path, every_stream: None
                                          ) -> None:
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "qemu-system-arm")
    from tinykit.emulate.bench import BenchOptions, bench_model

    data, _ = streams_model()
    path = tmp_path / "streams.tflite"
    path.write_bytes(data)
    plan = _plan(data)
    result = bench_model(BenchOptions(model=path, target=target, work_dir=tmp_path / "w",
                                      samples=2))
    assert result.outputs_match is True, result.summary()
    # Per-layer counts follow the steps: the hook reports the step, op_type its op's type.
    graph = read_model(data).main
    assert [layer.type for layer in result.per_layer] == \
        [graph.operators[i].opcode for i in plan.order]
