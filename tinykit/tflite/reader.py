"""Read a .tflite flatbuffer into the IR of `tinykit.tflite.model` without TensorFlow.

`read_model(path_or_bytes)` decodes the model table by table with the bounds-checked
reader of `tinykit.tflite.flatbuf`, so any byte string either reads or raises a
`ModelError` (an `UnsupportedError` for valid files tinykit cannot represent). Slot numbers
below are the field order of the tables in schema.fbs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from tinykit.errors import ModelError, UnsupportedError
from tinykit.tflite import schema
from tinykit.tflite.flatbuf import FlatBuffer, Table
from tinykit.tflite.model import TENSOR_TYPES, Model, Operator, Quantization, Subgraph, Tensor

SCHEMA_VERSION = 3
_IDENTIFIER = b"TFL3"
#: Types whose constant data may be packed two (or four) values per byte.
_PACKED_TYPES = {"int4": 2, "uint4": 2, "int2": 4}
_ITEMSIZE = {name: size for name, size in TENSOR_TYPES.values()}


def read_model(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> Model:
    """Decode a whole .tflite model: its subgraphs, tensors, constants and decoded options.

    `source` is a path or the file's bytes. Raises `ModelError` for a missing, truncated,
    corrupt or non-TFLite file (or a model with no subgraph or an unknown op code) and
    `UnsupportedError` for a valid model tinykit cannot represent (another schema version,
    weights kept in an external file).
    """
    data = _load(source)
    buf = FlatBuffer(data)
    _check_identifier(data)
    root = buf.root("Model")
    version = int(root.scalar(0, "I", 0, "version"))
    if version != SCHEMA_VERSION:
        raise UnsupportedError(
            f"TFLite schema version {version}; tinykit reads version {SCHEMA_VERSION}",
            hint="convert the model again with a current TensorFlow / LiteRT converter",
        )
    opcodes = _operator_codes(root)
    buffers = _Buffers(buf, root.tables(4, "buffers"))
    subgraph_tables = root.tables(2, "subgraphs")
    if not subgraph_tables:
        raise ModelError(
            "the model has no subgraph, so there is nothing to run",
            hint="the converter wrote an empty model; convert it again",
        )
    subgraphs = tuple(
        _subgraph(table, s, opcodes, buffers) for s, table in enumerate(subgraph_tables)
    )
    return Model(
        version=version,
        description=root.string(3, "description"),
        subgraphs=subgraphs,
        metadata=_metadata(root, buffers),
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


def _load(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    path = Path(source)
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelError(f"model file {path} does not exist", hint="check the path") from exc
    except IsADirectoryError as exc:
        raise ModelError(f"{path} is a folder, not a .tflite file") from exc
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _check_identifier(data: bytes) -> None:
    if data.startswith(b"version https://git-lfs"):
        raise ModelError(
            "this is a Git LFS pointer, not the model itself",
            hint="run `git lfs pull` in the repository the file came from",
        )
    if len(data) < 8:
        raise ModelError(
            f"not a TFLite model: {len(data)} bytes is too short for a flatbuffer",
            hint="the file is empty or truncated",
        )
    if data[4:8] != _IDENTIFIER:
        raise ModelError(
            f"not a TFLite model: bytes 4..8 are {data[4:8]!r}, not the identifier b'TFL3'",
            hint="pass a .tflite file written by the TFLite / LiteRT converter",
        )


def _operator_codes(root: Table) -> list[tuple[str, int, str | None]]:
    """(opcode name, version, custom code) for each OperatorCode, in file order."""
    codes = []
    for i, table in enumerate(root.tables(1, "operator_codes")):
        deprecated = int(table.scalar(0, "b", 0, "deprecated_builtin_code"))
        builtin = int(table.scalar(3, "i", 0, "builtin_code"))
        # Old files fill only the byte field, new ones set it to 127 for codes above 126:
        # the larger of the two is the op (the rule of schema_utils GetBuiltinCode).
        code = max(builtin, deprecated)
        if code < 0 or code >= len(schema.BUILTIN_OPERATORS):
            raise ModelError(
                f"operator code {i} is builtin op {code}, which this tinykit does not know "
                f"(it knows 0..{len(schema.BUILTIN_OPERATORS) - 1})",
                hint="the model may come from a newer converter; update tinykit",
            )
        name = schema.BUILTIN_OPERATORS[code]
        custom = table.string(1, "custom_code") if table.has(1) else None
        if name == "CUSTOM":
            name = f"CUSTOM:{custom or ''}"
        version = int(table.scalar(2, "i", 1, "version"))
        codes.append((name, version, custom))
    return codes


class _Buffers:
    """The model's buffers, decoded on first use (tensors may share one buffer)."""

    def __init__(self, buf: FlatBuffer, tables: list[Table]) -> None:
        self._buf = buf
        self._tables = tables
        self._cache: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self._tables)

    def get(self, index: int) -> bytes:
        if index not in self._cache:
            self._cache[index] = self._decode(self._tables[index], index)
        return self._cache[index]

    def _decode(self, table: Table, index: int) -> bytes:
        offset = int(table.scalar(1, "Q", 0, "offset"))
        if offset > 1:
            # Models over 2 GB keep buffers after the flatbuffer: offset from file start.
            size = int(table.scalar(2, "Q", 0, "size"))
            self._buf.need(offset, size, f"buffers[{index}] (offset/size form)")
            return bytes(self._buf.data[offset:offset + size])
        return table.raw(0, "data")


