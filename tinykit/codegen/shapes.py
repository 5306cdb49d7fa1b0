"""Shape arithmetic for the generic kernels: contiguous strides, broadcasting, merged dims.

Kernels walk at most six dimensions, so dimensions that are contiguous in every operand
are merged first (a [1, 49, 10, 64] + [1, 1, 1, 64] broadcast becomes [490, 64]).
"""

from __future__ import annotations

from collections.abc import Sequence


def contiguous_strides(shape: Sequence[int]) -> list[int]:
    """Row-major strides in elements."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * int(shape[d + 1])
    return strides


def merge_dims(dims: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop size-1 (size, stride) pairs and merge neighbours that are contiguous."""
    merged: list[tuple[int, int]] = []
    for size, stride in dims:
        if size == 1:
            continue
        if merged and merged[-1][1] == size * stride:
            outer_size, _ = merged.pop()
            merged.append((outer_size * size, stride))
        else:
            merged.append((size, stride))
    return merged


def broadcast_strides(
    shape1: Sequence[int], shape2: Sequence[int], out_shape: Sequence[int]
) -> tuple[list[int], list[int], list[int]]:
    """Output dims and each input's strides (0 where it is broadcast), merged.

    Raises ValueError when the shapes do not broadcast to `out_shape`.
    """
    rank = len(out_shape)
    if len(shape1) > rank or len(shape2) > rank:
        raise ValueError(f"shapes {list(shape1)} and {list(shape2)} do not broadcast to "
                         f"{list(out_shape)}")
    padded1 = [1] * (rank - len(shape1)) + list(shape1)
    padded2 = [1] * (rank - len(shape2)) + list(shape2)
    for a, b, o in zip(padded1, padded2, out_shape, strict=True):
        if a not in (1, o) or b not in (1, o) or max(a, b) != o:
            raise ValueError(f"shapes {list(shape1)} and {list(shape2)} do not broadcast "
                             f"to {list(out_shape)}")
    full1, full2 = contiguous_strides(padded1), contiguous_strides(padded2)
    rows = [
        (int(o), full1[d] if padded1[d] != 1 else 0, full2[d] if padded2[d] != 1 else 0)
        for d, o in enumerate(out_shape)
        if o != 1
    ]
    merged: list[tuple[int, int, int]] = []
    for size, s1, s2 in rows:
        if merged and merged[-1][1] == size * s1 and merged[-1][2] == size * s2:
            outer, _, _ = merged.pop()
            merged.append((outer * size, s1, s2))
        else:
            merged.append((size, s1, s2))
    if not merged:
        merged = [(1, 0, 0)]
    return [m[0] for m in merged], [m[1] for m in merged], [m[2] for m in merged]


def merge_copy(
    dims: Sequence[int], in_strides: Sequence[int], out_strides: Sequence[int]
) -> tuple[list[int], list[int], list[int]]:
    """Merge the dimensions of a strided copy that are contiguous on both sides."""
    merged: list[tuple[int, int, int]] = []
    for size, s_in, s_out in zip(dims, in_strides, out_strides, strict=True):
        if size == 1:
            continue
        if merged and merged[-1][1] == size * s_in and merged[-1][2] == size * s_out:
            outer, _, _ = merged.pop()
            merged.append((outer * size, s_in, s_out))
        else:
            merged.append((int(size), int(s_in), int(s_out)))
    if not merged:
        merged = [(1, 0, 0)]
    return [m[0] for m in merged], [m[1] for m in merged], [m[2] for m in merged]
