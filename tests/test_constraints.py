"""Tests of tvm_heron.constraints: model semantics, CP-SAT queries, layering."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tvm_heron.constraints import (
    Choice,
    ConstraintModel,
    CpSatSolver,
    Divides,
    DomainViolation,
    Monomial,
    ProductAtLeast,
    ProductAtMost,
    ProductEquals,
    ProductIn,
    TileFactor,
    Variable,
)



# ----------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------
def divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


def split(inst: int, extent: int, parts: int, loop: str = "i"):
    """Variables and constraint of a perfect ``parts``-way split of ``extent``."""
    keys = tuple(TileFactor(inst, level, block="C", loop=loop) for level in range(parts))
    variables = [Variable(k, domain=divisors(extent)) for k in keys]
    constraint = ProductEquals(
        term=Monomial(keys=keys),
        value=extent,
        reason=f"split of C.{loop}: factors multiply to the loop extent",
    )
    return keys, variables, constraint


def brute_force(model: ConstraintModel) -> set[tuple[int, ...]]:
    """Feasible points by filtering the cartesian product of the domains."""
    return {
        values
        for values in itertools.product(*(v.domain for v in model.variables))
        if model.is_feasible(model.from_tuple(values))
    }


def as_set(model: ConstraintModel, points) -> set[tuple[int, ...]]:
    return {model.as_tuple(p) for p in points}


def split_model(extent: int, parts: int) -> ConstraintModel:
    _keys, variables, constraint = split(0, extent, parts)
    return ConstraintModel(variables=variables, constraints=[constraint])


def combined_model() -> tuple[ConstraintModel, tuple, tuple, Choice]:
    """Two splits, a cross-split bound and an unroll choice tied to a tile."""
    a, va, ca = split(1, 8, 3, "i")
    b, vb, cb = split(2, 12, 3, "j")
    unroll = Choice(3, name="unroll")
    model = ConstraintModel(
        variables=[*va, *vb, Variable(unroll, domain=range(4), candidates=(0, 16, 64, 512))],
        constraints=[
            ca,
            cb,
            ProductAtMost(term=Monomial.of(a[2], b[2]), limit=8, reason="target: at most 8 accumulators"),
            ProductAtMost(term=Monomial.of(unroll, a[1], coef=2), limit=6, reason="unroll budget"),
        ],
        notes=["unroll candidate values are not constrained"],
    )
    return model, a, b, unroll


# ----------------------------------------------------------------------
# keys and monomials
# ----------------------------------------------------------------------
def test_keys_identity_order_and_str():
    assert TileFactor(5, 2, block="C", loop="i") == TileFactor(5, 2)
    assert hash(TileFactor(5, 2, block="C", loop="i")) == hash(TileFactor(5, 2))
    assert Choice(9, name="unroll") == Choice(9)
    assert TileFactor(9, 0) != Choice(9)
    mixed = [Choice(9), TileFactor(5, 2), TileFactor(5, 0), Choice(1), TileFactor(9, 0)]
    assert sorted(mixed) == [Choice(1), TileFactor(5, 0), TileFactor(5, 2), TileFactor(9, 0), Choice(9)]
    assert str(TileFactor(5, 2, block="C", loop="i")) == "tile#5[2] (C.i)"
    assert str(TileFactor(5, 2)) == "tile#5[2]"
    assert str(Choice(9, name="unroll")) == "choice#9 (unroll)"


def test_monomial():
    a, b = TileFactor(5, 2), TileFactor(7, 1)
    m = Monomial(coef=16, keys=(b, a))
    assert m == Monomial.of(a, b, coef=16)
    assert str(m) == "16 * tile#5[2] * tile#7[1]"
    assert m.value({a: 2, b: 3}) == 96
    assert Monomial.of(a, a).value({a: 3}) == 9
    assert Monomial(coef=4).is_constant and not m.is_constant
    assert str(Monomial(coef=4)) == "4"


# ----------------------------------------------------------------------
# exact counts against brute force
# ----------------------------------------------------------------------
@pytest.mark.parametrize(("extent", "parts", "expected"), [(16, 4, 35), (12, 3, 18)])
def test_split_counts(extent, parts, expected):
    model = split_model(extent, parts)
    solutions = CpSatSolver(model).enumerate_all()
    assert len(solutions) == expected
    assert as_set(model, solutions) == brute_force(model)


def test_combined_model_matches_brute_force():
    model, *_ = combined_model()
    solver = CpSatSolver(model)
    solutions = solver.enumerate_all()
    expected = brute_force(model)
    assert len(solutions) == len(expected) > 0
    assert as_set(model, solutions) == expected
    assert solver.count() == len(expected)


def test_product_in_matches_brute_force():
    keys, variables, constraint = split(0, 16, 3)
    vec = Choice(1, name="vec")
    model = ConstraintModel(
        variables=[*variables, Variable(vec, domain=(1, 2, 3))],
        constraints=[
            constraint,
            ProductIn(term=Monomial.of(keys[2], vec), allowed=(4, 8), reason="vector lanes"),
        ],
    )
    expected = brute_force(model)
    assert 0 < len(expected) < 15 * 3
    assert as_set(model, CpSatSolver(model).enumerate_all()) == expected


def test_product_at_least_exact_count():
    """A 2-way split of 16 with outer * 2 >= 8: outer in {4, 8, 16}, so 3 of the 5 splits."""
    keys, variables, constraint = split(0, 16, 2)
    model = ConstraintModel(
        variables=variables,
        constraints=[
            constraint,
            ProductAtLeast(term=Monomial.of(keys[0], coef=2), limit=8, reason="cores get work"),
        ],
    )
    assert CpSatSolver(model).count() == 3 == len(brute_force(model))
    assert "cores get work" in model.explain({keys[0]: 1, keys[1]: 16})


def test_divides_matches_brute_force():
    keys, variables, constraint = split(0, 12, 2)
    x = TileFactor(1, 0)
    model = ConstraintModel(
        variables=[*variables, Variable(x, domain=range(1, 7))],
        constraints=[
            constraint,
            Divides(divisor=Monomial.of(x), dividend=Monomial.of(keys[1], coef=2), reason="x | 2*inner"),
            Divides(divisor=x, dividend=12, reason="x | 12"),  # constant dividend
        ],
    )
    expected = brute_force(model)
    assert 0 < len(expected) < 6 * 6
    assert as_set(model, CpSatSolver(model).enumerate_all()) == expected


def test_enumerate_limit():
    with pytest.raises(ValueError, match="more than 10"):
        CpSatSolver(split_model(16, 4)).enumerate_all(limit=10)


def test_constant_constraint():
    keys, variables, constraint = split(0, 4, 2)
    bad = ConstraintModel(
        variables=variables,
        constraints=[constraint, ProductAtMost(term=Monomial(coef=5), limit=4, reason="always false")],
    )
    assert CpSatSolver(bad).solve() is None
    assert CpSatSolver(bad).enumerate_all() == []


# ----------------------------------------------------------------------
# sampling
# ----------------------------------------------------------------------
def test_sample_feasible_distinct_reproducible():
    model, *_ = combined_model()
    solver = CpSatSolver(model)
    points = solver.sample(50, rng=np.random.default_rng(0))
    assert len(points) == 50
    assert all(model.is_feasible(p) for p in points)
    assert len(as_set(model, points)) == 50
    assert points == solver.sample(50, rng=np.random.default_rng(0))
    assert points != solver.sample(50, rng=np.random.default_rng(1))


def test_sample_is_diverse():
    # Random hints must spread the points: within few attempts most land on
    # new points, and every variable takes several values.
    model, *_ = combined_model()
    points = CpSatSolver(model).sample(30, rng=np.random.default_rng(3), max_attempts=40)
    assert len(points) >= 25
    for key in model.keys:
        assert len({p[key] for p in points}) >= 2, key


def test_sample_small_space_returns_all():
    a = TileFactor(0, 0)
    model = ConstraintModel(
        variables=[Variable(a, domain=(1, 2, 4, 8, 16))],
        constraints=[ProductAtMost(term=a, limit=4, reason="small")],
    )
    points = CpSatSolver(model).sample(10, rng=np.random.default_rng(0))
    assert sorted(p[a] for p in points) == [1, 2, 4]


# ----------------------------------------------------------------------
# solve with restrictions and hints
# ----------------------------------------------------------------------
def test_solve_restrict():
    model, a, b, unroll = combined_model()
    solver = CpSatSolver(model)
    restrict = {a[0]: [1, 2], b[2]: [3, 6], unroll: [1]}
    for seed in range(5):
        point = solver.solve(restrict=restrict, seed=seed)
        assert point is not None and model.is_feasible(point)
        assert all(point[k] in values for k, values in restrict.items())
    # Restricted solves must not leak into later queries.
    assert solver.count() == len(brute_force(model))


def test_solve_restrict_infeasible():
    keys, variables, constraint = split(0, 16, 4)
    solver = CpSatSolver(ConstraintModel(variables=variables, constraints=[constraint]))
    assert solver.solve(restrict={k: [1] for k in keys}) is None
    assert solver.solve(restrict={keys[0]: [3]}) is None  # no value of the domain left
    assert solver.solve() is not None


def test_solve_follows_feasible_hint():
    model, *_ = combined_model()
    solver = CpSatSolver(model)
    for point in solver.sample(5, rng=np.random.default_rng(5)):
        assert solver.solve(hint=point) == point


# ----------------------------------------------------------------------
# repair
# ----------------------------------------------------------------------
def hamming(model, p, q) -> int:
    return sum(p.get(k) != q.get(k) for k in model.keys)


def test_repair_is_nearest():
    model, a, b, unroll = combined_model()
    solver = CpSatSolver(model)
    feasible = [model.from_tuple(t) for t in brute_force(model)]
    rng = np.random.default_rng(7)
    for _ in range(5):
        point = {v.key: int(rng.choice(v.domain)) for v in model.variables}
        if model.is_feasible(point):
            continue
        repaired = solver.repair(point)
        assert repaired is not None and model.is_feasible(repaired)
        best = min(hamming(model, point, q) for q in feasible)
        assert hamming(model, point, repaired) == best


def test_repair_out_of_domain_and_feasible():
    model, a, b, unroll = combined_model()
    solver = CpSatSolver(model)
    point = solver.solve()
    assert solver.repair(point) == point
    assert solver.repair(point) is not point
    broken = dict(point)
    broken[a[0]] = 3  # not a divisor of 8
    repaired = solver.repair(broken)
    assert model.is_feasible(repaired)
    best = min(hamming(model, broken, model.from_tuple(t)) for t in brute_force(model))
    assert hamming(model, broken, repaired) == best


# ----------------------------------------------------------------------
# explanations and dumps
# ----------------------------------------------------------------------
def test_violations_and_explain():
    model, a, b, unroll = combined_model()
    point = {a[0]: 2, a[1]: 2, a[2]: 2, b[0]: 1, b[1]: 3, b[2]: 4, unroll: 0}
    assert model.explain(point) == "feasible"
    point[b[2]] = 6  # b no longer multiplies to 12, and 2 * 6 > 8 accumulators
    reasons = {v.reason for v in model.violations(point)}
    assert reasons == {"split of C.j: factors multiply to the loop extent", "target: at most 8 accumulators"}
    text = model.explain(point)
    assert "accumulators" in text and "split of C.j" in text
    assert len(text.splitlines()) == 2

    point[a[0]] = 3
    del point[unroll]
    found = model.violations(point)
    domain_issues = [v for v in found if isinstance(v, DomainViolation)]
    assert {v.key for v in domain_issues} == {a[0], unroll}
    text = model.explain(point)
    assert "tile#1[0] (C.i) = 3 is outside its domain {1, 2, 4, 8}" in text
    assert "choice#3 (unroll) is missing" in text
    assert not model.is_feasible(point)


def test_dump_lists_everything():
    model, *_ = combined_model()
    text = model.dump()
    assert text.splitlines()[0] == "ConstraintModel: 7 variables, 4 constraints, 1 notes"
    for var in model.variables:
        assert str(var.key) in text
    for constraint in model.constraints:
        assert str(constraint) in text
    assert "(0, 16, 64, 512)" in text
    assert "unroll candidate values are not constrained" in text
    assert text == combined_model()[0].dump()


def test_tuple_round_trip():
    model, *_ = combined_model()
    point = CpSatSolver(model).solve()
    assert model.from_tuple(model.as_tuple(point)) == point


# ----------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------
def test_errors():
    key = TileFactor(4, 1, block="C", loop="k")
    with pytest.raises(ValueError, match=r"tile#4\[1\] \(C.k\)"):
        Variable(key, domain=())
    with pytest.raises(ValueError, match=r"undeclared variable tile#4\[1\]"):
        ConstraintModel(
            variables=[Variable(TileFactor(0, 0), domain=(1, 2))],
            constraints=[ProductAtMost(term=Monomial.of(TileFactor(0, 0), key), limit=2, reason="x")],
        )
    model = split_model(8, 2)
    solver = CpSatSolver(model)
    with pytest.raises(ValueError, match=r"choice#7"):
        solver.solve(restrict={Choice(7): [0]})
    with pytest.raises(ValueError, match=r"choice#7"):
        solver.solve(hint={Choice(7): 0})
    with pytest.raises(ValueError, match=r"no value for variable tile#0\[0\]"):
        solver.solve(restrict={model.keys[0]: []})
    with pytest.raises(ValueError, match=r"choice#7"):
        model.violations({Choice(7): 0})


def test_a_time_out_is_not_reported_as_infeasible(caplog):
    """A solve cut by the time limit says so; sampling stops at its budget with a warning."""
    import logging

    from tvm_heron.constraints import ConstraintModel, CpSatSolver, Monomial, ProductEquals, TileFactor, Variable
    from tvm_heron.constraints.solver import FEASIBLE, INFEASIBLE, TIMED_OUT

    keys = tuple(TileFactor(0, i) for i in range(3))
    model = ConstraintModel(variables=[Variable(k, domain=(1, 2, 4, 8)) for k in keys],
                            constraints=[ProductEquals(term=Monomial(keys=keys), value=8, reason="split")])
    solver = CpSatSolver(model)
    assert solver.solve(seed=1) is not None and solver.last_status == FEASIBLE
    impossible = ConstraintModel(variables=model.variables, constraints=[
        ProductEquals(term=Monomial(keys=keys), value=3, reason="3 has no factors of 2")])
    none = CpSatSolver(impossible)
    assert none.solve(seed=1) is None and none.last_status == INFEASIBLE
    tiny = CpSatSolver(model, time_limit_s=1e-9)
    with caplog.at_level(logging.WARNING):
        if tiny.solve(seed=1) is None:  # CP-SAT may still finish within its first check
            assert tiny.last_status == TIMED_OUT and "not proven infeasible" in caplog.text
        assert len(solver.sample(100, rng=0, time_budget_s=0.0)) <= 1
    assert "time budget" in caplog.text
