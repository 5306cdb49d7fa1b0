"""The static memory plan: one arena, an exact offset for every non-constant tensor.

The C generator lays out its single static arena from this plan verbatim, so the plan is
a contract, not an estimate:

- Every non-constant tensor the graph reads or writes gets `size` bytes at `offset`.
  Lifetimes are inclusive op ranges, see `tinykit.tflite.lifetimes`: graph inputs from
  before op 0, graph outputs until after the last op, intermediates from writer to last
  reader, variable tensors for the whole run and across invocations (never shared).
- Two tensors live during a common op never overlap, so an op's outputs overlap neither
  its inputs nor each other, with two exceptions. Views (RESHAPE, SQUEEZE, EXPAND_DIMS,
  BITCAST and ops that are the identity on these shapes) give their output the offset of
  their input, merge the lifetimes and set `alias_of` to the tensor that owns the bytes;
  such ops are listed in `view_ops` and the generated C does nothing for them. Ops in
  `lifetimes.IN_PLACE_OPS` may write output 0 over input 0 when that input dies at the
  op (`in_place` maps op -> input tensor); their kernels must be safe with out == in.
- `scratch` maps an op index to the bytes its kernel needs while it runs (an im2col
  buffer, say); that buffer is live only during the op: `plan.scratch_offset(op)`.
- Offsets are multiples of `alignment` (default 16: the arena alignment TFLM uses, enough
  for 128-bit Helium/MVE and LDRD/LDM access on every Cortex-M, and for float64 data).
  `arena_bytes` is the end of the highest allocation rounded up to `alignment`.
- Deterministic: the same subgraph, alignment and scratch always give the same plan.

The placement tries several orders (by size, by lifetime, by area, by start, by conflict
weight) with first-fit and best-fit, and keeps the smallest arena; `lower_bound` is the
largest sum of simultaneously live (aligned) bytes, which no plan can beat.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tinykit.tflite.lifetimes import IN_PLACE_OPS, Lifetime, lifetimes, view_input
from tinykit.tflite.model import Subgraph

DEFAULT_ALIGNMENT = 16


@dataclass(frozen=True)
class PlanEntry:
    """One tensor's bytes: `arena[offset : offset + size]` during ops first_op..last_op.

    `alias_of` is set for the output of a view: the tensor (never itself a view) whose
    bytes it shares; first_op/last_op then span the whole alias group.
    """

    tensor: int
    offset: int
    size: int
    first_op: int
    last_op: int
    alias_of: int | None = None


@dataclass(frozen=True)
class ScratchEntry:
    """Scratch bytes for one op's kernel, live only while that op runs."""

    op: int
    offset: int
    size: int


