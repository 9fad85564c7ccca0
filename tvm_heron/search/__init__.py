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
features
    :class:`FeatureMap`, the model's columns shared by a task's spaces
    (logs, per-level products, footprints, target-limited products).
targets
    :func:`fitness_targets`: what the model learns (ratio, log, rank).
ensemble
    :class:`KnobEnsemble`, a bootstrap ensemble: predictions with a spread.
annealing
    :func:`anneal`, batched simulated annealing.
evolution
    :class:`Individual`, :func:`evolve` and :func:`unique`: the GA's
    generation loop.
"""

from .annealing import anneal
from .evolution import Individual, evolve, unique
from .ensemble import KnobEnsemble
from .features import FeatureMap
from .knob_model import KnobModel, top_share
from .operators import (
    ConstrainedCrossover,
    ConstrainedMutation,
    OnePointCrossover,
    Operator,
    Point,
    RandomMutation,
    solver_seed,
)
from .selection import SELECTIONS, epsilon_greedy, roulette, selection_weights
from .targets import TARGETS, fitness_targets

__all__ = [
    "SELECTIONS",
    "TARGETS",
    "ConstrainedCrossover",
    "FeatureMap",
    "ConstrainedMutation",
    "Individual",
    "KnobEnsemble",
    "KnobModel",
    "OnePointCrossover",
    "Operator",
    "Point",
    "RandomMutation",
    "anneal",
    "epsilon_greedy",
    "evolve",
    "fitness_targets",
    "roulette",
    "selection_weights",
    "solver_seed",
    "top_share",
    "unique",
]
