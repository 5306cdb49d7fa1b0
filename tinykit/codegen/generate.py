"""`tinykit codegen` as a library call: a .tflite in, a self-contained C99 folder out.

    generate_sources(model, name) -> GeneratedSources   (in memory, no file written)
    codegen(CodegenOptions(...))  -> CodegenResult      (writes NAME.h, NAME.c, kernels)

The folder holds NAME.h, NAME.c and the shared kernels tinykit_kernels.h/.c, which are
the same bytes for every model, so several models can be generated into one folder and
linked into one firmware. Everything is generated in memory before the first file is
written, so a model tinykit refuses leaves the folder as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tinykit.codegen import packing
from tinykit.codegen.csyntax import check_model_name, comment_text
from tinykit.codegen.emit import IoTensor, banner, finish, render_header, render_source
from tinykit.codegen.graph import Folded, check_supported, fold_constants
from tinykit.codegen.program import C_TYPES, CArray, OpCode, OpContext, Program
from tinykit.codegen.registry import (
    KERNELS,
    kernel_choice,
    op_alignment,
    streaming_ops,
)
from tinykit.errors import UnsupportedError
from tinykit.fsutil import write_text_atomic
from tinykit.tflite.model import Model, Operator, Subgraph
from tinykit.tflite.plancheck import check_plan
from tinykit.tflite.planner import MemoryPlan, plan_memory
from tinykit.tflite.streaming import KERNEL_STREAMING

#: The shared kernel sources, copied next to every generated model (headers first).
KERNEL_FILES = ("tinykit_kernels.h", "tk_internal.h", "tinykit_kernels.c", "tk_conv.c",
                "tk_conv1.c", "tk_dwconv.c", "tk_fc.c", "tk_eltwise.c", "tk_packed.c")
_CTYPE_BYTES = {ctype: size for ctype, size in C_TYPES.values()}


def kernel_sources() -> dict[str, str]:
    """The shared kernel files, exactly as shipped in tinykit/runtime."""
    folder = resources.files("tinykit.runtime")
    return {name: folder.joinpath(name).read_text(encoding="utf-8") for name in KERNEL_FILES}


@dataclass(frozen=True)
class GeneratedSources:
    """The text of every generated file, and what the header declares."""

    name: str
    files: dict[str, str]
    arena_bytes: int
    num_ops: int
    inputs: tuple[IoTensor, ...]
    outputs: tuple[IoTensor, ...]
    plan: MemoryPlan = field(repr=False)
    #: bytes of the const arrays (weights, biases, multipliers, tables); structs excluded
    constant_bytes: int = 0
    #: The C kernel each step calls ("" for views and folded ops), in execution order;
    #: `kernels.kernel_label` adds the version a core builds.
    op_kernels: tuple[str, ...] = ()
    #: Per step, the format of its weights: "dense", a packed format ("sparse+idx4", see
    #: `tinykit.codegen.packing`), or "" for ops without weights; and their flash bytes.
    op_weights: tuple[str, ...] = ()
    op_weight_bytes: tuple[int, ...] = ()
    #: Flash bytes of every layer's weights as generated, and with every layer dense.
    weight_bytes: int = 0
    dense_weight_bytes: int = 0
    #: The per-layer choice the C was generated with (dense and packed bytes per op, the
    #: packed kernels' code).
    weight_plan: packing.WeightPlan | None = field(default=None, repr=False)


def _lower_op(program: Program, graph: Subgraph, op: Operator, plan: MemoryPlan,
              folded: Folded) -> None:
    outputs = [graph.tensors[i].name for i in op.outputs if i >= 0]
    code = OpCode(op.index, op.opcode, comment_text(outputs[0] if outputs else "", 70))
    program.ops.append(code)
    ctx = OpContext(program, graph, op, plan, folded.values, code)
    if op.index in folded.ops:
        code.statements.append("/* computed at generation time */")
        for index in op.outputs:
            if index in graph.outputs:  # a model output that is a constant
                tensor = graph.tensors[index]
                ctx.call(f"memcpy({ctx.arena(tensor)}, {ctx.tensor_constant(tensor)}, "
                         f"{tensor.nbytes});")
        return
    if op.index in plan.view_ops:
        code.statements.append("/* view: the output shares the input's bytes */")
        return
    entry = KERNELS[op.opcode]
    if entry.lower is None:
        raise ctx.error("it needs values known only at run time; tinykit folds it only "
                        "when its inputs are constant")
    entry.lower(ctx)


def plan_arena(graph: Subgraph, scratch: dict[int, int] | None = None) -> MemoryPlan:
    """The memory plan for the kernels of this registry, checked; what the C lays out.

    The planner overlaps an op's output with its dying input only where the registry
    says the op's kernels honour the streaming contract, and aligns tensors as the
    kernels need. An unsound plan is a bug in tinykit, never silently generated.
    """
    streaming, alignment = streaming_ops(), op_alignment()
    kinds = op_streaming(graph)
    plan = plan_memory(graph, scratch=scratch or {}, streaming_ops=streaming,
                       op_streaming=kinds, op_alignment=alignment)
    problems = check_plan(graph, plan, streaming_ops=streaming, op_streaming=kinds,
                          op_alignment=alignment)
    if problems:
        raise AssertionError("tinykit's memory plan is unsound: " + "; ".join(problems[:5]))
    return plan


def op_streaming(graph: Subgraph) -> dict[int, str | None]:
    """Op -> streaming kind of the kernel it calls, where that differs from its op type's
    (`KERNEL_STREAMING`; None: the kernel does not stream, its output stays apart)."""
    table = streaming_ops()
    kinds: dict[int, str | None] = {}
    for op in graph.operators:
        if op.opcode not in table:
            continue
        choice = kernel_choice(graph, op)
        kind = KERNEL_STREAMING.get(choice.kernel) if choice.streaming else None
        if kind != table[op.opcode]:
            kinds[op.index] = kind
    return kinds


def scratch_requests(graph: Subgraph, folded: Folded) -> dict[int, int]:
    """Bytes of arena scratch each op's kernel needs while it runs (ops that need some)."""
    requests = {}
    for op in graph.operators:
        if op.index in folded.ops or KERNELS[op.opcode].lower is None:
            continue
        size = kernel_choice(graph, op).scratch_bytes
        if size:
            requests[op.index] = size
    return requests


