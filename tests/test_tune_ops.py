"""Every operator of the paper's CPU list, int8 and fp32: a short real tuning run in Heron's space.

Each run measures a few candidates with MetaSchedule's builder and runner,
then compiles the best record, checks it against numpy (exactly for int8,
to tolerance for fp32) and, for int8, that the kernel uses VNNI.
"""

from __future__ import annotations

import pytest
import tvm
from helpers import HOST, HOST_ISA
from tvm.s_tir import meta_schedule as ms

from tvm_heron.database import open_database
from tvm_heron.ops import make_workload
from tvm_heron.tuning import tune

#: A small shape per operator (fields as in workloads.json).
SMALL = {
    "gemm": (32, 64, 32),
    "bmm": (2, 16, 32, 32),
    "gemv": (64, 64),
    "scan": (16, 32, 32),
    "c1d": (1, 18, 16, 32, 3, 1, 1, 1),
    "c2d": (1, 8, 8, 16, 32, 3, 3, 1, 1, 1),
    "dil": (1, 10, 10, 16, 16, 3, 3, 1, 2, 2),
    "c3d": (1, 4, 6, 6, 16, 16, 3, 3, 3, 1, 1, 1),
    "t2d": (1, 5, 5, 16, 16, 3, 3, 2, 1, 1, 1),
}

#: The host's intrinsic and its instruction per dtype (VNNI / AVX-512 FMA, AVX2 forms, ...).
INTRINSIC = {d: (i.name, i.instruction) for d in ("int8", "float32") for i in HOST_ISA.intrinsics_for(d)[:1]}


#: One real tuning run per path stays in the default test run (fp32 GEMM here; int8 in
#: test_cli, the README example and test_tuning_real); the other operators are ``slow``.
DEFAULT_RUN = {("gemm", "float32")}
CASES = [
    pytest.param(op, dtype, marks=() if (op, dtype) in DEFAULT_RUN else pytest.mark.slow)
    for op in sorted(SMALL) for dtype in ("int8", "float32")
]


@pytest.mark.parametrize("op, dtype", CASES)
def test_short_tuning_run_is_correct_and_uses_the_intrinsic(op, dtype, tmp_path):
    workload = make_workload(op, SMALL[op], dtype)
    result = tune(
        workload, target=HOST, work_dir=tmp_path, trials=4, trials_per_round=4, seed=3
    )
    assert result.valid_trials >= 1, result
    assert result.correct, f"{workload.name}: max error {result.max_abs_error}"
    intrin, instruction = INTRINSIC[dtype]
    database = open_database(tmp_path, target=HOST)
    sch = ms.tir_integration.compile_tir(database, tvm.IRModule({"main": workload.func}), HOST)
    assert intrin in str(sch.trace), "the best kernel is not tensorized"
    assert instruction in tvm.compile(sch.mod, HOST).mod.inspect_source("asm")
