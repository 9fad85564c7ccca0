"""The VNNI intrinsic: emits vpdpbusd, computes exactly, rejects a strided weight tile."""

from __future__ import annotations

import numpy as np
import pytest
import tvm
from tvm.s_tir import Schedule

from tvm_heron.intrinsics import vnni
from tvm_heron.ops import gemm as gemm_ops
from tvm_heron.ops import pack_vnni_weight

pytestmark = pytest.mark.vnni


def _tensorized(func):
    sch = Schedule(func)
    block = sch.get_sblock("C")
    i, j, k = sch.get_loops(block)
    j_o, j_i = sch.split(j, [None, 16])
    k_o, k_i = sch.split(k, [None, 4])
    sch.reorder(i, j_o, k_o, j_i, k_i)
    sch.decompose_reduction(block, i)
    sch.tensorize(j_i, vnni.VNNI_DOT_16X4_INTRIN)
    return sch.mod


def test_registered_under_own_name():
    from tvm.s_tir import TensorIntrin

    assert TensorIntrin.get(vnni.VNNI_DOT_16X4_INTRIN) is not None
    assert vnni.VNNI_DOT_16X4_INTRIN != "dot_16x4_vnni"


def test_emits_vpdpbusd_and_is_exact(host):
    m, k, n = 32, 64, 48
    executable = tvm.compile(_tensorized(gemm_ops.gemm_packed(m, k, n, "int8")), host)
    assert "vpdpbusd" in executable.mod.inspect_source("asm")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    b = rng.integers(-128, 128, (n, k), dtype=np.int8)
    dev = tvm.cpu()
    c = tvm.runtime.tensor(np.zeros((m, n), np.int32), dev)
    executable.jit()["main"](
        tvm.runtime.tensor(a, dev), tvm.runtime.tensor(pack_vnni_weight(b), dev), c
    )
    # Extremes included: 255 * -128 summed over k must not saturate.
    np.testing.assert_array_equal(c.numpy(), a.astype(np.int32) @ b.astype(np.int32).T)


def test_extreme_values_do_not_saturate(host):
    m, k, n = 16, 256, 16
    executable = tvm.compile(_tensorized(gemm_ops.gemm_packed(m, k, n, "int8")), host)
    a = np.full((m, k), 255, np.uint8)
    b = np.full((n, k), -128, np.int8)
    dev = tvm.cpu()
    c = tvm.runtime.tensor(np.zeros((m, n), np.int32), dev)
    executable.jit()["main"](
        tvm.runtime.tensor(a, dev), tvm.runtime.tensor(pack_vnni_weight(b), dev), c
    )
    assert (c.numpy() == 255 * -128 * k).all()


def test_strided_weight_tile_is_rejected(host):
    """An unpacked B[N, K] has a 16x4 tile with row stride K: the build must refuse it."""
    mod = _tensorized(gemm_ops.gemm_plain(32, 64, 32, "int8"))
    with pytest.raises(Exception, match="strides"):
        tvm.compile(mod, host)


def test_pack_vnni_weight_layout():
    b = np.arange(32 * 8, dtype=np.int32).reshape(32, 8)
    packed = pack_vnni_weight(b)
    assert packed.shape == (2, 2, 16, 4)
    for jo, ko, ji, ki in np.ndindex(packed.shape):
        assert packed[jo, ko, ji, ki] == b[16 * jo + ji, 4 * ko + ki]
    with pytest.raises(ValueError, match="multiple"):
        pack_vnni_weight(np.zeros((15, 8)))
