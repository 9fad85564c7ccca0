"""Search strategies over Heron's constrained spaces (MetaSchedule ``SearchStrategy``)."""

from .base import HeronStrategy, Proposal
from .cga import ConstrainedGA
from .crand import ConstrainedRandom
from .ga import UnconstrainedGA
from .registry import register_strategy, strategy_names
from .sa import SimulatedAnnealing

__all__ = [
    "ConstrainedGA",
    "ConstrainedRandom",
    "SimulatedAnnealing",
    "UnconstrainedGA",
    "HeronStrategy",
    "Proposal",
    "register_strategy",
    "strategy_names",
]
