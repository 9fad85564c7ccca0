"""Tests of tvm_heron.search: genetic operators, selection, knob model, annealing.

The operators are checked the way Optuna checks its NSGA-II crossovers: a
stub generator scripts every random draw, and the child is derived by hand.
Properties (every constrained child is feasible) are checked with real
generators on a tiny model whose 36 points can be listed by hand.
"""

from __future__ import annotations


import numpy as np
import pytest
from search_stubs import RecordingSolver

from tvm_heron.constraints import (
    Choice,
    ConstraintModel,
    CpSatSolver,
    Monomial,
    ProductEquals,
    TileFactor,
    Variable,
)
from tvm_heron.search import (
    ConstrainedCrossover,
    ConstrainedMutation,
    KnobModel,
    OnePointCrossover,
    RandomMutation,
    anneal,
    epsilon_greedy,
    roulette,
)


# The tiny model: a 2-way split of 8, a 2-way split of 4 and a 3-way choice.
A0, A1 = TileFactor(0, 0), TileFactor(0, 1)
B0, B1 = TileFactor(1, 0), TileFactor(1, 1)
C = Choice(2)
KEYS = (A0, A1, B0, B1, C)


def divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


def tiny_model() -> ConstraintModel:
    return ConstraintModel(
        variables=[
            Variable(A0, domain=divisors(8)),
            Variable(A1, domain=divisors(8)),
            Variable(B0, domain=divisors(4)),
            Variable(B1, domain=divisors(4)),
            Variable(C, domain=(0, 1, 2)),
        ],
        constraints=[
            ProductEquals(term=Monomial(keys=(A0, A1)), value=8, reason="split of 8"),
            ProductEquals(term=Monomial(keys=(B0, B1)), value=4, reason="split of 4"),
        ],
    )


def point(*values: int) -> dict:
    return dict(zip(KEYS, values))


class StubRng:
    """Scripted stand-in for ``numpy.random.Generator``.

    Each method pops its next scripted value; ``integers`` falls back to
    ``low`` and ``random`` to 0.0 when its script runs out.
    """

    def __init__(self, *, choice=(), integers=(), random=()):
        self._choice = list(choice)
        self._integers = list(integers)
        self._random = list(random)
        self.calls: list[str] = []

    def choice(self, a, size=None, replace=True, p=None):  # pylint: disable=unused-argument
        self.calls.append("choice")
        return np.asarray(self._choice.pop(0))

    def integers(self, low, high=None, size=None):  # pylint: disable=unused-argument
        self.calls.append("integers")
        return self._integers.pop(0) if self._integers else (0 if high is None else low)

    def random(self, size=None):
        self.calls.append("random")
        if self._random:
            return np.asarray(self._random.pop(0), dtype=float)
        return 0.0 if size is None else np.zeros(size)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def solver(model):
    return CpSatSolver(model)


# ----------------------------------------------------------------------
# constrained crossover
# ----------------------------------------------------------------------
def test_constrained_crossover_builds_the_query_by_hand(model):
    fake = RecordingSolver(model)
    p1, p2 = point(1, 8, 2, 2, 0), point(8, 1, 4, 1, 2)
    # mutate B0 (index 2); coins < 0.5 take p1; B0's hint is domain[1] = 2
    rng = StubRng(choice=[[2]], random=[[0.1, 0.9, 0.3, 0.7, 0.6]], integers=[1, 12345])
    ConstrainedCrossover(fake, n_mutate=1)([p1, p2], rng)
    assert fake.query["restrict"] == {A0: {1, 8}, A1: {8, 1}, B1: {2, 1}, C: {0, 2}}
    assert fake.query["hint"] == point(1, 1, 2, 1, 2)
    assert fake.query["seed"] == 12345


def test_constrained_crossover_exact_child_when_forced(solver):
    # A0 mutates; A1 in {4} forces A0 = 2; B0 in {2, 4}, B1 in {1, 4} leaves
    # only 4 * 1 = 4; C in {2}.  The child differs from both parents.
    p1, p2 = point(1, 4, 2, 1, 2), point(8, 4, 4, 4, 2)
    child = ConstrainedCrossover(solver)([p1, p2], StubRng(choice=[[0]]))
    assert child == point(2, 4, 4, 1, 2)


def test_constrained_crossover_none_when_infeasible(solver):
    # B0 in {2, 1}, B1 in {1}: no product is 4.
    p1, p2 = point(1, 8, 2, 1, 0), point(8, 1, 1, 1, 0)
    assert ConstrainedCrossover(solver)([p1, p2], StubRng(choice=[[4]])) is None


