"""Real tuning runs on this CPU: heron-cga through MetaSchedule, locally and over RPC."""

from __future__ import annotations


import pytest
from helpers import HOST, rpc_pool
from tvm.s_tir import meta_schedule as ms

from tvm_heron.database import open_database
from tvm_heron.ops import make_workload
from tvm_heron.tuning import tune


def test_cga_tunes_int8_gemm_exactly(tmp_path):
    workload = make_workload("gemm", (64, 64, 64), "int8", layout="plain")
    result = tune(workload, target=HOST, work_dir=tmp_path, trials=16, strategy="heron-cga", seed=3,
                  trials_per_round=8)
    assert result.trials == 16 and result.valid_trials == 16
    assert result.correct is True and result.max_abs_error == 0


def test_restart_resumes_without_measuring_again(tmp_path):
    """A second run on the same work dir adds new records and keeps the old ones."""
    workload = make_workload("gemm", (64, 64, 32), "int8")
    first = tune(workload, target=HOST, work_dir=tmp_path, trials=8, seed=1, trials_per_round=8)
    second = tune(workload, target=HOST, work_dir=tmp_path, trials=8, seed=1, trials_per_round=8)
    database = open_database(tmp_path, target=HOST)
    traces = [str(r.trace) for r in database.get_all_tuning_records()]
    assert first.trials == second.trials == 8
    assert len(traces) == 16 == len(set(traces))
    assert second.correct


def test_cga_over_rpc(tmp_path):
    """heron-cga measuring on an RPC server (a tracker and a server on 127.0.0.1, no sleeps)."""
    from tvm_heron.rpc import TrackedRPCRunner

    with rpc_pool("heron-test", servers=1) as (port, _):
        runner = TrackedRPCRunner(tracker_host="127.0.0.1", tracker_port=port, tracker_key="heron-test",
                                  max_workers=2, session_timeout_s=60, wait_s=30)
        workload = make_workload("gemm", (64, 64, 64), "int8")
        result = tune(workload, target=HOST, work_dir=tmp_path, trials=8, strategy="heron-cga",
                      seed=2, trials_per_round=8, runner=runner)
    assert result.trials == 8 and result.valid_trials == 8
    assert result.correct
