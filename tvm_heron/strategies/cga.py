"""Heron's constrained genetic algorithm (CGA) as a MetaSchedule search strategy."""

from __future__ import annotations

import numpy as np
from tvm.ir.utils import derived_object

from ..search import ConstrainedCrossover, Individual
from .genetic import GeneticStrategy
from .guided import _positive


@derived_object
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
    key_ratio : float
        Share of variables treated as key variables, in (0, 1] (Heron: 0.2).
    n_mutate : int
        Key variables freed (mutated) in each crossover.
    **kwargs
        See :class:`~tvm_heron.strategies.genetic.GeneticStrategy` (``n_select``,
        ``generations``) and :class:`~tvm_heron.strategies.guided.ModelGuidedStrategy`
        (``seed``, ``population_size``, ``top_k``, ``epsilon``, ``fitness``).
    """

    def __init__(self, *, key_ratio: float = 0.2, n_mutate: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        _positive("n_mutate", n_mutate, 0)
        if not 0.0 < float(key_ratio) <= 1.0:
            raise ValueError(f"key_ratio must be in (0, 1], got {key_ratio!r}")
        self.key_ratio = float(key_ratio)
        self.n_mutate = n_mutate
        self._operators: list[ConstrainedCrossover] = []

    def _init_kwargs(self) -> dict:
        return {
            **super()._init_kwargs(),
            "key_ratio": self.key_ratio,
            "n_mutate": self.n_mutate,
        }

    def _retrain(self) -> None:
        super()._retrain()
        # Key variables follow the model's feature importance, refreshed each round.
        self._operators = []
        for space, model in zip(self.spaces, self.models):
            keys = space.model.keys
            chosen = model.key_indices(self.key_ratio, self.rng, n_features=len(keys)) if keys else []
            key_vars = [keys[int(i)] for i in chosen]
            self._operators.append(
                ConstrainedCrossover(space.solver, key_vars, n_mutate=min(self.n_mutate, len(key_vars)))
            )

    def _breed(self, first: Individual, second: Individual, rng: np.random.Generator):
        child = self._operators[first.space]([first.point, second.point], rng)
        return None if child is None else self.individual(first.space, child)
