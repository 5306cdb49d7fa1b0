"""The static memory plan: one arena, an exact offset for every non-constant tensor.

The C generator lays out its single static arena from this plan verbatim, so the plan is
a contract, not an estimate:

- The ops run in `plan.order` (original op indices; usually 0, 1, 2, ...). Lifetimes are
  inclusive ranges of **steps**, positions in that order, see `tinykit.tflite.lifetimes`:
  graph inputs from before step 0, graph outputs until after the last step,
  intermediates from writer to last reader, variable tensors for the whole run.
- Every non-constant tensor gets `size` bytes at `offset`. Two tensors live during a
  common step never overlap, with three exceptions. **Views** (RESHAPE, SQUEEZE,
  EXPAND_DIMS, BITCAST and ops that are the identity on these shapes, `view_ops`) give
  their output the offset of their input and `alias_of`; the C does nothing for them.
  **Streams** (`streams`, op -> `Stream`): the output of an op whose kernel honours the
  streaming contract of `tinykit.tflite.streaming` may start `distance` bytes before an
  input that dies at that op and overlap it during that op only; distance 0 with equal
  sizes is the classic in place (`in_place`).
- `scratch` maps an op index to the bytes its kernel needs while it runs; that buffer is
  live only during the op: `plan.scratch_offset(op)`.
- Every offset is a multiple of what the tensor's kernels need (`tinykit.tflite.alignment`,
  `PlanEntry.alignment`) and of `alignment` (1 by default). `arena_bytes` is the end of the
  highest allocation rounded up to 8 bytes (or `alignment` if larger).
- Deterministic: the same subgraph and arguments always give the same plan.

Streams chain tensors into rigid blocks; `tinykit.tflite.placement` places the blocks.
`lower_bound` is the largest number of bytes live during one step given the chosen
streams, which no placement of them can beat.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tinykit.tflite.alignment import (
    MAX_ALIGNMENT,
    OP_ALIGNMENT,
    SCRATCH_ALIGNMENT,
    tensor_alignments,
)
from tinykit.tflite.lifetimes import Lifetime, lifetimes, view_input
from tinykit.tflite.model import Subgraph
from tinykit.tflite.order import candidate_orders, in_order
from tinykit.tflite.placement import Block, Piece, align_up, lower_bound, place
from tinykit.tflite.streaming import KINDS, STREAMING_OPS, kind_of
from tinykit.tflite.ties import Tie, choose_ties, find_ties

#: Minimum alignment of every offset unless asked otherwise: the kernels' needs decide.
DEFAULT_ALIGNMENT = 1
#: `arena_bytes` is rounded up to this (the C arena is a union with a uint64_t).
ARENA_GRANULE = 8


@dataclass(frozen=True)
class PlanEntry:
    """One tensor's bytes: `arena[offset : offset + size]` during steps first_op..last_op.

    `alias_of` is set for the output of a view: the tensor (never itself a view) whose
    bytes it shares; first_op/last_op then span the whole alias group. `alignment` is
    what the tensor's kernels need (its offset is a multiple of it).
    """

    tensor: int
    offset: int
    size: int
    first_op: int
    last_op: int
    alias_of: int | None = None
    alignment: int = 1


@dataclass(frozen=True)
class ScratchEntry:
    """Scratch bytes for one op's kernel, live only while that op runs."""

    op: int
    offset: int
    size: int


@dataclass(frozen=True)
class Stream:
    """Op `op` writes `result` starting `distance` bytes before `source`, which dies there.

    `kind` is the streaming contract the op's kernel honours (`rows` or `elements`).
    """

    op: int
    source: int
    result: int
    distance: int
    kind: str


@dataclass(frozen=True)
class MemoryPlan:
    """Offsets in one arena for every non-constant tensor and every scratch buffer."""

    arena_bytes: int
    alignment: int
    entries: tuple[PlanEntry, ...]
    scratch: tuple[ScratchEntry, ...]
    lower_bound: int
    view_ops: frozenset[int]
    streams: Mapping[int, Stream]
    strategy: str
    #: Original op indices in execution order (step i runs op order[i]).
    order: tuple[int, ...] = ()
    _by_tensor: Mapping[int, PlanEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_tensor", {e.tensor: e for e in self.entries})

    @property
    def in_place(self) -> dict[int, int]:
        """Op -> input tensor whose exact bytes its output takes (a stream of distance 0)."""
        return {op: s.source for op, s in sorted(self.streams.items())
                if s.distance == 0 and self.entry(s.source).size == self.entry(s.result).size}

    @property
    def reordered(self) -> bool:
        """Whether the ops run in another order than the .tflite lists them."""
        return self.order != tuple(range(len(self.order)))

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
            "order": list(self.order),
            "entries": [
                {"tensor": e.tensor, "offset": e.offset, "size": e.size,
                 "first_op": e.first_op, "last_op": e.last_op, "alias_of": e.alias_of,
                 "alignment": e.alignment}
                for e in self.entries
            ],
            "scratch": [{"op": s.op, "offset": s.offset, "size": s.size} for s in self.scratch],
            "view_ops": sorted(self.view_ops),
            "streams": [{"op": s.op, "source": s.source, "result": s.result,
                         "distance": s.distance, "kind": s.kind}
                        for _, s in sorted(self.streams.items())],
            "in_place": {str(op): t for op, t in self.in_place.items()},
        }

    def to_json(self) -> str:
        """The plan as a JSON text (stable key order, so identical plans give identical text)."""
        return json.dumps(self.as_dict(), indent=1)


