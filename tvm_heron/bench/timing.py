"""Interleaved timing of several implementations of one operator, in one process.

Each candidate is a *batch timer*: ``timer(n)`` makes ``n`` calls (after an
untimed warm-up call) and returns the seconds per call. :func:`time_interleaved`
first sizes each candidate's batch to about ``batch_seconds`` (by probes of
1, 2, 4... calls, up to a quarter of a batch), then runs
``rounds`` rounds; a round times every candidate once, in an order rotated by
one each round (so no candidate always follows the same one), each batch
under the :class:`~.noise.NoiseGuard`. A candidate's figures are the minimum
and the median over the rounds. No TVM here: :func:`tvm_timer` takes any
module with a ``time_evaluator``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from .noise import Noise, NoiseGuard

#: ``timer(n) -> seconds per call`` over ``n`` calls.
BatchTimer = Callable[[int], float]


@attrs.frozen
class Timing:
    """The rounds of one candidate.

    Attributes
    ----------
    rounds_s : list of float
        Seconds per call of each round, in round order.
    noise : list of str
        Each round's flag (``quiet``, ``noisy``, ``unknown``).
    other_share : list of float or None
        Each round's other-load share.
    number : int
        Calls per batch.
    """

    rounds_s: list[float]
    noise: list[Noise]
    other_share: list[float | None]
    number: int

    @property
    def min_s(self) -> float:
        """Fastest round."""
        return min(self.rounds_s)

    @property
    def median_s(self) -> float:
        """Median round."""
        return float(statistics.median(self.rounds_s))

    @property
    def noisy_rounds(self) -> int:
        """Rounds flagged noisy."""
        return sum(flag == "noisy" for flag in self.noise)

    def to_json(self) -> dict:
        """A JSON-serialisable dict (figures included)."""
        return {
            "rounds_s": list(self.rounds_s),
            "noise": list(self.noise),
            "other_share": list(self.other_share),
            "number": self.number,
            "min_s": self.min_s,
            "median_s": self.median_s,
            "noisy_rounds": self.noisy_rounds,
        }


def rotation(names: Sequence[str], round_index: int) -> list[str]:
    """The order of round ``round_index``: ``names`` rotated left by that many places."""
    if not names:
        return []
    shift = round_index % len(names)
    return list(names[shift:]) + list(names[:shift])


def calls_per_batch(timer: BatchTimer, batch_seconds: float, *, max_calls: int = 1_000_000) -> int:
    """Calls that make a batch of about ``batch_seconds``.

    Probes with 1, 2, 4... calls until a probe lasts a quarter of a batch (one
    fast call says little: a call that is sometimes 1000 times slower, when
    another process holds a core its threads wait for, would make the batch
    last minutes).
    """
    calls = 1
    while True:
        per_call = timer(calls)
        if per_call <= 0 or not math.isfinite(per_call):
            return max_calls
        if per_call * calls >= batch_seconds / 4 or calls >= max_calls:
            break
        calls = min(2 * calls, max_calls)
    wanted = math.ceil(batch_seconds / per_call * (1 - 1e-9))  # 0.1 / 1e-6 is 100000.00000000001
    return int(min(max(1, wanted), max_calls))


def time_interleaved(
    timers: Mapping[str, BatchTimer],
    *,
    rounds: int,
    batch_seconds: float = 0.1,
    guard: NoiseGuard | None = None,
    settle_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Timing]:
    """Time every candidate ``rounds`` times, interleaved in rotating order.

    Parameters
    ----------
    timers : mapping of str to BatchTimer
        The candidates by name (their order is round 0's).
    rounds : int
        Rounds (> 0).
    batch_seconds : float
        Target length of one batch; the number of calls is sized once, up front.
    guard : NoiseGuard, optional
        Repeats a batch while other processes load the machine; a default
        guard when omitted.
    settle_seconds : float
        Pause before each batch. Thread pools keep spinning after their work
        (OpenMP's default block time is 200 ms, TVM's pool spins too); between
        candidates with different pools (PyTorch and TVM) the spinning threads
        of one would otherwise take the cores from the next.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be positive, got {rounds}")
    guard = guard if guard is not None else NoiseGuard()
    names = list(timers)
    numbers = {name: calls_per_batch(timers[name], batch_seconds) for name in names}
    rows: dict[str, list] = {name: [] for name in names}
    for index in range(rounds):
        for name in rotation(names, index):
            number = numbers[name]
            if settle_seconds > 0:
                sleep(settle_seconds)
            rows[name].append(guard.measure(lambda t=timers[name], n=number: t(n)))
    return {
        name: Timing(
            rounds_s=[float(g.value) for g in rows[name]],
            noise=[g.noise for g in rows[name]],
            other_share=[g.other_share for g in rows[name]],
            number=numbers[name],
        )
        for name in names
    }


def python_timer(
    fn: Callable[[], object], *, clock: Callable[[], float] = time.perf_counter
) -> BatchTimer:
    """A batch timer of a Python callable: one untimed call, then ``n`` timed calls."""

    def timer(n: int) -> float:
        fn()
        start = clock()
        for _ in range(n):
            fn()
        return (clock() - start) / n

    return timer


def tvm_timer(module, device, args: Sequence, *, entry: str = "main") -> BatchTimer:
    """A batch timer of a compiled TVM function, through its ``time_evaluator``.

    The evaluator makes one untimed warm-up call itself, then ``n`` calls in C++.
    """
    evaluators: dict[int, Callable] = {}

    def timer(n: int) -> float:
        if n not in evaluators:
            evaluators[n] = module.time_evaluator(entry, device, number=n, repeat=1,
                                                  min_repeat_ms=0)
        return float(evaluators[n](*args).mean)

    return timer
