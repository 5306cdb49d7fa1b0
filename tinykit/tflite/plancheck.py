"""An independent checker of memory plans, used by the tests and by the code generator.

It recomputes from the graph alone, in the plan's execution order, which tensors must
hold their bytes during each step, then looks for two of them whose bytes overlap.
Overlap is allowed only between tensors that carry the same bytes (a view and its source,
as `plan.view_ops` declares and as the op really is a view) and, during the op itself,
between the output and the dying input of a declared stream. A stream is then checked
byte by byte against the streaming contract (`tinykit.tflite.streaming`): for every output
unit u, the bytes a write into u may clobber must lie below every input byte the kernel
may still read once it writes u. Everything else (an order that reads a tensor before it
is written, a missing tensor, a short entry, an offset that is not aligned as the kernels
need, bytes past the arena, a stream on an op whose kernel does not stream) is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from tinykit.errors import ModelError
from tinykit.tflite.alignment import OP_ALIGNMENT, SCRATCH_ALIGNMENT, tensor_alignments
from tinykit.tflite.lifetimes import lifetimes, view_input
from tinykit.tflite.model import Operator, Subgraph
from tinykit.tflite.order import in_order
from tinykit.tflite.planner import MemoryPlan, PlanEntry, Stream
from tinykit.tflite.streaming import IN_PLACE, STREAMING_OPS, kind_of, op_units, stream_inputs


def _must_hold(steps: Subgraph) -> dict[int, set[int]]:
    """step -> tensors that must keep their bytes during it (brute force, no shortcuts)."""
    tensors, ops = steps.tensors, steps.operators
    count = len(ops)
    arena = {
        t.index for t in tensors
        if (t.is_variable or t.data is None) and (
            t.index in steps.inputs or t.index in steps.outputs
            or any(t.index in op.inputs or t.index in op.outputs for op in ops))
    }
    live: dict[int, set[int]] = {k: set() for k in range(max(count, 1))}
    for t in arena:
        if tensors[t].is_variable:
            span = range(max(count, 1))
        else:
            writes = [op.index for op in ops if t in op.outputs]
            reads = [op.index for op in ops if t in op.inputs]
            start = 0 if t in steps.inputs or not writes else writes[0]
            end = count - 1 if t in steps.outputs else max(reads + writes, default=start)
            span = range(start, max(start, end) + 1)
        for k in span:
            live[k].add(t)
    return live


def _same_bytes(steps: Subgraph, plan: MemoryPlan) -> dict[int, int]:
    """tensor -> representative of the tensors that share bytes through declared views."""
    rep: dict[int, int] = {}

    def find(t: int) -> int:
        while rep.get(t, t) != t:
            t = rep[t]
        return t

    step_of = {op: step for step, op in enumerate(plan.order)}
    for index in sorted(plan.view_ops):
        op = steps.operators[step_of[index]]
        source = view_input(op, steps)
        if source is not None:
            rep[find(op.outputs[0])] = find(source)
    return {t.index: find(t.index) for t in steps.tensors}


def _order_problems(subgraph: Subgraph, plan: MemoryPlan) -> list[str]:
    if sorted(plan.order) != list(range(len(subgraph.operators))):
        return [f"the order {list(plan.order)} is not a permutation of the ops"]
    try:
        lifetimes(in_order(subgraph, plan.order))
    except ModelError as exc:
        return [f"the order runs an op before its input is written: {exc.message}"]
    return []


def check_plan(subgraph: Subgraph, plan: MemoryPlan, *,
               streaming_ops: Mapping[str, str] | None = None,
               op_streaming: Mapping[int, str | None] | None = None,
               op_alignment: Mapping[str, int] | None = None) -> list[str]:
    """Every way the plan breaks the contract of `tinykit.tflite.planner`; [] when sound.

    `streaming_ops`, `op_streaming` and `op_alignment` describe the kernels the plan was
    made for, as `plan_memory` takes them (its defaults when None).
    """
    problems = _order_problems(subgraph, plan)
    if problems:
        return problems
    steps = in_order(subgraph, plan.order)
    entries = {e.tensor: e for e in plan.entries}
    spans: dict[int, tuple[int, int]] = {}
    for e in plan.entries:
        tensor = subgraph.tensors[e.tensor]
        if e.size < tensor.nbytes:
            problems.append(f"tensor {e.tensor}: {e.size} bytes planned, {tensor.nbytes} needed")
        spans[e.tensor] = (e.offset, e.offset + e.size)
    for s in plan.scratch:
        spans[-1 - s.op] = (s.offset, s.offset + s.size)
    problems += _alignment_problems(subgraph, plan, spans, op_alignment)
    same = _same_bytes(steps, plan)
    for view in sorted(plan.view_ops):
        op = subgraph.operators[view]
        source = view_input(op, subgraph)
        if source is None:
            problems.append(f"op {view} ({op.opcode}) is declared a view but is not one")
        elif source in entries and entries[source].offset != entries[op.outputs[0]].offset:
            problems.append(f"view op {view}: output and input offsets differ")
    table = STREAMING_OPS if streaming_ops is None else streaming_ops
    for stream in plan.streams.values():
        problems += _stream_problems(subgraph, stream, entries, same,
                                     lambda op: kind_of(op, table, op_streaming or {}))
    step_streams = {plan.order.index(s.op): s for s in plan.streams.values()
                    if 0 <= s.op < len(subgraph.operators)}
    step_scratch = {plan.order.index(s.op) for s in plan.scratch if s.size}
    for k, live in _must_hold(steps).items():
        missing = sorted(t for t in live if t not in entries)
        if missing:
            problems.append(f"step {k}: live tensors {missing} have no plan entry")
        items = sorted(t for t in live if t in entries and entries[t].size)
        if k in step_scratch:
            items.append(-1 - plan.order[k])
        problems += _overlaps(items, spans, same, step_streams.get(k), k)
    return problems


def _alignment_problems(subgraph: Subgraph, plan: MemoryPlan,
                        spans: dict[int, tuple[int, int]],
                        op_alignment: Mapping[str, int] | None) -> list[str]:
    table = OP_ALIGNMENT if op_alignment is None else op_alignment
    need = tensor_alignments(subgraph, {t for t in spans if t >= 0}, plan.alignment, table)
    problems = []
    for key, (start, end) in spans.items():
        align = need[key] if key >= 0 else max(plan.alignment, SCRATCH_ALIGNMENT)
        if start % align:
            problems.append(f"{_name(key)} at offset {start} is not {align}-aligned")
        if start < 0 or end > plan.arena_bytes:
            problems.append(f"{_name(key)} [{start}, {end}) lies outside the arena "
                            f"of {plan.arena_bytes} bytes")
    return problems


def _stream_problems(subgraph: Subgraph, stream: Stream, entries: Mapping[int, PlanEntry],
                     same: Mapping[int, int], kind: Callable[[Operator], str | None]
                     ) -> list[str]:
    """The declared stream is allowed and no write clobbers an input byte still to be read."""
    where = f"stream of op {stream.op}"
    if not 0 <= stream.op < len(subgraph.operators):
        return [f"{where}: no such op"]
    op = subgraph.operators[stream.op]
    if kind(op) != stream.kind:
        return [f"{where}: the kernel of this {op.opcode} does not stream as "
                f"{stream.kind!r}"]
    positions = [p for p in stream_inputs(op, stream.kind)
                 if p < len(op.inputs) and op.inputs[p] == stream.source]
    if not positions or not op.outputs or op.outputs[0] != stream.result:
        return [f"{where}: tensor {stream.source} -> {stream.result} is not its input -> "
                "output 0"]
    others = [t for i, t in enumerate(op.inputs) if i != positions[0] and t >= 0]
    if any(same.get(t) == same[stream.source] for t in others):
        return [f"{where}: another input of the op shares the bytes of tensor {stream.source}"]
    if stream.source not in entries or stream.result not in entries:
        return [f"{where}: its tensors have no plan entries"]
    source, result = entries[stream.source].offset, entries[stream.result].offset
    if source - result != stream.distance:
        return [f"{where}: declared distance {stream.distance}, offsets differ by "
                f"{source - result}"]
    if stream.kind == IN_PLACE:
        a, b = subgraph.tensors[stream.source], subgraph.tensors[stream.result]
        if source != result or a.shape != b.shape or a.nbytes != b.nbytes:
            return [f"{where}: an in-place kernel needs its output exactly over its input"]
        return []
    units = op_units(op, subgraph, positions[0], stream.kind)
    if units is None:
        return [f"{where}: the op's shapes do not fit the {stream.kind} contract"]
    floors = units.floors()
    needed = units.needed()  # units after which the kernel may still read input
    write_end = result + units.ends()
    read_start = source + floors * units.in_unit
    bad = np.flatnonzero(needed & (write_end > read_start))
    if bad.size:
        u = int(bad[0])
        return [f"{where}: writing output unit {u} ({stream.kind}) reaches byte "
                f"{int(write_end[u])} but input bytes from {int(read_start[u])} may still "
                "be read"]
    return []


def _overlaps(items: list[int], spans: dict[int, tuple[int, int]], same: dict[int, int],
              stream: Stream | None, k: int) -> list[str]:
    problems = []
    ordered = sorted(items, key=lambda t: spans[t])
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if spans[b][0] >= spans[a][1]:
                break
            if a >= 0 and b >= 0 and same[a] == same[b]:
                continue
            if stream is not None and a >= 0 and b >= 0 and stream.result in (a, b):
                other = b if a == stream.result else a
                if same[other] == same[stream.source]:
                    continue  # checked byte by byte in _stream_problems
            problems.append(f"step {k}: {_name(a)} {spans[a]} and {_name(b)} {spans[b]} "
                            "are live together and overlap")
    return problems


def _name(key: int) -> str:
    return f"tensor {key}" if key >= 0 else f"scratch of op {-1 - key}"