@dataclass(frozen=True)
class MemoryPlan:
    """Offsets in one arena for every non-constant tensor and every scratch buffer."""

    arena_bytes: int
    alignment: int
    entries: tuple[PlanEntry, ...]
    scratch: tuple[ScratchEntry, ...]
    lower_bound: int
    view_ops: frozenset[int]
    in_place: Mapping[int, int]
    strategy: str
    _by_tensor: Mapping[int, PlanEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_tensor", {e.tensor: e for e in self.entries})

    def entry(self, tensor_index: int) -> PlanEntry:
        """The plan entry of a tensor; KeyError if it has no arena bytes (a constant)."""
        try:
            return self._by_tensor[tensor_index]
        except KeyError:
            raise KeyError(f"tensor {tensor_index} has no bytes in the arena") from None

    def offset(self, tensor_index: int) -> int:
        """Byte offset of a tensor in the arena (KeyError for constants)."""
        return self.entry(tensor_index).offset

    def scratch_offset(self, op_index: int) -> int:
        """Byte offset of the scratch buffer of an op (KeyError if it asked for none)."""
        for item in self.scratch:
            if item.op == op_index:
                return item.offset
        raise KeyError(f"op {op_index} has no scratch buffer in this plan")

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (what `to_json` prints)."""
        return {
            "arena_bytes": self.arena_bytes, "alignment": self.alignment,
            "lower_bound": self.lower_bound, "strategy": self.strategy,
            "entries": [
                {"tensor": e.tensor, "offset": e.offset, "size": e.size,
                 "first_op": e.first_op, "last_op": e.last_op, "alias_of": e.alias_of}
                for e in self.entries
            ],
            "scratch": [{"op": s.op, "offset": s.offset, "size": s.size} for s in self.scratch],
            "view_ops": sorted(self.view_ops),
            "in_place": {str(op): t for op, t in sorted(self.in_place.items())},
        }

    def to_json(self) -> str:
        """The plan as a JSON text (stable key order, so identical plans give identical text)."""
        return json.dumps(self.as_dict(), indent=1)


@dataclass
class _Block:
    """What placement sees: one range of bytes live over one op interval."""

    key: int  # root tensor index, or -1 - op for a scratch buffer
    size: int
    first: int
    last: int
    offset: int = 0


def plan_memory(
    subgraph: Subgraph,
    *,
    alignment: int = DEFAULT_ALIGNMENT,
    scratch: Mapping[int, int] | None = None,
    in_place_ops: Mapping[str, tuple[int, ...]] | None = None,
) -> MemoryPlan:
    """Plan the arena of a subgraph; see the module docstring for the contract.

    `scratch` maps op index -> bytes; `in_place_ops` replaces `IN_PLACE_OPS` (pass {} to
    forbid in-place writes). Raises ValueError for a bad alignment or scratch request,
    ModelError / UnsupportedError for graphs that cannot be planned.
    """
    if alignment < 1 or alignment & (alignment - 1):
        raise ValueError(f"alignment must be a power of two, not {alignment}")
    scratch = dict(scratch or {})
    for op, size in scratch.items():
        if not 0 <= op < len(subgraph.operators) or size < 0:
            raise ValueError(f"scratch request {op}: {size} names no op or a negative size")
    lives = lifetimes(subgraph)
    groups = _Groups(lives)
    view_ops = _merge_views(subgraph, groups)
    # Entries report the merged lifetime of a view group, not of in-place neighbours.
    view_span = {t: groups.span[groups.find(t)] for t in lives}
    in_place = _merge_in_place(subgraph, groups, IN_PLACE_OPS if in_place_ops is None
                               else in_place_ops)
    blocks = groups.blocks() + [
        _Block(-1 - op, size, op, op) for op, size in sorted(scratch.items()) if size
    ]
    arena, strategy, offsets = _place(blocks, alignment)
    entries = tuple(
        PlanEntry(t, offsets.get(groups.find(t), 0), life.size, *view_span[t],
                  groups.alias.get(t))
        for t, life in sorted(lives.items())
    )
    scratch_entries = tuple(
        ScratchEntry(op, offsets.get(-1 - op, 0), size) for op, size in sorted(scratch.items())
    )
    return MemoryPlan(
        arena_bytes=arena, alignment=alignment, entries=entries,
        scratch=scratch_entries, lower_bound=lower_bound(blocks, alignment),
        view_ops=frozenset(view_ops), in_place=in_place, strategy=strategy,
    )


class _Groups:
    """Union-find over tensors that share bytes, with each group's size and op span."""

    def __init__(self, lives: Mapping[int, Lifetime]) -> None:
        self.lives = lives
        self.parent = {t: t for t in lives}
        self.size = {t: life.size for t, life in lives.items()}
        self.span = {t: (life.first_op, life.last_op) for t, life in lives.items()}
        self.members = dict.fromkeys(lives, 1)
        self.fixed = {t for t, life in lives.items() if life.is_variable}
        self.alias: dict[int, int] = {}

    def find(self, t: int) -> int:
        while self.parent[t] != t:
            t = self.parent[t]
        return t

    def join(self, root: int, other: int) -> None:
        """Put `other`'s group under `root`: same offset, spans merged."""
        other = self.find(other)
        self.parent[other] = root
        self.size[root] = max(self.size[root], self.size[other])
        (a, b), (c, d) = self.span[root], self.span[other]
        self.span[root] = (min(a, c), max(b, d))
        self.members[root] += self.members[other]

    def blocks(self) -> list[_Block]:
        return [
            _Block(t, self.size[t], *self.span[t]) for t in sorted(self.lives)
            if self.find(t) == t and self.size[t]
        ]


def _shareable(groups: _Groups, subgraph: Subgraph, source: int, result: int) -> bool:
    """Whether `result` may take the bytes of `source`'s group (neither is pinned state)."""
    if source not in groups.lives or result not in groups.lives:
        return False  # constants live in flash; the output needs its own bytes
    root = groups.find(source)
    if root in groups.fixed or result in groups.fixed or groups.find(result) == root:
        return False
    return result not in subgraph.inputs and groups.members[groups.find(result)] == 1


def _merge_views(subgraph: Subgraph, groups: _Groups) -> list[int]:
    writers: dict[int, int] = {}
    for op in subgraph.operators:
        for t in op.outputs:
            writers[t] = writers.get(t, 0) + 1
    view_ops = []
    for op in subgraph.operators:
        source = view_input(op, subgraph)
        if source is None or len(op.outputs) != 1 or writers[op.outputs[0]] != 1:
            continue
        result = op.outputs[0]
        if _shareable(groups, subgraph, source, result):
            root = groups.find(source)
            groups.join(root, result)
            groups.alias[result] = root
            view_ops.append(op.index)
    return view_ops


def _merge_in_place(
    subgraph: Subgraph, groups: _Groups, table: Mapping[str, tuple[int, ...]]
) -> dict[int, int]:
    in_place: dict[int, int] = {}
    outputs = set(subgraph.outputs)
    for op in subgraph.operators:
        positions = table.get(op.opcode, ())
        if not positions or not op.outputs or op.outputs[0] < 0:
            continue
        result = op.outputs[0]
        for position in positions:
            if position >= len(op.inputs) or op.inputs[position] < 0:
                continue
            source = op.inputs[position]
            if not _shareable(groups, subgraph, source, result):
                continue
            root = groups.find(source)
            others = [t for t in op.inputs if t >= 0 and t != source and t in groups.lives]
            dies_here = groups.span[root][1] == op.index
            if (dies_here and groups.size[root] == groups.size[result]
                    and not any(groups.find(t) == root for t in others)
                    and not any(groups.find(t) == root for t in outputs)):
                groups.join(root, result)
                in_place[op.index] = source
                break
    return in_place


def lower_bound(blocks: list[_Block], alignment: int) -> int:
    """The largest sum of aligned sizes live during one op: no placement goes below it."""
    if not blocks:
        return 0
    events: dict[int, int] = {}
    for b in blocks:
        events[b.first] = events.get(b.first, 0) + _align(b.size, alignment)
        events[b.last + 1] = events.get(b.last + 1, 0) - _align(b.size, alignment)
    best = running = 0
    for point in sorted(events):
        running += events[point]
        best = max(best, running)
    return best


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


_Order = Callable[[_Block], tuple[int, ...]]
_ORDERS: tuple[tuple[str, _Order], ...] = (
    ("size", lambda b: (-b.size, b.first - b.last, b.first, b.key)),
    ("lifetime", lambda b: (b.first - b.last, -b.size, b.first, b.key)),
    ("area", lambda b: (-b.size * (b.last - b.first + 1), -b.size, b.first, b.key)),
    ("start", lambda b: (b.first, -b.size, b.key)),
)


def _place(blocks: list[_Block], alignment: int) -> tuple[int, str, dict[int, int]]:
    """Try every order x fit rule; return (arena bytes, winning strategy, key -> offset)."""
    if not blocks:
        return 0, "empty", {}
    conflicts = _conflicts(blocks)
    weight = {b.key: b.size + sum(blocks[j].size for j in conflicts[i])
              for i, b in enumerate(blocks)}
    orders = (*_ORDERS, ("conflict", lambda b: (-weight[b.key], -b.size, b.first, b.key)))
    bound = lower_bound(blocks, alignment)
    index = {b.key: i for i, b in enumerate(blocks)}
    best: tuple[int, str, dict[int, int]] | None = None
    for name, key in orders:
        order = [index[b.key] for b in sorted(blocks, key=key)]
        for fit in ("first-fit", "best-fit"):
            offsets = _fit(blocks, order, conflicts, alignment, fit == "best-fit")
            top = max(offsets[i] + blocks[i].size for i in range(len(blocks)))
            arena = _align(top, alignment)
            if best is None or arena < best[0]:
                best = (arena, f"{name}/{fit}", {blocks[i].key: offsets[i]
                                                 for i in range(len(blocks))})
            if arena <= bound:
                return best
    assert best is not None
    return best


def _conflicts(blocks: list[_Block]) -> list[list[int]]:
    """For each block, the blocks live during at least one common op (sweep by start)."""
    order = sorted(range(len(blocks)), key=lambda i: blocks[i].first)
    result: list[list[int]] = [[] for _ in blocks]
    active: list[int] = []
    for i in order:
        start = blocks[i].first
        active = [j for j in active if blocks[j].last >= start]
        for j in active:
            result[i].append(j)
            result[j].append(i)
        active.append(i)
    return result


def _fit(
    blocks: list[_Block], order: list[int], conflicts: list[list[int]], alignment: int,
    best_fit: bool,
) -> list[int]:
    offsets = [-1] * len(blocks)
    for i in order:
        size = blocks[i].size
        taken = sorted((offsets[j], offsets[j] + blocks[j].size)
                       for j in conflicts[i] if offsets[j] >= 0)
        candidate, chosen, chosen_gap = 0, -1, -1
        for start, end in taken:
            if candidate + size <= start:
                gap = start - candidate
                if not best_fit:
                    chosen = candidate
                    break
                if chosen < 0 or gap < chosen_gap:
                    chosen, chosen_gap = candidate, gap
            candidate = max(candidate, _align(end, alignment))
        offsets[i] = chosen if chosen >= 0 else candidate
    return offsets
