"""The round of a genetic strategy: seed a population, evolve it, keep survivors.

Shared by the constrained GA and the unconstrained GA baseline, which differ
only in how they breed (:meth:`GeneticStrategy._breed`).
"""

from __future__ import annotations

import numpy as np

from ..search import Individual, evolve
from .guided import ModelGuidedStrategy
from .options import GeneticOptions


class GeneticStrategy(ModelGuidedStrategy):
    """Base of the genetic strategies (not registered itself).

    Parameters
    ----------
    **options
        The fields of :class:`~tvm_heron.strategies.options.GeneticOptions`
        (``n_select``, ``generations``, ``selection``, ``pool`` and those of
        the model-guided strategies).
    """

    Options = GeneticOptions

    def _breed(self, first: Individual, second: Individual, rng: np.random.Generator):
        """A child of two individuals of the same space, or None."""
        raise NotImplementedError

    def _search(self, n: int):
        # Population: last round's survivors + the best measured + random samples.
        seeds = self.survivors + self.elite()
        population = seeds + self.random_individuals(self.options.population_size - len(seeds))
        scored: dict | None = {} if self.options.pool == "all" else None
        final, scores = evolve(
            population,
            fitness=self.fitness,
            breed=self._breed,
            rng=self.rng,
            generations=self.options.generations,
            n_select=self.options.n_select,
            size=self.options.population_size,
            selection=self.options.selection,
            pool=scored,
        )
        order = np.argsort(-scores, kind="stable")
        known = self.known()
        self.survivors = [final[i] for i in order[: self.options.n_select] if final[i].key not in known]
        if scored is None:
            return final, scores
        # Every individual of every generation: a good child that selection missed stays a candidate.
        pool = [ind for ind, _ in scored.values()]
        return pool, np.asarray([score for _, score in scored.values()], dtype=float)
