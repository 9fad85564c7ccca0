"""The CGA's search, change by change, with stub models and scripted generators.

Each test isolates one mechanism of issue 16's list: the exploration share
that is really measured, one model across design spaces, engineered
features, the log and rank targets, Heron-style breeding exploration,
min-shifted and rank roulette, the elite bounded by half of what was
measured, the pool across generations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.schedule import Schedule
from tvm.script import tirx as T
from search_stubs import RecordingSolver
from tvm.target import Target

import tvm_heron  # noqa: F401
from tvm_heron.constraints import (
    Choice, ConstraintModel, Monomial, ProductAtMost, ProductEquals, TileFactor, Variable,
)
from tvm_heron.search import (
    ConstrainedCrossover, FeatureMap, Individual, evolve, fitness_targets, roulette, selection_weights,
)
from tvm_heron.strategies import ConstrainedGA

TARGET = Target({"kind": "llvm", "num-cores": 2})


# -- a small task with two design spaces ------------------------------------------------------
@T.prim_func(s_tir=True)
def _matmul(a: T.handle, b: T.handle, c: T.handle) -> None:
    T.func_attr({"global_symbol": "main", "tirx.noalias": True})
    A = T.match_buffer(a, (32, 32), "float32")
    B = T.match_buffer(b, (32, 32), "float32")
    C = T.match_buffer(c, (32, 32), "float32")
    for i, j, k in T.grid(32, 32, 32):
        with T.sblock("matmul"):
            vi, vj, vk = T.axis.remap("SSR", [i, j, k])
            with T.init():
                C[vi, vj] = T.float32(0)
            C[vi, vj] = C[vi, vj] + A[vi, vk] * B[vk, vj]


MATMUL = tvm.IRModule({"main": _matmul})


def _two_spaces(sch: Schedule):
    """The same 4 x 4 x 2 tiling in two loop orders: two design spaces, the same loops."""
    out = []
    for inner_first in (False, True):
        s = sch.copy()
        block = s.get_sblock("matmul")
        i, j, k = s.get_loops(block)
        i0, i1, i2, i3 = s.split(i, s.sample_perfect_tile(i, n=4))
        j0, j1, j2, j3 = s.split(j, s.sample_perfect_tile(j, n=4))
        k0, k1 = s.split(k, s.sample_perfect_tile(k, n=2))
        if inner_first:
            s.reorder(i0, j0, k0, i1, j1, i2, j2, k1, i3, j3)
        else:
            s.reorder(i0, j0, i1, j1, k0, i2, j2, k1, i3, j3)
        out.append(s)
    return out


def _context(strategy):
    return ms.TuneContext(
        mod=MATMUL, target=TARGET,
        space_generator=ms.space_generator.ScheduleFn(sch_fn=_two_spaces, sch_rules=[], postprocs=[],
                                                       mutator_probs={}),
        search_strategy=strategy, task_name="main", rand_state=7, num_threads=1,
    )


def _latency(key) -> float:
    """A made-up latency: the closer i's register tile is to 4 and j's to 8, the faster."""
    values = key[1]
    return 1e-3 * (1 + abs(math.log2(values[3]) - 2) + abs(math.log2(values[7]) - 3) + 0.1 * key[0])


def _start(strategy, trials=64, per_iter=8):
    ctx = _context(strategy)
    inner = strategy._inst  # pylint: disable=protected-access
    strategy.pre_tuning(trials, per_iter, ctx.space_generator.generate_design_space(ctx.mod),
                        ms.database.MemoryDatabase(), ms.cost_model.RandomModel())
    return inner


def _round(strategy, inner):
    batch = strategy.generate_measure_candidates()
    keys = [e.proposal.key for e in inner.emitted[-len(batch):]]
    results = [ms.runner.RunnerResult([_latency(k)], None) for k in keys]
    strategy.notify_runner_results(batch, results)
    return keys


SMALL = {"population_size": 24, "n_select": 12, "generations": 2, "top_k": 8}


# -- 1. the exploration share is measured ----------------------------------------------------------
def _stub_fitness(individuals):
    """A stub model: a distinct score per program (no ties), from its decisions."""
    def score(key):
        code = key[0]
        for value in key[1]:
            code = (code * 1_000_003 + int(value)) % 2_147_483_647
        return code / 2_147_483_647

    return np.asarray([score(ind.key) for ind in individuals])


def test_the_random_share_is_in_the_batch_not_after_it():
    strategy = ConstrainedGA(seed=3, epsilon=0.25, **SMALL)
    inner = _start(strategy)
    inner.fitness = _stub_fitness
    inner.model_guides = lambda: True  # the stub tells programs apart from the first round
    seen = []
    search = inner._search

    def spy(n):
        pool, scores = search(n)
        seen.append((pool, scores))
        return pool, scores

    inner._search = spy
    for _ in range(2):
        before = set(inner.measured)
        keys = _round(strategy, inner)
        pool, scores = seen[-1]
        fresh = {ind.key: s for ind, s in zip(pool, scores) if ind.key not in before}
        top = set(sorted(fresh, key=lambda k: -fresh[k])[:8])
        assert len(keys) == 8 and len(set(fresh.values())) == len(fresh)
        # round(0.25 * 8) = 2 picks at random from outside the 8 best predicted; before, none were measured.
        assert len(set(keys) - top) == 2


# -- 2. one model per task, across its design spaces ------------------------------------------------
@pytest.mark.parametrize("shared", [True, False])
def test_one_model_learns_from_every_space(shared):
    strategy = ConstrainedGA(seed=1, shared_model=shared, **SMALL)
    inner = _start(strategy)
    _round(strategy, inner)
    _round(strategy, inner)
    assert len(inner.spaces) == 2
    assert len(inner.models) == (1 if shared else 2)
    spaces = {key[0] for key in inner.measured}
    assert spaces == {0, 1}
    if shared:
        names = inner.feature_maps[0].names
        # The loops of both spaces share their columns; the space is a feature.
        assert sum(n.startswith("tile:i_0:0/4") or n == "tile:i:0/4" for n in names) == 1
        assert {"space:0", "space:1"} <= set(names)
        assert inner.models[0].is_fitted


# -- 3. features that show products and footprints --------------------------------------------------
I0, I1, K0, K1 = TileFactor(0, 0, loop="i"), TileFactor(0, 1, loop="i"), TileFactor(2, 0, loop="k"), TileFactor(2, 1, loop="k")
U = Choice(4, name="unroll")


def _model(shift: int = 0) -> ConstraintModel:
    i0, i1 = TileFactor(shift, 0, loop="i"), TileFactor(shift, 1, loop="i")
    k0, k1 = TileFactor(shift + 2, 0, loop="k"), TileFactor(shift + 2, 1, loop="k")
    unroll = Choice(shift + 4, name="unroll")
    return ConstraintModel(
        variables=[Variable(i0, domain=(1, 2, 4, 8)), Variable(i1, domain=(1, 2, 4, 8)),
                   Variable(k0, domain=(1, 2, 4)), Variable(k1, domain=(1, 2, 4)),
                   Variable(unroll, domain=(0, 1, 2), candidates=(0, 16, 64))],
        constraints=[
            ProductEquals(term=Monomial(keys=(i0, i1)), value=8, reason="split of i"),
            ProductEquals(term=Monomial(keys=(k0, k1)), value=4, reason="split of k"),
            ProductAtMost(term=Monomial(keys=(i1, k1)), limit=16, reason="target: the register tile of C holds at most 16"),
        ],
    )


def test_feature_map_by_hand():
    fm = FeatureMap([_model(0), _model(1)])
    names = fm.names
    row = dict(zip(names, fm.rows(0, [(2, 4, 4, 1, 2)])[0]))
    assert row["tile:i:0/2"] == 1.0 and row["tile:i:1/2"] == 2.0
    assert row["level:2:0"] == math.log2(2 * 4) and row["level:2:1"] == math.log2(4 * 1)
    assert row["inner:2:0"] == math.log2(8 * 4) and row["inner:2:1"] == 2.0
    assert row["choice:unroll"] == math.log2(65)
    assert row["term:target: the register tile of C holds at most N"] == 2.0  # i1 * k1 = 4
    assert row["space:0"] == 1.0 and math.isnan(row["space:1"])
    # The second space, its instructions shifted, fills the same columns.
    other = dict(zip(names, fm.rows(1, [(2, 4, 4, 1, 2)])[0]))
    assert other["tile:i:1/2"] == 2.0 and other["space:1"] == 1.0 and math.isnan(other["space:0"])
    assert len(names) == len(set(names)) == 12  # 4 tiles, 4 levels/inner, 1 choice, 1 term, 2 spaces
    # A column's importance is split over the variables it is made of.
    importance = np.zeros(len(names))
    importance[names.index("term:target: the register tile of C holds at most N")] = 1.0
    assert fm.variable_importance(0, importance).tolist() == [0.0, 0.5, 0.0, 0.5, 0.0]


def test_raw_features_are_the_knob_vector_per_space():
    fm = FeatureMap([_model(0), _model(1)], engineered=False)
    row = fm.rows(1, [(2, 4, 4, 1, 2)])[0]
    assert dict(zip(fm.names, row))["raw:1:4"] == 2.0 and np.isnan(row[fm.names.index("raw:0:0")])


# -- 4. a log or rank target -------------------------------------------------------------------------
def test_targets_by_hand():
    latencies = [1.0, 2.0, None, 4.0]
    assert fitness_targets(latencies, "ratio").tolist() == [1.0, 0.5, 0.0, 0.25]
    assert fitness_targets(latencies, "log").tolist() == [0.0, -1.0, -3.0, -2.0]
    assert fitness_targets(latencies, "rank").tolist() == pytest.approx([1.0, 2 / 3, 0.0, 1 / 3])
    assert fitness_targets([None, None], "log").tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="kind"):
        fitness_targets(latencies, "square")


# -- 5. Heron-style exploration in breeding ---------------------------------------------------------
class _StubRng:
    def __init__(self, *, choice=(), integers=(), random=()):
        self._choice, self._integers, self._random = list(choice), list(integers), list(random)

    def choice(self, a, size=None, replace=True, p=None):  # pylint: disable=unused-argument
        self.p = p
        return np.asarray(self._choice.pop(0))

    def integers(self, low, high=None, size=None):  # pylint: disable=unused-argument
        return self._integers.pop(0) if self._integers else 0

    def random(self, size=None):
        value = self._random.pop(0) if self._random else (0.0 if size is None else np.zeros(size))
        return np.asarray(value, dtype=float) if size is not None else float(value)


def test_random_key_subset_and_random_hints_by_hand():
    model = _model(0)
    solver = RecordingSolver(model)
    p1 = dict(zip(model.keys, (1, 8, 4, 1, 0)))
    p2 = dict(zip(model.keys, (8, 1, 1, 4, 2)))
    op = ConstrainedCrossover(solver, key_vars=(I0, I1, K0, K1), n_mutate=1, key_share=0.5, random_hints=0.4)
    rng = _StubRng(
        choice=[[0]],                      # I0 mutates
        random=[[0.2, 0.7, 0.1],           # of I1, K0, K1: I1 and K1 are held (< 0.5)
                [0.1, 0.9, 0.1, 0.9, 0.1], # coins: I0 p1, I1 p2, K0 p1, K1 p2, U p1
                0.3],                      # < 0.4: the free variables get random hints
        integers=[2, 1, 3, 777],           # K0 -> domain[2] = 4, U -> domain[1] = 1, I0 -> 8, seed
    )
    op([p1, p2], rng)
    assert solver.query["restrict"] == {I1: {8, 1}, K1: {1, 4}}
    assert solver.query["hint"] == {I0: 8, I1: 1, K0: 4, K1: 4, U: 1}
    assert solver.query["seed"] == 777
    # Defaults keep Heron's paper behaviour and its draws: every key held, parents' hints.
    plain = ConstrainedCrossover(solver, key_vars=(I0, I1, K0, K1))
    plain([p1, p2], _StubRng(choice=[[0]], random=[[0.9] * 5], integers=[0, 5]))
    assert set(solver.query["restrict"]) == {I1, K0, K1}
    with pytest.raises(ValueError, match="key_share"):
        ConstrainedCrossover(solver, key_share=0.0)


# -- 6. min-shifted and rank roulette ---------------------------------------------------------------
def test_min_shifted_and_rank_roulette_by_hand():
    fitness = [0.3, 0.5, 0.4]
    assert selection_weights(fitness, "proportional").tolist() == fitness
    assert selection_weights(fitness, "min-shifted").tolist() == pytest.approx([0.0, 0.2, 0.1])
    assert selection_weights([-2.0, 0.0, -1.0, 0.0], "rank").tolist() == [1.0, 3.5, 2.0, 3.5]
    rng = _StubRng(choice=[[1, 1, 2]])
    assert roulette(fitness, 3, rng, selection="min-shifted").tolist() == [1, 1, 2]
    assert rng.p == pytest.approx([0.0, 2 / 3, 1 / 3])
    with pytest.raises(ValueError, match=">= 0"):
        roulette([-1.0, 0.0], 2, np.random.default_rng(0))  # a log target needs a shifted wheel
    with pytest.raises(ValueError, match="proportional"):
        ConstrainedGA(selection="proportional", target="log")


# -- 7. an elite of at most half of what was measured -------------------------------------------------
def test_elite_is_at_most_half_of_what_was_measured():
    strategy = ConstrainedGA(seed=2, top_k=32, **{k: v for k, v in SMALL.items() if k != "top_k"})
    inner = _start(strategy)
    keys = _round(strategy, inner)
    elite = inner.elite()
    assert len(inner.measured) == 8 and len(elite) == 4
    assert {e.key for e in elite} == set(sorted(keys, key=_latency)[:4])
    heron = ConstrainedGA(seed=2, top_k=32, elite_share=1.0, **{k: v for k, v in SMALL.items() if k != "top_k"})
    inner = _start(heron)
    _round(heron, inner)
    assert len(inner.elite()) == 8  # Heron's: every measured program


# -- 8. the pool across generations -----------------------------------------------------------------
def test_pool_keeps_a_good_child_that_selection_dropped():
    a, b, c, d = (Individual(0, {"x": v}, (0, (v,))) for v in range(4))
    fitness = {a.key: 1.0, b.key: 1.0, c.key: 5.0, d.key: 0.0}
    children = iter([c, d])
    # Each generation selects only ``a`` (index 0), then breeds one child: c, then d.
    rng = _StubRng(choice=[[0, 0], [0, 0]], integers=[0, 0, 0, 0])
    pool = {}
    final, scores = evolve(
        [a, b], fitness=lambda inds: np.asarray([fitness[i.key] for i in inds]),
        breed=lambda first, second, _rng: next(children), rng=rng,
        generations=2, n_select=2, size=2, pool=pool,
    )
    assert [i.key for i in final] == [a.key, d.key] and scores.tolist() == [1.0, 0.0]
    assert pool[c.key] == (c, 5.0) and set(pool) == {a.key, b.key, c.key, d.key}


def test_the_cga_measures_from_every_generation():
    strategy = ConstrainedGA(seed=5, **SMALL)
    inner = _start(strategy)
    _round(strategy, inner)
    pool, scores = inner._search(8)
    assert len(pool) == len(scores) > SMALL["population_size"]  # more than the last generation
    last = ConstrainedGA(seed=5, pool="last", **SMALL)
    inner = _start(last)
    _round(last, inner)
    pool, _ = inner._search(8)
    assert len(pool) <= SMALL["population_size"]


# -- 9. uncertainty-aware picks: a bootstrap ensemble -------------------------------------------------
def test_bootstrap_ensemble_is_seeded_and_spreads_where_data_is_thin():
    from tvm_heron.search import KnobEnsemble

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(60, 2))
    y = x[:, 0] ** 2
    a, b = KnobEnsemble(4, seed=3, floor=None).fit(x, y), KnobEnsemble(4, seed=3, floor=None).fit(x, y)
    probe = np.asarray([[0.5, 0.5], [5.0, 0.5]])
    mean, std = a.predict_with_std(probe)
    assert np.array_equal(mean, b.predict(probe)) and np.all(std >= 0) and std.max() > 0
    assert a.importance().argmax() == 0
    with pytest.raises(ValueError, match="size"):
        KnobEnsemble(1)


def test_ucb_scores_are_mean_plus_spread():
    strategy = ConstrainedGA(seed=4, ensemble=3, ucb=2.0, **SMALL)
    inner = _start(strategy)
    _round(strategy, inner)
    _round(strategy, inner)
    individuals = inner.random_individuals(6)
    model = inner.models[0]
    rows = np.vstack([inner.features(i.space, [i.key[1]]) for i in individuals])
    mean, std = model.predict_with_std(rows)
    assert np.allclose(inner.fitness(individuals), mean + 2.0 * std)
