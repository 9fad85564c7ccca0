"""Counts of Heron's GEMM design spaces derived from the problem, not from the constraint model.

Used by the exact-count tests: for GEMM ``M x K x N`` tensorized with an
intrinsic of ``lanes x 4``, the spatial loops ``i`` (M) and ``j`` (N / lanes)
are split 4 ways, ``k`` (K / 4) 2 ways, and the unroll depth is one of 4
values. The register tile is ``i3 * j3``: at most the description's
accumulator budget and at least its latency bound, lowered to the most that
the other limits allow (as the analysis settles it); a parallel space needs
``i0 * j0 >= cores``. Innermost factors are at most 64 (the rule's
``max_innermost_factor``).
"""

from __future__ import annotations

import itertools


def splits(n: int, parts: int) -> list[tuple[int, ...]]:
    """Every ordered tuple of ``parts`` positive factors whose product is ``n``."""
    if parts == 1:
        return [(n,)]
    return [(d, *rest) for d in range(1, n + 1) if n % d == 0 for rest in splits(n // d, parts - 1)]


def _tiles(m: int, n_tiles: int, parallel: bool, cores: int):
    for i, j in itertools.product(splits(m, 4), splits(n_tiles, 4)):
        if i[-1] > 64 or j[-1] > 64:
            continue
        if parallel and i[0] * j[0] < min(cores, m * n_tiles):
            continue
        yield i, j


def settled_lower_bound(m, n_tiles, most, need, parallel, cores=2) -> int | None:
    """The register tile's lower bound after settling: the largest limit <= ``need``, > 1, that some tile meets."""
    tiles = {i[3] * j[3] for i, j in _tiles(m, n_tiles, parallel, cores) if i[3] * j[3] <= most}
    for limit in range(need, 1, -1):
        if any(t >= limit for t in tiles):
            return limit
    return None


def gemm_space_count(m, k, n, lanes, most, need, parallel, cores=2) -> int:
    """Points of one GEMM design space (see the module docstring)."""
    n_tiles = n // lanes
    least = settled_lower_bound(m, n_tiles, most, need, parallel, cores) or 1
    spatial = sum(least <= i[3] * j[3] <= most for i, j in _tiles(m, n_tiles, parallel, cores))
    return spatial * len(splits(k // 4, 2)) * 4
