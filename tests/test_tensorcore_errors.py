"""Unsupported TensorCore input fails with an error that names the limit."""

from __future__ import annotations

import pytest
from tvm import te
from tvm.target import Target

from tvm_heron.errors import InvalidShapeError, UnsupportedDtypeError, UnsupportedTargetError
from tvm_heron.ops import make_workload
from tvm_heron.rules.tensorcore import check_tensorizable
from tvm_heron.target import host_target, parse_target, require_tensorcore
from tvm_heron.tuning import check_supported, tune


def test_dtype_without_wmma_form():
    with pytest.raises(UnsupportedDtypeError, match="float64"):
        make_workload("gemm", (64, 64, 64), "float64")
    a = te.placeholder((32, 32), "float64", name="A")
    b = te.placeholder((32, 32), "float64", name="B")
    k = te.reduce_axis((0, 32), name="k")
    c = te.compute((32, 32), lambda i, j: te.sum(a[i, k] * b[j, k], axis=k), name="C")
    with pytest.raises(UnsupportedDtypeError, match=r"float64 -> float64\) has no wmma form"):
        check_tensorizable(te.create_prim_func([a, b, c]))


def test_int8_operators_of_the_cpu_list_have_no_cuda_space():
    """The int8 operators are u8 x s8 (VNNI); wmma multiplies s8 x s8 or u8 x u8 only."""
    with pytest.raises(UnsupportedDtypeError, match="built for float16"):
        check_supported(make_workload("gemm", (64, 64, 64), "int8"), parse_target("nvidia/nvidia-a100"), "heron")


def test_not_a_multiple_of_16_without_padding():
    workload = make_workload("gemm", (30, 64, 64), "float16")
    check_tensorizable(workload.func)  # padding allowed: fine
    with pytest.raises(InvalidShapeError, match=r"M=30, N=64, K=64 are not multiples .* padding is disabled"):
        check_tensorizable(workload.func, allow_padding=False)
    check_tensorizable(make_workload("gemm", (32, 64, 64), "float16").func, allow_padding=False)


@pytest.mark.parametrize(
    "target, match",
    [
        ('{"kind": "cuda", "arch": "sm_61"}', "needs sm_70 or later"),
        ("nvidia/geforce-gtx-1080-ti", "needs sm_70 or later"),
        ("host", "target llvm is not cuda"),
    ],
)
def test_targets_without_tensorcore(target, match):
    workload = make_workload("gemm", (64, 64, 64), "float16")
    with pytest.raises(UnsupportedTargetError, match=match):
        check_supported(workload, parse_target(target), "heron")


def test_tensorcore_targets_by_tag_and_arch():
    for text in ("nvidia/nvidia-a100", "nvidia/nvidia-h100", "nvidia/nvidia-v100", "nvidia/nvidia-t4",
                 '{"kind": "cuda", "arch": "sm_90"}'):
        target = parse_target(text)
        require_tensorcore(target)
        assert int(target.attrs["max_shared_memory_per_block"]) > 0  # filled in when missing
    with pytest.raises(UnsupportedTargetError, match="sm_72"):
        require_tensorcore(Target({"kind": "cuda", "arch": "sm_70"}), "int8")
    with pytest.raises(UnsupportedTargetError):
        require_tensorcore(host_target())


def test_tuning_without_a_gpu_says_so(tmp_path):
    import tvm

    if tvm.cuda(0).exist:
        pytest.skip("this machine has a CUDA device")
    workload = make_workload("gemm", (64, 64, 64), "float16")
    with pytest.raises(UnsupportedTargetError, match="no CUDA device"):
        tune(workload, target=parse_target("nvidia/nvidia-a100"), work_dir=tmp_path, trials=4)
