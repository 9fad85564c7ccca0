"""Heron's DL Boost rule: the structure of the design spaces it generates."""

from __future__ import annotations

import numpy as np
import pytest
import tvm
from tvm.s_tir import meta_schedule as ms

from tvm_heron import isa
from tvm_heron.annotations import AUTO_TENSORIZE
from tvm_heron.errors import UnsupportedTargetError
from tvm_heron.ops import make_workload
from tvm_heron.rules.dlboost import DLBoostRule

from helpers import ALL_ISAS, HOST, ISA_IDS, design_spaces, isa_target


def _kinds(sch):
    return [inst.kind.name for inst in sch.trace.insts]


def _tensorized_with(sch):
    return [str(i.inputs[1]).strip('"') for i in sch.trace.insts
            if i.kind.name == "Annotate" and str(i.attrs[0]) == AUTO_TENSORIZE]


@pytest.mark.parametrize("description", ALL_ISAS, ids=ISA_IDS)
@pytest.mark.parametrize("layout", ["packed", "plain"])
def test_one_space_per_write_back_level(layout, description):
    target = isa_target(description)
    _, _, spaces = design_spaces(make_workload("gemm", (64, 64, 64), "int8", layout=layout), target)
    # write-back at spatial tile level 1 and 2, then no output cache (the GEMM writes the
    # kernel's output): each parallel and (a small GEMM) single-threaded
    assert len(spaces) == 6
    packing = int(layout == "plain")  # the in-kernel weight packing stage is parallel too
    assert [_kinds(sch).count("Parallel") - packing for sch in spaces] == [1, 0, 1, 0, 1, 0]
    for index, sch in enumerate(spaces):
        kinds = _kinds(sch)
        # i and j/lanes in 4 levels, k/4 in 2 levels: three perfect tiles, one unroll choice.
        assert kinds.count("SamplePerfectTile") == 3
        assert kinds.count("SampleCategorical") == 1
        assert kinds.count("Blockize") == 1
        cached = index < 4
        assert ("CacheWrite" in kinds) == cached and ("ReverseComputeAt" in kinds) == cached
        assert ("Vectorize" in kinds) == cached  # the write-back's lanes; the init: postprocessor
        tiles = [i for i in sch.trace.insts if i.kind.name == "SamplePerfectTile"]
        assert [int(i.attrs[0]) for i in tiles] == [4, 4, 2]
        assert "C_o" in _block_names(sch.mod)
        if layout == "plain":
            assert "TransformLayout" in kinds  # weight packed inside the kernel
        assert _tensorized_with(sch) == [description.intrinsics_for("int8")[0].name]


def _block_names(mod):
    return [line.split('T.sblock("')[1].split('"')[0] for line in mod.script().splitlines() if 'T.sblock("' in line]


def test_large_blocks_get_parallel_spaces_only():
    _, _, spaces = design_spaces(make_workload("gemm", (256, 256, 256), "int8"))
    assert len(spaces) == 3
    assert all("Parallel" in _kinds(sch) for sch in spaces)


def test_tensorize_annotation_and_levels():
    _, _, spaces = design_spaces(make_workload("gemm", (64, 128, 32), "int8"))
    for sch in spaces:
        annotations = [
            i for i in sch.trace.insts if i.kind.name == "Annotate" and str(i.attrs[0]) == AUTO_TENSORIZE
        ]
        assert len(annotations) == 1


def test_not_applicable_leaves_block_alone():
    """A reduction of 30 cannot be tiled by the intrinsics' 4 steps: the rule leaves it."""
    from tvm.s_tir import meta_schedule as ms

    from tvm_heron.space import heron_postprocs

    from helpers import HOST

    workload = make_workload("gemm", (32, 30, 32), "float32", layout="plain")
    mod = tvm.IRModule({"main": workload.func})
    space = ms.space_generator.PostOrderApply(
        sch_rules=[DLBoostRule()], postprocs=heron_postprocs(HOST), mutator_probs={}
    )
    spaces = ms.TuneContext(mod=mod, target=HOST, space_generator=space).generate_design_space()
    assert len(spaces) == 1
    assert "SamplePerfectTile" not in _kinds(spaces[0])
    tvm.ir.assert_structural_equal(spaces[0].mod, mod)


