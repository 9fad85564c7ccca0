"""heron-cga, heron-ga and heron-sa driven as MetaSchedule drives them (no hardware).

In the style of TVM's own strategy tests: pre_tuning -> generate_measure_candidates
-> notify_runner_results -> post_tuning with fake runner results, an in-memory
database and a random cost model.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import context, drive, fake_result, hashes, isa_target
from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm_ffi import structural_hash

from tvm_heron import isa
from tvm_heron.strategies import ConstrainedGA, SimulatedAnnealing, UnconstrainedGA

SMALL = {"population_size": 40, "top_k": 8}
FACTORIES = {
    "heron-cga": lambda seed: ConstrainedGA(seed=seed, n_select=20, generations=2, **SMALL),
    "heron-ga": lambda seed: UnconstrainedGA(seed=seed, n_select=20, generations=2, **SMALL),
    "heron-sa": lambda seed: SimulatedAnnealing(seed=seed, n_chains=6, steps=8, **SMALL),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_budget_batches_no_duplicates_all_feasible(name):
    strategy = FACTORIES[name](1)
    batches = drive(context(strategy), max_trials=40, per_iter=16)
    assert [len(b) for b in batches] == [16, 16, 8]
    found = hashes(batches)
    assert len(set(found)) == len(found) == 40
    inner = strategy._inst  # pylint: disable=protected-access
    for emitted in inner.emitted:
        space = inner.spaces[emitted.proposal.space]
        assert space.model.is_feasible(emitted.proposal.point)
    # Failed programs are recorded as failed and the search went on.
    failed = sum(fake_result(c).error_msg is not None for batch in batches for c in batch)
    assert list(inner.measured.values()).count(None) == failed
    assert len(inner.rounds) == 3 and inner.rounds[-1]["measured"] == 8


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_same_seed_same_candidates(name):
    first = hashes(drive(context(FACTORIES[name](3)), max_trials=24, per_iter=12))
    again = hashes(drive(context(FACTORIES[name](3)), max_trials=24, per_iter=12))
    assert first == again


def test_names_resolve_after_import():
    """Each name builds its own strategy class; MetaSchedule's names and errors are untouched."""
    create = ms.search_strategy.SearchStrategy.create
    for name, factory in FACTORIES.items():
        assert type(create(name)) is type(factory(0))
        assert create(name, seed=9).options.seed == 9
    assert isinstance(create("evolutionary"), ms.search_strategy.EvolutionarySearch)
    with pytest.raises(ValueError, match="heron-cgb"):
        create("heron-cgb")


def test_warm_start_from_database():
    """A second run on the same database learns from the first run's records and skips them."""
    database = ms.database.MemoryDatabase()
    first = hashes(drive(context(FACTORIES["heron-cga"](1)), max_trials=24, per_iter=12, database=database))
    strategy = FACTORIES["heron-cga"](2)
    second = hashes(drive(context(strategy), max_trials=24, per_iter=12, database=database))
    assert not set(first) & set(second)
    inner = strategy._inst  # pylint: disable=protected-access
    assert len(inner.measured) == 48  # 24 from the database + 24 of its own
    assert inner.models[0].is_fitted or inner.models[1].is_fitted


def test_clone_is_fresh_with_same_arguments():
    strategy = ConstrainedGA(seed=4, population_size=50, n_select=10, key_ratio=0.5)
    clone = strategy.clone()
    assert clone is not strategy
    batches = drive(context(clone), max_trials=8, per_iter=8)
    assert len(hashes(batches)) == 8


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_first_round_samples_at_random_then_the_model_guides(name, monkeypatch):
    """No model has learnt anything before the first round: it is constrained random samples, with
    no generations or chains run on equal scores; once the model is fitted every round searches."""
    strategy = FACTORIES[name](2)
    inner_class = type(strategy._inst)  # pylint: disable=protected-access
    searched = []
    original = inner_class._search  # pylint: disable=protected-access

    def counting(self, n):
        searched.append(self.model_guides())
        return original(self, n)

    monkeypatch.setattr(inner_class, "_search", counting)
    batches = drive(context(strategy), max_trials=36, per_iter=12)
    assert [len(b) for b in batches] == [12, 12, 12]
    assert searched == [True, True]  # rounds 2 and 3 only, each with a fitted model


@pytest.mark.parametrize(
    "factory, name",
    [
        (lambda: ConstrainedGA(population_size=1), "population_size"),
        (lambda: ConstrainedGA(n_select=0), "n_select"),
        (lambda: ConstrainedGA(population_size=50, n_select=60), "n_select"),
        (lambda: ConstrainedGA(generations=-1), "generations"),
        (lambda: ConstrainedGA(key_ratio=0.0), "key_ratio"),
        (lambda: ConstrainedGA(epsilon=1.5), "epsilon"),
        (lambda: ConstrainedGA(top_k=-1), "top_k"),
        (lambda: ConstrainedGA(fitness="magic"), "fitness"),
        (lambda: ConstrainedGA(seed=-3), "seed"),
        (lambda: UnconstrainedGA(mutation_rate=2.0), "mutation_rate"),
        (lambda: SimulatedAnnealing(n_chains=0), "n_chains"),
        (lambda: SimulatedAnnealing(steps=0), "steps"),
    ],
)
def test_arguments_are_validated(factory, name):
    with pytest.raises(ValueError, match=name):
        factory()


