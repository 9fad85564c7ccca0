"""Simulated annealing over the constrained space (``heron-sa``), a baseline of Heron's ablation."""

from __future__ import annotations

import numpy as np

from ..search import ConstrainedMutation, anneal
from .base import heron_strategy
from .guided import ModelGuidedStrategy
from .options import SaOptions


@heron_strategy
class SimulatedAnnealing(ModelGuidedStrategy):
    """Parallel annealing chains on the fitness model's prediction.

    Chains start from the best measured programs, the last round's best
    visited points and random samples; a move changes one variable to a new
    value and lets CP-SAT adjust the rest (so every state is valid).

    Parameters
    ----------
    **options
        The fields of :class:`~tvm_heron.strategies.options.SaOptions`
        (``n_chains``, ``steps`` and those of the model-guided strategies).
    """

    Options = SaOptions

    def _search(self, n: int):
        starts = (self.elite() + self.survivors)[: self.options.n_chains // 2]
        starts += self.random_individuals(self.options.n_chains - len(starts))
        pool, scores = [], []
        for index, space in enumerate(self.spaces):
            chains = [s.point for s in starts if s.space == index]
            if not chains:
                continue
            move = ConstrainedMutation(space.solver)
            visited = anneal(
                chains,
                score=lambda points, i=index: self.fitness([self.individual(i, p) for p in points]),
                neighbour=lambda point, rng, m=move: m([point], rng),
                rng=self.rng,
                steps=self.options.steps,
            )
            for point, score in visited:
                pool.append(self.individual(index, point))
                scores.append(score)
        scores = np.asarray(scores, dtype=float)
        order = np.argsort(-scores, kind="stable")
        known = self.known()
        self.survivors = [pool[i] for i in order[: self.options.n_chains // 2] if pool[i].key not in known]
        return pool, scores
