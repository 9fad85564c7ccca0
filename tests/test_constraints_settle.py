"""Soft lower bounds settled in one CP-SAT solve: hand derivations, and the per-limit loop."""

from __future__ import annotations

import numpy as np
import pytest

from tvm_heron.constraints import (
    ConstraintModel,
    CpSatSolver,
    Monomial,
    ProductAtLeast,
    ProductAtMost,
    ProductEquals,
    TileFactor,
    Variable,
    settle_lower_bounds,
)

X, Y, Z = (TileFactor(0, level) for level in range(3))


def split_of(extent: int, keys=(X, Y), constraints=()) -> ConstraintModel:
    divisors = tuple(d for d in range(1, extent + 1) if extent % d == 0)
    return ConstraintModel(
        variables=[Variable(k, domain=divisors) for k in keys],
        constraints=[ProductEquals(term=Monomial(keys=keys), value=extent, reason="split"),
                     *constraints],
    )


def settle_by_trying_each_limit(model, wishes):
    """The loop the one solve replaces: each limit from the wish down to 2, a solve each."""
    kept = []
    for term, wish in wishes:
        for limit in range(wish, 1, -1):
            candidate = ConstraintModel(
                variables=model.variables,
                constraints=[*model.constraints, ProductAtLeast(term=term, limit=limit, reason="")],
            )
            if CpSatSolver(candidate).solve(seed=1) is not None:
                model = candidate
                kept.append(limit)
                break
        else:
            kept.append(None)
    return kept


def test_a_wish_is_lowered_to_what_the_model_allows():
    """x * y = 12, y <= 4: y >= 8 is lowered to 4; x >= 5 stays 5 (x can be 6 or 12)."""
    model = split_of(12, constraints=[ProductAtMost(term=Monomial.of(Y), limit=4, reason="")])
    assert settle_lower_bounds(model, [(Monomial.of(Y), 8)]) == [4]
    assert settle_lower_bounds(model, [(Monomial.of(X), 5)]) == [5]


def test_wishes_are_settled_in_priority_order():
    """x * y = 12: x >= 5 first leaves y in {1, 2}; y >= 3 first leaves x in {1, 2, 3, 4}."""
    model = split_of(12)
    x, y = Monomial.of(X), Monomial.of(Y)
    assert settle_lower_bounds(model, [(x, 5), (y, 3)]) == [5, 2]
    assert settle_lower_bounds(model, [(y, 3), (x, 5)]) == [3, 4]


def test_what_gives_nothing():
    """No limit above 1, a wish of 1, or a model without points: nothing is kept."""
    model = split_of(12, constraints=[ProductAtMost(term=Monomial.of(X), limit=1, reason="")])
    assert settle_lower_bounds(model, [(Monomial.of(X), 4), (Monomial.of(Y), 1)]) == [None, None]
    impossible = split_of(12, constraints=[ProductAtLeast(term=Monomial.of(X, Y), limit=13,
                                                          reason="")])
    assert settle_lower_bounds(impossible, [(Monomial.of(X), 4)]) == [None]
    assert settle_lower_bounds(split_of(12), []) == []


def test_a_constant_term_keeps_its_value():
    assert settle_lower_bounds(split_of(12), [(Monomial(coef=3), 5), (Monomial.of(X), 2)]) == [3, 2]


def test_many_wishes_are_settled_in_groups_that_fit_the_objective():
    """2**70 exceeds int64: the wishes are settled in several solves, with the same result."""
    model = split_of(1 << 10, keys=(X, Y, Z))
    wishes = [(Monomial.of(X), 1 << 35), (Monomial.of(Y), 1 << 35), (Monomial.of(Z), 3)]
    assert settle_lower_bounds(model, wishes) == [1 << 10, None, None]


@pytest.mark.parametrize("seed", range(12))
def test_one_solve_equals_trying_each_limit(seed):
    """Random 3-way splits with random caps and wishes on random products."""
    rng = np.random.default_rng(seed)
    keys = (X, Y, Z)

    def some_product() -> Monomial:
        chosen = rng.choice(len(keys), int(rng.integers(1, 3)), replace=False)
        return Monomial(keys=tuple(keys[i] for i in chosen))

    caps = [ProductAtMost(term=some_product(), limit=int(rng.integers(2, 12)), reason="cap")
            for _ in range(int(rng.integers(0, 3)))]
    model = split_of(int(rng.choice([12, 16, 24, 36])), keys=keys, constraints=caps)
    wishes = [(some_product(), int(rng.integers(1, 10))) for _ in range(int(rng.integers(1, 4)))]
    assert settle_lower_bounds(model, wishes) == settle_by_trying_each_limit(model, wishes)
