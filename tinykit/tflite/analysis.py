"""Per-op work and weights of a subgraph: MACs, weight bytes, quantization scheme.

A MAC is one multiply-accumulate of an activation with a weight (or, in recurrent ops,
with state through a weight matrix). Element-wise ops, pooling, softmax, reductions and
data movement count 0 MACs: their work is a compare, an add or a table lookup per
element, not a MAC, and leaving them out is what TensorFlow Lite Micro's profilers and
the MLPerf Tiny figures do. Each op's `formula` says how its number came about; the
convention (docs/analyze.md):

- CONV_2D: output elements x kernel height x kernel width x input channels per group
- DEPTHWISE_CONV_2D: output elements x kernel height x kernel width
- FULLY_CONNECTED: output elements x input features
- TRANSPOSE_CONV: input elements x kernel height x kernel width x output channels
- CONV_3D: output elements x kernel depth x height x width x input channels
- BATCH_MATMUL: output elements x the contracted dimension
- SVDF: batch x filters x (input size + memory size)
- LSTM, UNIDIRECTIONAL_SEQUENCE_LSTM: steps x batch x (every gate's input and recurrent
  weight elements + projection weight elements + one per peephole weight)
- RNN, UNIDIRECTIONAL_SEQUENCE_RNN: steps x batch x (input + recurrent weight elements)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tinykit.errors import ModelError
from tinykit.tflite.model import Operator, Subgraph, Tensor


@dataclass(frozen=True)
class OpAnalysis:
    """What one op costs: MACs (with the formula used), weights it reads, its scheme."""

    index: int
    opcode: str
    macs: int
    formula: str
    weight_bytes: int
    #: "per-channel", "per-tensor", "float" or "-" (no weights), from the op's weights.
    weight_quantization: str


@dataclass(frozen=True)
class SubgraphAnalysis:
    """Per-op analysis and totals. Byte totals count each constant buffer once."""

    ops: tuple[OpAnalysis, ...]
    macs_total: int
    weights_bytes: int
    activation_bytes: int


def analyze_subgraph(subgraph: Subgraph) -> SubgraphAnalysis:
    """MACs and weights of every op. Raises ModelError when a weight has an odd shape."""
    ops = tuple(_analyze_op(op, subgraph) for op in subgraph.operators)
    read = {t for op in subgraph.operators for t in op.inputs if t >= 0}
    constants = {
        subgraph.tensors[t].buffer: len(subgraph.tensors[t].data or b"")
        for t in read if _is_weight(subgraph.tensors[t])
    }
    used = {t for op in subgraph.operators for t in (*op.inputs, *op.outputs) if t >= 0}
    used |= set(subgraph.inputs) | set(subgraph.outputs)
    activations = sum(subgraph.tensors[t].nbytes for t in used
                      if not _is_weight(subgraph.tensors[t]))
    return SubgraphAnalysis(ops, sum(op.macs for op in ops), sum(constants.values()),
                            activations)


def _is_weight(tensor: Tensor) -> bool:
    return tensor.is_constant and not tensor.is_variable


def _analyze_op(op: Operator, subgraph: Subgraph) -> OpAnalysis:
    weights = [subgraph.tensors[t] for t in op.inputs if t >= 0
               and _is_weight(subgraph.tensors[t])]
    counter = _MAC_RULES.get(op.opcode)
    macs, formula = counter(op, subgraph) if counter else (0, _zero_reason(op.opcode))
    return OpAnalysis(
        index=op.index, opcode=op.opcode, macs=macs, formula=formula,
        weight_bytes=sum(len(t.data or b"") for t in weights),
        weight_quantization=_scheme(op, subgraph),
    )


def _scheme(op: Operator, subgraph: Subgraph) -> str:
    """The quantization of the op's main weight (input 1), or '-' when it has none."""
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return "-"
    weight = subgraph.tensors[op.inputs[1]]
    if not _is_weight(weight) or weight.dtype == "int32" and op.opcode not in _MAC_RULES:
        return "-"  # shapes, axes and paddings are constants too, but not weights
    if weight.quantization is None:
        return "float" if weight.dtype.startswith(("float", "bfloat")) else weight.dtype
    return "per-channel" if weight.quantization.per_channel else "per-tensor"


def _zero_reason(opcode: str) -> str:
    if opcode in _DATA_MOVEMENT:
        return "0: moves or reinterprets data"
    if opcode.endswith("POOL_2D") or opcode in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"):
        return "0: pooling/reduction adds or compares, no weights"
    return "0: element-wise or table work, no weights"


_DATA_MOVEMENT = frozenset({
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "PAD", "PADV2", "MIRROR_PAD",
    "CONCATENATION", "SPLIT", "SPLIT_V", "SLICE", "STRIDED_SLICE", "PACK", "UNPACK",
    "GATHER", "GATHER_ND", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "SPACE_TO_DEPTH",
    "DEPTH_TO_SPACE", "RESIZE_NEAREST_NEIGHBOR", "SHAPE", "BITCAST", "TILE", "BROADCAST_TO",
})


def _tensor(op: Operator, subgraph: Subgraph, position: int, role: str) -> Tensor:
    if position >= len(op.inputs) or op.inputs[position] < 0:
        raise ModelError(f"op {op.index} ({op.opcode}) has no {role} (input {position})",
                         hint="the model is malformed; convert it again")
    return subgraph.tensors[op.inputs[position]]


