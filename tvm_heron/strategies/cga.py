"""Heron's constrained genetic algorithm (CGA) as a MetaSchedule search strategy."""

from __future__ import annotations

import numpy as np

from ..search import ConstrainedCrossover, Individual
from .base import heron_strategy
from .genetic import GeneticStrategy
from .options import CgaOptions


@heron_strategy
class ConstrainedGA(GeneticStrategy):
    """Constrained genetic algorithm (``strategy="heron-cga"``).

    Each round (HERON.md section 3): the population is constrained random
    samples + the ``top_k`` best measured programs + the last round's
    survivors; ``generations`` generations of roulette selection on the
    fitness model's prediction and constrained crossover, in which the key
    variables (the ``key_ratio`` most important for the fitness model) take
    one of the two parents' values but one that mutates freely, solved by
    CP-SAT so that every child is valid; then epsilon-greedy picks what to
    measure, and the model is retrained on the results.

    Parameters
    ----------
    **options
        The fields of :class:`~tvm_heron.strategies.options.CgaOptions`:
        ``key_ratio``, ``n_mutate``, the genetic ``n_select``, ``generations``,
        and the model-guided ``seed``, ``population_size``, ``top_k``,
        ``epsilon``, ``fitness``.
    """

    Options = CgaOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._operators: list[ConstrainedCrossover] = []

    def _retrain(self) -> None:
        super()._retrain()
        # Key variables follow the model's feature importance, refreshed each round.
        self._operators = []
        for space, model in zip(self.spaces, self.models):
            keys = space.model.keys
            chosen = model.key_indices(self.options.key_ratio, self.rng, n_features=len(keys)) if keys else []
            key_vars = [keys[int(i)] for i in chosen]
            self._operators.append(
                ConstrainedCrossover(space.solver, key_vars, n_mutate=min(self.options.n_mutate, len(key_vars)))
            )

    def _breed(self, first: Individual, second: Individual, rng: np.random.Generator):
        child = self._operators[first.space]([first.point, second.point], rng)
        return None if child is None else self.individual(first.space, child)
