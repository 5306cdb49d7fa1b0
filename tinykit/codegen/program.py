"""The generated program while it is being built: constants in flash and calls per op.

Lowering functions (one per op type, in `tinykit.codegen.lower_*`) receive an
`OpContext`; through it they read the op's tensors, put constants into flash
(`array`, `struct`) and append C statements to `model_invoke` (`call`). The emitter
then lays the `Program` out as C text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tinykit.codegen.csyntax import comment_text, identifier, int_list
from tinykit.errors import UnsupportedError
from tinykit.tflite.model import Operator, Subgraph, Tensor

#: A statement that starts with a kernel call: `tk_name(...`.
_KERNEL_CALL = re.compile(r"(tk_[a-z0-9_]+)\(")

#: numpy dtype name -> (C type, bytes).
C_TYPES: dict[str, tuple[str, int]] = {
    "int8": ("int8_t", 1), "uint8": ("uint8_t", 1), "int16": ("int16_t", 2),
    "int32": ("int32_t", 4), "float32": ("float", 4),
}


class ArenaPlan(Protocol):
    """What the generator uses of `tinykit.tflite.planner.MemoryPlan`."""

    @property
    def arena_bytes(self) -> int: ...

    def offset(self, tensor_index: int) -> int: ...

    def scratch_offset(self, op_index: int) -> int: ...


@dataclass
class CArray:
    """A const array in flash: `static const <ctype> <name>[] = {...};`."""

    name: str
    ctype: str
    values: Sequence[int]
    comment: str
    #: Byte alignment (TK_ALIGNED) when kernels read the array in words or vectors.
    align: int = 0


@dataclass
class CStruct:
    """A const parameter struct in flash, with designated initializers."""

    name: str
    ctype: str
    fields: list[tuple[str, str]]
    comment: str


@dataclass
class OpCode:
    """What one op contributes to `model_invoke`."""

    index: int
    opcode: str
    comment: str
    statements: list[str] = field(default_factory=list)
    #: The C kernel the op calls ("" for views and ops folded at generation time).
    kernel: str = ""
    #: The format of its weights when they are packed (`tinykit.codegen.packing`), else "".
    weights: str = ""


@dataclass
class Program:
    """Everything the emitter needs to write NAME.c and NAME.h."""

    prefix: str
    constants: list[CArray | CStruct] = field(default_factory=list)
    ops: list[OpCode] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def add(self, item: CArray | CStruct) -> str:
        identifier(item.name)
        if item.name in self.names:
            raise ValueError(f"duplicate constant {item.name}")
        self.names.add(item.name)
        self.constants.append(item)
        return item.name


class OpContext:
    """One op being lowered: its tensors, the plan, and where its constants and calls go."""

    def __init__(self, program: Program, graph: Subgraph, op: Operator, plan: ArenaPlan,
                 folded: Mapping[int, np.ndarray], code: OpCode) -> None:
        self.program = program
        self.graph = graph
        self.op = op
        self.plan = plan
        self.folded = folded
        self.code = code

    # -- tensors ----------------------------------------------------------------------
    @property
    def options(self) -> Mapping[str, Any]:
        return self.op.options

    def tensor(self, index: int) -> Tensor:
        return self.graph.tensors[index]

    def input(self, k: int) -> Tensor:
        if k >= len(self.op.inputs) or self.op.inputs[k] < 0:
            raise self.error(f"input {k} is missing")
        return self.tensor(self.op.inputs[k])

    def has_input(self, k: int) -> bool:
        return k < len(self.op.inputs) and self.op.inputs[k] >= 0

    def output(self, k: int = 0) -> Tensor:
        return self.tensor(self.op.outputs[k])

    def is_static(self, tensor: Tensor) -> bool:
        """True for constants and for tensors folded at generation time."""
        return tensor.is_constant or tensor.index in self.folded

    def static_data(self, tensor: Tensor, what: str) -> np.ndarray:
        """The value of a constant or folded tensor; an error if it is only known at run time."""
        if tensor.index in self.folded:
            return self.folded[tensor.index]
        if tensor.is_constant:
            return tensor.numpy()
        raise self.error(
            f"its {what} (tensor {tensor.index}) is computed at run time",
            hint="tinykit needs static shapes and parameters; export the model with fixed "
                 "input shapes and constant parameters",
        )

    # -- where data lives -------------------------------------------------------------------
    def arena(self, tensor: Tensor) -> str:
        """C expression (void *) of a tensor's place in the arena."""
        return f"{self.program.prefix.upper()}_ARENA({self.plan.offset(tensor.index)})"

    def data(self, tensor: Tensor) -> str:
        """C expression for a tensor's data: its flash array if static, else the arena."""
        if self.is_static(tensor):
            return self.tensor_constant(tensor)
        return self.arena(tensor)

    def tensor_constant(self, tensor: Tensor) -> str:
        """The flash array holding a static tensor (emitted once, shared by its users)."""
        name = f"{self.program.prefix}_const_t{tensor.index}"
        if name not in self.program.names:
            values = np.asarray(self.static_data(tensor, "value"))
            ctype = C_TYPES.get(values.dtype.name, (None, 0))[0]
            if ctype is None or ctype == "float":
                raise self.error(f"tensor {tensor.index} has constant data of type "
                                 f"{values.dtype.name}, which the int8 kernels cannot read")
            self.program.add(CArray(name, ctype, values.reshape(-1).tolist(),
                                    f"tensor {tensor.index}: {comment_text(tensor.name)}"))
        return name

    # -- constants and calls -----------------------------------------------------------------
    def array(self, suffix: str, ctype: str, values: Sequence[int] | np.ndarray,
              comment: str, align: int = 0) -> str:
        """A const array for this op: `<prefix>_const_op<index>_<suffix>`; returns its name."""
        name = f"{self.program.prefix}_const_op{self.op.index}_{suffix}"
        flat = np.asarray(values).reshape(-1).tolist()
        return self.program.add(CArray(name, ctype, flat, comment, align))

    def struct(self, ctype: str, fields: list[tuple[str, object]], suffix: str = "") -> str:
        """The op's const parameter struct; returns its name."""
        name = f"{self.program.prefix}_const_op{self.op.index}" + (f"_{suffix}" if suffix else "")
        rendered = [(key, str(value)) for key, value in fields]
        return self.program.add(CStruct(name, ctype, rendered, f"op {self.op.index} parameters"))

    def call(self, statement: str) -> None:
        """Append a C statement; the first kernel it calls becomes the op's kernel."""
        called = _KERNEL_CALL.match(statement)
        if called and not self.code.kernel:
            self.code.kernel = called.group(1)
        self.code.statements.append(statement)

    def scratch(self) -> str:
        """C expression (void *) of this op's scratch buffer in the arena."""
        offset = self.plan.scratch_offset(self.op.index)
        return f"{self.program.prefix.upper()}_ARENA({offset})"

    # -- errors -----------------------------------------------------------------------------
    def error(self, problem: str, hint: str | None = None) -> UnsupportedError:
        return UnsupportedError(
            f"op {self.op.index} ({self.op.opcode}): {problem}",
            hint=hint or "this op's parameters are outside what tinykit's kernels support; "
                         "see docs/ops.md",
        )


def render_array(item: CArray) -> str:
    """C text of a const array."""
    count = max(1, len(item.values))
    body = int_list(item.values)
    aligned = f" TK_ALIGNED({item.align})" if item.align else ""
    return (f"/* {item.comment} */\n"
            f"static const {item.ctype} {item.name}[{count}]{aligned} = {{\n{body}\n}};\n")


def render_struct(item: CStruct) -> str:
    """C text of a const parameter struct with designated initializers."""
    lines = [f"/* {item.comment} */", f"static const {item.ctype} {item.name} = {{"]
    lines += [f"    .{key} = {value}," for key, value in item.fields]
    lines.append("};")
    return "\n".join(lines) + "\n"
