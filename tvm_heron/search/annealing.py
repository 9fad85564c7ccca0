"""Simulated annealing over design-space points, in lockstep batches.

Heron compares its constrained GA with simulated annealing (SA) over the
same constrained space.  This module is only the annealing loop; what a
neighbour is (e.g. :class:`~tvm_heron.search.operators.ConstrainedMutation`)
and what scores a point (e.g. :class:`~tvm_heron.search.knob_model.KnobModel`)
are passed in.  All chains advance together so each step costs one call of
the score function on every chain's proposal: a cost model predicts a batch
far faster than the same points one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence

import numpy as np

__all__ = ["anneal"]

logger = logging.getLogger(__name__)

Point = dict
Score = Callable[[list[Point]], np.ndarray]
Neighbour = Callable[[Point, np.random.Generator], "Point | None"]


def _identity(point: Point) -> tuple[tuple[Hashable, int], ...]:
    return tuple(sorted(point.items()))


def _temperatures(t_start: float, t_end: float, steps: int) -> np.ndarray:
    """Geometric schedule: ``t_start`` at the first step, ``t_end`` at the last."""
    if steps <= 1:
        return np.full(steps, t_start)
    return t_start * (t_end / t_start) ** (np.arange(steps) / (steps - 1))


def _scores(score: Score, points: list[Point]) -> np.ndarray:
    values = np.asarray(score(points), dtype=float).ravel()
    if values.size != len(points):
        raise ValueError(f"score returned {values.size} values for {len(points)} points")
    return values


def anneal(
    starts: Sequence[Point],
    *,
    score: Score,
    neighbour: Neighbour,
    rng: np.random.Generator,
    steps: int,
    t_start: float = 1.0,
    t_end: float = 0.01,
) -> list[tuple[Point, float]]:
    """Run one annealing chain per start; return every point scored.

    Parameters
    ----------
    starts : sequence of dict
        The chains' initial points.
    score : callable
        ``score(points) -> array`` of one float per point, higher is better.
        Called once for the starts and once per step with all proposals.
    neighbour : callable
        ``neighbour(point, rng) -> dict or None``: a proposed move; a chain
        whose neighbour returns None stays put for that step.
    rng : numpy.random.Generator
        Passed to ``neighbour`` and used for acceptance (one ``random``
        call per step with proposals).
    steps : int
        Number of steps (>= 0).
    t_start, t_end : float, optional
        Temperatures of the first and last step (> 0); the schedule in
        between is geometric.

    Returns
    -------
    list of (dict, float)
        Every distinct point scored (starts, accepted and rejected
        proposals alike: their scores are known, so they are candidates
        too), best first; equal scores keep the order first seen.

    Raises
    ------
    ValueError
        If ``steps`` is negative, a temperature is not positive, or
        ``score`` returns the wrong number of values.

    Notes
    -----
    Metropolis acceptance: a proposal scoring ``s_new`` replaces the
    chain's point scoring ``s`` if ``s_new >= s``, otherwise with
    probability ``exp((s_new - s) / T)``.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if t_start <= 0:
        raise ValueError(f"t_start must be > 0, got {t_start}")
    if t_end <= 0:
        raise ValueError(f"t_end must be > 0, got {t_end}")
    current = [dict(p) for p in starts]
    if not current:
        return []
    seen: dict[tuple, tuple[Point, float]] = {}

    def record(points: list[Point], values: np.ndarray) -> None:
        for p, s in zip(points, values):
            seen.setdefault(_identity(p), (p, float(s)))

    current_scores = _scores(score, current)
    record(current, current_scores)
    accepted = 0
    for temperature in _temperatures(t_start, t_end, steps):
        moves = [(i, neighbour(p, rng)) for i, p in enumerate(current)]
        moves = [(i, p) for i, p in moves if p is not None]
        if not moves:
            continue
        chains = [i for i, _ in moves]
        proposals = [p for _, p in moves]
        new_scores = _scores(score, proposals)
        record(proposals, new_scores)
        delta = new_scores - current_scores[chains]
        # exp of a positive delta overflows harmlessly to > 1: accept.
        with np.errstate(over="ignore"):
            draws = np.asarray(rng.random(len(moves)))
            accept = (delta >= 0) | (draws < np.exp(delta / temperature))
        for j in np.flatnonzero(accept):
            current[chains[j]] = proposals[j]
            current_scores[chains[j]] = new_scores[j]
        accepted += int(accept.sum())
    logger.debug(
        "anneal: %d chains, %d steps, %d moves accepted, %d points",
        len(current), steps, accepted, len(seen),
    )
    # sorted() is stable, so equal scores keep their first-seen order.
    return sorted(seen.values(), key=lambda item: -item[1])