def test_constrained_crossover_keeps_parent_values(solver, model):
    p1, p2 = point(1, 8, 1, 4, 0), point(4, 2, 4, 1, 1)
    op = ConstrainedCrossover(solver, key_vars=(A0, A1, B0, B1))
    for seed in range(20):
        child = op([p1, p2], StubRng(choice=[[1]], integers=[seed % 4, seed]))
        assert model.is_feasible(child)
        for key in (A0, B0, B1):  # A1 mutates; C is not a key variable
            assert child[key] in {p1[key], p2[key]}


def test_constrained_crossover_children_are_feasible(solver, model):
    rng = np.random.default_rng(0)
    parents = solver.sample(20, rng=rng)
    op = ConstrainedCrossover(solver, n_mutate=1)
    children = []
    for _ in range(200):
        i, j = rng.choice(len(parents), size=2, replace=False)
        children.append(op([parents[i], parents[j]], rng))
    assert all(c is not None and model.is_feasible(c) for c in children)
    assert len({tuple(c.values()) for c in children}) > 10


def test_constrained_crossover_is_reproducible(solver):
    p1, p2 = point(1, 8, 1, 4, 0), point(4, 2, 4, 1, 1)
    op = ConstrainedCrossover(solver)
    first = [op([p1, p2], np.random.default_rng(s)) for s in range(5)]
    again = [op([p1, p2], np.random.default_rng(s)) for s in range(5)]
    assert first == again


def test_constrained_crossover_checks_arguments(solver):
    with pytest.raises(ValueError, match="n_mutate"):
        ConstrainedCrossover(solver, n_mutate=-1)
    with pytest.raises(ValueError, match="key_vars"):
        ConstrainedCrossover(solver, key_vars=(Choice(99),))
    with pytest.raises(ValueError, match="parents"):
        ConstrainedCrossover(solver)([point(1, 8, 1, 4, 0)], np.random.default_rng(0))


# ----------------------------------------------------------------------
# unconstrained operators
# ----------------------------------------------------------------------
def test_one_point_crossover_by_hand():
    p1, p2 = point(1, 8, 1, 4, 0), point(4, 2, 4, 1, 1)
    child = OnePointCrossover(KEYS)([p1, p2], StubRng(integers=[2]))
    assert child == point(1, 8, 4, 1, 1)


def test_one_point_crossover_single_key():
    p1, p2 = {A0: 1}, {A0: 8}
    op = OnePointCrossover([A0])
    assert op([p1, p2], StubRng(integers=[0])) == p1
    assert op([p1, p2], StubRng(integers=[1])) == p2
    with pytest.raises(ValueError, match="keys"):
        OnePointCrossover([])


def test_random_mutation_by_hand(model):
    parent = point(2, 4, 1, 4, 0)
    # A0 and C are drawn; A0's other values are (1, 4, 8), C's are (1, 2)
    rng = StubRng(random=[[0.1, 0.9, 0.9, 0.9, 0.3]], integers=[2, 0])
    child = RandomMutation(model, rate=0.5)([parent], rng)
    assert child == point(8, 4, 1, 4, 1)
    assert parent == point(2, 4, 1, 4, 0)  # the parent is not modified


def test_random_mutation_rate_zero_changes_one_variable(model):
    parent = point(2, 4, 1, 4, 0)
    op = RandomMutation(model, rate=0.0)
    for seed in range(30):
        child = op([parent], np.random.default_rng(seed))
        assert sum(child[k] != parent[k] for k in KEYS) == 1
    with pytest.raises(ValueError, match="rate"):
        RandomMutation(model, rate=1.5)


def test_constrained_mutation_changes_the_chosen_variable(solver, model):
    parent = point(2, 4, 1, 4, 1)
    # variable index 0 (A0), other values (1, 4, 8), pick 8 -> A1 must be 1
    child = ConstrainedMutation(solver)([parent], StubRng(integers=[0, 2, 7]))
    assert child[A0] == 8 and child[A1] == 1
    assert model.is_feasible(child)
    rng = np.random.default_rng(3)
    for _ in range(30):
        child = ConstrainedMutation(solver)([parent], rng)
        assert model.is_feasible(child) and child != parent