@pytest.mark.parametrize("description", ALL_ISAS, ids=ISA_IDS)
@pytest.mark.parametrize("layout", ["packed", "plain"])
def test_fp32_uses_the_fma_intrinsic(layout, description):
    target = isa_target(description)
    _, _, spaces = design_spaces(make_workload("gemm", (64, 64, 64), "float32", layout=layout), target)
    assert len(spaces) == 6
    (fma,) = description.intrinsics_for("float32")
    for sch in spaces:
        assert _tensorized_with(sch) == [fma.name]
        assert ("TransformLayout" in _kinds(sch)) == (layout == "plain")


@pytest.mark.parametrize("name", ["avx2", "avx512"])
def test_declared_seven_bit_activations_make_the_int8_form_a_choice(name):
    """With u7 data, AVX2's exact and vpmaddubsw forms each get spaces; never without."""
    target = isa_target(isa.by_name(name))
    exact, fast = (i.name for i in isa.by_name(name).intrinsics_for("int8", isa.InputRange.U7))
    _, _, spaces = design_spaces(make_workload("gemm", (64, 64, 64), "int8", int8_range="u7"), target)
    assert [_tensorized_with(s) for s in spaces] == [[exact]] * 6 + [[fast]] * 6
    _, _, spaces = design_spaces(make_workload("gemm", (64, 64, 64), "int8"), target)
    assert {_tensorized_with(s)[0] for s in spaces} == {exact}


def test_an_intrinsic_the_target_lacks_is_refused():
    """Building vpdpbusd for an AVX2 CPU would abort the process inside LLVM: refused first."""
    target = isa_target(isa.by_name("avx2"))
    workload = make_workload("gemm", (32, 32, 32), "int8")
    from tvm_heron.space import heron_postprocs

    space = ms.space_generator.PostOrderApply(
        sch_rules=[DLBoostRule(intrins=["heron_dot_16x4_u8s8s32_vnni"])],
        postprocs=heron_postprocs(target), mutator_probs={},
    )
    with pytest.raises(Exception, match="znver3 lacks the instructions of heron_dot_16x4_u8s8s32_vnni"):
        ms.TuneContext(mod=tvm.IRModule({"main": workload.func}), target=target, space_generator=space)
    assert issubclass(UnsupportedTargetError, ValueError)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"spatial_levels": 1}, "spatial_levels"),
        ({"reduction_levels": 0}, "reduction_levels"),
        ({"write_back_levels": (4,)}, "write_back_levels"),
        ({"unroll_max_steps": ()}, "unroll_max_steps"),
        ({"max_innermost_factor": 0}, "max_innermost_factor"),
    ],
)
def test_arguments_are_validated(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DLBoostRule(**kwargs)


def test_clone_keeps_arguments():
    """MetaSchedule clones the rules of every task: the clone must keep the arguments."""
    from tvm.s_tir import meta_schedule as ms

    from tvm_heron.space import heron_postprocs

    from helpers import HOST

    clone = DLBoostRule(write_back_levels=(1,), serial_max_macs=0, direct_output=False).clone()
    workload = make_workload("gemm", (32, 32, 32), "int8")
    space = ms.space_generator.PostOrderApply(
        sch_rules=[clone], postprocs=heron_postprocs(HOST), mutator_probs={}
    )
    ctx = ms.TuneContext(
        mod=tvm.IRModule({"main": workload.func}), target=HOST, space_generator=space
    )
    assert len(ctx.generate_design_space()) == 1


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_reduction_major_weight_is_packed_and_tensorized(dtype):
    """A ``[K, N]`` weight (Relax's matmul after folding a transpose) is packed in-kernel.

    Its lanes are contiguous but its reduction steps are N apart; without the
    packing, tensorize fails (fp32: a stride mismatch at build time; the
    postprocessor only warns and leaves the block untensorized).
    """
    from tvm import te

    from tvm_heron.space import analyze, heron_space, postprocess, replay

    m, k, n = 32, 64, 48
    acc = "int32" if dtype == "int8" else "float32"
    a = te.placeholder((m, k), "uint8" if dtype == "int8" else dtype, name="A")
    b = te.placeholder((k, n), dtype, name="B")
    r = te.reduce_axis((0, k), "k")
    c = te.compute((m, n), lambda i, j: te.sum(a[i, r].astype(acc) * b[r, j].astype(acc), axis=r), name="C")
    mod = tvm.IRModule({"main": te.create_prim_func([a, b, c])})
    ctx = ms.TuneContext(mod=mod, target=HOST, space_generator=heron_space(HOST), task_name="kn")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (m, k)).astype(str(a.dtype))
    w = rng.integers(-3, 4, (k, n)).astype(dtype)
    for design_space in ctx.generate_design_space():
        space = analyze(design_space, mod, HOST)
        for point in space.solver.sample(2, rng=rng):
            sch = postprocess(replay(space, mod, point), ctx.space_generator.postprocs)
            assert "auto_tensorize" not in sch.mod.script(), "tensorize failed"
            out = tvm.runtime.tensor(np.zeros((m, n), acc))
            tvm.compile(sch.mod, HOST).jit()["main"](tvm.runtime.tensor(x), tvm.runtime.tensor(w), out)
            np.testing.assert_array_equal(out.numpy(), x.astype(acc) @ w.astype(acc))