def _metadata(root: Table, buffers: _Buffers) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for i, table in enumerate(root.tables(6, "metadata")):
        index = int(table.scalar(1, "I", 0, "buffer"))
        if index >= len(buffers):
            raise ModelError(f"corrupt TFLite file: metadata[{i}] names buffer {index} "
                             f"of {len(buffers)}")
        out[table.string(0, "name")] = buffers.get(index)
    return out


def _subgraph(
    table: Table, s: int, opcodes: list[tuple[str, int, str | None]], buffers: _Buffers
) -> Subgraph:
    tensors = tuple(_tensor(t, i, buffers) for i, t in enumerate(table.tables(0, "tensors")))
    count = len(tensors)
    where = f"subgraph {s}"
    inputs = _indices(table.numbers(1, "i", "inputs"), count, f"{where} inputs", optional=False)
    outputs = _indices(table.numbers(2, "i", "outputs"), count, f"{where} outputs",
                       optional=False)
    operators = tuple(
        _operator(t, i, opcodes, count) for i, t in enumerate(table.tables(3, "operators"))
    )
    return Subgraph(table.string(4, "name"), tensors, operators, inputs, outputs)


def _indices(values: tuple[int, ...], count: int, what: str, *, optional: bool) -> tuple[int, ...]:
    for value in values:
        if not (0 <= value < count or (optional and value == -1)):
            raise ModelError(
                f"corrupt TFLite file: {what} names tensor {value}, but there are {count}",
                hint="the file is damaged; convert or download the model again",
            )
    return values


def _tensor(table: Table, index: int, buffers: _Buffers) -> Tensor:
    name = table.string(3, "name")
    type_code = int(table.scalar(1, "b", 0, "type"))
    if type_code not in TENSOR_TYPES:
        raise ModelError(f"tensor {index} ({name!r}) has unknown type code {type_code}",
                         hint="the model may come from a newer converter; update tinykit")
    dtype = TENSOR_TYPES[type_code][0]
    shape = table.numbers(0, "i", "shape")
    if any(dim < 0 for dim in shape):
        raise ModelError(f"tensor {index} ({name!r}) has a negative dimension in shape "
                         f"{list(shape)}", hint="the file is damaged")
    buffer = int(table.scalar(2, "I", 0, "buffer"))
    if buffer >= max(len(buffers), 1):
        raise ModelError(f"corrupt TFLite file: tensor {index} ({name!r}) names buffer "
                         f"{buffer}, but there are {len(buffers)}")
    if int(table.scalar(10, "I", 0, "external_buffer")):
        raise UnsupportedError(
            f"tensor {index} ({name!r}) keeps its data in an external file",
            hint="convert the model without external buffers (one self-contained .tflite)",
        )
    data = buffers.get(buffer) if buffer and len(buffers) else b""
    sparse = table.has(6)
    tensor = Tensor(
        index=index, name=name, shape=shape, dtype=dtype, buffer=buffer,
        data=data or None,
        quantization=_quantization(table.table(4, "quantization"), index),
        is_variable=bool(table.scalar(5, "?", False, "is_variable")),
        shape_signature=table.numbers(7, "i", "shape_signature"),
        is_sparse=sparse,
    )
    if tensor.data is not None and not sparse:
        _check_size(tensor)
    return tensor


