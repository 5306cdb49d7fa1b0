"""Refusing what tinykit cannot run, and folding static shape arithmetic, on small graphs."""

from __future__ import annotations

import numpy as np
import pytest

from tinykit.codegen.graph import check_supported, fold_constants
from tinykit.errors import UnsupportedError
from tinykit.tflite.model import Operator, Quantization, Subgraph, Tensor

Q = Quantization((0.1,), (0,))


def _tensor(index, shape, dtype="int8", data=None, quant=Q, variable=False):
    raw = None if data is None else np.asarray(data).astype(dtype).tobytes()
    return Tensor(index, f"t{index}", tuple(shape), dtype, 0, raw,
                  quant if dtype in ("int8", "uint8", "int16") else None, variable)


def _graph(tensors, ops):
    return Subgraph("main", tuple(tensors), tuple(ops), (0,), (ops[-1].outputs[0],))


def _op(index, opcode, inputs, outputs, **options):
    return Operator(index, opcode, 1, tuple(inputs), tuple(outputs), options)


def test_an_unknown_op_is_named_with_its_index():
    graph = _graph([_tensor(0, [4]), _tensor(1, [4])],
                   [_op(0, "RELU", [0], [1]), _op(1, "GELU", [1], [0])])
    with pytest.raises(UnsupportedError) as info:
        check_supported(graph)
    assert "op 1 (GELU)" in info.value.message and info.value.hint


def test_recurrent_ops_get_their_own_hint():
    graph = _graph([_tensor(0, [4]), _tensor(1, [4])],
                   [_op(0, "UNIDIRECTIONAL_SEQUENCE_LSTM", [0], [1])])
    with pytest.raises(UnsupportedError) as info:
        check_supported(graph)
    assert "LSTM" in info.value.hint


@pytest.mark.parametrize("dtype, words", [("uint8", "uint8"), ("int16", "int16"),
                                          ("float32", "float32")])
def test_unsupported_types_are_refused(dtype, words):
    graph = _graph([_tensor(0, [4], dtype), _tensor(1, [4], dtype)],
                   [_op(0, "RELU", [0], [1])])
    with pytest.raises(UnsupportedError) as info:
        check_supported(graph)
    assert words in info.value.message and "op 0 (RELU)" in info.value.message


def test_hybrid_is_named_as_such():
    tensors = [_tensor(0, [1, 4], "float32"), _tensor(1, [2, 4], data=np.ones((2, 4))),
               _tensor(2, [1, 2], "float32")]
    graph = _graph(tensors, [_op(0, "FULLY_CONNECTED", [0, 1, -1], [2])])
    with pytest.raises(UnsupportedError) as info:
        check_supported(graph)
    assert "hybrid" in info.value.message


def test_variable_tensors_are_refused():
    tensors = [_tensor(0, [4]), _tensor(1, [4], variable=True), _tensor(2, [4])]
    graph = _graph(tensors, [_op(0, "ADD", [0, 1], [2])])
    with pytest.raises(UnsupportedError) as info:
        check_supported(graph)
    assert "variable" in info.value.message


def test_flatten_shape_arithmetic_is_folded():
    """SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE, as the converter writes a Flatten."""
    tensors = [
        _tensor(0, [1, 5, 4, 3]), _tensor(1, [4], "int32"),
        _tensor(2, [1], "int32", data=[0]), _tensor(3, [1], "int32", data=[1]),
        _tensor(4, [1], "int32", data=[1]), _tensor(5, [], "int32"),
        _tensor(6, [], "int32", data=60), _tensor(7, [2], "int32"), _tensor(8, [1, 60]),
    ]
    ops = [_op(0, "SHAPE", [0], [1]),
           _op(1, "STRIDED_SLICE", [1, 2, 3, 4], [5], shrink_axis_mask=1),
           _op(2, "PACK", [5, 6], [7], axis=0), _op(3, "RESHAPE", [0, 7], [8])]
    folded = fold_constants(_graph(tensors, ops))
    assert folded.ops == {0, 1, 2}
    assert folded.values[1].tolist() == [1, 5, 4, 3]
    assert folded.values[5].tolist() == 1
    assert folded.values[7].tolist() == [1, 60]
