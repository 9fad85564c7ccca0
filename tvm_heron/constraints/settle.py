"""Soft lower bounds: the largest limit of each wish ``term >= limit`` that a model still meets.

A target asks, say, for a register tile of at least 4 accumulators, but a
small problem or another limit may leave fewer: the wish is lowered to the
most that the model allows. Wishes are settled in priority order, each
against the model and the limits kept for the wishes before it, so that
the result is the lexicographically largest vector of limits.

This is one CP-SAT optimisation: for wish ``i`` a level ``l_i`` in
``[1, wish_i]`` with ``term_i >= l_i`` unless ``l_i == 1`` (the wish gives
nothing), maximising ``sum_i l_i * prod_{j > i} wish_j``: with each level
worth more than all later ones together, the optimum is lexicographic. It
equals trying each limit from ``wish_i`` down to 2 with a feasibility check,
because ``term_i >= L`` is feasible for every ``L`` up to the largest
feasible one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ortools.sat.python import cp_model

from .encoding import CpSatEncoding
from .expr import Monomial
from .model import ConstraintModel

__all__ = ["settle_lower_bounds"]

logger = logging.getLogger(__name__)

# The objective's weights are products of wishes; past this many levels
# would need more than int64, so larger sets are settled in groups that fit.
_WEIGHT_LIMIT = 2**62


def settle_lower_bounds(
    model: ConstraintModel,
    wishes: Sequence[tuple[Monomial, int]],
    *,
    seed: int = 0,
    time_limit_s: float = 10.0,
) -> list[int | None]:
    """The limit kept for each wish ``(term, limit)``, in priority order.

    Parameters
    ----------
    model : ConstraintModel
        The constraints the wishes must leave feasible.
    wishes : sequence of (Monomial, int)
        Each ``term >= limit`` wanted, the first the most important.
    seed : int, optional
        CP-SAT random seed (the optimum does not depend on it).
    time_limit_s : float, optional
        Wall-clock limit of the solve.

    Returns
    -------
    list of int or None
        For wish ``i``, the largest limit in ``[2, limit_i]`` such that the
        model, with ``term_j >= kept_j`` for the wishes before it, has a point
        with ``term_i >= kept_i``; None where no such limit exists, for a
        wish of at most 1, and for every wish when the model has no point.
    """
    encoding = CpSatEncoding(model)
    kept: list[int | None] = []
    for group in _groups(wishes):
        kept.extend(_settle_group(encoding, group, kept, wishes, seed, time_limit_s))
    return kept


def _groups(wishes):
    """Consecutive runs of wishes whose objective weights fit in int64."""
    group, weight = [], 1
    for term, limit in wishes:
        limit = max(int(limit), 1)
        if group and weight * limit > _WEIGHT_LIMIT:
            yield group
            group, weight = [], 1
        group.append((term, limit))
        weight *= limit
    if group:
        yield group


def _settle_group(encoding, group, kept, wishes, seed, time_limit_s) -> list[int | None]:
    """One solve for ``group``, after the wishes already ``kept`` (the first of ``wishes``)."""
    earlier = [term for term, _ in wishes[: len(kept)]]
    cp, _, exprs = encoding.clone_with(earlier + [term for term, _ in group])
    for expr, limit in zip(exprs, kept):
        if limit is not None:
            cp.add(expr >= limit)
    levels, objective, weight = [], 0, 1
    for expr, (_, limit) in reversed(list(zip(exprs[len(kept):], group))):
        level = cp.new_int_var(1, limit, f"level[{len(levels)}]")
        asked = cp.new_bool_var(f"asked[{len(levels)}]")
        cp.add(expr >= level).only_enforce_if(asked)
        cp.add(level == 1).only_enforce_if(~asked)
        objective += weight * level
        weight *= limit
        levels.append(level)
    levels.reverse()
    cp.maximize(objective)
    solver = cp_model.CpSolver()
    solver.parameters.random_seed = int(seed)
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    status = solver.solve(cp)
    if status == cp_model.FEASIBLE:
        logger.warning("settling lower bounds hit its %.1f s time limit: the limits kept may be "
                       "lower than the model allows", time_limit_s)
    elif status != cp_model.OPTIMAL:
        return [None] * len(group)
    return [value if value > 1 else None for value in map(solver.value, levels)]
