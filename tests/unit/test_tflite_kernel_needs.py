"""`tinykit.tflite.kernel_needs` restates the code generator's kernel choice: check it.

`tinykit analyze` plans with `kernel_needs` (no code generator import), `tinykit codegen`
with `kernel_choice` of the registry; both must pick the same kernel, scratch bytes and
streaming kind for every op, or analyze would print another arena than the C has.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.arena_models import streams_model
from tests.conftest import shared_model_paths
from tinykit.tflite.kernel_needs import kernel_needs, op_kernel
from tinykit.tflite.model import Subgraph
from tinykit.tflite.reader import read_model

MODELS = shared_model_paths()


def _graphs() -> list[tuple[str, Subgraph]]:
    graphs = [(p.stem, read_model(p).main) for p in MODELS]
    return [*graphs, ("streams_model", read_model(streams_model()[0]).main)]


@pytest.mark.parametrize("name,graph", _graphs(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_op_gets_the_code_generators_kernel_and_scratch(name: str,
                                                              graph: Subgraph) -> None:
    from tinykit.codegen.generate import op_streaming
    from tinykit.codegen.registry import KERNELS, kernel_choice

    checked = 0
    for op in graph.operators:
        if op.opcode not in KERNELS or KERNELS[op.opcode].lower is None:
            continue
        ours = op_kernel(graph, op)
        if ours is None:
            continue
        choice = kernel_choice(graph, op)
        assert ours == (choice.kernel, choice.scratch_bytes), (name, op.index, op.opcode)
        checked += 1
    needs = kernel_needs(graph)
    supported = all(op.opcode in KERNELS for op in graph.operators)
    if supported:
        assert needs.op_streaming == op_streaming(graph), name
    assert checked or not any(op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
                              for op in graph.operators)


def test_malformed_ops_get_no_kernel_rather_than_an_exception() -> None:
    from tinykit.tflite.model import Operator, Tensor

    tensor = Tensor(0, "t", (4,), "int8", 0, None)
    for opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        graph = Subgraph("g", (tensor,), (Operator(0, opcode, 1, (0,), (0,)),), (0,), (0,))
        picked = op_kernel(graph, graph.operators[0])
        assert picked is None or picked[1] >= 0
        assert kernel_needs(graph).scratch.get(0, 0) >= 0


def test_models_paths_exist_or_are_skipped(models_dir: Path) -> None:
    assert MODELS, f"no models found in {models_dir}"
