"""The memory planner: its contract on real models and on random graphs (hypothesis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import shared_model_paths
from tinykit.errors import ModelError
from tinykit.tflite.model import Operator, Quantization, Subgraph, Tensor
from tinykit.tflite.plancheck import check_plan
from tinykit.tflite.planner import MemoryPlan, PlanEntry, plan_memory
from tinykit.tflite.reader import read_model

MODELS = shared_model_paths()

#: arena_used_bytes of TFLM's recording interpreter on cortex-m4 (includes its bookkeeping).
TFLM_ARENA = {
    "mlperf_kws_dscnn_int8": 22_820, "mlperf_vww_mobilenetv1_int8": 100_708,
    "mlperf_ic_resnet8_int8": 54_996, "mlperf_ad_fc_autoencoder_int8": 2_580,
    "tflm_person_detect_int8": 82_308, "tflm_micro_speech_int8": 6_836,
}


#: Whole-tensor plans with 16-byte offsets (the planner before streams): each equals its
#: lower bound, so no plan that keeps whole tensors apart can do better.
WHOLE_TENSOR = {
    "mlperf_kws_dscnn_int8": 16_000, "mlperf_vww_mobilenetv1_int8": 55_296,
    "mlperf_ic_resnet8_int8": 49_152, "mlperf_ad_fc_autoencoder_int8": 768,
    "tflm_person_detect_int8": 55_296, "tflm_micro_speech_int8": 5_968,
}


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_shared_models_plan_soundly(path: Path) -> None:
    subgraph = read_model(path).main
    plan = plan_memory(subgraph)
    assert check_plan(subgraph, plan) == []
    assert plan.lower_bound <= plan.arena_bytes
    whole = plan_memory(subgraph, scratch={}, streaming_ops={}, alignment=16, reorder=False)
    assert check_plan(subgraph, whole) == [] and not whole.streams
    assert whole.arena_bytes == whole.lower_bound
    activations = plan_memory(subgraph, scratch={})  # without the kernels' scratch
    assert activations.arena_bytes <= whole.arena_bytes
    if path.stem in TFLM_ARENA:
        assert whole.arena_bytes == WHOLE_TENSOR[path.stem]
        assert activations.arena_bytes <= 0.7 * TFLM_ARENA[path.stem]
    with_scratch = plan_memory(subgraph, scratch={0: 1000, len(subgraph.operators) - 1: 7})
    assert check_plan(subgraph, with_scratch) == []
    assert with_scratch.scratch_offset(0) % 8 == 0
    assert plan_memory(subgraph).to_json() == plan.to_json()


def test_views_alias_their_input(shared_model: Any) -> None:
    subgraph = read_model(shared_model("tflm_micro_speech_int8.tflite")).main
    plan = plan_memory(subgraph)
    reshape = subgraph.operators[0]
    assert reshape.opcode == "RESHAPE" and plan.view_ops == {0}
    source, result = plan.entry(reshape.inputs[0]), plan.entry(reshape.outputs[0])
    assert result.alias_of == source.tensor and result.offset == source.offset
    assert source.alias_of is None
    # The merged lifetime spans the graph input (from op 0) to the view's last reader.
    assert (source.first_op, source.last_op) == (result.first_op, result.last_op) == (0, 1)
    with pytest.raises(KeyError):
        plan.offset(reshape.inputs[1])  # the shape tensor is a constant


def test_variables_live_for_the_whole_run_and_share_nothing(shared_model: Any) -> None:
    subgraph = read_model(shared_model("tflm_keyword_scrambled_svdf_int8.tflite")).main
    plan = plan_memory(subgraph)
    last = len(subgraph.operators) - 1
    states = [e for e in plan.entries if subgraph.tensors[e.tensor].is_variable]
    assert len(states) == 7
    for state in states:
        assert (state.first_op, state.last_op) == (0, last)
        for other in plan.entries:
            if other.tensor != state.tensor:
                assert (other.offset >= state.offset + state.size
                        or state.offset >= other.offset + other.size)


# --- hand-made graphs --------------------------------------------------------------------


def _t(index: int, shape: tuple[int, ...], dtype: str = "int8", *, data: bytes | None = None,
       variable: bool = False, quant: Quantization | None = None) -> Tensor:
    return Tensor(index, f"t{index}", shape, dtype, 0, data, quant, variable)


def _op(index: int, opcode: str, inputs: tuple[int, ...], outputs: tuple[int, ...],
        **options: Any) -> Operator:
    return Operator(index, opcode, 1, inputs, outputs, options)


def test_in_place_only_over_a_dying_input() -> None:
    q = Quantization((0.5,), (0,))
    tensors = (_t(0, (1, 64)), _t(1, (1, 64), quant=q), _t(2, (1, 64), quant=q),
               _t(3, (1, 64), quant=q), _t(4, (1, 64)))
    ops = (
        _op(0, "FULLY_CONNECTED", (0,), (1,)),
        _op(1, "RELU", (1,), (2,)),        # 1 dies here: 2 may take its bytes
        _op(2, "LOGISTIC", (2,), (3,)),    # 2 is read again by op 3: no
        _op(3, "ADD", (2, 3), (4,)),       # both die here: 4 takes the bytes of the first
    )
    subgraph = Subgraph("g", tensors, ops, (0,), (4,))
    plan = plan_memory(subgraph)
    assert plan.in_place == {1: 1, 3: 2}
    assert plan.offset(1) == plan.offset(2) and plan.entry(2).alias_of is None
    assert plan.offset(3) != plan.offset(2)
    assert check_plan(subgraph, plan) == []
    assert plan_memory(subgraph, streaming_ops={}).in_place == {}


def test_identity_ops_become_views_only_when_they_are_the_identity() -> None:
    perm = np.array([0, 3, 1, 2], dtype="<i4").tobytes()
    q = Quantization((0.1,), (3,))
    tensors = (_t(0, (1, 1, 1, 8), quant=q), _t(1, (4,), "int32", data=perm),
               _t(2, (1, 8, 1, 1), quant=q), _t(3, (1, 2, 2, 2), quant=q),
               _t(4, (1, 2, 2, 2), quant=q))
    ops = (_op(0, "TRANSPOSE", (0, 1), (2,)), _op(1, "RESHAPE", (2,), (3,)),
           _op(2, "TRANSPOSE", (3, 1), (4,)))
    subgraph = Subgraph("g", tensors, ops, (0,), (4,))
    plan = plan_memory(subgraph)
    assert plan.view_ops == {0, 1}  # op 2 really moves bytes: axes of extent 2
    assert plan.entry(3).alias_of == 0 and plan.entry(2).alias_of == 0
    assert plan.offset(4) != plan.offset(3)
    assert check_plan(subgraph, plan) == []


def test_lifetime_rules() -> None:
    tensors = (_t(0, (16,)), _t(1, (16,)), _t(2, (16,)), _t(3, (16,)),
               _t(4, (8,), variable=True), _t(5, (8,)), _t(6, (8,)))
    ops = (_op(0, "ABS", (0,), (1,)), _op(1, "SVDF", (0, 4), (2,)),
           _op(2, "ADD", (1, 2), (3,)), _op(3, "SPLIT", (3,), (5, 6)))
    plan = plan_memory(Subgraph("g", tensors, ops, (0,), (6, 1)), streaming_ops={})
    spans = {e.tensor: (e.first_op, e.last_op) for e in plan.entries}
    # input: op 0 to last reader; output 1: to after the last op even though op 2 is its
    # last reader; variable: whole run; unread output 5: only its writer.
    assert spans == {0: (0, 1), 1: (0, 3), 2: (1, 2), 3: (2, 3), 4: (0, 3), 5: (3, 3),
                     6: (3, 3)}


def test_a_tensor_written_twice_lives_until_its_last_write() -> None:
    tensors = (_t(0, (16,)), _t(1, (16,)), _t(2, (16,)), _t(3, (16,)))
    ops = (_op(0, "ABS", (0,), (1,)), _op(1, "NEG", (1,), (2,)),
           _op(2, "FLOOR", (2,), (1,)), _op(3, "ABS", (2,), (3,)))
    subgraph = Subgraph("g", tensors, ops, (0,), (3,))
    plan = plan_memory(subgraph)
    assert (plan.entry(1).first_op, plan.entry(1).last_op) == (0, 2)
    assert check_plan(subgraph, plan) == []


def test_read_before_write_is_a_model_error() -> None:
    tensors = (_t(0, (16,)), _t(1, (16,)), _t(2, (16,)))
    ops = (_op(0, "ADD", (0, 2), (1,)), _op(1, "ABS", (1,), (2,)))
    with pytest.raises(ModelError, match="before op"):
        plan_memory(Subgraph("g", tensors, ops, (0,), (2,)))


def test_checker_finds_overlaps_misalignment_and_overflow(shared_model: Any) -> None:
    subgraph = read_model(shared_model("mlperf_kws_dscnn_int8.tflite")).main
    plan = plan_memory(subgraph)

    def broken(change: dict[int, dict[str, int]], **plan_changes: Any) -> MemoryPlan:
        entries = tuple(
            PlanEntry(**{**e.__dict__, **change.get(e.tensor, {})}) for e in plan.entries
        )
        fields = {**plan.__dict__, "entries": entries, **plan_changes}
        fields.pop("_by_tensor")
        return MemoryPlan(**fields)

    conv = subgraph.operators[0]
    clash = broken({conv.outputs[0]: {"offset": plan.offset(conv.inputs[0])}})
    assert any("overlap" in p for p in check_plan(subgraph, clash))
    assert any("4-aligned" in p for p in check_plan(subgraph, broken({conv.outputs[0]: {
        "offset": plan.offset(conv.outputs[0]) + 1}})))
    assert any("outside the arena" in p
               for p in check_plan(subgraph, broken({}, arena_bytes=plan.arena_bytes - 16)))
    assert any("declared a view" in p
               for p in check_plan(subgraph, broken({}, view_ops=frozenset({0}))))


# --- random graphs -------------------------------------------------------------------------

_UNARY = ("RELU", "LOGISTIC", "ABS", "FLOOR", "RESHAPE", "CONV_2D", "SOFTMAX", "DEQUANTIZE")


@st.composite
def graphs(draw: st.DrawFn) -> tuple[Subgraph, dict[int, int], int]:
    """A random DAG in execution order: unary and binary ops, views, in-place candidates,
    two-output ops, variables, constants, unread outputs and several graph outputs."""
    tensors: list[Tensor] = []

    def new(size: int, **kw: Any) -> int:
        tensors.append(_t(len(tensors), (size,), **kw))
        return len(tensors) - 1

    inputs = [new(draw(st.integers(0, 300))) for _ in range(draw(st.integers(1, 3)))]
    state = new(draw(st.integers(1, 64)), variable=True) if draw(st.booleans()) else None
    weight = new(8, data=bytes(8))
    available = list(inputs)
    ops: list[Operator] = []
    for index in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(("unary", "binary", "split", "state")))
        a = draw(st.sampled_from(available))
        if kind == "unary":
            opcode = draw(st.sampled_from(_UNARY))
            same = opcode in ("RELU", "LOGISTIC", "ABS", "RESHAPE")
            size = tensors[a].nbytes if same else draw(st.integers(1, 300))
            if opcode == "DEQUANTIZE":  # a float output: it streams 3 bytes per element ahead
                outs: tuple[int, ...] = (len(tensors),)
                tensors.append(_t(len(tensors), (tensors[a].nbytes,), "float32"))
            else:
                outs = (new(size),)
            ins: tuple[int, ...] = (a, weight) if opcode == "CONV_2D" else (a,)
        elif kind == "binary":
            opcode, ins = "ADD", (a, draw(st.sampled_from(available)))
            size = max(tensors[t].nbytes for t in ins)  # the larger input's shape
            outs = (new(size if draw(st.booleans()) else draw(st.integers(1, 300))),)
        elif kind == "split":
            opcode, ins = "SPLIT", (a,)
            outs = (new(draw(st.integers(1, 200))), new(draw(st.integers(1, 200))))
        else:
            opcode = "SVDF"
            ins = (a, state) if state is not None else (a,)
            outs = (new(draw(st.integers(1, 300))),)
        ops.append(_op(index, opcode, ins, outs))
        available.extend(outs)
    produced = [t for op in ops for t in op.outputs]
    outputs = sorted({produced[-1], *draw(st.lists(st.sampled_from(produced), max_size=3))})
    scratch = draw(st.dictionaries(st.integers(0, len(ops) - 1), st.integers(0, 500),
                                   max_size=3))
    alignment = draw(st.sampled_from((1, 4, 8, 16)))
    return Subgraph("random", tuple(tensors), tuple(ops), tuple(inputs), tuple(outputs)), \
        scratch, alignment


@settings(max_examples=200, deadline=None, derandomize=True)
@given(graphs())
def test_random_graphs_get_sound_deterministic_plans(case: tuple[Subgraph, dict[int, int],
                                                                 int]) -> None:
    subgraph, scratch, alignment = case
    plan = plan_memory(subgraph, alignment=alignment, scratch=scratch)
    assert check_plan(subgraph, plan) == []
    assert plan.lower_bound <= plan.arena_bytes
    unit = 16  # no tensor, scratch buffer or arena size needs more
    total = sum(-(-e.size // unit) * unit for e in plan.entries if e.alias_of is None)
    total += sum(-(-size // unit) * unit for size in scratch.values())
    assert plan.arena_bytes <= max(total, 8)
    assert plan.arena_bytes % max(alignment, 8) == 0
    whole = plan_memory(subgraph, alignment=alignment, scratch=scratch, streaming_ops={},
                        reorder=False)
    assert check_plan(subgraph, whole) == [] and plan.arena_bytes <= whole.arena_bytes
    again = plan_memory(subgraph, alignment=alignment, scratch=scratch)
    assert again == plan and again.to_json() == plan.to_json()
    for op, size in scratch.items():
        assert plan.scratch_offset(op) % alignment == 0 if size else True


def test_bad_arguments_are_refused() -> None:
    subgraph = Subgraph("g", (_t(0, (4,)), _t(1, (4,))), (_op(0, "ABS", (0,), (1,)),),
                        (0,), (1,))
    with pytest.raises(ValueError, match="power of two"):
        plan_memory(subgraph, alignment=12)
    with pytest.raises(ValueError, match="power of two"):
        plan_memory(subgraph, alignment=32)
    with pytest.raises(ValueError, match="kind"):
        plan_memory(subgraph, streaming_ops={"ABS": "sideways"})
    with pytest.raises(ValueError, match="alignment of ABS"):
        plan_memory(subgraph, op_alignment={"ABS": 3})
    with pytest.raises(ValueError, match="scratch"):
        plan_memory(subgraph, scratch={3: 10})
    with pytest.raises(KeyError):
        plan_memory(subgraph).scratch_offset(0)