def test_small_space_is_measured_whole_then_ends():
    """GEMM 16^3 for AVX-512 VNNI (built, not run): its 6 spaces hold 48 + 120 points each
    (parallel, single-threaded) x 3, every point a different program: all 504 once, then the end."""
    strategy = FACTORIES["heron-cga"](5)
    target = isa_target(isa.by_name("avx512_vnni"))
    ctx = context(strategy, shape=(16, 16, 16), target=target)
    batches = drive(ctx, max_trials=5000, per_iter=64)
    found = hashes(batches)
    assert len(found) == len(set(found)) == 504
    assert [len(b) for b in batches] == [64] * 7 + [56]


@derived_object
class _ScoredByHash(ms.cost_model.PyCostModel):
    """A stub cost model with a known order: a program's score is its structural hash mod 997."""

    def __init__(self):
        self.asked = []  # one {hash: score} per predict call

    def load(self, path):
        pass

    def save(self, path):
        pass

    def update(self, context, candidates, results):
        pass

    def predict(self, context, candidates):
        scores = {structural_hash(c.sch.mod): float(structural_hash(c.sch.mod) % 997) for c in candidates}
        self.asked.append(scores)
        return np.asarray([scores[structural_hash(c.sch.mod)] for c in candidates])


def test_tvm_fitness_model_option():
    """With ``fitness="tvm"`` and no random share, each batch is the cost model's best-scored new programs."""
    strategy = ConstrainedGA(seed=1, population_size=20, n_select=10, generations=1, fitness="tvm", epsilon=0.0)
    ctx = context(strategy)
    model = _ScoredByHash()
    strategy.pre_tuning(24, 8, ctx.space_generator.generate_design_space(ctx.mod), ms.database.MemoryDatabase(), model)
    measured: set[int] = set()
    rounds = 0
    while (batch := strategy.generate_measure_candidates()) is not None:
        # the pool the batch is picked from: every program the round scored (all generations)
        asked = {h: s for question in model.asked for h, s in question.items() if h not in measured}
        model.asked.clear()
        picked = [structural_hash(c.sch.mod) for c in batch]
        assert len(picked) == 8 and asked, "the cost model scored this round's pool"
        best = sorted(asked.values(), reverse=True)[: len(picked)]
        assert sorted((asked[h] for h in picked), reverse=True) == best
        measured.update(picked)
        strategy.notify_runner_results(batch, [fake_result(c) for c in batch])
        rounds += 1
    strategy.post_tuning()
    assert rounds == 3


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_point_of_a_measured_program_is_learnt_and_never_proposed_again(name, monkeypatch):
    """Two points can make one program (MetaSchedule's dense 1x512x512 space: 4410 points, 2436
    programs). A point rejected because its program was measured is learnt at that program's
    latency and not proposed again; before, the next rounds proposed it again and again, spending
    each round's patience on programs already measured. Here programs are made to collide: only
    the structural hash modulo 32 tells them apart."""
    from tvm_heron.space import postprocess, replay
    from tvm_heron.strategies import base

    real = base.structural_hash
    monkeypatch.setattr(base, "structural_hash", lambda mod: real(mod) % 32)

    def result(cand):
        return ms.runner.RunnerResult([1e-4 * (1 + real(cand.sch.mod) % 32)], None)

    strategy = FACTORIES[name](4)
    inner = strategy._inst  # pylint: disable=protected-access
    proposed = []
    original = type(inner)._materialize  # pylint: disable=protected-access

    def spy(self, proposal):
        proposed.append(proposal)
        return original(self, proposal)

    monkeypatch.setattr(type(inner), "_materialize", spy)
    ctx = context(strategy)
    drive(ctx, max_trials=24, per_iter=8, result=result)
    keys = [p.key for p in proposed]
    assert len(keys) == len(set(keys)), "a point was proposed twice"
    latency = {e.program: 1e-4 * (1 + e.program) for e in inner.emitted}
    emitted = {e.proposal.key for e in inner.emitted}
    duplicates = 0
    for proposal in proposed:
        if proposal.key in emitted:
            continue
        space = inner.spaces[proposal.space]
        sch = postprocess(replay(space, ctx.mod, proposal.point), ctx.space_generator.postprocs)
        program = real(sch.mod) % 32
        if program in latency:
            duplicates += 1
            assert inner.duplicates[proposal.key] == pytest.approx(latency[program])
    assert duplicates > 0
    assert not set(inner.duplicates) & set(inner.measured)
