"""GEMM-family operators and 2-D convolution: definitions, and Heron's int8 space on each."""

from __future__ import annotations

import numpy as np
import pytest
import tvm
from helpers import HOST, space_models

from tvm_heron.errors import InvalidShapeError
from tvm_heron.ops import FIELDS, make_workload, pack_vnni_weight
from tvm_heron.space import postprocess, replay

CASES = [
    ("c2d", (1, 14, 14, 64, 32, 3, 3, 1, 1, 1)),
    ("dil", (1, 12, 12, 32, 16, 3, 3, 2, 2, 2)),
    ("gemm", (64, 64, 64)), ("gemm", (32, 64, 48)), ("bmm", (3, 32, 64, 32)), ("gemv", (64, 128)), ("scan", (32, 64, 64))]


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


def test_bad_multiples_name_the_limit():
    with pytest.raises(InvalidShapeError, match="multiple of 16"):
        make_workload("gemv", (40, 64), "int8")
    with pytest.raises(InvalidShapeError, match="multiple of 4"):
        make_workload("bmm", (2, 16, 30, 16), "int8")


@pytest.mark.vnni
@pytest.mark.parametrize("op, shape", CASES)
def test_heron_space_points_build_and_are_exact(op, shape):
    workload, mod, ctx, spaces = space_models(op, shape)
    rng = np.random.default_rng(1)
    args, logical = workload.make_inputs(rng)
    dev = tvm.cpu()
    for space in spaces:
        for point in space.solver.sample(3, rng=rng):
            sch = postprocess(replay(space, mod, point), ctx.space_generator.postprocs)
            executable = tvm.compile(sch.mod, HOST)
            assert "vpdpbusd" in executable.mod.inspect_source("asm")
            tensors = [tvm.runtime.tensor(a, dev) for a in args[:-1]]
            out = tvm.runtime.tensor(np.zeros_like(args[-1]), dev)
            executable.jit()["main"](*tensors, out)
            correct, error = workload.check(out.numpy(), logical)
            assert correct, f"{op}{shape}: max error {error}"
