"""Placing rigid blocks of bytes in one arena so that nothing live at the same time overlaps.

A `Block` is what the planner hands over: one or more `Piece`s of bytes at fixed offsets
relative to the block's base, each live over an inclusive op interval. A plain tensor (with
its views) is a one-piece block; a chain of tensors that stream over each other is one
block whose pieces sit at the distances the streaming contract fixed. Placement only picks
each block's base (a multiple of the block's alignment, relative offsets are already
multiples of their piece's alignment) so that pieces of different blocks that are live
during a common op never overlap.

Several orders (by extent, lifetime, area, start, conflicting bytes), each with first-fit
and best-fit, are tried and the smallest arena kept; the search stops early at the lower
bound. Deterministic: ties break on block keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Piece:
    """Bytes [base + rel, base + rel + size) live while ops first..last run."""

    rel: int
    size: int
    first: int
    last: int


@dataclass
class Block:
    """Pieces that move together. `key`: root tensor index, or -1 - op for scratch."""

    key: int
    pieces: tuple[Piece, ...]
    align: int
    first: int = field(init=False)
    last: int = field(init=False)
    extent: int = field(init=False)

    def __post_init__(self) -> None:
        self.first = min(p.first for p in self.pieces)
        self.last = max(p.last for p in self.pieces)
        self.extent = max(p.rel + p.size for p in self.pieces)

    def live_extent(self, op: int) -> int:
        """Bytes from the lowest to the highest piece live during `op` (0 if none)."""
        live = [p for p in self.pieces if p.first <= op <= p.last and p.size]
        if not live:
            return 0
        return max(p.rel + p.size for p in live) - min(p.rel for p in live)


def align_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def lower_bound(blocks: Sequence[Block]) -> int:
    """The largest number of bytes live during one op: no placement goes below it.

    Every offset is a multiple of the smallest block alignment, so each live extent
    counts rounded up to it (the next block cannot start any earlier).
    """
    if not blocks:
        return 0
    unit = min(b.align for b in blocks)
    ops = sorted({p.first for b in blocks for p in b.pieces})
    best = 0
    for op in ops:  # the live set only grows at a piece's first op
        best = max(best, sum(align_up(b.live_extent(op), unit) for b in blocks
                             if b.first <= op <= b.last))
    return best


_Order = Callable[[Block], tuple[int, ...]]
_ORDERS: tuple[tuple[str, _Order], ...] = (
    ("size", lambda b: (-b.extent, b.first - b.last, b.first, b.key)),
    ("lifetime", lambda b: (b.first - b.last, -b.extent, b.first, b.key)),
    ("area", lambda b: (-b.extent * (b.last - b.first + 1), -b.extent, b.first, b.key)),
    ("start", lambda b: (b.first, -b.extent, b.key)),
)

#: For a pair of blocks: (piece of the first, piece of the second) live together.
_Clashes = dict[tuple[int, int], list[tuple[Piece, Piece]]]


def place(blocks: Sequence[Block], granule: int) -> tuple[int, str, dict[int, int]]:
    """(arena bytes rounded up to `granule`, winning strategy, key -> base offset)."""
    if not blocks:
        return 0, "empty", {}
    clashes = _clashes(blocks)
    neighbours: list[list[int]] = [[] for _ in blocks]
    for i, j in clashes:
        neighbours[i].append(j)
    weight = {b.key: b.extent + sum(blocks[j].extent for j in neighbours[i])
              for i, b in enumerate(blocks)}
    orders = (*_ORDERS, ("conflict", lambda b: (-weight[b.key], -b.extent, b.first, b.key)))
    bound = align_up(lower_bound(blocks), granule)
    index = {b.key: i for i, b in enumerate(blocks)}
    best: tuple[int, str, dict[int, int]] | None = None
    for name, key in orders:
        order = [index[b.key] for b in sorted(blocks, key=key)]
        for fit in ("first-fit", "best-fit"):
            bases = _fit(blocks, order, neighbours, clashes, fit == "best-fit")
            top = max(bases[i] + blocks[i].extent for i in range(len(blocks)))
            arena = align_up(top, granule)
            if best is None or arena < best[0]:
                best = (arena, f"{name}/{fit}",
                        {blocks[i].key: bases[i] for i in range(len(blocks))})
            if arena <= bound:
                return best
    assert best is not None
    return best


def _clashes(blocks: Sequence[Block]) -> _Clashes:
    """Pairs of pieces live together, for every ordered pair of blocks (sweep by start)."""
    order = sorted(range(len(blocks)), key=lambda i: (blocks[i].first, blocks[i].key))
    result: _Clashes = {}
    active: list[int] = []
    for i in order:
        start = blocks[i].first
        active = [j for j in active if blocks[j].last >= start]
        for j in active:
            pairs = [(p, q) for p in blocks[i].pieces for q in blocks[j].pieces
                     if p.first <= q.last and q.first <= p.last and p.size and q.size]
            if pairs:
                result[(i, j)] = pairs
                result[(j, i)] = [(q, p) for p, q in pairs]
        active.append(i)
    return result


def _fit(blocks: Sequence[Block], order: list[int], neighbours: list[list[int]],
         clashes: _Clashes, best_fit: bool) -> list[int]:
    bases = [-1] * len(blocks)
    for i in order:
        # Each clash forbids the open interval (lo, hi) of bases for block i.
        forbidden = sorted(
            (bases[j] + q.rel - p.rel - p.size, bases[j] + q.rel + q.size - p.rel)
            for j in neighbours[i] if bases[j] >= 0 for p, q in clashes[(i, j)]
        )
        align = blocks[i].align
        candidate, chosen, chosen_gap = 0, -1, -1
        for lo, hi in forbidden:
            if candidate <= lo:  # every later interval starts at or after lo, too
                gap = lo - candidate
                if not best_fit:
                    chosen = candidate
                    break
                if chosen < 0 or gap < chosen_gap:
                    chosen, chosen_gap = candidate, gap
            candidate = max(candidate, align_up(hi, align))
        bases[i] = chosen if chosen >= 0 else candidate
    return bases
