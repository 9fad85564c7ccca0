"""TensorCore kernels tuned on a GPU are correct (``-m gpu``; skipped without a CUDA device).

Heron's constrained GA tunes fp16 operators end to end with MetaSchedule's
local builder and runner on the GPU; the best kernel is compared with numpy
(:meth:`~tvm_heron.ops.Workload.check`, fp16 tolerances).
"""

from __future__ import annotations

import pytest
import tvm
from tvm.target import Target

from tvm_heron.ops import make_workload
from tvm_heron.target import complete_cuda_target
from tvm_heron.tuning import tune

pytestmark = pytest.mark.gpu


def _gpu_target() -> Target:
    if not tvm.cuda(0).exist:
        pytest.skip("no CUDA device")
    return complete_cuda_target(Target.from_device(tvm.cuda(0)))


@pytest.mark.parametrize(
    "op, shape, acc_dtype",
    [
        ("gemm", (256, 256, 256), None),
        ("gemm", (128, 256, 64), "float32"),
        ("c2d", (1, 14, 14, 64, 64, 3, 3, 1, 1, 1), None),
        ("bmm", (4, 64, 64, 64), None),
    ],
)
def test_tuned_kernel_matches_numpy(op, shape, acc_dtype, tmp_path):
    target = _gpu_target()
    workload = make_workload(op, shape, "float16", acc_dtype=acc_dtype)
    result = tune(workload, target=target, work_dir=tmp_path, trials=16, strategy="heron-cga",
                  seed=1, trials_per_round=8)
    assert result.valid_trials > 0
    assert result.correct, f"{workload.name}: max abs error {result.max_abs_error}"
