"""Heron's generic CPU rule: blocks no intrinsic covers are parallelised, still correct."""

from __future__ import annotations

import numpy as np
import pytest
import tvm
from helpers import HOST
from tvm import te
from tvm.s_tir import meta_schedule as ms

from tvm_heron.space import analyze, heron_space, postprocess, replay


def _gemm_k30():
    a = te.placeholder((32, 30), "float32", name="A")
    b = te.placeholder((48, 30), "float32", name="B")
    r = te.reduce_axis((0, 30), name="k")
    c = te.compute((32, 48), lambda i, j: te.sum(a[i, r] * b[j, r], axis=r), name="C")
    relu = te.compute((32, 48), lambda i, j: te.max(c[i, j], tvm.tirx.const(0, "float32")), name="relu")
    return te.create_prim_func([a, b, relu]), lambda x, y: np.maximum(x @ y.T, 0)


def _row_sum():
    a = te.placeholder((64, 40), "float32", name="A")
    r = te.reduce_axis((0, 40), name="k")
    s = te.compute((64,), lambda i: te.sum(a[i, r], axis=r), name="S")
    return te.create_prim_func([a, s]), lambda x: x.sum(axis=1)


def _elementwise():
    a = te.placeholder((8, 30, 32), "float32", name="A")
    b = te.compute((8, 30, 32), lambda i, j, k: a[i, j, k] * 2.0 + 1.0, name="B")
    return te.create_prim_func([a, b]), lambda x: x * 2.0 + 1.0


@pytest.mark.parametrize("make", [_gemm_k30, _row_sum, _elementwise])
def test_untensorizable_blocks_run_in_parallel_and_match_numpy(make):
    func, reference = make()
    mod = tvm.IRModule({"main": func})
    ctx = ms.TuneContext(mod=mod, target=HOST, space_generator=heron_space(HOST), num_threads=2)
    spaces = ctx.generate_design_space()
    assert len(spaces) == 1
    kinds = [inst.kind.name for inst in spaces[0].trace.insts]
    assert "Parallel" in kinds
    rng = np.random.default_rng(0)
    shapes = {"_gemm_k30": [(32, 30), (48, 30)], "_row_sum": [(64, 40)], "_elementwise": [(8, 30, 32)]}
    inputs = [rng.uniform(-1, 1, s).astype("float32") for s in shapes[make.__name__]]
    want = reference(*[x.astype(np.float64) for x in inputs])
    space = analyze(spaces[0], mod, HOST)
    dev = tvm.cpu()
    for point in space.solver.sample(4, rng=rng):
        sch = postprocess(replay(space, mod, point), ctx.space_generator.postprocs)
        runtime = tvm.compile(sch.mod, HOST).jit()
        out = tvm.runtime.tensor(np.zeros(want.shape, "float32"), dev)
        runtime["main"](*[tvm.runtime.tensor(x, dev) for x in inputs], out)
        np.testing.assert_allclose(out.numpy(), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("inner, lanes", [(512, 64), (96, 32), (16, 16), (27, None)])
def test_injective_blocks_vectorise_the_widest_lane_count_that_divides_the_innermost_loop(
    inner, lanes
):
    a = te.placeholder((3, 5, inner), "int32", name="A")
    b = te.compute((3, 5, inner), lambda i, j, k: a[i, j, k] + 1, name="B")
    mod = tvm.IRModule({"main": te.create_prim_func([a, b])})
    ctx = ms.TuneContext(mod=mod, target=HOST, space_generator=heron_space(HOST), num_threads=2)
    (space,) = ctx.generate_design_space()
    loops = [space.get(loop) for loop in space.get_loops(space.get_sblock("B"))]
    vector = [int(n.extent) for n in loops if n.kind == tvm.tirx.ForKind.VECTORIZED]
    parallel = [int(n.extent) for n in loops if n.kind == tvm.tirx.ForKind.PARALLEL]
    assert vector == ([] if lanes is None else [lanes])
    assert parallel == [15 * inner // (lanes or inner)] if lanes else parallel == [15 * inner]
    x = np.arange(15 * inner, dtype="int32").reshape(3, 5, inner)
    out = tvm.runtime.tensor(np.zeros_like(x), tvm.cpu())
    tvm.compile(space.mod, HOST).jit()["main"](tvm.runtime.tensor(x, tvm.cpu()), out)
    np.testing.assert_array_equal(out.numpy(), x + 1)
