"""Before lowering: refuse what tinykit cannot run, and fold what is static.

`check_supported` looks at the whole graph first, so that an unsupported model fails
before anything is generated, with a message naming the op type, its index and what to
do. `fold_constants` evaluates, at generation time, the shape arithmetic the converter
emits for Keras Flatten and friends (SHAPE, PACK, STRIDED_SLICE on constants, views of
constants), so the C never computes a shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinykit.codegen.lower_shape import slice_plan
from tinykit.codegen.registry import KERNELS, UNSUPPORTED_HINTS
from tinykit.errors import UnsupportedError
from tinykit.tflite.model import Operator, Subgraph, Tensor

#: Ops that may touch float32 tensors: the edges of float-I/O models and pure data movement.
_FLOAT_EDGE_OPS = {"QUANTIZE", "DEQUANTIZE", "SHAPE", "PACK", "RESHAPE", "SQUEEZE",
                   "EXPAND_DIMS", "TRANSPOSE", "STRIDED_SLICE", "SLICE", "CONCATENATION"}
_SHAPE_OPS = {"SHAPE", "PACK", "STRIDED_SLICE", "RESHAPE", "SQUEEZE", "EXPAND_DIMS",
              "CONCATENATION"}
_INT8_HINT = ("convert with full integer quantization: a representative dataset, "
              "converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8] "
              "(int8 or float32 model inputs and outputs)")


def _op_name(op: Operator) -> str:
    return f"op {op.index} ({op.opcode})"


def _unsupported_op(graph: Subgraph, op: Operator) -> UnsupportedError:
    base = op.opcode.split(":")[0]
    others = sorted({o.opcode for o in graph.operators if o.opcode not in KERNELS})
    more = f" (unsupported op types in this model: {', '.join(others)})" if len(others) > 1 \
        else ""
    hint = UNSUPPORTED_HINTS.get(base) or (
        "replace the layer that produces it with supported ones (docs/ops.md lists them), "
        "or run this model with TensorFlow Lite Micro (tinykit arrays)")
    return UnsupportedError(f"{_op_name(op)} is not supported by tinykit's kernels{more}",
                            hint=hint)


def _dtype_problem(op: Operator, tensors: list[Tensor]) -> UnsupportedError | None:
    dtypes = {t.dtype for t in tensors}
    if "uint8" in dtypes:
        return UnsupportedError(f"{_op_name(op)} uses uint8 tensors (legacy asymmetric "
                                "quantization)", hint=_INT8_HINT)
    if "int16" in dtypes and op.opcode not in _SHAPE_OPS:
        return UnsupportedError(f"{_op_name(op)} uses int16 activations (16x8 "
                                "quantization); tinykit runs int8 models", hint=_INT8_HINT)
    if "float32" in dtypes and op.opcode not in _FLOAT_EDGE_OPS:
        weights_int8 = any(t.dtype == "int8" and t.is_constant for t in tensors)
        kind = "is hybrid (float activations with int8 weights, dynamic-range quantization)" \
            if weights_int8 else "computes in float32 (the model is not quantized)"
        return UnsupportedError(f"{_op_name(op)} {kind}; tinykit generates int8 code",
                                hint=_INT8_HINT)
    return None


def check_supported(graph: Subgraph) -> None:
    """Raise `UnsupportedError` for the first op (in execution order) tinykit cannot run."""
    for op in graph.operators:
        if op.opcode not in KERNELS:
            raise _unsupported_op(graph, op)
    for tensor in graph.tensors:
        if tensor.is_variable:
            users = [op for op in graph.operators if tensor.index in op.inputs]
            where = _op_name(users[0]) if users else f"tensor {tensor.index}"
            raise UnsupportedError(
                f"{where} keeps state in a variable tensor ({tensor.index}); stateful "
                "models are not supported",
                hint="export a stateless model; keep streaming state in your application")
    for op in graph.operators:
        tensors = [graph.tensors[i] for i in (*op.inputs, *op.outputs) if i >= 0]
        problem = _dtype_problem(op, tensors)
        if problem is not None:
            raise problem


@dataclass
class Folded:
    """Values known at generation time: tensor index -> array, and the ops that made them."""

    values: dict[int, np.ndarray] = field(default_factory=dict)
    ops: set[int] = field(default_factory=set)


def _static(graph: Subgraph, folded: Folded, index: int) -> np.ndarray | None:
    if index < 0:
        return None
    if index in folded.values:
        return folded.values[index]
    tensor = graph.tensors[index]
    return tensor.numpy() if tensor.is_constant else None


def _fold_one(graph: Subgraph, op: Operator, folded: Folded) -> np.ndarray | None:
    output = graph.tensors[op.outputs[0]]
    if op.opcode == "SHAPE":
        dtype = np.int64 if str(op.options.get("out_type", "INT32")) == "INT64" else np.int32
        return np.array(graph.tensors[op.inputs[0]].shape, dtype=dtype)
    values = [_static(graph, folded, i) for i in op.inputs]
    if op.opcode == "PACK" and all(v is not None for v in values):
        axis = int(op.options.get("axis", 0))
        return np.stack([v for v in values if v is not None], axis=axis)
    if values[0] is None:
        return None
    if op.opcode in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
        return values[0].reshape(output.shape)
    if op.opcode == "CONCATENATION" and all(v is not None for v in values):
        axis = int(op.options.get("axis", 0))
        return np.concatenate([v for v in values if v is not None], axis=axis)
    if op.opcode == "STRIDED_SLICE" and all(v is not None for v in values[1:4]):
        begin, end, strides = (np.asarray(v).reshape(-1).astype(int).tolist()
                               for v in values[1:4])
        plan = slice_plan(list(values[0].shape), begin, end, strides, dict(op.options))
        index = np.ix_(*[start + step * np.arange(count) for start, count, step in plan])
        return values[0][index].reshape(output.shape)
    return None


def fold_constants(graph: Subgraph) -> Folded:
    """Evaluate every op whose result is known without running the model."""
    folded = Folded()
    for op in graph.operators:
        if len(op.outputs) != 1 or op.opcode not in KERNELS:
            continue
        try:
            value = _fold_one(graph, op, folded)
        except ValueError as exc:
            raise UnsupportedError(f"{_op_name(op)}: {exc}") from exc
        if value is not None:
            folded.values[op.outputs[0]] = value
            folded.ops.add(op.index)
    return folded
