"""The constraint model derived from a design space's trace, and replaying its points."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tvm
from helpers import HOST, design_spaces, space_models

from tvm_heron.constraints import ProductAtMost, ProductEquals, ProductIn, TileFactor
from tvm_heron.errors import ReplayRepairedError
from tvm_heron.ops import make_workload
from tvm_heron.space import analyze, postprocess, replay


def brute_force(model):
    keys = model.keys
    domains = [model.variable(k).domain for k in keys]
    return [
        dict(zip(keys, values))
        for values in itertools.product(*domains)
        if model.is_feasible(dict(zip(keys, values)))
    ]


def test_gemm_model_structure():
    _, _, _, spaces = space_models("gemm", (64, 64, 64))
    model = spaces[0].model
    # 4 factors of i, 4 of j/16, 2 of k/4, one unroll choice.
    assert len(model.variables) == 11
    equals = sorted(c.value for c in model.constraints if isinstance(c, ProductEquals))
    assert equals == [4, 16, 64]  # extents of j/16, k/4, i
    reasons = " | ".join(c.reason for c in model.constraints)
    assert "parallel loop" in reasons and "register tile" in reasons and "vectorized" in reasons
    lanes = [c for c in model.constraints if isinstance(c, ProductIn)]
    assert [c.term.coef for c in lanes] == [16]  # the write-back's 16 int32 lanes
    registers = [c for c in model.constraints if "register tile" in c.reason]
    # at most 24 accumulators, at least 4 (latency hiding): innermost i and j tiles
    assert sorted((type(c).__name__, c.limit) for c in registers) == [
        ("ProductAtLeast", 4), ("ProductAtMost", 24)
    ]
    assert all(len(c.term.keys) == 2 for c in registers)


def test_exact_count_matches_hand_derivation_and_brute_force():
    """GEMM M=64, K=16, N=16: j/16 has extent 1 and k/4 extent 4.

    i: 4-way split of 2^6 whose innermost factor i3 (the register tile, j3
    being 1) holds 4 to 24 accumulators, i3 in {4, 8, 16}: the other three
    factors split 2^(6-a) for i3 = 2^a, C(8-a, 2) ways: 15 + 10 + 6 = 31.
    The parallel loop i0 * j0 needs >= 2 iterations (2 cores), which drops
    the splits with i0 = 1 (7-a ways: 5 + 4 + 3 = 12): 19. k: 2-way split of
    4 = 3. Unroll: 4. The single-threaded variant of each space (a small
    GEMM) has no parallel loop, so its i splits are all 31. The space without
    an output cache has the same tiles and constraints.
    """
    _, _, _, spaces = space_models("gemm", (64, 16, 16))
    # (parallel, single-threaded) per write-back level, then without the output cache
    want = [19 * 3 * 4, 31 * 3 * 4] * 3
    assert [space.solver.count() for space in spaces] == want
    for space, count in zip(spaces, want):
        assert len(brute_force(space.model)) == count


def test_model_dump_explains_exclusion():
    _, _, _, spaces = space_models("gemm", (64, 16, 16))
    model = spaces[0].model
    text = model.dump()
    for variable in model.variables:
        assert str(variable.key.short) in text
    point = space_models("gemm", (64, 16, 16))[3][0].solver.solve(seed=3)
    i_keys = [k for k in model.keys if isinstance(k, TileFactor) and k.loop == "i"]
    bad = dict(point)
    bad.update({i_keys[0]: 1, i_keys[1]: 1, i_keys[2]: 1, i_keys[3]: 64})
    explanation = model.explain(bad)
    assert "register tile" in explanation


@pytest.mark.parametrize("shape", [(64, 64, 64), (512, 512, 512), (48, 128, 80)])
@pytest.mark.parametrize("layout", ["packed", "plain"])
def test_every_sampled_point_replays_without_repair_and_postprocesses(shape, layout):
    workload, mod, ctx, spaces = space_models("gemm", shape, layout=layout)
    for space in spaces:
        points = space.solver.sample(25, rng=np.random.default_rng(7))
        assert len(points) == 25
        for point in points:
            assert space.model.is_feasible(point)
            sch = replay(space, mod, point)
            assert space.point_of(sch.trace) == point
            postprocess(sch, ctx.space_generator.postprocs)


def test_replay_rejects_a_point_the_replay_would_repair():
    _, mod, _, spaces = space_models("gemm", (64, 64, 64))
    space = spaces[0]
    point = space.solver.solve(seed=1)
    i_keys = [k for k in space.model.keys if isinstance(k, TileFactor) and k.loop == "i"]
    bad = dict(point)
    bad.update({i_keys[0]: 3, i_keys[1]: 1, i_keys[2]: 1, i_keys[3]: 1})  # 3 does not divide 64
    assert not space.model.is_feasible(bad)
    with pytest.raises(ReplayRepairedError):
        replay(space, mod, bad)


def test_model_of_metaschedule_default_space():
    """The analysis is generic: MetaSchedule's own CPU space gets a model too."""
    from tvm.s_tir import meta_schedule as ms

    workload = make_workload("gemm", (64, 64, 64), "float32")
    mod = tvm.IRModule({"main": workload.func})
    ctx = ms.TuneContext(mod=mod, target=HOST, space_generator="post-order-apply", task_name="m")
    for design_space in ctx.generate_design_space():
        space = analyze(design_space, mod, HOST)
        assert any(isinstance(c, ProductEquals) for c in space.model.constraints)
        for point in space.solver.sample(5, rng=np.random.default_rng(1)):
            sch = replay(space, mod, point)
            assert space.point_of(sch.trace) == point


def test_analysis_without_target_has_only_structural_constraints():
    workload = make_workload("gemm", (64, 64, 64), "int8")
    mod, _, spaces = design_spaces(workload)
    model = analyze(spaces[0], mod, None).model
    assert all(isinstance(c, (ProductEquals, ProductAtMost)) for c in model.constraints)
    assert not any("target" in c.reason for c in model.constraints)


def test_a_trace_tvm_cannot_replay_is_a_clear_heron_error(monkeypatch):
    """MetaSchedule's random compute locations can leave an instruction on an inlined block."""
    from tvm_heron.errors import UnanalyzableSpaceError
    from tvm_heron.space import analysis

    def broken(*_args, **_kwargs):
        raise ValueError("The block no longer exists in the IRModule")

    monkeypatch.setattr(analysis, "interpret", broken)
    workload = make_workload("gemm", (64, 64, 64), "int8")
    space = design_spaces(workload)[0]
    with pytest.raises(UnanalyzableSpaceError, match="block no longer exists"):
        analysis.analyze(space, tvm.IRModule({"main": workload.func}), HOST)


@pytest.mark.parametrize("m, parallel, serial", [(64, [4], [4]), (2, [], [2]), (1, [], [])])
def test_register_tile_keeps_enough_accumulators_or_all_it_can(m, parallel, serial):
    """GEMM M x 16 x 16 (one 16-lane column): the tile is the innermost i factor.

    It must hold 4 accumulators (latency hiding) where i allows, else the
    most the rest of the model allows: with 2 rows, the single-threaded
    spaces take both, the parallel ones none (their parallel loop takes the
    2 rows); a single row leaves nothing to ask. Every space keeps points.
    """
    _, _, _, spaces = space_models("gemm", (m, 16, 16))
    for space in spaces:
        reasons = [c.reason for c in space.model.constraints]
        lower = [c.limit for c in space.model.constraints
                 if "register tile" in c.reason and "at least" in c.reason]
        assert lower == (parallel if any("parallel loop" in r for r in reasons) else serial)
        assert space.solver.count() > 0
