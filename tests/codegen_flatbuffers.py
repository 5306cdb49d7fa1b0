"""Write and rewrite .tflite flatbuffers for the codegen tests, without TensorFlow.

Uses the flatbuffers object API of LiteRT's generated schema module (shipped with the
pinned ai-edge-litert; importing it loads nothing heavy):

- `GraphBuilder` makes single-op (or few-op) int8 models with exactly the quantization
  parameters a test wants, so a kernel can be checked against tflite-runtime on every
  one of the 256 int8 inputs, for many scales at once, in milliseconds.
- `rewrite` edits an existing model (rename tensors, fix a quantized dimension, turn a
  RESHAPE into a SQUEEZE) and packs it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import flatbuffers
import numpy as np

_TYPES = {"float32": 0, "int32": 2, "uint8": 3, "int64": 4, "int16": 7, "int8": 9}


def schema() -> ModuleType:
    """LiteRT's generated schema module (imports nothing heavy)."""
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def pack(model: Any) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def unpack(data: bytes) -> Any:
    return schema().ModelT.InitFromPackedBuf(bytearray(data), 0)


class GraphBuilder:
    """A one-subgraph model assembled tensor by tensor and op by op."""

    def __init__(self) -> None:
        s = schema()
        self.model = s.ModelT()
        self.model.version = 3
        self.model.description = "tinykit codegen test"
        self.model.operatorCodes, self.model.buffers = [], [s.BufferT()]
        self.graph = s.SubGraphT()
        self.graph.tensors, self.graph.operators = [], []
        self.graph.inputs, self.graph.outputs = [], []

    def tensor(self, shape: Sequence[int], dtype: str = "int8",
               quant: tuple[float, int] | tuple[list[float], list[int], int] | None = None,
               data: np.ndarray | None = None, name: str | None = None) -> int:
        s = schema()
        tensor = s.TensorT()
        tensor.shape, tensor.type = list(shape), _TYPES[dtype]
        tensor.name = name or f"t{len(self.graph.tensors)}"
        tensor.buffer = 0
        if data is not None:
            buffer = s.BufferT()
            buffer.data = list(np.ascontiguousarray(data).tobytes())
            self.model.buffers.append(buffer)
            tensor.buffer = len(self.model.buffers) - 1
        if quant is not None:
            q = s.QuantizationParametersT()
            if len(quant) == 2:
                q.scale, q.zeroPoint = [float(quant[0])], [int(quant[1])]
            else:
                q.scale, q.zeroPoint = list(quant[0]), list(quant[1])
                q.quantizedDimension = quant[2]
            tensor.quantization = q
        self.graph.tensors.append(tensor)
        return len(self.graph.tensors) - 1

    def op(self, name: str, inputs: Sequence[int], outputs: Sequence[int],
           options: str | None = None, **fields: Any) -> None:
        s = schema()
        code = getattr(s.BuiltinOperator, name)
        codes = [c.builtinCode for c in self.model.operatorCodes]
        if code not in codes:
            opcode = s.OperatorCodeT()
            opcode.builtinCode, opcode.deprecatedBuiltinCode = code, min(code, 127)
            opcode.version = 1
            self.model.operatorCodes.append(opcode)
            codes.append(code)
        op = s.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = codes.index(code), list(inputs), list(outputs)
        if options is not None:
            op.builtinOptionsType = getattr(s.BuiltinOptions, options)
            table = getattr(s, f"{options}T")()
            for key, value in fields.items():
                setattr(table, key, value)
            op.builtinOptions = table
        self.graph.operators.append(op)

    def build(self, inputs: Sequence[int], outputs: Sequence[int]) -> bytes:
        self.graph.inputs, self.graph.outputs = list(inputs), list(outputs)
        self.model.subgraphs = [self.graph]
        return pack(self.model)


def rewrite(data: bytes, edit: Callable[[Any, ModuleType], None]) -> bytes:
    """Unpack, let `edit(model, schema)` change it, pack again."""
    model = unpack(data)
    edit(model, schema())
    return pack(model)


def rename_tensors(data: bytes, name_of: Callable[[int, str], str]) -> bytes:
    """Give every tensor of the main subgraph the name `name_of(index, old_name)`."""

    def edit(model: Any, _: ModuleType) -> None:
        for index, tensor in enumerate(model.subgraphs[0].tensors):
            old = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
            tensor.name = name_of(index, old or "")

    return rewrite(data, edit)


def zero_bias_quantized_dimension(data: bytes) -> bytes:
    """Set quantized_dimension to 0 on 1-d tensors (old converters wrote 3 on biases)."""

    def edit(model: Any, _: ModuleType) -> None:
        for tensor in model.subgraphs[0].tensors:
            if tensor.quantization is not None and len(tensor.shape) == 1:
                tensor.quantization.quantizedDimension = 0

    return rewrite(data, edit)


def reshapes_to_squeeze(data: bytes) -> bytes:
    """Turn every RESHAPE that drops size-1 axes into the equivalent SQUEEZE."""

    def edit(model: Any, s: ModuleType) -> None:
        graph = model.subgraphs[0]
        code = s.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.SQUEEZE
        code.version = 1
        model.operatorCodes.append(code)
        for op in graph.operators:
            if model.operatorCodes[op.opcodeIndex].builtinCode != s.BuiltinOperator.RESHAPE:
                continue
            before = list(graph.tensors[op.inputs[0]].shape)
            after = list(graph.tensors[op.outputs[0]].shape)
            if [d for d in before if d != 1] != [d for d in after if d != 1] or \
                    len(after) >= len(before):
                continue
            dims = [i for i, d in enumerate(before) if d == 1][: len(before) - len(after)]
            op.opcodeIndex = len(model.operatorCodes) - 1
            op.inputs = op.inputs[:1]
            op.builtinOptionsType = s.BuiltinOptions.SqueezeOptions
            op.builtinOptions = s.SqueezeOptionsT()
            op.builtinOptions.squeezeDims = dims

    return rewrite(data, edit)