# ----------------------------------------------------------------------
# selection
# ----------------------------------------------------------------------
def test_roulette_proportions():
    rng = np.random.default_rng(0)
    drawn = roulette([0.0, 1.0, 3.0, 0.0], 10_000, rng)
    counts = np.bincount(drawn, minlength=4)
    assert counts[0] == 0 and counts[3] == 0
    assert abs(counts[2] / 10_000 - 0.75) < 0.03
    uniform = np.bincount(roulette([0.0, 0.0, 0.0, 0.0], 10_000, rng), minlength=4)
    assert np.all(np.abs(uniform / 10_000 - 0.25) < 0.03)
    with pytest.raises(ValueError, match="fitness"):
        roulette([1.0, -0.5], 3, rng)


def test_epsilon_greedy_greedy_ties_by_index():
    scores = [0.5, 0.9, 0.5, 0.1, 0.9]
    assert epsilon_greedy(scores, 4, epsilon=0.0, rng=np.random.default_rng(0)) == [1, 4, 0, 2]


def test_epsilon_greedy_random_part():
    scores = np.arange(20, dtype=float)
    picked = epsilon_greedy(scores, 8, epsilon=0.5, rng=np.random.default_rng(1))
    assert len(picked) == 8 and len(set(picked)) == 8
    assert picked[:4] == [19, 18, 17, 16]
    assert all(i < 16 for i in picked[4:])
    everything = epsilon_greedy([0.2, 0.1, 0.3], 10, epsilon=0.5, rng=np.random.default_rng(1))
    assert sorted(everything) == [0, 1, 2]
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_greedy(scores, 3, epsilon=1.2, rng=np.random.default_rng(1))


# ----------------------------------------------------------------------
# knob model
# ----------------------------------------------------------------------
def synthetic(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, size=(n, 10)).astype(float)
    y = (x[:, 0] * 2 + (x[:, 3] - 4) ** 2) / 30 + rng.normal(0, 0.01, n)
    return x, np.clip(y, 0.0, 1.0)


def test_knob_model_finds_the_key_features():
    x, y = synthetic(0)
    km = KnobModel(seed=0)
    assert not km.is_fitted
    assert np.all(km.predict(x) == 0.0)
    km.fit(x, y)
    assert km.is_fitted
    imp = km.importance()
    assert imp.shape == (10,) and abs(imp.sum() - 1.0) < 1e-9
    assert set(km.key_indices(0.2, np.random.default_rng(0)).tolist()) == {0, 3}
    x_test, y_test = synthetic(1, 200)
    assert np.corrcoef(km.predict(x_test), y_test)[0, 1] > 0.9


def test_knob_model_is_deterministic_and_handles_constant_y():
    x, y = synthetic(2, 200)
    a, b = KnobModel(seed=5).fit(x, y), KnobModel(seed=5).fit(x, y)
    assert np.array_equal(a.predict(x), b.predict(x))
    flat = KnobModel().fit(x, np.zeros(len(x)))
    assert not flat.is_fitted and np.all(flat.predict(x) == 0.0)
    assert np.allclose(flat.importance(), 0.1)
    assert len(flat.key_indices(0.2, np.random.default_rng(0))) == 2
    with pytest.raises(ValueError, match="n_features"):
        KnobModel().key_indices(0.2, np.random.default_rng(0))


# ----------------------------------------------------------------------
# annealing
# ----------------------------------------------------------------------
def _toy_score(points):
    return np.array([-abs(p["x"] - 7) for p in points], dtype=float)


def _toy_neighbour(p, rng):
    x = p["x"] + (1 if rng.random() < 0.5 else -1)
    return {"x": x} if 0 <= x <= 20 else None


def test_anneal_finds_the_optimum_and_is_deterministic():
    starts = [{"x": 0}, {"x": 20}, {"x": 15}]

    def run(seed):
        return anneal(
            starts,
            score=_toy_score,
            neighbour=_toy_neighbour,
            rng=np.random.default_rng(seed),
            steps=60,
        )

    visited = run(0)
    assert visited[0] == ({"x": 7}, 0.0)
    assert len({tuple(sorted(p.items())) for p, _ in visited}) == len(visited)
    assert [s for _, s in visited] == sorted((s for _, s in visited), reverse=True)
    assert run(0) == visited


def test_anneal_batches_score_calls():
    calls = []

    def score(points):
        calls.append(len(points))
        return _toy_score(points)

    rng = np.random.default_rng(0)
    anneal([{"x": 8}, {"x": 12}], score=score, neighbour=_toy_neighbour, rng=rng, steps=5)
    assert calls == [2] * 6