def _io(graph: Subgraph, plan: MemoryPlan, indices: tuple[int, ...]) -> tuple[IoTensor, ...]:
    return tuple(IoTensor(graph.tensors[i], plan.offset(i)) for i in indices)


def _c_plan(graph: Subgraph) -> tuple[MemoryPlan, Folded]:
    if not graph.operators:
        raise UnsupportedError("the model has no ops")
    check_supported(graph)
    folded = fold_constants(graph)
    return plan_arena(graph, scratch_requests(graph, folded)), folded


@dataclass(frozen=True)
class ArenaPlan:
    """The arena plan a tool should show for a model, and why it is not the C's if not."""

    plan: MemoryPlan
    #: None when `plan` is exactly what the generated C lays out; else the reason
    #: (tinykit codegen cannot run the model) and that generic kernels were assumed.
    note: str | None = None


def arena_plan(graph: Subgraph) -> ArenaPlan:
    """The one source of every arena figure tinykit reports.

    For a model `tinykit codegen` supports this is the plan the generated C uses: its
    kernels' scratch, streaming and alignment included (`analyze`, the build's budget,
    `bench` and the report all agree with `MODEL_ARENA_BYTES`). For any other model it is
    the planner's plan for generic kernels (no scratch), with a note saying so.
    """
    try:
        return ArenaPlan(_c_plan(graph)[0])
    except UnsupportedError as exc:
        note = (f"tinykit codegen cannot run this model ({exc.message}); the plan assumes "
                "generic kernels without scratch")
        return ArenaPlan(plan_memory(graph, scratch={}), note)


