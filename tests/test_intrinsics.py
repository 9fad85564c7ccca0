"""Every described CPU intrinsic: its instruction in the assembly, exact (int8) or close (fp32).

Each intrinsic is built for its instruction set's example CPU (any x86 or
aarch64 CPU builds here; nothing is run for a CPU the host lacks) and
checked for its instruction. Where the host can run it, a tensorized GEMM
is compared with numpy: int8 exactly, on full-range inputs and on the
extremes (255 x -128 summed over the reduction), fp32 to a tolerance. The
7-bit AVX2 form is exact on 7-bit data and shown to be wrong on full-range
data, which is why it is offered only where the workload declares 7-bit
activations.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import tvm
from helpers import isa_target, runs_here
from tvm.s_tir import Schedule, TensorIntrin

from tvm_heron import isa
from tvm_heron.ops import gemm as gemm_ops
from tvm_heron.ops import pack_weight

#: (instruction set, intrinsic): each intrinsic once per set that offers it.
CASES = [(s, i) for s in isa.INSTRUCTION_SETS for i in s.intrinsics]
IDS = [f"{s.name}-{i.name}" for s, i in CASES]


def _tensorized(func, intrinsic: isa.Intrinsic):
    sch = Schedule(func)
    block = sch.get_sblock("C")
    i, j, k = sch.get_loops(block)
    j_o, j_i = sch.split(j, [None, intrinsic.lanes])
    k_o, k_i = sch.split(k, [None, intrinsic.depth])
    sch.reorder(i, j_o, k_o, j_i, k_i)
    sch.decompose_reduction(block, i)
    sch.tensorize(j_i, intrinsic.name)
    return sch.mod


def _run(intrinsic, target, a, b):
    m, k = a.shape
    n = b.shape[0]
    executable = tvm.compile(_tensorized(gemm_ops.gemm_packed(m, k, n, intrinsic.dtype), intrinsic), target)
    dev = tvm.cpu()
    out = np.int32 if intrinsic.dtype == "int8" else np.float32
    c = tvm.runtime.tensor(np.zeros((m, n), out), dev)
    executable.jit()["main"](tvm.runtime.tensor(a, dev),
                             tvm.runtime.tensor(pack_weight(b, intrinsic.dtype), dev), c)
    return c.numpy()


def _operands(intrinsic, rng, m=32, k=64, n=48, high=256):
    if intrinsic.dtype == "int8":
        return (rng.integers(0, high, (m, k), dtype=np.uint8),
                rng.integers(-128, 128, (n, k), dtype=np.int8))
    return (rng.uniform(-1, 1, (m, k)).astype(np.float32),
            rng.uniform(-1, 1, (n, k)).astype(np.float32))


def test_every_described_intrinsic_is_registered_under_our_name():
    for intrinsic in isa.intrinsics():
        assert TensorIntrin.get(intrinsic.name, allow_missing=True) is not None, intrinsic.name
        assert intrinsic.name.startswith("heron_")


@pytest.mark.parametrize("description, intrinsic", CASES, ids=IDS)
def test_instruction_in_the_assembly(description, intrinsic):
    target = isa_target(description)
    func = gemm_ops.gemm_packed(16, 64, 32, intrinsic.dtype)
    asm = tvm.compile(_tensorized(func, intrinsic), target).mod.inspect_source("asm")
    assert re.search(rf"\b{intrinsic.instruction}\w*\s", asm), intrinsic.instruction
    if description.arch == "x86_64":
        line = next(x for x in asm.splitlines() if re.search(rf"\b{intrinsic.instruction}", x))
        assert f"%{intrinsic.register}" in line, line


@pytest.mark.parametrize("description, intrinsic", CASES, ids=IDS)
def test_results_against_numpy_where_the_host_runs_it(description, intrinsic):
    target = isa_target(description)
    if not runs_here(target):
        pytest.skip(f"this CPU cannot run {description.name} code (built and checked above)")
    rng = np.random.default_rng(0)
    u7 = intrinsic.input_range == isa.InputRange.U7
    a, b = _operands(intrinsic, rng, high=128 if u7 else 256)
    got = _run(intrinsic, target, a, b)
    if intrinsic.dtype == "int8":
        np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64).T)
        if not u7:  # the extremes do not saturate anywhere
            a = np.full((16, 256), 255, np.uint8)
            b = np.full((16, 256), -128, np.int8)
            assert (_run(intrinsic, target, a, b) == 255 * -128 * 256).all()
    else:
        np.testing.assert_allclose(got, a.astype(np.float64) @ b.astype(np.float64).T, rtol=1e-4, atol=1e-4)


def test_seven_bit_form_is_wrong_on_full_range_activations():
    """Why the vpmaddubsw form needs declared 7-bit data: its 16-bit pair sums saturate."""
    description = isa.by_name("avx2")
    target = isa_target(description)
    if not runs_here(target):
        pytest.skip("this CPU cannot run AVX2 code")
    (u7,) = [i for i in description.intrinsics if i.input_range == isa.InputRange.U7]
    a = np.full((16, 64), 255, np.uint8)
    b = np.full((16, 64), 127, np.int8)
    got = _run(u7, target, a, b)
    assert (got != 255 * 127 * 64).all()  # 2 x 255 x 127 > 32767: every pair sum saturates


def test_seven_bit_form_is_exact_on_full_range_activations_with_seven_bit_weights():
    """Why a kernel whose weights lie in -64..64 may use it (tvm_heron.relax.weight_range):
    every pair sum is at most 2 x 255 x 64 = 32640 in magnitude."""
    description = isa.by_name("avx2")
    target = isa_target(description)
    if not runs_here(target):
        pytest.skip("this CPU cannot run AVX2 code")
    (u7,) = [i for i in description.intrinsics if i.input_range == isa.InputRange.U7]
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (32, 64), dtype=np.uint8)
    b = rng.integers(-64, 65, (48, 64), dtype=np.int8)
    np.testing.assert_array_equal(_run(u7, target, a, b), a.astype(np.int64) @ b.astype(np.int64).T)
    for weight in (-64, 64):  # the extremes
        got = _run(u7, target, np.full((16, 64), 255, np.uint8), np.full((16, 64), weight, np.int8))
        assert (got == 255 * weight * 64).all()


@pytest.mark.parametrize("dtype", isa.DTYPES)
def test_strided_weight_tile_is_rejected(host, dtype):
    """An unpacked B[N, K] has tiles whose lanes are a row apart: the build must refuse it."""
    intrinsic = next(i for i in isa.intrinsics() if i.dtype == dtype)
    description = next(s for s in isa.INSTRUCTION_SETS if s.offers(intrinsic.name))
    mod = gemm_ops.gemm_plain(32, 64, 32, dtype)
    with pytest.raises(Exception, match="stride|Stride"):
        tvm.compile(_tensorized(mod, intrinsic), isa_target(description))


def test_pack_weight_layout():
    b = np.arange(32 * 8, dtype=np.int32).reshape(32, 8)
    packed = pack_weight(b, "int8", pad=False)
    assert packed.shape == (2, 2, 16, 4)
    for jo, ko, ji, ki in np.ndindex(packed.shape):
        assert packed[jo, ko, ji, ki] == b[16 * jo + ji, 4 * ko + ki]
    with pytest.raises(ValueError, match="multiple"):
        pack_weight(np.zeros((15, 8)), "int8", pad=False)
