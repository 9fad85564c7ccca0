"""Search machinery of Heron's constrained genetic algorithm, free of TVM.

Everything here works on points of a
:class:`~tvm_heron.constraints.ConstraintModel` (dicts from variable key to
int) and on plain numpy arrays; the MetaSchedule strategies glue it to
traces.  Nothing here imports ``tvm``.

Modules
-------
operators
    Genetic operators: :class:`ConstrainedCrossover` (Heron),
    :class:`OnePointCrossover` and :class:`RandomMutation` (classic GA),
    :class:`ConstrainedMutation` (SA's neighbour move).
selection
    :func:`roulette` (parent selection) and :func:`epsilon_greedy`
    (choosing what to measure).
knob_model
    :class:`KnobModel`, XGBoost on the knob vectors; its feature
    importance picks the key variables.
annealing
    :func:`anneal`, batched simulated annealing.
evolution
    :class:`Individual`, :func:`evolve` and :func:`unique`: the GA's
    generation loop.
"""

from .annealing import anneal
from .evolution import Individual, evolve, unique
from .knob_model import KnobModel
from .operators import (
    ConstrainedCrossover,
    ConstrainedMutation,
    OnePointCrossover,
    Operator,
    Point,
    RandomMutation,
    solver_seed,
)
from .selection import epsilon_greedy, roulette

__all__ = [
    "ConstrainedCrossover",
    "ConstrainedMutation",
    "Individual",
    "KnobModel",
    "OnePointCrossover",
    "Operator",
    "Point",
    "RandomMutation",
    "anneal",
    "epsilon_greedy",
    "evolve",
    "roulette",
    "solver_seed",
    "unique",
]
