"""A noisy-machine guard: how much CPU other processes used while we timed something.

Around a measurement, :class:`NoiseGuard` reads the machine's busy and total
CPU time from ``/proc/stat`` and this process's own CPU time
(:func:`time.process_time`, all its threads). The CPU time spent busy that was
not ours, over the total CPU time that elapsed, is the *other-load share*: 0
on a quiet machine, 0.5 if other processes kept half of the CPUs busy.
:meth:`NoiseGuard.measure` repeats a measurement while that share is above a
threshold and flags the figure it returns. Where ``/proc/stat`` cannot be
read the flag is ``"unknown"``.

``/proc/stat`` counts in clock ticks (usually 10 ms), so a window of
``w`` seconds on ``c`` CPUs has about ``100 w c`` ticks of resolution: keep
measured windows at 0.1 s or more for a share accurate to a few percent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

import attrs

T = TypeVar("T")

#: Flag of a measurement: other load below the threshold, above it, or not measurable.
Noise = Literal["quiet", "noisy", "unknown"]

#: /proc/stat "cpu" columns that count idle time (idle, iowait); guest time is
#: already inside user and nice, so guest and guest_nice are skipped.
_IDLE_COLUMNS = (3, 4)
_COUNTED_COLUMNS = 8


def read_proc_stat(path: str | Path = "/proc/stat") -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs since boot, or None where unreadable."""
    try:
        with open(path, encoding="ascii") as stat:
            first = stat.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    ticks = [int(x) for x in first[1 : 1 + _COUNTED_COLUMNS]]
    idle = sum(ticks[i] for i in _IDLE_COLUMNS if i < len(ticks))
    total = sum(ticks)
    return total - idle, total


def _clock_ticks_per_second() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100


@attrs.frozen
class Sample:
    """A reading: machine busy/total ticks and this process's CPU seconds."""

    busy: int
    total: int
    own_s: float


def other_share(before: Sample, after: Sample, ticks_per_second: float) -> float | None:
    """Share of the CPU time elapsed between two samples that other processes used.

    None when no clock tick elapsed (the window was too short to tell).
    """
    total = after.total - before.total
    if total <= 0:
        return None
    busy = after.busy - before.busy
    own = (after.own_s - before.own_s) * ticks_per_second
    return min(max((busy - own) / total, 0.0), 1.0)


@attrs.frozen
class Guarded:
    """A measured value with the load other processes put on the machine meanwhile.

    Attributes
    ----------
    value : object
        What the measurement returned (of the least noisy attempt).
    other_share : float or None
        Other processes' share of the CPU time during it (None: unknown).
    noise : {"quiet", "noisy", "unknown"}
        ``other_share`` against the guard's threshold.
    attempts : int
        Measurements taken (more than one when the first ones were noisy).
    """

    value: object
    other_share: float | None
    noise: Noise
    attempts: int


@attrs.define
class NoiseGuard:
    """Repeat a measurement while other processes load the machine.

    Parameters
    ----------
    threshold : float
        Largest other-load share (0..1) of a "quiet" measurement.
    max_attempts : int
        Measurements at most; the least noisy one is returned.
    reader : callable
        ``reader() -> (busy, total) | None``; :func:`read_proc_stat` by default
        (tests inject synthetic readers).
    own_clock : callable
        This process's CPU seconds; :func:`time.process_time` by default.
    ticks_per_second : float, optional
        Unit of the reader's ticks; the system's ``SC_CLK_TCK`` by default.
    """

    threshold: float = 0.2
    max_attempts: int = 3
    reader: Callable[[], tuple[int, int] | None] = read_proc_stat
    own_clock: Callable[[], float] = time.process_time
    ticks_per_second: float = attrs.field(factory=_clock_ticks_per_second)

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be positive, got {self.max_attempts}")

    def sample(self) -> Sample | None:
        """Read the counters now (None where the machine's are unreadable)."""
        ticks = self.reader()
        if ticks is None:
            return None
        return Sample(busy=ticks[0], total=ticks[1], own_s=self.own_clock())

    def once(self, fn: Callable[[], T]) -> Guarded:
        """Run ``fn`` once and measure the other load meanwhile."""
        before = self.sample()
        value = fn()
        after = self.sample()
        share = None
        if before is not None and after is not None:
            share = other_share(before, after, self.ticks_per_second)
        return Guarded(value=value, other_share=share, noise=self.classify(share), attempts=1)

    def classify(self, share: float | None) -> Noise:
        """The flag of an other-load share."""
        if share is None:
            return "unknown"
        return "noisy" if share > self.threshold else "quiet"

    def measure(self, fn: Callable[[], T]) -> Guarded:
        """Run ``fn`` until a quiet measurement or ``max_attempts``; return the least noisy.

        An unknown load is not retried (it cannot become known).
        """
        best: Guarded | None = None
        for attempt in range(1, self.max_attempts + 1):
            result = self.once(fn)
            if best is None or (result.other_share or 0.0) < (best.other_share or 0.0):
                best = result
            if result.noise != "noisy":
                break
        assert best is not None
        return attrs.evolve(best, attempts=attempt)
