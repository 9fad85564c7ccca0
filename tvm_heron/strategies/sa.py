"""Simulated annealing over the constrained space (``heron-sa``), a baseline of Heron's ablation."""

from __future__ import annotations

import numpy as np
from tvm.ir.utils import derived_object

from ..search import ConstrainedMutation, anneal
from .guided import ModelGuidedStrategy, _positive


@derived_object
class SimulatedAnnealing(ModelGuidedStrategy):
    """Parallel annealing chains on the fitness model's prediction.

    Chains start from the best measured programs, the last round's best
    visited points and random samples; a move changes one variable to a new
    value and lets CP-SAT adjust the rest (so every state is valid).

    Parameters
    ----------
    n_chains : int
        Chains per round.
    steps : int
        Steps per chain per round.
    **kwargs
        See :class:`~tvm_heron.strategies.guided.ModelGuidedStrategy`.
    """

    def __init__(self, *, n_chains: int = 16, steps: int = 40, **kwargs):
        super().__init__(**kwargs)
        _positive("n_chains", n_chains)
        _positive("steps", steps)
        self.n_chains = n_chains
        self.steps = steps

    def _init_kwargs(self) -> dict:
        return {**super()._init_kwargs(), "n_chains": self.n_chains, "steps": self.steps}

    def _search(self, n: int):
        starts = (self.elite() + self.survivors)[: self.n_chains // 2]
        starts += self.random_individuals(self.n_chains - len(starts))
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
                steps=self.steps,
            )
            for point, score in visited:
                pool.append(self.individual(index, point))
                scores.append(score)
        scores = np.asarray(scores, dtype=float)
        order = np.argsort(-scores, kind="stable")
        self.survivors = [pool[i] for i in order[: self.n_chains // 2] if pool[i].key not in self.measured]
        return pool, scores
