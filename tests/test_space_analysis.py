"""The constraint model derived from a design space's trace, and replaying its points."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tvm
from helpers import (
    ALL_ISAS, DEFAULT_ISAS, HOST, HOST_ISA, ISA_IDS, design_spaces, isa_target, slow_unless, space_models,
)
from space_counts import gemm_space_count, settled_lower_bound

from tvm_heron import isa
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


@pytest.mark.parametrize("description", ALL_ISAS, ids=ISA_IDS)
def test_gemm_model_structure(description):
    """Built for each instruction set's example CPU (no run needed): limits from its description."""
    intrinsic = description.intrinsics_for("int8")[0]
    lanes = intrinsic.lanes
    _, _, _, spaces = space_models("gemm", (64, 64, 64), target=isa_target(description))
    model = spaces[0].model
    # 4 factors of i, 4 of j/lanes, 2 of k/4, one unroll choice.
    assert len(model.variables) == 11
    equals = sorted(c.value for c in model.constraints if isinstance(c, ProductEquals))
    assert equals == sorted([64, 64 // lanes, 16])  # extents of i, j/lanes, k/4
    reasons = " | ".join(c.reason for c in model.constraints)
    assert "parallel loop" in reasons and "register tile" in reasons and "vectorized" in reasons
    vector = [c for c in model.constraints if isinstance(c, ProductIn)]
    assert [c.term.coef for c in vector] == [lanes]  # the write-back's int32 lanes
    registers = [c for c in model.constraints if "register tile" in c.reason]
    most = description.max_accumulators(intrinsic)
    least = settled_lower_bound(64, 64 // lanes, most, description.min_accumulators(intrinsic), True)
    want = [("ProductAtMost", most)] + ([("ProductAtLeast", least)] if least else [])
    assert sorted((type(c).__name__, c.limit) for c in registers) == sorted(want)
    assert all(len(c.term.keys) == 2 for c in registers)  # innermost i and j tiles


def test_register_budgets_of_the_descriptions():
    """16 ymm registers on AVX2 (an accumulator each), 32 zmm on AVX-512, 32 NEON registers."""
    budgets = {d.name: {i.name: (d.max_accumulators(i), d.min_accumulators(i)) for i in d.intrinsics}
               for d in ALL_ISAS}
    assert budgets["avx512_vnni"]["heron_dot_16x4_u8s8s32_vnni"] == (24, 4)
    assert budgets["avx2"]["heron_fma_8x4_f32_avx2"] == (12, 8)
    assert budgets["avx2"]["heron_dot_8x4_u8s8s32_avx2"] == (10, 2)
    assert budgets["avx_vnni"]["heron_dot_8x4_u8s8s32_avxvnni"] == (12, 10)
    assert budgets["neon_i8mm"]["heron_dot_4x4_u8s8s32_usdot"] == (24, 6)


def test_exact_count_matches_hand_derivation_and_brute_force():
    """AVX-512 VNNI, GEMM M=64, K=16, N=16: j/16 has extent 1 and k/4 extent 4.

    i: 4-way split of 2^6 whose innermost factor i3 (the register tile, j3
    being 1) holds 4 to 24 accumulators, i3 in {4, 8, 16}: the other three
    factors split 2^(6-a) for i3 = 2^a, C(8-a, 2) ways: 15 + 10 + 6 = 31.
    The parallel loop i0 * j0 needs >= 2 iterations (2 cores), which drops
    the splits with i0 = 1 (7-a ways: 5 + 4 + 3 = 12): 19. k: 2-way split of
    4 = 3. Unroll: 4. The single-threaded variant of each space (a small
    GEMM) has no parallel loop, so its i splits are all 31. The space without
    an output cache has the same tiles and constraints.
    """
    target = isa_target(isa.by_name("avx512_vnni"))
    _, _, _, spaces = space_models("gemm", (64, 16, 16), target=target)
    # (parallel, single-threaded) per write-back level, then without the output cache
    want = [19 * 3 * 4, 31 * 3 * 4] * 3
    assert [space.solver.count() for space in spaces] == want
    assert [gemm_space_count(64, 16, 16, 16, 24, 4, parallel) for parallel in (True, False)] == want[:2]
    # brute force on the first write-back level's two spaces (the solver's counts of all six are above)
    for space, count in zip(spaces[:2], want):
        assert len(brute_force(space.model)) == count


@pytest.mark.parametrize(
    "description, dtype",
    slow_unless([(d, t) for d in ALL_ISAS for t in ("int8", "float32")],
                # NEON's count: -m slow (its register tile stays in the default run)
                lambda c: c[0].name == HOST_ISA.name
                or (c[0].name in DEFAULT_ISAS and c[1] == "int8" and c[0].arch == "x86_64")),
    ids=[f"{t}-{d.name}" for d in ALL_ISAS for t in ("int8", "float32")],
)
def test_exact_count_of_each_description(description, dtype):
    """GEMM 64 x 16 x 16 in each description's space: the count derived from the problem."""
    intrinsic = description.intrinsics_for(dtype)[0]
    _, _, _, spaces = space_models("gemm", (64, 16, 16), dtype, target=isa_target(description))
    most, need = description.max_accumulators(intrinsic), description.min_accumulators(intrinsic)
    want = [gemm_space_count(64, 16, 16, intrinsic.lanes, most, need, parallel)
            for parallel in (True, False)] * 3
    # CP-SAT's enumeration against the count derived from the problem (brute force over
    # the model's domains is checked for AVX-512 VNNI above; here it would take minutes).
    assert [space.solver.count() for space in spaces] == want


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


@pytest.mark.parametrize(
    "shape, layout",
    slow_unless([(s, lay) for lay in ("packed", "plain") for s in ((64, 64, 64), (512, 512, 512), (48, 128, 80))],
                lambda c: c in (((64, 64, 64), "plain"), ((48, 128, 80), "packed"))),
)
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


def test_the_interpreter_tables_name_instruction_kinds_tvm_registers():
    """A misspelt kind in a table would never match; TVM knows every name in them."""
    from tvm.s_tir.schedule import InstructionKind

    from tvm_heron.space import handlers

    assert not set(handlers.HANDLERS) & handlers.PASSIVE_KINDS
    for name in [*handlers.HANDLERS, *handlers.PASSIVE_KINDS]:
        assert InstructionKind.get(name).name == name


def test_an_instruction_kind_without_a_handler_is_an_error(monkeypatch):
    from tvm_heron.errors import UnanalyzableSpaceError
    from tvm_heron.space import handlers

    monkeypatch.setattr(handlers, "PASSIVE_KINDS", handlers.PASSIVE_KINDS - {"Reorder"})
    workload = make_workload("gemm", (64, 64, 64), "int8")
    mod, _, spaces = design_spaces(workload)
    with pytest.raises(UnanalyzableSpaceError, match=r"#\d+ Reorder: the analysis has no handler"):
        analyze(spaces[0], mod, HOST)


@pytest.mark.parametrize(
    "description, m",
    slow_unless([(d, m) for d in ALL_ISAS for m in (64, 2, 1)],
                lambda c: c[0].name == HOST_ISA.name or (c[0].name in DEFAULT_ISAS and c[1] == 64)),
    ids=[f"{m}-{d.name}" for d in ALL_ISAS for m in (64, 2, 1)],
)
def test_register_tile_keeps_enough_accumulators_or_all_it_can(description, m):
    """GEMM M x 16 x 16: the tile is the innermost i x j factor (j: 16 / lanes).

    It must hold the description's latency bound of accumulators where the
    shape allows, else the most the rest of the model allows: with 2 rows
    and one 16-lane column, the single-threaded spaces take both rows, the
    parallel ones none (their parallel loop takes the 2 rows); a single row
    leaves nothing to ask. Every space keeps points.
    """
    intrinsic = description.intrinsics_for("int8")[0]
    most, need = description.max_accumulators(intrinsic), description.min_accumulators(intrinsic)
    _, _, _, spaces = space_models("gemm", (m, 16, 16), target=isa_target(description))
    for space in spaces:
        reasons = [c.reason for c in space.model.constraints]
        lower = [c.limit for c in space.model.constraints
                 if "register tile" in c.reason and "at least" in c.reason]
        parallel = any("parallel loop" in r for r in reasons)
        least = settled_lower_bound(m, 16 // intrinsic.lanes, most, need, parallel)
        assert lower == ([least] if least else [])
        assert space.solver.solve() is not None
    if description.name == "avx512_vnni":  # the hand-derived case
        assert settled_lower_bound(2, 1, most, need, True) is None
        assert settled_lower_bound(2, 1, most, need, False) == 2
