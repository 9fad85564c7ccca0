"""Derived figures of a benchmark: throughput, share of peak, speedups, geometric means, and
the figures of a tuner run with several seeds (no TVM)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

import attrs

from .results import Candidate, Status, TuningRun, first_failure


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


def peak_ceiling(pct_peak: float | None) -> float | None:
    """The most any kernel could gain over one running at ``pct_peak`` percent of the
    measured peak: ``100 / pct_peak`` (None if unknown). A tuner cannot beat a rival by
    more than this on a compute-bound case; memory- or overhead-bound cases leave less."""
    if pct_peak is None or pct_peak <= 0:
        return None
    return 100.0 / pct_peak


def peak_bound_s(ops: float, peak_gops: float, *, cores: int, launch_s: float) -> float:
    """Least time of a kernel of ``ops`` operations at the measured compute peak.

    It runs either serially, on one core (``peak / cores``), or in parallel on all
    of them, paying ``launch_s``, what the thread pool's launch of a parallel loop
    costs. Memory traffic is ignored, so the bound is optimistic for memory-bound
    kernels.
    """
    peak = peak_gops * 1e9
    return min(ops * cores / peak, launch_s + ops / peak)


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


#: Tuning figures that add up over a tuner's runs.
_SUMMED = ("trials", "failed", "tuning_s", "build_s", "run_s", "search_s", "strategy_s")


def merge_tuner_figures(runs: Sequence[TuningRun]) -> TuningRun:
    """The tuning figures of several runs of one tuner: counts and seconds summed.

    The first run's strategy, space and work directory; a sum is None where a
    run lacks the figure; ``resumed`` where every run was; the first status
    other than ``ok``, with its reason.
    """
    summed = {}
    for key in _SUMMED:
        values = [getattr(run, key) for run in runs]
        summed[key] = None if any(v is None for v in values) else sum(values)
    merged = attrs.evolve(runs[0], runs=len(runs), resumed=all(r.resumed for r in runs),
                          **summed, **first_failure(runs))
    if merged.trials:
        merged = attrs.evolve(merged, failed_share=(merged.failed or 0) / merged.trials)
    return merged


def merge_seeds(cands: Sequence[Candidate], seeds: Sequence[int]) -> Candidate:
    """One candidate from the candidates of a tuner's runs with several seeds.

    Its ``median_s`` is the median over the timed seeds of each one's median
    time (a search that is lucky on one seed does not decide the comparison),
    ``min_s`` the fastest round of any seed; ``seed_median_s`` and ``seeds``
    list each seed's figure; the status is ``ok`` when every seed's kernel was
    checked and timed (otherwise the first other status, with its reason).
    """
    merged = Candidate(**{"status": Status.OK, **first_failure(cands)}, impl=cands[0].impl,
                       correct=all(c.correct for c in cands),
                       max_abs_error=max(c.max_abs_error or 0.0 for c in cands),
                       seeds=seeds, seed_median_s=[c.median_s for c in cands])
    timed = [c for c in cands if c.timed]
    if not timed:
        return merged
    return attrs.evolve(merged, median_s=statistics.median(c.median_s for c in timed),
                        min_s=min(c.min_s for c in timed),
                        noisy_rounds=sum(c.noisy_rounds or 0 for c in timed))
