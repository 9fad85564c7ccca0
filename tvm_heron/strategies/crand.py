"""Constrained random search (Heron's CRand baseline)."""

from __future__ import annotations

from tvm.ir.utils import derived_object

from .base import HeronStrategy


@derived_object
class ConstrainedRandom(HeronStrategy):
    """Each round, feasible points drawn at random from the constraint models.

    Points come from the CP-SAT solver with random value hints (as Heron
    draws its initial population), spread evenly over the design spaces.
    Registered as ``strategy="heron-crand"``.

    Parameters
    ----------
    seed : int, optional
        See :class:`~tvm_heron.strategies.base.HeronStrategy`.
    oversample : int
        Points drawn per wanted candidate (duplicates and points measured
        before are dropped); at least 1.
    """

    def __init__(self, *, seed: int | None = None, oversample: int = 2) -> None:
        super().__init__(seed=seed)
        if oversample < 1:
            raise ValueError(f"oversample must be >= 1, got {oversample}")
        self.oversample = oversample

    def _init_kwargs(self) -> dict:
        return {"seed": self.seed, "oversample": self.oversample}

    def _propose(self, n: int):
        per_space = -(-n * self.oversample // len(self.spaces))
        drawn = []
        for index, space in enumerate(self.spaces):
            drawn.extend(self.proposal(index, p) for p in space.solver.sample(per_space, rng=self.rng))
        order = self.rng.permutation(len(drawn))
        return [drawn[i] for i in order]
