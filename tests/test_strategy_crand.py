"""heron-crand driven as MetaSchedule drives it, with fake measurements (no hardware)."""

from __future__ import annotations

import pytest
from helpers import context, drive, hashes
from tvm.s_tir import meta_schedule as ms

import tvm_heron
from tvm_heron.strategies import ConstrainedRandom


def test_string_name_resolves_after_import():
    strategy = ms.search_strategy.SearchStrategy.create("heron-crand", seed=3)
    assert isinstance(strategy, ms.search_strategy.SearchStrategy)
    assert "heron-crand" in tvm_heron.strategies.strategy_names()
    with pytest.raises(ValueError):
        ms.search_strategy.SearchStrategy.create("no-such-strategy")


def test_batches_budget_and_no_duplicates():
    ctx = context("heron-crand")
    batches = drive(ctx, max_trials=50, per_iter=16)
    assert [len(b) for b in batches] == [16, 16, 16, 2]  # the budget, exactly
    found = hashes(batches)
    assert len(set(found)) == len(found) == 50


def test_every_candidate_satisfies_its_constraint_model():
    strategy = ConstrainedRandom(seed=2)
    drive(context(strategy), max_trials=32, per_iter=16)
    inner = strategy._inst  # pylint: disable=protected-access
    assert len(inner.emitted) == 32
    for emitted in inner.emitted:
        space = inner.spaces[emitted.proposal.space]
        assert space.model.is_feasible(emitted.proposal.point)
        assert space.point_of(emitted.sch.trace) == emitted.proposal.point


def test_same_seed_same_candidates():
    first = hashes(drive(context(ConstrainedRandom(seed=5)), max_trials=20, per_iter=10))
    again = hashes(drive(context(ConstrainedRandom(seed=5)), max_trials=20, per_iter=10))
    other = hashes(drive(context(ConstrainedRandom(seed=6)), max_trials=20, per_iter=10))
    assert first == again
    assert first != other


def test_database_records_are_not_measured_again():
    database = ms.database.MemoryDatabase()
    first = hashes(drive(context(ConstrainedRandom(seed=1)), max_trials=24, per_iter=8, database=database))
    second = hashes(drive(context(ConstrainedRandom(seed=1)), max_trials=24, per_iter=8, database=database))
    assert len(second) == 24
    assert not set(first) & set(second)


def test_small_space_ends_cleanly_when_exhausted():
    """GEMM 16x16x16: few programs exist; asking for more ends the search instead of hanging."""
    ctx = context("heron-crand", shape=(16, 16, 16))
    batches = drive(ctx, max_trials=10_000, per_iter=64)
    found = hashes(batches)
    assert len(found) == len(set(found)) < 10_000


@pytest.mark.parametrize("kwargs, name", [({"seed": -1}, "seed"), ({"oversample": 0}, "oversample")])
def test_arguments_are_validated(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ConstrainedRandom(**kwargs)
