"""Genetic operators over design-space points, one per module.

Modules
-------
base
    :class:`Operator`, the interface: ``n_parents`` and
    ``__call__(parents, rng) -> child or None``.
constrained
    :class:`ConstrainedCrossover`, Heron's crossover + mutation solved by
    CP-SAT; children are feasible by construction.
onepoint
    :class:`OnePointCrossover`, the classic GA's crossover (no guarantee).
mutation
    :class:`RandomMutation` (classic GA, no guarantee) and
    :class:`ConstrainedMutation` (simulated annealing's feasible
    neighbour move).
"""

from .base import Operator, Point, solver_seed
from .constrained import ConstrainedCrossover
from .mutation import ConstrainedMutation, RandomMutation
from .onepoint import OnePointCrossover

__all__ = [
    "ConstrainedCrossover",
    "ConstrainedMutation",
    "OnePointCrossover",
    "Operator",
    "Point",
    "RandomMutation",
    "solver_seed",
]
