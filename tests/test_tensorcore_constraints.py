"""GPU constraints of the TensorCore space, checked against the programs they describe.

* Every solver point of a GEMM space respects the target's limits as measured
  on the generated CUDA source: its static shared memory is at most the
  model's bound (storage-align padding included) and at most the target's
  limit, and its threads per block are exactly what the model predicts.
* On a tiny space, the model accepts exactly the points that MetaSchedule's
  GPU code verifier accepts (brute force over every tiling).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tensorcore_helpers import A100, kernel_resources, space_models
from tvm.target import Target

from tvm_heron.bench.cuda_build import cuda_source
from tvm_heron.constraints import Choice, ProductEquals, SumAtMost
from tvm_heron.errors import HeronError
from tvm_heron.ops import make_workload
from tvm_heron.rules.gpu_fallback import GpuFallbackRule
from tvm_heron.rules.tensorcore import TensorCoreRule
from tvm_heron.space import heron_space, postprocess, replay
from tvm_heron.space.generator import heron_postprocs


def _threads_term(model):
    return next(c for c in model.constraints if "threads per block" in c.reason).term


def test_solver_points_respect_measured_limits():
    workload = make_workload("gemm", (512, 512, 256), "float16")
    mod, ctx, spaces = space_models(workload)
    rng = np.random.default_rng(2)
    for space in spaces:
        model = space.model
        (shared,) = [c for c in model.constraints if isinstance(c, SumAtMost)]
        assert shared.limit == 49152
        for point in space.solver.sample(3, rng=rng):
            sch = postprocess(replay(space, mod, point), ctx.space_generator.postprocs)
            measured_shared, threads = kernel_resources(cuda_source(sch.mod, A100))
            bound = sum(term.value(point) for term in shared.terms)
            assert 0 < measured_shared <= bound <= 49152
            assert threads == _threads_term(model).value(point) <= 1024


def _tilings(model):
    """Every point of the model's tile variables (categorical choices at their first value)."""
    splits = [c for c in model.constraints if isinstance(c, ProductEquals)]
    per_split = []
    for split in splits:
        keys = split.term.keys
        domains = [model.variable(k).domain for k in keys]
        per_split.append(
            [dict(zip(keys, values)) for values in itertools.product(*domains)
             if int(np.prod(values)) == split.value]
        )
    choices = {v.key: v.domain[0] for v in model.variables if isinstance(v.key, Choice)}
    for parts in itertools.product(*per_split):
        point = dict(choices)
        for part in parts:
            point.update(part)
        yield point


def test_model_matches_the_gpu_verifier_on_a_tiny_space():
    """GEMM 32^3, 16x16x16 fragments, at most 64 threads (2 warps) per block.

    m and n have 2 fragments each, split over 4 levels (4 ways each), k over 3
    levels (3 ways): 48 tilings; 2 warps per block rule out the 3 with 2 x 2 = 4
    warps (m and n both at the warp level): 45 valid.
    """
    target = Target({"kind": "cuda", "arch": "sm_80", "max_threads_per_block": 64,
                     "max_shared_memory_per_block": 49152, "thread_warp_size": 32})
    space_gen = heron_space(target, rules=[TensorCoreRule(shapes=((16, 16, 16),)), GpuFallbackRule()])
    workload = make_workload("gemm", (32, 32, 32), "float16")
    mod, ctx, (space,) = space_models(workload, target=target, space=space_gen)
    verdicts = []
    for point in _tilings(space.model):
        try:
            postprocess(replay(space, mod, point), ctx.space_generator.postprocs)
            valid = True
        except HeronError:
            valid = False
        assert space.model.is_feasible(point) == valid, space.model.explain(point)
        verdicts.append(valid)
    assert (len(verdicts), sum(verdicts)) == (48, 45)


def test_shared_memory_limit_binds():
    """With 8 KiB of shared memory, every solver point still passes the verifier."""
    target = Target({"kind": "cuda", "arch": "sm_80", "max_threads_per_block": 1024,
                     "max_shared_memory_per_block": 8192, "thread_warp_size": 32})
    workload = make_workload("gemm", (256, 256, 256), "float16")
    mod, ctx, spaces = space_models(workload, target=target)
    assert len(heron_postprocs(target)) == len(ctx.space_generator.postprocs)
    rng = np.random.default_rng(4)
    for space in spaces:
        points = space.solver.sample(3, rng=rng)
        assert points
        for point in points:
            postprocess(replay(space, mod, point), ctx.space_generator.postprocs)
            measured, _ = kernel_resources(cuda_source(
                postprocess(replay(space, mod, point), ctx.space_generator.postprocs).mod, target))
            assert measured <= 8192


def test_vector_width_divides_global_rows():
    """A conv with 3 input channels: cooperative fetches of its input may not vectorise."""
    workload = make_workload("c2d", (1, 8, 8, 3, 16, 3, 3, 1, 1, 1), "float16")
    _, _, spaces = space_models(workload)
    reasons = [c.reason for c in spaces[0].model.constraints if "cooperative fetch" in c.reason]
    assert any("vector width in [1] " in r and "[3" in r for r in reasons), reasons


def test_sum_at_most_counts_and_large_products():
    """SumAtMost (shared memory of several buffers): a hand count, and no int64 overflow.

    2 * a + a * b <= 10 over a, b in {1, 2, 4, 8}: a = 1 allows every b (4),
    a = 2 allows b <= 3 (2), a >= 4 none: 6 points. Footprint products of
    large loops (12544^3 * 108^2 * 512 > 2^63) must not make the model infeasible.
    """
    from tvm_heron.constraints import ConstraintModel, CpSatSolver, Monomial, TileFactor, Variable

    a, b = TileFactor(0, 0, loop="i"), TileFactor(0, 1, loop="i")
    small = ConstraintModel(
        variables=[Variable(key=a, domain=(1, 2, 4, 8)), Variable(key=b, domain=(1, 2, 4, 8))],
        constraints=[SumAtMost(terms=(Monomial(keys=(a,), coef=2), Monomial(keys=(a, b))),
                               limit=10, reason="hand count")],
        notes=[],
    )
    assert CpSatSolver(small).count() == 6
    keys = [TileFactor(1, level, loop="j") for level in range(5)]
    divisors = tuple(d for d in range(1, 12545) if 12544 % d == 0)
    big = ConstraintModel(
        variables=[Variable(key=k, domain=divisors) for k in keys],
        constraints=[SumAtMost(terms=(Monomial(keys=tuple(keys), coef=512), 992), limit=49152,
                               reason="footprint")],
        notes=[],
    )
    (point,) = CpSatSolver(big).sample(1, rng=np.random.default_rng(0))
    assert 512 * int(np.prod([point[k] for k in keys])) + 992 <= 49152


def test_output_rows_bound_the_copy_out_vector_width():
    """N = 20 output columns: a row is 40 bytes, so the copy out stores at most 4 halves at once."""
    _, _, spaces = space_models(make_workload("gemm", (32, 32, 20), "float16"))
    reasons = [c.reason for c in spaces[0].model.constraints if "C_reindex" in c.reason]
    assert any("vector width in [1, 2, 4] " in r and "[20]" in r for r in reasons), reasons
