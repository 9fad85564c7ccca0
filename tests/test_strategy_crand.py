"""heron-crand driven as MetaSchedule drives it, with fake measurements (no hardware)."""

from __future__ import annotations

import pytest
import tvm
from helpers import HOST
from tvm.s_tir import meta_schedule as ms
from tvm_ffi import structural_hash

import tvm_heron
from tvm_heron.ops import make_workload
from tvm_heron.space import heron_space
from tvm_heron.strategies import ConstrainedRandom


def _context(strategy, shape=(64, 64, 64)):
    workload = make_workload("gemm", shape, "int8")
    ctx = ms.TuneContext(
        mod=tvm.IRModule({"main": workload.func}),
        target=HOST,
        space_generator=heron_space(HOST),
        search_strategy=strategy,
        task_name="main",
        rand_state=7,
        num_threads=2,
    )
    return ctx


def _drive(ctx, *, max_trials, per_iter, database=None):
    """Run the strategy's whole protocol; returns the batches of candidates."""
    database = database if database is not None else ms.database.MemoryDatabase()
    strategy = ctx.search_strategy
    spaces = ctx.space_generator.generate_design_space(ctx.mod)
    strategy.pre_tuning(max_trials, per_iter, spaces, database, ms.cost_model.RandomModel())
    batches = []
    while (candidates := strategy.generate_measure_candidates()) is not None:
        batches.append(candidates)
        results = [ms.runner.RunnerResult([1e-3 * (i + 1)], None) for i in range(len(candidates))]
        workload = database.commit_workload(ctx.mod)
        for cand, res in zip(candidates, results):
            database.commit_tuning_record(
                ms.database.TuningRecord(cand.sch.trace, workload, res.run_secs, HOST, cand.args_info)
            )
        strategy.notify_runner_results(candidates, results)
    strategy.post_tuning()
    return batches


def _hashes(batches):
    return [structural_hash(c.sch.mod) for batch in batches for c in batch]


def test_string_name_resolves_after_import():
    strategy = ms.search_strategy.SearchStrategy.create("heron-crand", seed=3)
    assert isinstance(strategy, ms.search_strategy.SearchStrategy)
    assert "heron-crand" in tvm_heron.strategies.strategy_names()
    with pytest.raises(ValueError):
        ms.search_strategy.SearchStrategy.create("no-such-strategy")


def test_batches_budget_and_no_duplicates():
    ctx = _context("heron-crand")
    batches = _drive(ctx, max_trials=50, per_iter=16)
    assert [len(b) for b in batches] == [16, 16, 16, 2]  # the budget, exactly
    hashes = _hashes(batches)
    assert len(set(hashes)) == len(hashes) == 50


def test_every_candidate_satisfies_its_constraint_model():
    strategy = ConstrainedRandom(seed=2)
    _drive(_context(strategy), max_trials=32, per_iter=16)
    inner = strategy._inst  # pylint: disable=protected-access
    assert len(inner.emitted) == 32
    for emitted in inner.emitted:
        space = inner.spaces[emitted.proposal.space]
        assert space.model.is_feasible(emitted.proposal.point)
        assert space.point_of(emitted.sch.trace) == emitted.proposal.point


def test_same_seed_same_candidates():
    first = _hashes(_drive(_context(ConstrainedRandom(seed=5)), max_trials=20, per_iter=10))
    again = _hashes(_drive(_context(ConstrainedRandom(seed=5)), max_trials=20, per_iter=10))
    other = _hashes(_drive(_context(ConstrainedRandom(seed=6)), max_trials=20, per_iter=10))
    assert first == again
    assert first != other


def test_database_records_are_not_measured_again():
    database = ms.database.MemoryDatabase()
    first = _hashes(_drive(_context(ConstrainedRandom(seed=1)), max_trials=24, per_iter=8, database=database))
    second = _hashes(_drive(_context(ConstrainedRandom(seed=1)), max_trials=24, per_iter=8, database=database))
    assert len(second) == 24
    assert not set(first) & set(second)


def test_small_space_ends_cleanly_when_exhausted():
    """GEMM 16x16x16: few programs exist; asking for more ends the search instead of hanging."""
    ctx = _context("heron-crand", shape=(16, 16, 16))
    batches = _drive(ctx, max_trials=10_000, per_iter=64)
    hashes = _hashes(batches)
    assert len(hashes) == len(set(hashes))
    assert len(hashes) < 10_000


@pytest.mark.parametrize("kwargs, name", [({"seed": -1}, "seed"), ({"oversample": 0}, "oversample")])
def test_arguments_are_validated(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ConstrainedRandom(**kwargs)
