"""The unconstrained genetic algorithm baseline of Heron's ablation (``heron-ga``)."""

from __future__ import annotations

import numpy as np
from tvm.ir.utils import derived_object

from ..search import Individual, OnePointCrossover, RandomMutation, evolve
from .guided import ModelGuidedStrategy, _positive


@derived_object
class UnconstrainedGA(ModelGuidedStrategy):
    """A classic GA over the same space: one-point crossover and random mutation.

    Children are not solved for: those that violate the constraint model are
    dropped (``invalid_children`` counts them), as in the paper's GA baseline.
    Same population, selection, fitness model and epsilon-greedy as ``heron-cga``.

    Parameters
    ----------
    n_select, generations : int
        As :class:`~tvm_heron.strategies.cga.ConstrainedGA`.
    mutation_rate : float
        Probability of each variable to mutate, in [0, 1].
    **kwargs
        See :class:`~tvm_heron.strategies.guided.ModelGuidedStrategy`.
    """

    def __init__(self, *, n_select: int = 100, generations: int = 5, mutation_rate: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        _positive("n_select", n_select)
        _positive("generations", generations, 0)
        if not 0.0 <= float(mutation_rate) <= 1.0:
            raise ValueError(f"mutation_rate must be in [0, 1], got {mutation_rate!r}")
        if n_select > self.population_size:
            raise ValueError(
                f"n_select ({n_select}) must not exceed population_size ({self.population_size})"
            )
        self.n_select = n_select
        self.generations = generations
        self.mutation_rate = float(mutation_rate)
        self.children = 0
        self.invalid_children = 0

    def _init_kwargs(self) -> dict:
        return {
            **super()._init_kwargs(),
            "n_select": self.n_select,
            "generations": self.generations,
            "mutation_rate": self.mutation_rate,
        }

    def _breed(self, first: Individual, second: Individual, rng: np.random.Generator):
        space = self.spaces[first.space]
        child = OnePointCrossover(space.model.keys)([first.point, second.point], rng)
        child = RandomMutation(space.model, rate=self.mutation_rate)([child], rng)
        self.children += 1
        if child is None or not space.model.is_feasible(child):
            self.invalid_children += 1
            return None
        return self.individual(first.space, child)

    def _search(self, n: int):
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
