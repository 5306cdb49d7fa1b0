"""tinykit's schema tables against the flatc-generated Python that ai-edge-litert ships.

The generated module is an independent transcription of schema.fbs: every op code, enum
value, option-table slot, storage type and default must agree with it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tinykit.tflite import schema

generated = pytest.importorskip("ai_edge_litert.schema_py_generated")

_PREPEND_TYPES = {
    "Bool": "bool", "Int8": "i8", "Uint8": "u8", "Int16": "i16", "Uint16": "u16",
    "Int32": "i32", "Uint32": "u32", "Int64": "i64", "Uint64": "u64", "Float32": "f32",
    "Float64": "f64", "UOffsetTRelative": "offset",
}


def _enum(name: str) -> dict[str, int]:
    cls = getattr(generated, name)
    return {k: v for k, v in vars(cls).items() if not k.startswith("_")}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _Recorder:
    """Stands in for flatbuffers.Builder and records what an `...Add...` helper calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, method: str) -> Any:
        def record(*args: Any) -> int:
            self.calls.append((method, args))
            return 0

        return record


def _generated_fields(table: str) -> dict[int, tuple[str, str, Any, int | None]]:
    """slot -> (camelCase name, storage type, default, vector element width or None)."""
    fields = {}
    prefix = f"{table}Add"
    for attr in dir(generated):
        if not attr.startswith(prefix) or not callable(getattr(generated, attr)):
            continue
        accessor = attr[len(prefix):]
        recorder = _Recorder()
        getattr(generated, attr)(recorder, 0)
        method, (slot, _value, default) = recorder.calls[0]
        storage = _PREPEND_TYPES[re.fullmatch(r"Prepend(\w+)Slot", method).group(1)]
        width = None
        start_vector = getattr(generated, f"{table}Start{accessor}Vector", None)
        if start_vector is not None:
            recorder = _Recorder()
            start_vector(recorder, 0)
            width = recorder.calls[0][1][0]
        fields[slot] = (accessor[:1].lower() + accessor[1:], storage, default, width)
    return fields


def test_builtin_operators_match_the_generated_enum() -> None:
    values = _enum("BuiltinOperator")
    assert {name: code for code, name in enumerate(schema.BUILTIN_OPERATORS)} == values


@pytest.mark.parametrize("union, ours", [
    ("BuiltinOptions", schema.BUILTIN_OPTIONS), ("BuiltinOptions2", schema.BUILTIN_OPTIONS_2),
])
def test_option_unions_match(union: str, ours: tuple[str, ...]) -> None:
    assert {name: code for code, name in enumerate(ours)} == _enum(union)


@pytest.mark.parametrize("enum", sorted(schema.ENUMS))
def test_enums_match(enum: str) -> None:
    assert {name: value for value, name in enumerate(schema.ENUMS[enum])} == _enum(enum)


@pytest.mark.parametrize("table", sorted(schema.OPTION_TABLES))
def test_option_table_fields_match(table: str) -> None:
    theirs = _generated_fields(table)
    ours = {field.slot: field for field in schema.OPTION_TABLES[table]}
    assert sorted(ours) == sorted(theirs), f"{table}: slots differ"
    for slot, field in ours.items():
        name, storage, default, width = theirs[slot]
        assert _camel(field.name) == name, f"{table}.{field.name}"
        if field.vector or field.scalar == "str":
            assert storage == "offset", f"{table}.{field.name} should be a reference"
            expected_width = 4 if field.scalar == "str" else schema.SCALARS[field.scalar][1]
            assert width == (expected_width if field.vector else None), f"{table}.{field.name}"
            continue
        assert storage == field.scalar, f"{table}.{field.name} storage"
        assert default == field.default, f"{table}.{field.name} default"


def test_every_union_member_has_a_table() -> None:
    for name in schema.BUILTIN_OPTIONS[1:] + schema.BUILTIN_OPTIONS_2[1:]:
        assert name in schema.OPTION_TABLES


def test_op_options_name_real_ops_and_tables() -> None:
    for op, table in schema.OP_OPTIONS.items():
        assert op in schema.BUILTIN_OPERATORS
        assert table in schema.OPTION_TABLES


def test_defaults_use_enum_names() -> None:
    conv = schema.default_options("Conv2DOptions")
    assert conv["padding"] == "SAME"
    assert conv["fused_activation_function"] == "NONE"
    assert conv["dilation_w_factor"] == 1
    assert schema.default_options("AddOptions")["pot_scale_int16"] is True
    assert schema.default_options("UniqueOptions") == {"idx_out_type": "INT32"}
    assert schema.default_options("ReshapeOptions") == {"new_shape": ()}
