"""Real tuning runs on this CPU: heron-cga through MetaSchedule, locally and over RPC."""

from __future__ import annotations


import pytest
from helpers import HOST
from tvm.s_tir import meta_schedule as ms

from tvm_heron.database import open_database
from tvm_heron.ops import make_workload
from tvm_heron.tuning import tune


@pytest.mark.slow
def test_cga_tunes_int8_gemm_exactly(tmp_path):
    workload = make_workload("gemm", (64, 64, 64), "int8", layout="plain")
    result = tune(workload, target=HOST, work_dir=tmp_path, trials=16, strategy="heron-cga", seed=3,
                  trials_per_round=8)
    assert result.trials == 16 and result.valid_trials == 16
    assert result.correct is True and result.max_abs_error == 0


@pytest.mark.slow
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
    """heron-cga measuring on MetaSchedule's LocalRPC (a tracker and a server; the runner waits
    for the server to register instead of sleeping)."""
    from tvm.s_tir.meta_schedule.testing.local_rpc import LocalRPC

    from tvm_heron.rpc import TrackedRPCRunner

    with LocalRPC(tracker_key="heron-test", silent=True) as rpc:
        runner = TrackedRPCRunner(tracker_host=rpc.tracker_host, tracker_port=rpc.tracker_port,
                                  tracker_key=rpc.tracker_key, max_workers=1, session_timeout_s=60, wait_s=30)
        workload = make_workload("gemm", (64, 64, 64), "int8")
        result = tune(workload, target=HOST, work_dir=tmp_path, trials=4, strategy="heron-cga",
                      seed=2, trials_per_round=4, runner=runner)
    assert result.trials == 4 and result.valid_trials == 4
    assert result.correct
