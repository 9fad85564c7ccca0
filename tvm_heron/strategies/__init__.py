"""Search strategies over Heron's constrained spaces (MetaSchedule ``SearchStrategy``).

:mod:`.options` (the strategies' validated options) is plain Python; the
strategies themselves are imported on first use of their names.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "HeronStrategy": ".base",
    "Proposal": ".base",
    "ConstrainedGA": ".cga",
    "ConstrainedRandom": ".crand",
    "UnconstrainedGA": ".ga",
    "SimulatedAnnealing": ".sa",
    "register_strategy": ".registry",
    "strategy_names": ".registry",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