@dataclass(frozen=True)
class _Request:
    """The arguments of one `plan_memory` call, checked."""

    subgraph: Subgraph
    alignment: int
    scratch: Mapping[int, int]
    streaming: Mapping[str, str]
    op_streaming: Mapping[int, str | None]
    align_of: Mapping[int, int]


def plan_memory(
    subgraph: Subgraph,
    *,
    alignment: int = DEFAULT_ALIGNMENT,
    scratch: Mapping[int, int] | None = None,
    streaming_ops: Mapping[str, str] | None = None,
    op_streaming: Mapping[int, str | None] | None = None,
    op_alignment: Mapping[str, int] | None = None,
    reorder: bool = True,
) -> MemoryPlan:
    """Plan the arena of a subgraph; see the module docstring for the contract.

    `scratch` maps op index -> bytes. `streaming_ops` maps op name -> streaming kind and
    replaces `tinykit.tflite.streaming.STREAMING_OPS` (pass {} for whole-tensor plans);
    `op_streaming` maps an op index to the kind its chosen kernel honours (None: none),
    overriding `streaming_ops` for that op; `op_alignment` replaces
    `tinykit.tflite.alignment.OP_ALIGNMENT`. Left out, there is no scratch and every op
    streams as its type allows: the plan for generic kernels. The plan the generated C
    uses, with its kernels' scratch and streaming, is `tinykit.codegen.generate.arena_plan`,
    which calls this function with them. With
    `reorder`, an execution order other than the file's is used when it gives a smaller
    arena.
    Raises ValueError for bad arguments, ModelError / UnsupportedError for graphs that
    cannot be planned.
    """
    if alignment < 1 or alignment & (alignment - 1) or alignment > MAX_ALIGNMENT:
        raise ValueError(f"alignment must be a power of two up to {MAX_ALIGNMENT}, "
                         f"not {alignment}")
    scratch = dict(scratch or {})
    for op, size in scratch.items():
        if not 0 <= op < len(subgraph.operators) or size < 0:
            raise ValueError(f"scratch request {op}: {size} names no op or a negative size")
    streaming = STREAMING_OPS if streaming_ops is None else streaming_ops
    per_op = dict(op_streaming or {})
    for name, kind in [*streaming.items(), *per_op.items()]:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"streaming kind of {name} must be one of {KINDS}, not {kind!r}")
    lives = lifetimes(subgraph)  # raises ModelError for a graph out of execution order
    align_of = tensor_alignments(subgraph, lives, alignment,
                                 OP_ALIGNMENT if op_alignment is None else op_alignment)
    request = _Request(subgraph, alignment, scratch, streaming, per_op, align_of)
    identity = tuple(range(len(subgraph.operators)))
    best = _plan_in_order(request, identity)
    if reorder:
        for order in candidate_orders(subgraph):
            # Planning costs placements; an order whose bound cannot win is not planned.
            if align_up(_bound(_prepare(request, order)), ARENA_GRANULE) < best.arena_bytes:
                plan = _plan_in_order(request, order)
                if plan.arena_bytes < best.arena_bytes:
                    best = plan
    return best


class _Groups:
    """Union-find over tensors that share bytes through views, with size and step span."""

    def __init__(self, lives: Mapping[int, Lifetime]) -> None:
        self.lives = lives
        self.parent = {t: t for t in lives}
        self.size = {t: life.size for t, life in lives.items()}
        self.span = {t: (life.first_op, life.last_op) for t, life in lives.items()}
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

    def roots(self) -> list[int]:
        return [t for t in sorted(self.lives) if self.find(t) == t]


def _merge_views(steps: Subgraph, groups: _Groups) -> list[int]:
    """Alias every view's output to its input's group; the steps of the views."""
    writers: dict[int, int] = {}
    for op in steps.operators:
        for t in op.outputs:
            writers[t] = writers.get(t, 0) + 1
    view_steps = []
    for op in steps.operators:
        source = view_input(op, steps)
        if source is None or len(op.outputs) != 1 or writers[op.outputs[0]] != 1:
            continue
        result = op.outputs[0]
        if source not in groups.lives or result not in groups.lives:
            continue  # constants live in flash; the output needs its own bytes
        root = groups.find(source)
        if (root in groups.fixed or result in groups.fixed or groups.find(result) == root
                or result in steps.inputs or groups.find(result) != result):
            continue
        groups.join(root, result)
        groups.alias[result] = root
        view_steps.append(op.index)
    return view_steps


