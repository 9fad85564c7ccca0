"""GEMM-family operators and 2-D convolution: definitions, and Heron's int8 space on each."""

from __future__ import annotations

import numpy as np
import pytest
import tvm
from helpers import HOST, HOST_ISA, slow_unless, space_models

from tvm_heron.errors import InvalidShapeError
from tvm_heron.ops import FIELDS, make_workload, pack_vnni_weight
from tvm_heron.space import postprocess, replay

CASES = [
    ("c2d", (1, 14, 14, 64, 32, 3, 3, 1, 1, 1)),
    ("dil", (1, 12, 12, 32, 16, 3, 3, 2, 2, 2)),
    ("c1d", (1, 20, 32, 32, 3, 1, 1, 1)),
    ("c3d", (1, 4, 6, 6, 16, 16, 3, 3, 3, 1, 1, 1)),
    ("t2d", (1, 6, 6, 32, 16, 3, 3, 2, 1, 1, 1)),
    ("gemm", (64, 64, 64)),
    ("gemm", (32, 64, 48)),
    ("bmm", (3, 32, 64, 32)),
    ("gemv", (64, 128)),
    ("scan", (32, 64, 64)),
]


def test_fields_follow_the_paper_workload_list():
    assert FIELDS["bmm"] == ("B", "M", "K", "N")
    assert FIELDS["gemv"] == ("M", "K")
    assert FIELDS["scan"] == ("M", "N", "K")


def test_batched_pack_layout():
    b = np.arange(2 * 32 * 8).reshape(2, 32, 8)
    packed = pack_vnni_weight(b)
    assert packed.shape == (2, 2, 2, 16, 4)
    for bb, jo, ko, ji, ki in np.ndindex(packed.shape):
        assert packed[bb, jo, ko, ji, ki] == b[bb, 16 * jo + ji, 4 * ko + ki]


def test_references():
    rng = np.random.default_rng(0)
    scan = make_workload("scan", (4, 16, 8), "float32", layout="plain")
    (a, t, _), logical = scan.make_inputs(rng)
    np.testing.assert_allclose(scan.reference(*logical), a.astype(np.float64) @ t.T)
    assert t[3, 2] == 1 and t[2, 2] == 0 and t[2, 3] == 0  # T[n, k] = (n > k)
    gemv = make_workload("gemv", (32, 16), "int8")
    (x, _, out), (_, w) = gemv.make_inputs(rng)
    assert x.shape == (1, 16) and out.shape == (1, 32) and w.shape == (32, 16)
    assert make_workload("bmm", (3, 4, 8, 16), "int8").flops == 2 * 3 * 4 * 8 * 16


def test_bad_multiples_are_padded():
    """N not a multiple of 16, K not a multiple of 4: zero-padded weight, padded A, cropped C."""
    gemv = make_workload("gemv", (40, 64), "int8")
    (_, packed, out), _ = gemv.make_inputs(np.random.default_rng(0))
    assert packed.shape == (3, 16, 16, 4) and out.shape == (1, 40)
    bmm = make_workload("bmm", (2, 16, 30, 16), "int8")
    (a, packed, _), (_, b) = bmm.make_inputs(np.random.default_rng(0))
    assert a.shape == (2, 16, 30) and packed.shape == (2, 1, 8, 16, 4)
    assert (packed[:, :, 7, :, 2:] == 0).all() and (packed[:, 0, 7, :, :2] == b[:, :, 28:]).all()
    conv = make_workload("c2d", (1, 8, 8, 6, 20, 3, 3, 1, 1, 1), "int8")
    assert conv.make_inputs(np.random.default_rng(0))[0][1].shape == (2, 3, 3, 2, 16, 4)


def test_impossible_shapes_name_the_limit():
    with pytest.raises(InvalidShapeError, match=r"at most dilation\*\(KH-1\) = 2"):
        make_workload("t2d", (1, 6, 6, 32, 16, 3, 3, 2, 3, 1, 0), "int8")
    with pytest.raises(InvalidShapeError, match="KW=3 with dilation 2 spans 5 > W"):
        make_workload("c2d", (1, 8, 4, 16, 16, 3, 3, 1, 0, 2), "int8")


#: Padded channels, fused epilogues, channel-first activations, plain weights.
VARIANTS = [
    ("gemm", (32, 30, 40), {"epilogue": "bias_relu"}),
    ("c2d", (1, 8, 8, 6, 20, 3, 3, 1, 1, 1), {"epilogue": "requant"}),
    ("c2d", (1, 8, 8, 16, 32, 3, 3, 2, 1, 1), {"data_layout": "NCHW", "layout": "plain"}),
    ("bmm", (2, 16, 32, 32), {"layout": "plain", "epilogue": "bias_relu"}),
]

#: The host's intrinsic and its instruction per dtype (VNNI / AVX-512 FMA, AVX2 forms, ...).
INTRINSIC = {d: (i.name, i.instruction) for d in ("int8", "float32") for i in HOST_ISA.intrinsics_for(d)[:1]}


_POINT_CASES = [(op, shape, {}) for op, shape in CASES] + VARIANTS


def _default_dtype(case) -> str:
    if case[2].get("epilogue") == "requant":
        return "int8"
    return ("int8", "float32")[_POINT_CASES.index(case) % 2]


@pytest.mark.parametrize(
    "op, shape, kwargs, dtype",
    # by default every operator and variant once, the dtypes alternating (both for GEMM 64^3)
    slow_unless([(*case, dtype) for dtype in ("int8", "float32") for case in _POINT_CASES],
                lambda c: c[3] == _default_dtype(c[:3]) or c[:2] == ("gemm", (64, 64, 64))),
)
def test_heron_space_points_build_and_are_exact(op, shape, kwargs, dtype):
    """Random points of every design space are tensorized, build, and match numpy."""
    if kwargs.get("epilogue") == "requant" and dtype != "int8":
        pytest.skip("requantization is an int8 epilogue")
    workload, mod, ctx, spaces = space_models(op, shape, dtype=dtype, **kwargs)
    intrin, instruction = INTRINSIC[dtype]
    rng = np.random.default_rng(1)
    args, logical = workload.make_inputs(rng)
    dev = tvm.cpu()
    # fp32 pads no reduction: K = 30 cannot be tiled by the 4 steps of its
    # intrinsic and falls to the generic rule (vectorised, not tensorized).
    untiled = dtype == "float32" and op == "gemm" and shape[1] % 4
    if untiled:
        intrin, instruction = "GenericCpuRule", "vmovups"
    for space in spaces:
        assert untiled or intrin in str(space.trace), f"{workload.name}: not tensorized"
        for point in space.solver.sample(2, rng=rng):
            sch = postprocess(replay(space, mod, point), ctx.space_generator.postprocs)
            executable = tvm.compile(sch.mod, HOST)
            assert instruction in executable.mod.inspect_source("asm")
            tensors = [tvm.runtime.tensor(a, dev) for a in args[:-1]]
            out = tvm.runtime.tensor(np.zeros_like(args[-1]), dev)
            executable.jit()["main"](*tensors, out)
            correct, error = workload.check(out.numpy(), logical)
            assert correct, f"{workload.name}: max error {error}"
