"""Selection rules of the constrained GA: roulette wheel and epsilon-greedy.

Heron selects parents with a roulette wheel on predicted fitness (HERON.md
section 3, step 4) and picks the programs to measure with epsilon-greedy on
the predictions (step 6): mostly the best predicted, a few at random so
that a cost model trained on few measurements does not lock the search into
its own blind spots.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from .ranks import average_ranks

__all__ = ["SELECTIONS", "epsilon_greedy", "roulette", "selection_weights"]

#: How a roulette wheel weighs fitness: as it is (Heron's, fitness must be
#: >= 0), shifted so that the least fit weighs 0, or by rank (1 for the least fit).
SELECTIONS = ("proportional", "min-shifted", "rank")

logger = logging.getLogger(__name__)


def _as_vector(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def selection_weights(fitness: Sequence[float], selection: str = "proportional") -> np.ndarray:
    """The roulette weights of ``fitness`` under ``selection`` (one of :data:`SELECTIONS`).

    ``proportional`` is the fitness itself (it must be >= 0).
    ``min-shifted`` is ``fitness - min(fitness)``: a model whose predictions
    all lie in [0.3, 0.5] gives a proportional wheel that is nearly uniform;
    shifted, the best individual is drawn far more often than the worst,
    which is never drawn, and any offset (a log target's negative values)
    cancels. ``rank`` is the fitness's rank from 1 (ties share their mean
    rank): only the order counts.
    """
    weights = _as_vector(fitness, "fitness")
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    if not np.all(np.isfinite(weights)):
        raise ValueError("fitness has a non-finite value")
    if selection == "proportional":
        if np.any(weights < 0):
            raise ValueError(f"fitness must be >= 0, got minimum {weights.min()}")
        return weights
    if selection == "min-shifted":
        return weights - weights.min() if weights.size else weights
    return average_ranks(weights)


def roulette(
    fitness: Sequence[float], k: int, rng: np.random.Generator, *, selection: str = "proportional"
) -> np.ndarray:
    """Draw ``k`` indices with probability proportional to the selection weights of fitness.

    Parameters
    ----------
    fitness : sequence of float
        Fitness per individual (e.g. predicted normalised throughput);
        non-negative for ``proportional`` selection.
    k : int
        Number of draws, with replacement.
    rng : numpy.random.Generator
        Source of the draws (one ``rng.choice`` call).
    selection : str, optional
        How fitness becomes weights (:func:`selection_weights`).

    Returns
    -------
    numpy.ndarray of int, shape (k,)
        Indices into ``fitness``.  An individual of fitness 0 is never
        drawn unless every fitness is equal (all zero included), in which
        case the draw is uniform.

    Raises
    ------
    ValueError
        If ``fitness`` is empty (and ``k > 0``), not one-dimensional, or
        has a negative or non-finite value, or if ``k`` is negative.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    weights = selection_weights(fitness, selection)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if weights.size == 0:
        raise ValueError("fitness is empty: there is nothing to draw")
    # Equal fitness carries no preference; an all-zero wheel has no
    # probabilities at all.  Both draw uniformly.
    if np.all(weights == weights[0]):
        probabilities = None
    else:
        probabilities = weights / weights.sum()
    drawn = rng.choice(weights.size, size=int(k), replace=True, p=probabilities)
    return np.asarray(drawn, dtype=np.int64)


def epsilon_greedy(
    scores: Sequence[float], n: int, *, epsilon: float, rng: np.random.Generator
) -> list[int]:
    """Pick ``n`` distinct indices: the best scores plus a random share.

    Parameters
    ----------
    scores : sequence of float
        Higher is better (e.g. predicted throughput).  NaN ranks last.
    n : int
        Number of indices wanted; ``min(n, len(scores))`` come back.
    epsilon : float
        Share of the picks made at random, in ``[0, 1]``.
    rng : numpy.random.Generator
        Draws the random share (one ``rng.choice`` call, skipped when the
        share is empty).

    Returns
    -------
    list of int
        Distinct indices: first the greedy part, in descending score order
        with ties broken by lower index, then ``round(epsilon * m)``
        indices (``m = min(n, len(scores))``) drawn uniformly without
        replacement from those not in the greedy part.

    Raises
    ------
    ValueError
        If ``epsilon`` is outside ``[0, 1]``, ``n`` is negative or
        ``scores`` is not one-dimensional.

    Notes
    -----
    The random share is computed on ``m`` rather than ``n`` so that asking
    for more than there is keeps the greedy/random proportion; with
    ``n >= len(scores)`` every index comes back either way.
    """
    values = _as_vector(scores, "scores")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    m = min(int(n), values.size)
    n_random = int(round(epsilon * m))
    # Negate so a stable ascending sort gives descending scores with ties
    # by index; NaN becomes the largest key and sorts last.
    keys = np.where(np.isnan(values), np.inf, -values)
    order = np.argsort(keys, kind="stable")
    greedy = order[: m - n_random]
    rest = order[m - n_random :]
    picked = [int(i) for i in greedy]
    if n_random:
        picked += [int(i) for i in rng.choice(rest, size=n_random, replace=False)]
    logger.debug("epsilon_greedy: %d greedy, %d random of %d", len(greedy), n_random, values.size)
    return picked
