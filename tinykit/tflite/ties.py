"""Which streams the planner uses: candidate ties between a dying input and an op's output.

A tie puts an op's output `distance` bytes before the input it streams over (see
`tinykit.tflite.streaming`), which makes the two one rigid block. Ties chain: in a
MobileNet every layer's output is tied to its input, and each tie shifts the next tensor
further down, so a long chain grows by the sum of its distances. A tie is therefore kept
only where it pays: `choose_ties` starts from the ties whose op would raise the peak with
input and output apart (plus every output that fits exactly in its input's bytes, which
costs nothing), and from all ties; from each it toggles one tie at a time while the
placed arena shrinks, and keeps the smaller result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from tinykit.tflite.model import Subgraph
from tinykit.tflite.placement import Block, align_up, lower_bound, place
from tinykit.tflite.streaming import IN_PLACE, stream_distance, stream_inputs


class GroupView(Protocol):
    """What ties need of the planner's view groups (tensors that share bytes)."""

    @property
    def lives(self) -> Mapping[int, object]: ...  # tensor -> its lifetime

    @property
    def size(self) -> Mapping[int, int]: ...  # group root -> bytes

    @property
    def span(self) -> Mapping[int, tuple[int, int]]: ...  # group root -> (first, last) step

    @property
    def fixed(self) -> set[int]: ...  # variable tensors, never shared

    def find(self, t: int) -> int: ...


@dataclass(frozen=True)
class Tie:
    """At `step`, output `result` may start `distance` bytes before group `source`."""

    step: int
    source: int  # root of the input's view group
    source_tensor: int  # the input tensor the op reads
    result: int
    distance: int
    kind: str

    def pair_extent(self, groups: GroupView) -> int:
        """Bytes the input and output take together during the op."""
        return max(groups.size[self.source] + self.distance, groups.size[self.result])


def find_ties(steps: Subgraph, groups: GroupView, kinds: Mapping[int, str | None],
              align: Mapping[int, int]) -> list[Tie]:
    """Every stream the graph and the kernels allow, in step order (at most one per op).

    `kinds` maps a step to the streaming kind of its op's kernel (None: it does not).
    """
    outputs = {groups.find(t) for t in steps.outputs if t in groups.lives}
    ties: list[Tie] = []
    for op in steps.operators:
        kind = kinds.get(op.index)
        if kind is None or not op.outputs or op.outputs[0] not in groups.lives:
            continue
        result = op.outputs[0]
        if (groups.find(result) != result or result in groups.fixed
                or result in steps.inputs or groups.span[result][0] != op.index):
            continue  # not a fresh tensor this op writes first
        for position in stream_inputs(op, kind):
            source = op.inputs[position] if position < len(op.inputs) else -1
            if source not in groups.lives:
                continue  # absent, or a constant in flash
            root = groups.find(source)
            others = [t for i, t in enumerate(op.inputs)
                      if i != position and t in groups.lives]
            if (root in groups.fixed or root in outputs or groups.span[root][1] != op.index
                    or any(groups.find(t) == root for t in others)):
                continue  # its bytes are needed after this op, or read another way
            distance = stream_distance(op, steps, position, kind)
            if distance is None or (kind == IN_PLACE and align[result] > align[root]):
                continue  # an exact overlap must keep the output's alignment
            ties.append(Tie(op.index, root, source, result, distance, kind))
            break
    return ties


MakeBlocks = Callable[[list[Tie]], list[Block]]


def choose_ties(groups: GroupView, candidates: Sequence[Tie],
                make_blocks: MakeBlocks) -> list[Tie]:
    """The ties worth keeping (see the module docstring); deterministic."""
    if not candidates:
        return []
    everything = list(candidates)
    live = _live_bytes(make_blocks(everything))
    peak = max(live.values(), default=0)
    # A tie is needed where input and output apart would raise the peak; an output that
    # fits exactly in its input's bytes (in place) costs nothing and is always taken.
    needed = [tie for tie in everything
              if live.get(tie.step, 0) + groups.size[tie.source] + groups.size[tie.result]
              - tie.pair_extent(groups) > peak or tie.pair_extent(groups)
              == groups.size[tie.source]]
    floor = align_up(lower_bound(make_blocks(everything)), 1)
    if _arena(make_blocks(needed)) <= floor:
        return needed  # as low as any choice of ties can go
    best: tuple[int, list[Tie]] = (_arena(make_blocks([])), [])  # never worse than apart
    for start in (needed, everything):
        found = _improve(start, everything, make_blocks)
        if found[0] < best[0]:
            best = found
    return best[1]


def _improve(start: list[Tie], everything: list[Tie], make_blocks: MakeBlocks
             ) -> tuple[int, list[Tie]]:
    """Toggle one tie at a time (in step order) while the arena shrinks; two passes at most."""
    kept = {tie.step for tie in start}
    best = _arena(make_blocks(start))
    for _ in range(2):
        improved = False
        for tie in everything:
            trial = kept ^ {tie.step}
            arena = _arena(make_blocks([t for t in everything if t.step in trial]))
            if arena < best:
                kept, best, improved = trial, arena, True
        if not improved:
            break
    return best, [t for t in everything if t.step in kept]


def _live_bytes(blocks: Sequence[Block]) -> dict[int, int]:
    steps = {s for b in blocks for s in range(b.first, b.last + 1)}
    return {s: sum(b.live_extent(s) for b in blocks if b.first <= s <= b.last)
            for s in sorted(steps)}


def _arena(blocks: list[Block]) -> int:
    if not blocks:
        return 0
    bound = lower_bound(blocks)
    arena = place(blocks, 1)[0]
    return align_up(max(arena, bound), 1)