def generate_sources(model: Model, name: str = "model",
                     weights: str | None = None) -> GeneratedSources:
    """Generate the C for `model`; raises UnsupportedError / ConfigError, writes nothing.

    `weights`: "auto" (packed where it saves flash), "dense" or "packed"; None: the
    current `packing.weights_mode` (auto unless a caller set it).
    """
    if weights is not None:
        with packing.weights_mode(weights):
            return generate_sources(model, name)
    check_model_name(name)
    graph = model.main
    plan, folded = _c_plan(graph)
    program = Program(prefix=name)
    for index in plan.order:  # the planner's execution order (usually the file's)
        _lower_op(program, graph, graph.operators[index], plan, folded)
    inputs, outputs = _io(graph, plan, graph.inputs), _io(graph, plan, graph.outputs)
    head = banner(model.sha256, model.description)
    header = render_header(program, graph, list(inputs), list(outputs), plan.arena_bytes, head)
    source = render_source(program, graph, list(inputs), list(outputs), head)
    header, source = finish(header, source)
    files = {f"{name}.h": header, f"{name}.c": source, **kernel_sources()}
    constant_bytes = sum(len(item.values) * _CTYPE_BYTES[item.ctype]
                         for item in program.constants if isinstance(item, CArray))
    formats, per_op = weight_layers(program, graph)
    return GeneratedSources(name, files, plan.arena_bytes, len(graph.operators), inputs,
                            outputs, plan, constant_bytes,
                            tuple(op.kernel for op in program.ops), formats, per_op,
                            sum(per_op), packing.plan_weights(graph, "dense").dense_bytes,
                            packing.plan_weights(graph))


def weight_layers(program: Program, graph: Subgraph) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Per step, the format of its weights ("dense", packed, "" none) and their bytes: the
    op's arrays named `<prefix>_const_op<index>_<suffix>`, suffix in WEIGHT_SUFFIXES."""
    sizes: dict[int, int] = {}
    for item in program.constants:
        head, _, suffix = item.name.rpartition("_")
        index = head.removeprefix(f"{program.prefix}_const_op")
        if isinstance(item, CArray) and suffix in packing.WEIGHT_SUFFIXES and index.isdigit():
            sizes[int(index)] = sizes.get(int(index), 0) + \
                len(item.values) * _CTYPE_BYTES[item.ctype]
    weighted = packing.plan_weights(graph, "dense").layers
    formats = tuple(op.weights or ("dense" if op.index in weighted and op.kernel else "")
                    for op in program.ops)
    return formats, tuple(sizes.get(op.index, 0) for op in program.ops)


@dataclass(frozen=True)
class CodegenOptions:
    """What `tinykit codegen` was asked to do."""

    model: Path
    out_dir: Path
    name: str = "model"
    #: auto (packed weights where they save flash), dense or packed (tinykit.codegen.packing)
    weights: str = "auto"


@dataclass(frozen=True)
class CodegenResult:
    """What was written, and the facts a user wants next (arena, ops, I/O)."""

    out_dir: Path
    files: tuple[Path, ...]
    sources: GeneratedSources
    model_sha256: str


def write_sources(sources: GeneratedSources, out_dir: str | os.PathLike[str]) -> tuple[Path, ...]:
    """Write the files atomically: kernels first, then NAME.c, the header last."""
    folder = Path(out_dir)
    order = [*KERNEL_FILES, f"{sources.name}.c", f"{sources.name}.h"]
    written = []
    for file_name in order:
        path = folder / file_name
        text = sources.files[file_name]
        if not (path.is_file() and path.read_text(encoding="utf-8", errors="replace") == text):
            write_text_atomic(path, text)
        written.append(path)
    return tuple(written)


def codegen(options: CodegenOptions) -> CodegenResult:
    """Read, check, plan and generate; then write the folder. See the module docstring."""
    from tinykit.tflite.reader import read_model

    model = read_model(options.model)
    sources = generate_sources(model, options.name, options.weights)
    files = write_sources(sources, options.out_dir)
    return CodegenResult(Path(options.out_dir), files, sources, model.sha256)
