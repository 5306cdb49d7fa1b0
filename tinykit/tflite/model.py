"""The in-memory form of a .tflite model that every later stage reads.

`tinykit.tflite.reader.read_model` fills these frozen dataclasses from the flatbuffer;
analysis, the memory planner and the C generator only ever see this form, never the
flatbuffer. Names follow the TFLite schema (schema.fbs) in snake_case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: TFLite TensorType code -> (name, bytes per element; 0 for variable-size types).
TENSOR_TYPES: dict[int, tuple[str, int]] = {
    0: ("float32", 4), 1: ("float16", 2), 2: ("int32", 4), 3: ("uint8", 1),
    4: ("int64", 8), 5: ("string", 0), 6: ("bool", 1), 7: ("int16", 2),
    8: ("complex64", 8), 9: ("int8", 1), 10: ("float64", 8), 11: ("complex128", 16),
    12: ("uint64", 8), 13: ("resource", 0), 14: ("variant", 0), 15: ("uint32", 4),
    16: ("uint16", 2), 17: ("int4", 1), 18: ("bfloat16", 2),
    # Newer schema types (packed int2/uint4 counted as one byte per element, like int4).
    19: ("int2", 1), 20: ("uint4", 1), 21: ("float8_e4m3fn", 1), 22: ("float8_e5m2", 1),
}

#: dtype name -> numpy dtype, for the types whose constant data numpy can view.
NUMPY_DTYPES: dict[str, str] = {
    "float32": "<f4", "float16": "<f2", "int32": "<i4", "uint8": "u1", "int64": "<i8",
    "bool": "?", "int16": "<i2", "int8": "i1", "float64": "<f8", "uint64": "<u8",
    "uint32": "<u4", "uint16": "<u2",
}


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    quantized_dimension: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True)
class Tensor:
    """A tensor of a subgraph. `data` holds the bytes of a constant, else None."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    buffer: int
    data: bytes | None = field(repr=False)
    quantization: Quantization | None = None
    is_variable: bool = False
    #: shape_signature from the file (-1 marks a dynamic dimension); () when absent.
    shape_signature: tuple[int, ...] = ()
    #: The file stores the constant in TFLite's sparse format: `data` is not dense.
    is_sparse: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def itemsize(self) -> int:
        return next(size for name, size in TENSOR_TYPES.values() if name == self.dtype)

    @property
    def nbytes(self) -> int:
        """Bytes the tensor's elements take (int4 counted as one byte per element)."""
        return self.num_elements * self.itemsize

    def numpy(self) -> np.ndarray:
        """The constant data as a numpy array of `shape` (raises ValueError if not constant)."""
        if self.data is None:
            raise ValueError(f"tensor {self.index} ({self.name}) is not a constant")
        if self.is_sparse:
            raise ValueError(f"tensor {self.index} ({self.name}) is stored sparse")
        array = np.frombuffer(self.data, dtype=np.dtype(NUMPY_DTYPES[self.dtype]))
        return array.reshape(self.shape)


@dataclass(frozen=True)
class Operator:
    """One op in execution order.

    `opcode` is the builtin name from the schema (`CONV_2D`) or `CUSTOM:<custom_code>`.
    `inputs`/`outputs` are tensor indices; -1 marks an omitted optional input.
    `options` holds the decoded builtin options table with schema field names in
    snake_case; enum values are their schema names (`padding: "SAME"`,
    `fused_activation_function: "RELU6"`); absent fields take the schema defaults.
    """

    index: int
    opcode: str
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    intermediates: tuple[int, ...] = ()
    custom_code: str | None = None


@dataclass(frozen=True)
class Subgraph:
    """Tensors, operators (in execution order) and the graph's input/output tensors."""

    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Model:
    """A whole .tflite file. The first subgraph is the one that runs."""

    version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    metadata: Mapping[str, bytes]
    sha256: str
    size_bytes: int

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]
