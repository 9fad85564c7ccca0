"""The generation loop of Heron's (constrained) genetic algorithm, independent of TVM.

An individual is a point of one of several design spaces. Each generation:

1. score the population with the fitness function (a cost model's prediction);
2. select ``n_select`` parents by roulette wheel on fitness;
3. refill the population with children of random parent pairs drawn from the
   selected ones *of the same design space* (variables of two spaces do not
   correspond), made by ``breed``; a child that ``breed`` cannot make (None)
   or that the population already holds is skipped.

What makes the algorithm *constrained* is ``breed``: Heron's constrained
crossover (:class:`~tvm_heron.search.operators.ConstrainedCrossover`) yields
valid children by construction; the unconstrained baseline breeds with
one-point crossover and mutation and drops invalid children.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import attrs
import numpy as np

from .selection import roulette

logger = logging.getLogger(__name__)


@attrs.frozen
class Individual:
    """A point of design space ``space``; ``key`` identifies it (hashable)."""

    space: int
    point: dict = attrs.field(eq=False, hash=False)
    key: tuple = attrs.field(factory=tuple)


def unique(individuals: Sequence[Individual]) -> list[Individual]:
    """Drop repeated individuals (same key), keeping the first."""
    seen, out = set(), []
    for ind in individuals:
        if ind.key not in seen:
            seen.add(ind.key)
            out.append(ind)
    return out


def evolve(
    population: Sequence[Individual],
    *,
    fitness: Callable[[Sequence[Individual]], np.ndarray],
    breed: Callable[[Individual, Individual, np.random.Generator], Individual | None],
    rng: np.random.Generator,
    generations: int,
    n_select: int,
    size: int,
    max_tries: int = 4,
    selection: str = "proportional",
    pool: dict | None = None,
) -> tuple[list[Individual], np.ndarray]:
    """Run ``generations`` generations; returns the final population and its fitness.

    Parameters
    ----------
    population : sequence of Individual
        The initial population (deduplicated here).
    fitness : callable
        Scores (>= 0, higher is better) of a list of individuals.
    breed : callable
        ``breed(parent1, parent2, rng)``: a child of the same space, or None.
    generations : int
        Generations to run (>= 0).
    n_select : int
        Parents kept by roulette selection each generation.
    size : int
        Population size to refill to.
    max_tries : int
        Breeding attempts per missing child before the generation gives up
        (a small space may not have ``size`` distinct members).
    selection : str
        How the roulette wheel weighs fitness
        (:data:`~tvm_heron.search.selection.SELECTIONS`).
    pool : dict, optional
        Filled with every individual scored in any generation, the initial
        population included: key -> (individual, fitness). A good child that
        the next generation's selection missed stays a candidate for
        measurement.
    """
    if generations < 0 or n_select < 1 or size < 1:
        raise ValueError(
            f"generations ({generations}) must be >= 0, n_select ({n_select}) and size ({size}) >= 1"
        )
    current = unique(population)
    scores = np.asarray(fitness(current), dtype=float) if current else np.zeros(0)
    _collect(pool, current, scores)
    for _ in range(generations):
        if not current:
            break
        parents = [current[i] for i in roulette(scores, min(n_select, size), rng, selection=selection)]
        by_space: dict[int, list[Individual]] = {}
        for parent in parents:
            by_space.setdefault(parent.space, []).append(parent)
        nxt = unique(parents)
        seen = {ind.key for ind in nxt}
        tries = 0
        while len(nxt) < size and tries < max_tries * size:
            tries += 1
            first = parents[int(rng.integers(len(parents)))]
            mates = by_space[first.space]
            second = mates[int(rng.integers(len(mates)))]
            child = breed(first, second, rng)
            if child is not None and child.key not in seen:
                seen.add(child.key)
                nxt.append(child)
        current = nxt
        scores = np.asarray(fitness(current), dtype=float)
        _collect(pool, current, scores)
    return current, scores


def _collect(pool: dict | None, individuals: Sequence[Individual], scores: np.ndarray) -> None:
    if pool is not None:
        for ind, score in zip(individuals, scores):
            pool.setdefault(ind.key, (ind, float(score)))
