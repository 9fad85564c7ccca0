"""Derived figures of a benchmark: throughput, share of peak, speedups, geometric means (no TVM)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def gops(flops: int, seconds: float | None) -> float | None:
    """Giga-operations per second (None without a time)."""
    if seconds is None or seconds <= 0:
        return None
    return flops / seconds / 1e9


def percent_of_peak(rate: float | None, peak: float | None) -> float | None:
    """``rate`` as a percentage of ``peak`` (None if either is unknown)."""
    if rate is None or not peak:
        return None
    return 100.0 * rate / peak


def speedup(ours_s: float | None, theirs_s: float | None) -> float | None:
    """How many times faster ours is (``theirs / ours``; > 1: we win)."""
    if ours_s is None or theirs_s is None or ours_s <= 0:
        return None
    return theirs_s / ours_s


def geomean(values: Iterable[float | None]) -> float | None:
    """Geometric mean of the known positive values (None if there are none)."""
    known = [v for v in values if v is not None and v > 0]
    if not known:
        return None
    return math.exp(sum(math.log(v) for v in known) / len(known))
