"""The reader against tflite-runtime, an independent oracle, on every model it accepts.

tflite-runtime runs in a worker process (tinykit.tflite.litert); it refuses
tflm_person_detect_int8.tflite (bias tensors with quantized_dimension 3), which the
test then expects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_model_paths
from tinykit.errors import ModelError
from tinykit.tflite.litert import model_details
from tinykit.tflite.reader import read_model

MODELS = shared_model_paths()
REFUSED = {"tflm_person_detect_int8"}


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_reader_agrees_with_tflite_runtime(path: Path) -> None:
    if path.stem in REFUSED:
        with pytest.raises(ModelError, match="quantized_dimension"):
            model_details(path)
        return
    details = model_details(path)
    subgraph = read_model(path).main
    assert [op["op_name"] for op in details["ops"]] == [op.opcode for op in subgraph.operators]
    for op, ours in zip(details["ops"], subgraph.operators, strict=True):
        assert tuple(op["inputs"]) == ours.inputs and tuple(op["outputs"]) == ours.outputs
    # Kernels may add scratch tensors after the model's own; compare the model's.
    model_tensors = [t for t in details["tensors"] if t["index"] < len(subgraph.tensors)]
    assert len(model_tensors) == len(subgraph.tensors)
    for theirs in model_tensors:
        tensor = subgraph.tensors[theirs["index"]]
        assert (tensor.name, list(tensor.shape), tensor.dtype) == (
            theirs["name"], theirs["shape"], theirs["dtype"])
        q = theirs["quantization"]
        if not q["scales"]:
            assert tensor.quantization is None
            continue
        assert tensor.quantization is not None
        np.testing.assert_allclose(tensor.quantization.scale, q["scales"], rtol=1e-7)
        assert list(tensor.quantization.zero_point) == q["zero_points"]
        assert tensor.quantization.quantized_dimension == q["quantized_dimension"]
    assert [t["index"] for t in details["inputs"]] == list(subgraph.inputs)
    assert [t["index"] for t in details["outputs"]] == list(subgraph.outputs)
