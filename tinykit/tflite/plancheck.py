"""An independent checker of memory plans, used by the tests and by the code generator.

It recomputes from the graph alone which tensors must hold their bytes during each op,
then looks for two of them whose bytes overlap. Overlap is allowed only between tensors
that carry the same bytes (a view and its source, as `plan.view_ops` declares and as the
op really is a view) and, during the op itself, between the input and output of an op the
plan declares in place. Everything else (a missing tensor, a short entry, a misaligned
offset, bytes past the arena) is reported too.
"""

from __future__ import annotations

from tinykit.tflite.lifetimes import view_input
from tinykit.tflite.model import Subgraph
from tinykit.tflite.planner import MemoryPlan


def _must_hold(subgraph: Subgraph) -> dict[int, set[int]]:
    """op -> tensors that must keep their bytes during it (brute force, no shortcuts)."""
    tensors, ops = subgraph.tensors, subgraph.operators
    count = len(ops)
    arena = {
        t.index for t in tensors
        if (t.is_variable or t.data is None) and (
            t.index in subgraph.inputs or t.index in subgraph.outputs
            or any(t.index in op.inputs or t.index in op.outputs for op in ops))
    }
    live: dict[int, set[int]] = {k: set() for k in range(max(count, 1))}
    for t in arena:
        if tensors[t].is_variable:
            span = range(max(count, 1))
        else:
            writes = [op.index for op in ops if t in op.outputs]
            reads = [op.index for op in ops if t in op.inputs]
            start = 0 if t in subgraph.inputs or not writes else writes[0]
            end = count - 1 if t in subgraph.outputs else max(reads + writes, default=start)
            span = range(start, max(start, end) + 1)
        for k in span:
            live[k].add(t)
    return live


def _same_bytes(subgraph: Subgraph, plan: MemoryPlan) -> dict[int, int]:
    """tensor -> representative of the tensors that share bytes through declared views."""
    rep: dict[int, int] = {}

    def find(t: int) -> int:
        while rep.get(t, t) != t:
            t = rep[t]
        return t

    for index in sorted(plan.view_ops):
        op = subgraph.operators[index]
        source = view_input(op, subgraph)
        if source is not None:
            rep[find(op.outputs[0])] = find(source)
    return {t.index: find(t.index) for t in subgraph.tensors}


def check_plan(subgraph: Subgraph, plan: MemoryPlan) -> list[str]:
    """Every way the plan breaks the contract of `tinykit.tflite.planner`; [] when sound."""
    problems: list[str] = []
    entries = {e.tensor: e for e in plan.entries}
    spans: dict[int, tuple[int, int]] = {}
    for e in plan.entries:
        tensor = subgraph.tensors[e.tensor]
        if e.size < tensor.nbytes:
            problems.append(f"tensor {e.tensor}: {e.size} bytes planned, {tensor.nbytes} needed")
        spans[e.tensor] = (e.offset, e.offset + e.size)
    for s in plan.scratch:
        spans[-1 - s.op] = (s.offset, s.offset + s.size)
    for key, (start, end) in spans.items():
        if start % plan.alignment:
            problems.append(f"{_name(key)} at offset {start} is not {plan.alignment}-aligned")
        if start < 0 or end > plan.arena_bytes:
            problems.append(f"{_name(key)} [{start}, {end}) lies outside the arena "
                            f"of {plan.arena_bytes} bytes")
    for view in plan.view_ops:
        op = subgraph.operators[view]
        source = view_input(op, subgraph)
        if source is None:
            problems.append(f"op {view} ({op.opcode}) is declared a view but is not one")
        elif source in entries and entries[source].offset != entries[op.outputs[0]].offset:
            problems.append(f"view op {view}: output and input offsets differ")
    same = _same_bytes(subgraph, plan)
    for k, live in _must_hold(subgraph).items():
        missing = sorted(t for t in live if t not in entries)
        if missing:
            problems.append(f"op {k}: live tensors {missing} have no plan entry")
        items = sorted(t for t in live if t in entries and entries[t].size)
        if any(s.op == k and s.size for s in plan.scratch):
            items.append(-1 - k)
        problems += _overlaps(items, spans, same, plan, subgraph, k)
    return problems


def _overlaps(
    items: list[int], spans: dict[int, tuple[int, int]], same: dict[int, int],
    plan: MemoryPlan, subgraph: Subgraph, k: int,
) -> list[str]:
    problems = []
    ordered = sorted(items, key=lambda t: spans[t])
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if spans[b][0] >= spans[a][1]:
                break
            if a >= 0 and b >= 0 and same[a] == same[b]:
                continue
            if _declared_in_place(a, b, plan, subgraph, k, same):
                continue
            problems.append(f"op {k}: {_name(a)} {spans[a]} and {_name(b)} {spans[b]} "
                            "are live together and overlap")
    return problems


def _declared_in_place(
    a: int, b: int, plan: MemoryPlan, subgraph: Subgraph, k: int, same: dict[int, int]
) -> bool:
    """Whether (a, b) is the output of in-place op k and (the bytes of) its dying input."""
    if k not in plan.in_place or a < 0 or b < 0:
        return False
    op = subgraph.operators[k]
    source, result = plan.in_place[k], op.outputs[0]
    if source not in op.inputs or result not in (a, b):
        return False
    other = b if a == result else a
    return same[other] == same[source]


def _name(key: int) -> str:
    return f"tensor {key}" if key >= 0 else f"scratch of op {-1 - key}"