def _check_size(tensor: Tensor) -> None:
    """Constant data must fill the shape exactly, as TFLite itself requires."""
    assert tensor.data is not None
    if _ITEMSIZE[tensor.dtype] == 0:  # strings, resources: variable size
        return
    have = len(tensor.data)
    need = tensor.nbytes
    per_byte = _PACKED_TYPES.get(tensor.dtype)
    if have == need or (per_byte and have == -(-tensor.num_elements // per_byte)):
        return
    raise ModelError(
        f"tensor {tensor.index} ({tensor.name!r}): its buffer holds {have} bytes, but "
        f"{tensor.dtype}{list(tensor.shape)} needs {need}",
        hint="the file is damaged; convert or download the model again",
    )


def _quantization(table: Table | None, index: int) -> Quantization | None:
    if table is None:
        return None
    scale = table.numbers(2, "f", "scale")
    if not scale:
        return None  # min/max only (float tensors from old converters) or custom details
    zero_point = table.numbers(3, "q", "zero_point")
    if not zero_point:
        zero_point = (0,) * len(scale)
    if len(zero_point) != len(scale):
        raise ModelError(
            f"tensor {index} has {len(scale)} quantization scales but {len(zero_point)} "
            "zero points", hint="the file is damaged; convert the model again")
    dimension = int(table.scalar(6, "i", 0, "quantized_dimension"))
    return Quantization(tuple(float(s) for s in scale), tuple(int(z) for z in zero_point),
                        dimension)


def _operator(
    table: Table, index: int, opcodes: list[tuple[str, int, str | None]], count: int
) -> Operator:
    code_index = int(table.scalar(0, "I", 0, "opcode_index"))
    if code_index >= len(opcodes):
        raise ModelError(
            f"operator {index} uses op code {code_index}, but the model lists "
            f"{len(opcodes)} op codes", hint="the file is damaged; convert the model again")
    name, version, custom = opcodes[code_index]
    where = f"operator {index} ({name})"
    return Operator(
        index=index,
        opcode=name,
        version=version,
        inputs=_indices(table.numbers(1, "i", "inputs"), count, f"{where} inputs",
                        optional=True),
        outputs=_indices(table.numbers(2, "i", "outputs"), count, f"{where} outputs",
                         optional=True),
        options=_options(table, name),
        intermediates=_indices(table.numbers(8, "i", "intermediates"), count,
                               f"{where} intermediates", optional=True),
        custom_code=custom,
    )


def _options(table: Table, opcode: str) -> dict[str, Any]:
    """The op's builtin options (BuiltinOptions, then BuiltinOptions2) with defaults."""
    kind = int(table.scalar(3, "B", 0, "builtin_options_type"))
    kind2 = int(table.scalar(11, "B", 0, "builtin_options_2_type"))
    if not kind and not kind2:
        default_table = schema.OP_OPTIONS.get(opcode)
        return schema.default_options(default_table) if default_table else {}
    options: dict[str, Any] = {}
    for union, type_slot, value_slot, names in (
        ("builtin_options", 3, 4, schema.BUILTIN_OPTIONS),
        ("builtin_options_2", 11, 12, schema.BUILTIN_OPTIONS_2),
    ):
        kind = int(table.scalar(type_slot, "B", 0, f"{union}_type"))
        if 0 < kind < len(names):
            value = table.table(value_slot, union)
            options.update(_decode_options(value, names[kind]))
        # A union type beyond the schema (a newer converter) decodes to nothing.
    return options


def _decode_options(table: Table | None, table_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in schema.OPTION_TABLES[table_name]:
        value: Any
        if table is None:
            value = field.default
        elif field.scalar == "str":
            value = (table.strings(field.slot, field.name) if field.vector
                     else table.string(field.slot, field.name))
        elif field.vector:
            value = table.numbers(field.slot, schema.SCALARS[field.scalar][0], field.name)
        else:
            value = table.scalar(field.slot, schema.SCALARS[field.scalar][0], field.default,
                                 field.name)
        out[field.name] = _enum_names(value, field.enum) if field.enum else value
    return out


def _enum_names(value: Any, enum: str) -> Any:
    """Replace enum numbers by their schema names; a number beyond the enum stays a number."""
    names = schema.ENUMS[enum]
    if isinstance(value, tuple):
        return tuple(names[v] if 0 <= v < len(names) else v for v in value)
    return names[value] if 0 <= value < len(names) else value
