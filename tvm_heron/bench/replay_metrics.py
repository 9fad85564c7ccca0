"""Metrics of replayed tuning runs (plain numpy; scipy when installed).

A run is the latency of each trial in measurement order (None: failed). Its
*fraction of the optimum* after ``t`` trials is the table's best latency over
the best latency among the first ``t`` trials (a throughput ratio, 1 at the
optimum, 0 before anything ran). Over many seeds a strategy is summarised by

* :func:`fraction_at`: that fraction at given budgets (median, quartiles);
* :func:`trials_to`: the trials needed to reach a fraction (90%, 95%),
  *censored* at the budget when a run never gets there: a censored run counts
  as the budget, a lower bound, and the number of censored runs is reported;
* :func:`rank_correlation`: Spearman's correlation between a model's
  predictions for the batch it picked and what the batch measured;
* :func:`wilcoxon`: the Wilcoxon signed-rank test of two strategies' per-seed
  values, paired by seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..search.ranks import average_ranks

#: Budgets at which the fraction of the optimum is reported.
BUDGETS = (8, 16, 32, 64, 128, 256)


def fraction_curve(latencies: Sequence[float | None], optimum_s: float, budget: int) -> np.ndarray:
    """Fraction of the optimum after each of ``budget`` trials, shape (budget,).

    A run that ended before the budget (its space was exhausted) keeps its
    last value.
    """
    best, curve = math.inf, np.zeros(budget)
    for t in range(budget):
        if t < len(latencies) and latencies[t] is not None:
            best = min(best, float(latencies[t]))
        curve[t] = optimum_s / best if math.isfinite(best) else 0.0
    return np.minimum(curve, 1.0)


def quartiles(values: Sequence[float]) -> dict:
    """``{"median", "q1", "q3"}`` of ``values`` (None when empty)."""
    if not len(values):
        return {"median": None, "q1": None, "q3": None}
    q1, median, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}


def fraction_at(curves: np.ndarray, budgets: Sequence[int] = BUDGETS) -> dict:
    """Per budget (as a string key) the quartiles of the fraction over runs (rows of ``curves``)."""
    return {str(b): quartiles(curves[:, b - 1]) for b in budgets if b <= curves.shape[1]}


def trials_to(curve: np.ndarray, level: float) -> tuple[int, bool]:
    """(trials to reach ``level`` of the optimum, censored): the budget and True if never."""
    reached = np.nonzero(curve >= level - 1e-12)[0]
    if reached.size:
        return int(reached[0]) + 1, False
    return int(curve.size), True


def trials_summary(curves: np.ndarray, level: float) -> dict:
    """Quartiles of :func:`trials_to` over runs, with the number of censored runs."""
    pairs = [trials_to(c, level) for c in curves]
    out = quartiles([t for t, _ in pairs])
    out["censored"] = int(sum(c for _, c in pairs))
    return out


def rank_correlation(scores: Sequence[float | None], latencies: Sequence[float | None]) -> float | None:
    """Spearman's correlation between predicted scores and measured throughput.

    Pairs without a score are left out; a failed measurement counts as
    throughput 0. None when fewer than three pairs remain or either side is
    constant.
    """
    pairs = [(s, 0.0 if lat is None else 1.0 / lat) for s, lat in zip(scores, latencies) if s is not None]
    if len(pairs) < 3:
        return None
    x, y = (np.asarray(v, dtype=float) for v in zip(*pairs))
    if np.all(x == x[0]) or np.all(y == y[0]):
        return None
    return float(np.corrcoef(average_ranks(x), average_ranks(y))[0, 1])


def wilcoxon(x: Sequence[float], y: Sequence[float]) -> dict:
    """Two-sided Wilcoxon signed-rank test of paired ``x`` and ``y``.

    Zero differences are dropped (Wilcoxon's method). Uses
    ``scipy.stats.wilcoxon`` when scipy is installed, else the normal
    approximation with the tie correction (good from about 20 pairs).

    Returns
    -------
    dict
        ``statistic`` (the smaller signed-rank sum), ``p_value``, ``n``
        (non-zero pairs), ``median_difference`` (of x - y) and ``method``.
    """
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    nonzero = d[d != 0]
    out = {"n": int(nonzero.size), "median_difference": float(np.median(d)) if d.size else None}
    if nonzero.size == 0:
        return {**out, "statistic": 0.0, "p_value": 1.0, "method": "no difference"}
    try:
        from scipy import stats  # pylint: disable=import-outside-toplevel
    except ImportError:
        stats = None
    if stats is not None:
        result = stats.wilcoxon(nonzero, zero_method="wilcox")
        return {**out, "statistic": float(result.statistic), "p_value": float(result.pvalue),
                "method": "scipy.stats.wilcoxon"}
    ranks = average_ranks(np.abs(nonzero))
    plus = float(ranks[nonzero > 0].sum())
    n = nonzero.size
    mean = n * (n + 1) / 4
    _, counts = np.unique(np.abs(nonzero), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - float((counts**3 - counts).sum()) / 48
    z = (plus - mean) / math.sqrt(var) if var > 0 else 0.0
    p = math.erfc(abs(z) / math.sqrt(2))
    return {**out, "statistic": min(plus, n * (n + 1) / 2 - plus), "p_value": p,
            "method": "normal approximation"}


def strategy_summary(curves: np.ndarray, ranks: Sequence[Sequence[float | None]], misses: Sequence[int],
                     wall_s: Sequence[float]) -> dict:
    """The report of one strategy on one table over its runs.

    ``fraction_at`` holds the median fraction per budget (the issue's
    schema); ``fraction_at_quartiles`` the quartiles.
    """
    quart = fraction_at(curves)
    flat = [r for run in ranks for r in run if r is not None]
    return {
        "runs": int(curves.shape[0]),
        "trials_to_95": trials_summary(curves, 0.95),
        "trials_to_90": trials_summary(curves, 0.90),
        "fraction_at": {b: q["median"] for b, q in quart.items()},
        "fraction_at_quartiles": quart,
        "final_fraction": quartiles(curves[:, -1]),
        "rank_quality": {"spearman_median": float(np.median(flat)) if flat else None,
                         "spearman_mean": float(np.mean(flat)) if flat else None,
                         "batches": len(flat)},
        "misses": int(sum(misses)),
        "wall_s_per_run": float(np.mean(wall_s)) if len(wall_s) else None,
    }