def _output(op: Operator, subgraph: Subgraph) -> Tensor:
    if not op.outputs or op.outputs[0] < 0:
        raise ModelError(f"op {op.index} ({op.opcode}) has no output")
    return subgraph.tensors[op.outputs[0]]


def _shape(tensor: Tensor, op: Operator, rank: int, layout: str) -> tuple[int, ...]:
    if len(tensor.shape) != rank:
        raise ModelError(
            f"op {op.index} ({op.opcode}): {tensor.name!r} has shape {list(tensor.shape)}, "
            f"expected {layout}", hint="the model is malformed; convert it again")
    return tensor.shape


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _conv(op: Operator, subgraph: Subgraph) -> tuple[int, str]:
    out = _output(op, subgraph)
    _, kh, kw, cin = _shape(_tensor(op, subgraph, 1, "filter"), op, 4, "[out, kh, kw, in]")
    return (out.num_elements * kh * kw * cin,
            f"out {_dims(out.shape)} x kernel {kh}x{kw} x {cin} in-channels/group")


def _depthwise(op: Operator, subgraph: Subgraph) -> tuple[int, str]:
    out = _output(op, subgraph)
    _, kh, kw, _ = _shape(_tensor(op, subgraph, 1, "filter"), op, 4, "[1, kh, kw, out]")
    return out.num_elements * kh * kw, f"out {_dims(out.shape)} x kernel {kh}x{kw}"


def _fully_connected(op: Operator, subgraph: Subgraph) -> tuple[int, str]:
    out = _output(op, subgraph)
    _, features = _shape(_tensor(op, subgraph, 1, "weights"), op, 2, "[units, features]")
    return out.num_elements * features, f"out {_dims(out.shape)} x {features} features"


def _transpose_conv(op: Operator, subgraph: Subgraph) -> tuple[int, str]:
    cout, kh, kw, _ = _shape(_tensor(op, subgraph, 1, "filter"), op, 4, "[out, kh, kw, in]")
    source = _tensor(op, subgraph, 2, "input")
    return (source.num_elements * kh * kw * cout,
            f"in {_dims(source.shape)} x kernel {kh}x{kw} x {cout} out-channels")


def _conv3d(op: Operator, subgraph: Subgraph) -> tuple[int, str]:
    out = _output(op, subgraph)
    kd, kh, kw, cin, _ = _shape(_tensor(op, subgraph, 1, "filter"), op, 5,
                                "[kd, kh, kw, in, out]")
    return (out.num_elements * kd * kh * kw * cin,
            f"out {_dims(out.shape)} x kernel {kd}x{kh}x{kw} x {cin} in-channels")


def _batch_matmul(op: Operator, subgraph: Subgraph) -> tuple[int, str]:
    out = _output(op, subgraph)
    lhs = _tensor(op, subgraph, 0, "lhs")
    if len(lhs.shape) < 2:
        raise ModelError(f"op {op.index} (BATCH_MATMUL): lhs has rank {len(lhs.shape)}")
    depth = lhs.shape[-2] if op.options.get("adj_x") else lhs.shape[-1]
    return out.num_elements * depth, f"out {_dims(out.shape)} x {depth} contracted"


def _svdf(op: Operator, subgraph: Subgraph) -> tuple[int, str]:
    source = _tensor(op, subgraph, 0, "input")
    filters, size = _shape(_tensor(op, subgraph, 1, "feature weights"), op, 2,
                           "[filters, input size]")
    _, memory = _shape(_tensor(op, subgraph, 2, "time weights"), op, 2, "[filters, memory]")
    batch = source.num_elements // size if size else 0
    return (batch * filters * (size + memory),
            f"batch {batch} x {filters} filters x ({size} inputs + {memory} memory)")


def _recurrent(op: Operator, subgraph: Subgraph, weight_inputs: tuple[int, ...],
               features_input: int) -> tuple[int, str]:
    """steps x batch x (elements of the weight inputs that are present)."""
    per_step = sum(subgraph.tensors[op.inputs[p]].num_elements for p in weight_inputs
                   if p < len(op.inputs) and op.inputs[p] >= 0)
    weights = _tensor(op, subgraph, features_input, "input weights")
    features = weights.shape[-1] if weights.shape else 0
    positions = _tensor(op, subgraph, 0, "input").num_elements // features if features else 0
    return (positions * per_step,
            f"{positions} steps x batch x {per_step} weight elements per step")


def _lstm(op: Operator, subgraph: Subgraph) -> tuple[int, str]:
    # Inputs 1-4 input-to-gate and 5-8 recurrent-to-gate weights (1 and 5 absent with
    # CIFG), 9-11 peephole weights, 16 projection weights; input 4 (input-to-output) is
    # always there and gives the number of input features.
    return _recurrent(op, subgraph, (*range(1, 12), 16), 4)


def _rnn(op: Operator, subgraph: Subgraph) -> tuple[int, str]:
    return _recurrent(op, subgraph, (1, 2), 1)


_MAC_RULES: dict[str, Callable[[Operator, Subgraph], tuple[int, str]]] = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise, "FULLY_CONNECTED": _fully_connected,
    "TRANSPOSE_CONV": _transpose_conv, "CONV_3D": _conv3d, "BATCH_MATMUL": _batch_matmul,
    "SVDF": _svdf, "LSTM": _lstm, "UNIDIRECTIONAL_SEQUENCE_LSTM": _lstm,
    "RNN": _rnn, "UNIDIRECTIONAL_SEQUENCE_RNN": _rnn,
}