def _chain_blocks(groups: _Groups, ties: list[Tie], align: Mapping[int, int]
                  ) -> tuple[list[Block], dict[int, tuple[int, int]]]:
    """Blocks of tied groups, and group root -> (block key, offset inside the block)."""
    chain = {g: g for g in groups.roots()}
    rel = dict.fromkeys(chain, 0)
    for tie in ties:  # in step order: each result joins its source's chain
        chain[tie.result] = chain[tie.source]
        # Round the distance up so that the output's offset keeps its own alignment.
        rel[tie.result] = (rel[tie.source] - tie.distance) // align[tie.result] \
            * align[tie.result]
    members: dict[int, list[int]] = {}
    for g in chain:
        members.setdefault(chain[g], []).append(g)
    blocks: list[Block] = []
    where: dict[int, tuple[int, int]] = {}
    for head, group_roots in sorted(members.items()):
        block_align = max(align[g] for g in group_roots)
        shift = min(rel[g] for g in group_roots) // block_align * block_align
        for g in group_roots:
            where[g] = (head, rel[g] - shift)
        pieces = tuple(Piece(rel[g] - shift, groups.size[g], *groups.span[g])
                       for g in group_roots if groups.size[g])
        if pieces:
            blocks.append(Block(head, pieces, block_align))
    return blocks, where


@dataclass
class _Prepared:
    """One execution order with its view groups, alignments and candidate streams."""

    order: tuple[int, ...]
    steps: Subgraph
    groups: _Groups
    view_steps: list[int]
    align: dict[int, int]
    candidates: list[Tie]
    scratch: list[Block]


def _prepare(request: _Request, order: tuple[int, ...]) -> _Prepared:
    steps = in_order(request.subgraph, order)
    groups = _Groups(lifetimes(steps))
    view_steps = _merge_views(steps, groups)
    align: dict[int, int] = {}
    for t in groups.lives:  # a group is as aligned as its most demanding member
        root = groups.find(t)
        align[root] = max(align.get(root, 1), request.align_of[t])
    kinds = {step: kind_of(request.subgraph.operators[op], request.streaming,
                           request.op_streaming) for step, op in enumerate(order)}
    candidates = find_ties(steps, groups, kinds, align)
    step_of = {op: step for step, op in enumerate(order)}
    scratch_align = max(request.alignment, SCRATCH_ALIGNMENT)
    scratch = [Block(-1 - op, (Piece(0, size, step_of[op], step_of[op]),), scratch_align)
               for op, size in sorted(request.scratch.items()) if size]
    return _Prepared(order, steps, groups, view_steps, align, candidates, scratch)


def _bound(prepared: _Prepared) -> int:
    """The lower bound of an order if every candidate stream were used (no placement)."""
    blocks = _chain_blocks(prepared.groups, prepared.candidates, prepared.align)[0]
    return lower_bound(blocks + prepared.scratch)


def _plan_in_order(request: _Request, order: tuple[int, ...]) -> MemoryPlan:
    prepared = _prepare(request, order)
    groups, align = prepared.groups, prepared.align

    def make_blocks(ties: list[Tie]) -> list[Block]:
        return _chain_blocks(groups, ties, align)[0] + prepared.scratch

    chosen = choose_ties(groups, prepared.candidates, make_blocks)
    blocks, where = _chain_blocks(groups, chosen, align)
    blocks += prepared.scratch
    granule = max(ARENA_GRANULE, request.alignment)
    arena, strategy, bases = place(blocks, granule)

    def offset(t: int) -> int:
        head, inside = where[groups.find(t)]
        return bases.get(head, 0) + inside

    entries = tuple(
        PlanEntry(t, offset(t), life.size, *groups.span[groups.find(t)],
                  groups.alias.get(t), align[groups.find(t)])
        for t, life in sorted(groups.lives.items())
    )
    scratch_entries = tuple(ScratchEntry(op, bases.get(-1 - op, 0), size)
                            for op, size in sorted(request.scratch.items()))
    streams = {
        order[tie.step]: Stream(order[tie.step], tie.source_tensor, tie.result,
                                offset(tie.source_tensor) - offset(tie.result), tie.kind)
        for tie in chosen
    }
    return MemoryPlan(
        arena_bytes=arena, alignment=request.alignment, entries=entries,
        scratch=scratch_entries, lower_bound=align_up(lower_bound(blocks), granule),
        view_ops=frozenset(order[s] for s in prepared.view_steps), streams=streams,
        strategy=strategy, order=order,
    )