def test_several_reductions_get_one_space_with_every_block_tensorized():
    """A stride-2 transposed conv has 4 phase blocks: 1 space, not 4 ** 4."""
    workload = make_workload("t2d", (1, 6, 6, 32, 16, 3, 3, 2, 1, 1, 1), "int8")
    _, _, spaces = design_spaces(workload)
    assert len(spaces) == 1
    kinds = _kinds(spaces[0])
    # one unroll depth for the kernel, four tensorized blocks
    assert kinds.count("Blockize") == 4 and kinds.count("SampleCategorical") == 1
    names = _block_names(spaces[0].mod)
    assert {"C_0_0_o", "C_0_1_o", "C_1_0_o", "C_1_1_o"} <= set(names)
    # one reduction: the rule's usual alternatives
    stride1 = make_workload("t2d", (1, 6, 6, 32, 16, 3, 3, 1, 1, 1, 0), "int8")
    assert len(design_spaces(stride1)[2]) == 6


def test_an_epilogue_keeps_the_output_cache():
    """Without the cache the epilogue would be a pass of its own: no direct space."""
    _, _, spaces = design_spaces(make_workload("gemm", (256, 256, 256), "int8", epilogue="requant"))
    assert len(spaces) == 2 and all("CacheWrite" in _kinds(sch) for sch in spaces)


def test_an_epilogue_that_fans_out_builds_and_is_right():
    """GELU after a matmul (an ONNX export's ``x * 0.5 * (1 + erf(x / sqrt 2))``) reads ``x`` twice.

    TVM's reverse_compute_inline took one branch into the write-back and left the other reading a
    buffer nothing wrote: every candidate of BERT's FFN failed to build."""
    from tvm import te, topi

    from tvm_heron.space import analyze, heron_space, postprocess, replay

    m, k, n = 16, 64, 32
    a = te.placeholder((m, k), "float32", name="A")
    w = te.placeholder((n, k), "float32", name="W")
    r = te.reduce_axis((0, k), "k")
    mm = te.compute((m, n), lambda i, j: te.sum(a[i, r] * w[j, r], axis=r), name="C")
    erf = topi.erf(topi.divide(mm, np.float32(np.sqrt(2.0))))
    gelu = topi.multiply(topi.multiply(mm, topi.add(erf, np.float32(1.0))), np.float32(0.5))
    mod = tvm.IRModule({"main": te.create_prim_func([a, w, gelu])})
    ctx = ms.TuneContext(mod=mod, target=HOST, space_generator=heron_space(HOST), task_name="gelu")
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((m, k), dtype="float32"), rng.standard_normal((n, k), dtype="float32")
    y = x @ weight.T
    from math import erf as scalar_erf

    expected = y * 0.5 * (1 + np.vectorize(scalar_erf)(y / np.sqrt(2.0)))
    spaces = ctx.generate_design_space()
    assert spaces and all(AUTO_TENSORIZE in sch.mod.script() for sch in spaces)
    for design_space in spaces:
        space = analyze(design_space, mod, HOST)
        for point in space.solver.sample(1, rng=rng):
            sch = postprocess(replay(space, mod, point), ctx.space_generator.postprocs)
            out = tvm.runtime.tensor(np.zeros((m, n), "float32"))
            tvm.compile(sch.mod, HOST).jit()["main"](tvm.runtime.tensor(x), tvm.runtime.tensor(weight), out)
            np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)
