"""Heron's constrained genetic algorithm (CGA) as a MetaSchedule search strategy."""

from __future__ import annotations

import numpy as np

from ..search import ConstrainedCrossover, Individual, top_share
from .base import heron_strategy
from .genetic import GeneticStrategy
from .options import CgaOptions


@heron_strategy
class ConstrainedGA(GeneticStrategy):
    """Constrained genetic algorithm (``strategy="heron-cga"``).

    Each round (HERON.md section 3): the population is constrained random
    samples + the ``top_k`` best measured programs (at most ``elite_share``
    of those measured) + the last round's survivors; ``generations``
    generations of roulette selection on the fitness model's prediction
    (min-shifted by default) and constrained crossover, in which the key
    variables (the ``key_ratio`` most important for the fitness model) take
    one of the two parents' values but one that mutates freely, solved by
    CP-SAT so that every child is valid; then epsilon-greedy picks the
    batch from every individual the generations scored (``pool``), its
    random share included, and the model is retrained on the results.
    Until the model has learnt from two measured programs (a task's first
    round, with no records to start from) the round is constrained random
    samples: generations bred on equal scores would pick at random anyway.

    Issue 16's changes are options; :data:`~tvm_heron.bench.replay_report.HERON_CGA`
    gives the paper's algorithm back, and the replay benchmark's
    ``--ablation`` compares every change with the defaults.

    Parameters
    ----------
    **options
        The fields of :class:`~tvm_heron.strategies.options.CgaOptions`:
        ``key_ratio``, ``n_mutate``, ``key_share``, ``random_hints``, the
        genetic ``n_select``, ``generations``, ``selection``, ``pool``, and
        the model-guided ``seed``, ``population_size``, ``top_k``,
        ``epsilon``, ``fitness``, ``shared_model``, ``features``, ``target``,
        ``elite_share``.
    """

    Options = CgaOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._operators: list[ConstrainedCrossover] = []

    def _retrain(self) -> None:
        super()._retrain()
        # Key variables follow the model's feature importance, refreshed each round;
        # an engineered column's importance is shared by the variables it is made of.
        self._operators = []
        for index, space in enumerate(self.spaces):
            self._operators.append(ConstrainedCrossover(
                space.solver, self.key_variables(index), n_mutate=self.options.n_mutate,
                key_share=self.options.key_share, random_hints=self.options.random_hints,
            ))

    def key_variables(self, space: int) -> list:
        """The ``key_ratio`` most important variables of ``space`` (ties at random)."""
        keys = self.spaces[space].model.keys
        if not keys:
            return []
        model = self.models[self._model_of[space]] if self.models else None
        if model is None or not model.is_fitted:
            importance = np.full(len(keys), 1.0 / len(keys))  # no model yet: a random subset
        else:
            feature_map = self.feature_maps[self._model_of[space]]
            columns = model.importance(n_features=feature_map.width)
            importance = feature_map.variable_importance(space if self.options.shared_model else 0, columns)
        return [keys[int(i)] for i in top_share(importance, self.options.key_ratio, self.rng)]

    def _breed(self, first: Individual, second: Individual, rng: np.random.Generator):
        child = self._operators[first.space]([first.point, second.point], rng)
        return None if child is None else self.individual(first.space, child)
