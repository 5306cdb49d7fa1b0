"""Which tensors need arena bytes, when they are live, and which may share bytes.

Lifetimes are inclusive op-index intervals `[first_op, last_op]`: a tensor is live while
the ops `first_op..last_op` run, so two tensors whose intervals meet at op k both exist
during op k and may not overlap. Rules (the contract of `tinykit.tflite.planner`):

- Graph inputs live from before op 0 (first_op 0) to their last reader.
- Graph outputs live until after the last op (last_op = number of ops - 1).
- Intermediates live from the op that writes them to the last op that reads them; an
  output nobody reads lives only during the op that writes it.
- Variable tensors (LSTM/SVDF state) live for the whole run and across invocations.
- Constants live in flash, not in the arena. Op intermediates (`Operator.intermediates`,
  e.g. the LSTM's gate tensors) carry only quantization parameters and get no bytes.

Two kinds of sharing, decided here and applied by the planner:

- A view (`view_input`) leaves the bytes of its input unchanged and reinterprets them:
  its output takes the input's offset and the lifetimes merge (`alias_of`).
- An in-place op (`IN_PLACE_OPS`) writes its output over an input that dies at that op.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tinykit.errors import ModelError, UnsupportedError
from tinykit.tflite.model import Operator, Subgraph, Tensor

#: Ops that only reinterpret the bytes of input 0: their output is always a view.
PURE_VIEW_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "BITCAST"})

#: Ops whose output may be written over input 0 when input 0 dies at this op and has the
#: same size. Their kernels must compute element i of the output from element i of the
#: input only (plus row statistics gathered before the first write), so that running
#: with output == input gives the same bytes. A later issue extends this table.
IN_PLACE_OPS: Mapping[str, tuple[int, ...]] = {
    "RELU": (0,), "RELU6": (0,), "RELU_N1_TO_1": (0,), "RELU_0_TO_1": (0,),
    "LEAKY_RELU": (0,), "HARD_SWISH": (0,), "LOGISTIC": (0,), "TANH": (0,),
    "ABS": (0,), "NEG": (0,), "QUANTIZE": (0,),
}

_REDUCERS = frozenset({"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"})
_PADS = frozenset({"PAD", "PADV2", "MIRROR_PAD"})


@dataclass(frozen=True)
class Lifetime:
    """An arena tensor: its bytes and the ops during which it is live (inclusive)."""

    tensor: int
    size: int
    first_op: int
    last_op: int
    is_variable: bool = False


def tensor_bytes(tensor: Tensor) -> int:
    """Arena bytes of a tensor; raises UnsupportedError for types without a fixed size."""
    if tensor.itemsize == 0:
        raise UnsupportedError(
            f"tensor {tensor.index} ({tensor.name!r}) is of type {tensor.dtype}, which has "
            "no fixed size, so its memory cannot be planned ahead",
            hint="microcontroller runtimes need fixed-size tensors; remove string ops",
        )
    return tensor.nbytes


def in_arena(tensor: Tensor) -> bool:
    """Whether the tensor needs arena bytes (not a constant, or a variable with data)."""
    return tensor.is_variable or not tensor.is_constant


def lifetimes(subgraph: Subgraph) -> dict[int, Lifetime]:
    """Tensor index -> Lifetime for every tensor that needs arena bytes.

    Raises ModelError when an op reads a tensor before the op that writes it.
    """
    tensors = subgraph.tensors
    last = max(len(subgraph.operators) - 1, 0)
    first_write: dict[int, int] = {}
    last_use: dict[int, int] = {}  # last op that reads or (again) writes the tensor
    last_read: dict[int, int] = {}
    for op in subgraph.operators:
        for t in op.inputs:
            if t >= 0 and in_arena(tensors[t]):
                last_read[t] = last_use[t] = op.index
        for t in op.outputs:
            if t >= 0 and in_arena(tensors[t]):
                first_write.setdefault(t, op.index)
                last_use[t] = op.index
    used = set(first_write) | set(last_read)
    used |= {t for t in (*subgraph.inputs, *subgraph.outputs) if in_arena(tensors[t])}
    graph_inputs, graph_outputs = set(subgraph.inputs), set(subgraph.outputs)
    out: dict[int, Lifetime] = {}
    for t in sorted(used):
        tensor = tensors[t]
        if tensor.is_variable:
            out[t] = Lifetime(t, tensor_bytes(tensor), 0, last, is_variable=True)
            continue
        # Read but never written (and not a graph input): treat as present from the start.
        first = 0 if t in graph_inputs or t not in first_write else first_write[t]
        end = last if t in graph_outputs else last_use.get(t, first)
        if t in last_read and last_read[t] < first:
            raise ModelError(
                f"tensor {t} ({tensor.name!r}) is read by op {last_read[t]} before op "
                f"{first} writes it", hint="the operators are not in execution order")
        out[t] = Lifetime(t, tensor_bytes(tensor), first, max(first, end))
    return out


def view_input(op: Operator, subgraph: Subgraph) -> int | None:
    """The input whose bytes equal op's output 0 byte for byte, or None.

    True for RESHAPE, SQUEEZE, EXPAND_DIMS and BITCAST, and for ops that happen to be the
    identity: TRANSPOSE that keeps the order of the non-unit axes, pads of zero, a
    single-input CONCATENATION, a full-size SLICE/STRIDED_SLICE, a reduction over
    axes of extent 1, a QUANTIZE to the same type and parameters.
    """
    if not op.inputs or not op.outputs or op.inputs[0] < 0 or op.outputs[0] < 0:
        return None
    source, result = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.outputs[0]]
    if source.itemsize == 0 or source.nbytes != result.nbytes:
        return None
    if op.opcode in PURE_VIEW_OPS:
        return source.index
    if source.dtype != result.dtype or source.quantization != result.quantization:
        return None
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        return None
    check = _IDENTITY_CHECKS.get(op.opcode)
    return source.index if check is not None and check(op, subgraph, source) else None


def _constant_ints(subgraph: Subgraph, position: int, op: Operator) -> list[int] | None:
    if len(op.inputs) <= position or op.inputs[position] < 0:
        return None
    tensor = subgraph.tensors[op.inputs[position]]
    if tensor.data is None or tensor.dtype not in ("int32", "int64"):
        return None
    try:
        return [int(v) for v in tensor.numpy().reshape(-1)]
    except ValueError:
        return None


def _transpose_is_identity(op: Operator, subgraph: Subgraph, source: Tensor) -> bool:
    perm = _constant_ints(subgraph, 1, op)
    if perm is None or sorted(perm) != list(range(len(source.shape))):
        return False
    moved = [axis for axis in perm if source.shape[axis] != 1]
    return moved == sorted(moved)


def _pad_is_identity(op: Operator, subgraph: Subgraph, source: Tensor) -> bool:
    paddings = _constant_ints(subgraph, 1, op)
    return paddings is not None and not any(paddings)


def _concat_is_identity(op: Operator, subgraph: Subgraph, source: Tensor) -> bool:
    return len(op.inputs) == 1


def _slice_is_identity(op: Operator, subgraph: Subgraph, source: Tensor) -> bool:
    begin = _constant_ints(subgraph, 1, op)
    if begin is None or len(begin) != len(source.shape):
        return False
    if op.opcode == "STRIDED_SLICE":
        strides = _constant_ints(subgraph, 3, op)
        mask = int(op.options.get("begin_mask", 0))
        if strides is None or any(s != 1 for s in strides) or op.options.get("ellipsis_mask"):
            return False
        begin = [0 if mask >> axis & 1 else b for axis, b in enumerate(begin)]
    return not any(begin)


def _reduce_is_identity(op: Operator, subgraph: Subgraph, source: Tensor) -> bool:
    axes = _constant_ints(subgraph, 1, op)
    rank = len(source.shape)
    if axes is None or any(not -rank <= a < rank for a in axes):
        return False
    return all(source.shape[a % rank] == 1 for a in axes)


def _quantize_is_identity(op: Operator, subgraph: Subgraph, source: Tensor) -> bool:
    return source.quantization is not None  # same dtype and parameters checked above


_IDENTITY_CHECKS = {
    "TRANSPOSE": _transpose_is_identity,
    "CONCATENATION": _concat_is_identity,
    "SLICE": _slice_is_identity,
    "STRIDED_SLICE": _slice_is_identity,
    "QUANTIZE": _quantize_is_identity,
    **dict.fromkeys(_PADS, _pad_is_identity),
    **dict.fromkeys(_REDUCERS, _reduce_is_identity),
}
