"""Search strategies over Heron's constrained spaces (MetaSchedule ``SearchStrategy``)."""

from .base import HeronStrategy, Proposal
from .crand import ConstrainedRandom
from .registry import register_strategy, strategy_names

__all__ = [
    "ConstrainedRandom",
    "HeronStrategy",
    "Proposal",
    "register_strategy",
    "strategy_names",
]
