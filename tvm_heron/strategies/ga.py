"""The unconstrained genetic algorithm baseline of Heron's ablation (``heron-ga``)."""

from __future__ import annotations

import numpy as np

from ..search import Individual, OnePointCrossover, RandomMutation
from .base import heron_strategy
from .genetic import GeneticStrategy
from .options import GaOptions


@heron_strategy
class UnconstrainedGA(GeneticStrategy):
    """A classic GA over the same space: one-point crossover and random mutation.

    Children are not solved for: those that violate the constraint model are
    dropped (``invalid_children`` counts them), as in the paper's GA baseline.
    Same population, selection, fitness model and epsilon-greedy as ``heron-cga``.

    Parameters
    ----------
    **options
        The fields of :class:`~tvm_heron.strategies.options.GaOptions`
        (``mutation_rate`` and those of the genetic strategies).
    """

    Options = GaOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.children = 0
        self.invalid_children = 0

    def _breed(self, first: Individual, second: Individual, rng: np.random.Generator):
        space = self.spaces[first.space]
        if not space.model.keys:
            return None  # a space with no free decision has one program: nothing to breed
        child = OnePointCrossover(space.model.keys)([first.point, second.point], rng)
        child = RandomMutation(space.model, rate=self.options.mutation_rate)([child], rng)
        self.children += 1
        if child is None or not space.model.is_feasible(child):
            self.invalid_children += 1
            return None
        return self.individual(first.space, child)
