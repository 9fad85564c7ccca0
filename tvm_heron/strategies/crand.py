"""Constrained random search (Heron's CRand baseline)."""

from __future__ import annotations

from .base import HeronStrategy, heron_strategy
from .options import RandomOptions


@heron_strategy
class ConstrainedRandom(HeronStrategy):
    """Each round, feasible points drawn at random from the constraint models.

    Points come from the CP-SAT solver with random value hints (as Heron
    draws its initial population), spread evenly over the design spaces.
    Registered as ``strategy="heron-crand"``.

    Parameters
    ----------
    **options
        The fields of :class:`~tvm_heron.strategies.options.RandomOptions`
        (``seed``, ``oversample``).
    """

    Options = RandomOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._drawn: set[tuple] = set()

    def _on_pre_tuning(self) -> None:
        self._drawn = set()

    def _propose(self, n: int):
        # Proposals of earlier rounds are skipped: the base class measured or
        # rejected them. Drawing goes on until the batch is full or nothing new comes.
        return self.random_proposals(n * self.options.oversample, self._drawn)
