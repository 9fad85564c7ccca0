"""Strategy names for ``tune_tir(..., strategy="heron-...")``.

MetaSchedule turns a strategy string into an object with
``SearchStrategy.create``, which knows only its own three names; importing
tvm_heron wraps it so that the names registered here resolve too.
"""

from __future__ import annotations

from collections.abc import Callable

from tvm.s_tir.meta_schedule import search_strategy as _ms_strategy
from tvm.s_tir.meta_schedule.search_strategy import SearchStrategy

_STRATEGIES: dict[str, Callable] = {}
_ORIGINAL_CREATE = SearchStrategy.create


def register_strategy(name: str, factory: Callable) -> None:
    """Make ``strategy=name`` build ``factory(*args, **kwargs)``."""
    _STRATEGIES[name] = factory


def strategy_names() -> tuple[str, ...]:
    """The registered Heron strategy names."""
    return tuple(sorted(_STRATEGIES))


def create(kind="evolutionary", *args, **kwargs):
    """``SearchStrategy.create`` that also knows the Heron strategies."""
    if isinstance(kind, str) and kind in _STRATEGIES:
        return _STRATEGIES[kind](*args, **kwargs)
    return _ORIGINAL_CREATE(kind, *args, **kwargs)


def install() -> None:
    """Install :func:`create` in MetaSchedule (idempotent)."""
    SearchStrategy.create = staticmethod(create)
    _ms_strategy.create = create
