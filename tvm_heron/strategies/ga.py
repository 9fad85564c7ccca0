"""The unconstrained genetic algorithm baseline of Heron's ablation (``heron-ga``)."""

from __future__ import annotations

import numpy as np
from tvm.ir.utils import derived_object

from ..search import Individual, OnePointCrossover, RandomMutation
from .genetic import GeneticStrategy


@derived_object
class UnconstrainedGA(GeneticStrategy):
    """A classic GA over the same space: one-point crossover and random mutation.

    Children are not solved for: those that violate the constraint model are
    dropped (``invalid_children`` counts them), as in the paper's GA baseline.
    Same population, selection, fitness model and epsilon-greedy as ``heron-cga``.

    Parameters
    ----------
    mutation_rate : float
        Probability of each variable to mutate, in [0, 1].
    **kwargs
        See :class:`~tvm_heron.strategies.genetic.GeneticStrategy`.
    """

    def __init__(self, *, mutation_rate: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(mutation_rate) <= 1.0:
            raise ValueError(f"mutation_rate must be in [0, 1], got {mutation_rate!r}")
        self.mutation_rate = float(mutation_rate)
        self.children = 0
        self.invalid_children = 0

    def _init_kwargs(self) -> dict:
        return {**super()._init_kwargs(), "mutation_rate": self.mutation_rate}

    def _breed(self, first: Individual, second: Individual, rng: np.random.Generator):
        space = self.spaces[first.space]
        child = OnePointCrossover(space.model.keys)([first.point, second.point], rng)
        child = RandomMutation(space.model, rate=self.mutation_rate)([child], rng)
        self.children += 1
        if child is None or not space.model.is_feasible(child):
            self.invalid_children += 1
            return None
        return self.individual(first.space, child)
