"""The constrained GA in the TensorCore space, without a GPU: fake measurements, real builds.

The strategy's whole protocol runs on a CUDA target with fake runner results
(as MetaSchedule's strategy tests do); every candidate it proposes builds with
the project's builder (CUDA C, exported through nvcc when present).
"""

from __future__ import annotations

import pytest
import tvm
from helpers import drive
from tensorcore_helpers import A100
from tvm.s_tir import meta_schedule as ms

from tvm_heron.bench.cuda_build import nvcc_path
from tvm_heron.builder import PersistentBuilder
from tvm_heron.ops import make_workload
from tvm_heron.space import heron_space


def test_cga_proposes_valid_tensorcore_programs():
    workload = make_workload("gemm", (256, 256, 128), "float16")
    ctx = ms.TuneContext(
        mod=tvm.IRModule({"main": workload.func}), target=A100, space_generator=heron_space(A100),
        search_strategy=ms.search_strategy.SearchStrategy.create("heron-cga", seed=3),
        task_name="main", rand_state=3, num_threads=1,
    )
    batches = drive(ctx, max_trials=8, per_iter=4)  # the second round is bred from the first's
    candidates = [c for batch in batches for c in batch]
    assert [len(b) for b in batches] == [4, 4]
    assert all("tvm_mma_sync" in c.sch.mod.script() for c in candidates)
    if nvcc_path() is None:
        pytest.skip("nvcc not found: the builder cannot export CUDA modules")
    builder = PersistentBuilder(max_workers=1, timeout_sec=300.0)
    try:
        results = builder.build(
            [ms.builder.BuilderInput(c.sch.mod, A100) for c in candidates[-1:]]
        )
    finally:
        builder.shutdown()
    assert all(r.error_msg is None for r in results), [r.error_msg for r in results]
