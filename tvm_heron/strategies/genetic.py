"""The round of a genetic strategy: seed a population, evolve it, keep survivors.

Shared by the constrained GA and the unconstrained GA baseline, which differ
only in how they breed (:meth:`GeneticStrategy._breed`).
"""

from __future__ import annotations

import numpy as np

from ..search import Individual, evolve
from .guided import ModelGuidedStrategy, _positive


class GeneticStrategy(ModelGuidedStrategy):
    """Base of the genetic strategies (not registered itself).

    Parameters
    ----------
    n_select : int
        Parents selected per generation (Heron: 100); at most ``population_size``.
    generations : int
        Generations per round (Heron: 5).
    **kwargs
        See :class:`~tvm_heron.strategies.guided.ModelGuidedStrategy`.
    """

    def __init__(self, *, n_select: int = 100, generations: int = 5, **kwargs) -> None:
        super().__init__(**kwargs)
        _positive("n_select", n_select)
        _positive("generations", generations, 0)
        if n_select > self.population_size:
            raise ValueError(
                f"n_select ({n_select}) must not exceed population_size ({self.population_size})"
            )
        self.n_select = n_select
        self.generations = generations

    def _init_kwargs(self) -> dict:
        return {**super()._init_kwargs(), "n_select": self.n_select, "generations": self.generations}

    def _breed(self, first: Individual, second: Individual, rng: np.random.Generator):
        """A child of two individuals of the same space, or None."""
        raise NotImplementedError

    def _search(self, n: int):
        # Population: last round's survivors + the best measured + random samples.
        seeds = self.survivors + self.elite()
        population = seeds + self.random_individuals(self.population_size - len(seeds))
        final, scores = evolve(
            population,
            fitness=self.fitness,
            breed=self._breed,
            rng=self.rng,
            generations=self.generations,
            n_select=self.n_select,
            size=self.population_size,
        )
        order = np.argsort(-scores, kind="stable")
        self.survivors = [final[i] for i in order[: self.n_select] if final[i].key not in self.measured]
        return final, scores
