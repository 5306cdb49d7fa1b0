"""Execution orders: the file's, and reorderings of independent branches that lower the peak.

The converter lists ops in one topological order; where the graph branches (a residual
block's shortcut convolution, the towers of an inception block) another order may keep
fewer bytes alive at once. `candidate_orders` proposes a few orders by greedy list
scheduling; the planner plans each and keeps one only if its arena is strictly smaller.

Reordering is never proposed for graphs where the order carries meaning beyond data flow:
a tensor written by two ops, or variable tensors (state read and written across ops).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from tinykit.tflite.model import Subgraph


def in_order(subgraph: Subgraph, order: tuple[int, ...]) -> Subgraph:
    """The subgraph with its ops in `order`, each renumbered to its step."""
    if order == tuple(range(len(subgraph.operators))):
        return subgraph
    ops = tuple(dataclasses.replace(subgraph.operators[op], index=step)
                for step, op in enumerate(order))
    return dataclasses.replace(subgraph, operators=ops)


def dependencies(subgraph: Subgraph) -> list[set[int]] | None:
    """For each op, the ops whose outputs it reads; None when reordering is unsafe."""
    tensors = subgraph.tensors
    if any(t.is_variable for t in tensors):
        return None
    writer: dict[int, int] = {}
    for op in subgraph.operators:
        for t in op.outputs:
            if t >= 0:
                if t in writer:
                    return None
                writer[t] = op.index
    deps: list[set[int]] = []
    for op in subgraph.operators:
        found = {writer[t] for t in op.inputs if t in writer}
        if any(w >= op.index for w in found):
            return None  # not in execution order; lifetimes() reports it
        deps.append(found)
    return deps


def candidate_orders(subgraph: Subgraph) -> list[tuple[int, ...]]:
    """Other topological orders worth planning (none for a chain or an unsafe graph)."""
    deps = dependencies(subgraph)
    count = len(subgraph.operators)
    if deps is None or all(deps[i] >= {i - 1} for i in range(1, count)):
        return []  # no op may move: each one reads its predecessor
    identity = tuple(range(count))
    orders: list[tuple[int, ...]] = []
    for rule in (_smallest_growth, _depth_first):
        order = _schedule(subgraph, deps, rule)
        if order != identity and order not in orders:
            orders.append(order)
    return orders


#: (subgraph, candidate op, state) -> sort key; the ready op with the smallest key runs.
_Rule = Callable[[Subgraph, int, "_State"], tuple[int, ...]]


@dataclasses.dataclass
class _State:
    """What scheduling has done so far."""

    readers_left: dict[int, int]
    produced_at: dict[int, int]
    step: int = 0


def _schedule(subgraph: Subgraph, deps: list[set[int]], rule: _Rule) -> tuple[int, ...]:
    readers: dict[int, int] = {}
    for op in subgraph.operators:
        for t in set(op.inputs):
            if t >= 0:
                readers[t] = readers.get(t, 0) + 1
    state = _State(readers, {})
    done: set[int] = set()
    order: list[int] = []
    waiting = set(range(len(subgraph.operators)))
    while waiting:
        ready = [i for i in sorted(waiting) if deps[i] <= done]
        chosen = min(ready, key=lambda i: (*rule(subgraph, i, state), i))
        op = subgraph.operators[chosen]
        for t in set(op.inputs):
            if t >= 0:
                state.readers_left[t] -= 1
        for t in op.outputs:
            state.produced_at[t] = state.step
        state.step += 1
        order.append(chosen)
        done.add(chosen)
        waiting.discard(chosen)
    return tuple(order)


def _arena_bytes(subgraph: Subgraph, t: int) -> int:
    tensor = subgraph.tensors[t]
    return 0 if t < 0 or tensor.is_constant else tensor.nbytes


def _smallest_growth(subgraph: Subgraph, index: int, state: _State) -> tuple[int, ...]:
    """Run first the op that adds the fewest bytes: outputs minus inputs it frees."""
    op = subgraph.operators[index]
    grow = sum(_arena_bytes(subgraph, t) for t in op.outputs)
    freed = sum(_arena_bytes(subgraph, t) for t in set(op.inputs)
                if t >= 0 and state.readers_left.get(t) == 1 and t not in subgraph.outputs)
    return (grow - freed,)


def _depth_first(subgraph: Subgraph, index: int, state: _State) -> tuple[int, ...]:
    """Keep following the branch just computed: read the most recently produced tensor."""
    op = subgraph.operators[index]
    latest = max((state.produced_at.get(t, -1) for t in op.inputs if t >= 0), default=-1)
    return (-latest,)
