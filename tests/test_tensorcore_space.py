"""Heron's TensorCore space without a GPU: solver points build to CUDA with wmma in the PTX.

For every operator of the paper's fp16 list, points drawn by the constraint
solver from each design space (one per wmma fragment shape) pass
MetaSchedule's CUDA postprocessors, the GPU code verifier included, compile
to CUDA C, and that source compiles with ``nvcc -ptx`` for sm_80 and sm_90
into PTX that holds ``wmma.mma.sync``. The nvcc part is skipped without nvcc.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import slow_unless
from tensorcore_helpers import A100, CASES, space_models

from tvm_heron.bench.cuda_build import check_build, nvcc_path
from tvm_heron.intrinsics import wmma
from tvm_heron.ops import make_workload
from tvm_heron.rules._util import multiply_accumulate_blocks
from tvm_heron.space import postprocess, replay

HAS_NVCC = nvcc_path() is not None


def _check_points(workload, per_space: int, seed: int) -> list:
    mod, ctx, spaces = space_models(workload)
    # one design space per wmma fragment shape; with several reductions (a strided
    # transposed conv's phases) the first shape only, not one per combination
    several = multiply_accumulate_blocks(mod) > 1
    assert len(spaces) == (1 if several else len(wmma.SHAPES))
    rng = np.random.default_rng(seed)
    outcomes = []
    for space in spaces:
        # every reduction tensorized (a strided transposed conv has one per phase)
        syncs = str(space.trace).count('ann_val="heron_wmma_sync')
        assert syncs == max(1, multiply_accumulate_blocks(mod)), f"{workload.name}: {syncs}"
        points = space.solver.sample(per_space, rng=rng)
        assert points, f"{workload.name}: the model has no solution"
        for point in points:
            # postprocess raises if a postprocessor (VerifyGPUCode...) rejects it.
            sch = postprocess(replay(space, mod, point), ctx.space_generator.postprocs)
            outcomes.append(check_build(sch.mod, A100, nvcc=HAS_NVCC))
    return outcomes


@pytest.mark.parametrize("op, shape", slow_unless(CASES, lambda c: c[0] in ("gemm", "c2d")))
def test_solver_points_build_to_wmma(op, shape):
    outcomes = _check_points(make_workload(op, shape, "float16"), per_space=1, seed=3)
    failed = [o for o in outcomes if not o.ok]
    assert not failed, failed
    if not HAS_NVCC:
        pytest.skip("nvcc not found: CUDA C built, PTX not checked")


@pytest.mark.parametrize("op, shape", slow_unless([CASES[0], CASES[5], CASES[8]], lambda c: c[0] == "c2d"))
def test_fp32_accumulation_builds(op, shape):
    """fp16 x fp16 -> fp32: the output tile lives in shared.dyn (no buffer reuse across types)."""
    workload = make_workload(op, shape, "float16", acc_dtype="float32")
    failed = [o for o in _check_points(workload, per_space=1, seed=5) if not o.ok]
    assert not failed, failed
    if not HAS_NVCC:
        pytest.skip("nvcc not found: CUDA C built, PTX not checked")


def test_paper_shapes_need_padding_and_build():
    """A Figure 6 shape with extents that are no multiple of 16 (N = 1000) is padded, not refused."""
    workload = make_workload("gemm", (32, 256, 1000), "float16")
    failed = [o for o in _check_points(workload, per_space=1, seed=11) if not o.ok]
    assert not failed, failed


def test_int8_wmma_builds():
    """s8 x s8 -> s32 has a wmma form too (the rule takes any wmma dtype pair)."""
    from tvm import IRModule, te

    a = te.placeholder((32, 64), "int8", name="A")
    b = te.placeholder((48, 64), "int8", name="B")
    k = te.reduce_axis((0, 64), name="k")
    c = te.compute(
        (32, 48), lambda i, j: te.sum(a[i, k].astype("int32") * b[j, k].astype("int32"), axis=k),
        name="C",
    )

    class _Int8Gemm:  # the minimal surface space_models reads
        func = te.create_prim_func([a, b, c])
        name = "gemm_s8"

    mod, ctx, spaces = space_models(_Int8Gemm)
    assert isinstance(mod, IRModule) and "s8s8s32" in str(spaces[0].trace)
    point = spaces[0].solver.sample(1, rng=np.random.default_rng(0))[0]
    sch = postprocess(replay(spaces[0], mod, point), ctx.space_generator.postprocs)
    assert check_build(sch.mod, A100, archs=("sm_80",), nvcc=HAS_NVCC).ok


def test_epilogue_runs_in_the_copy_out():
    """bias + ReLU after an fp16 GEMM: fused into the copy out of shared memory, one kernel."""
    from tvm_heron.bench.cuda_build import cuda_source

    workload = make_workload("gemm", (64, 64, 48), "float16", epilogue="bias_relu")
    mod, ctx, spaces = space_models(workload)
    point = spaces[0].solver.sample(1, rng=np.random.default_rng(0))[0]
    sch = postprocess(replay(spaces[0], mod, point), ctx.space_generator.postprocs)
    source = cuda_source(sch.mod, A100)
    kernels = [line for line in source.splitlines()
               if "__global__" in line and line.rstrip().endswith("{")]
    assert len(kernels) == 1 and "max(" in source
    assert check_build(sch.mod, A100, nvcc=HAS_NVCC).ok


def test_every_free_choice_is_a_sampling_instruction():
    """Per space: tiles of m, n (4 levels) and k (3 levels); 3 fetch widths and 1 unroll depth.

    MetaSchedule's fallback rules add nothing (its unroll rule would annotate the
    root a second time and silently override the TensorCore rule's choice).
    """
    _, _, spaces = space_models(make_workload("gemm", (128, 128, 64), "float16"))
    for space in spaces:
        kinds = [inst.kind.name for inst in space.trace.insts]
        tiles = [inst for inst in space.trace.insts if inst.kind.name == "SamplePerfectTile"]
        assert [int(inst.attrs[0]) for inst in tiles] == [4, 4, 3]
        assert kinds.count("SampleCategorical") == 4
        assert str(space.trace).count("meta_schedule.unroll_explicit") == 1
