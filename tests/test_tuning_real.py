"""Real tuning runs on this CPU: heron-cga through MetaSchedule, locally and over RPC."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time

import pytest
from helpers import HOST
from tvm.s_tir import meta_schedule as ms

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
    database = ms.database.JSONDatabase(work_dir=str(tmp_path))
    traces = [str(r.trace) for r in database.get_all_tuning_records()]
    assert first.trials == second.trials == 8
    assert len(traces) == 16 == len(set(traces))
    assert second.correct


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _rpc_pool(key: str, servers: int = 2):
    """A tracker and ``servers`` RPC servers on 127.0.0.1; stopped on exit."""
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_tracker", "--host", "127.0.0.1",
                               "--port", str(port), "--port-end", str(port + 1)])]
    try:
        time.sleep(3)
        for _ in range(servers):
            base = _free_port()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "tvm.exec.rpc_server", "--tracker", f"127.0.0.1:{port}",
                 "--key", key, "--host", "127.0.0.1", "--port", str(base), "--port-end",
                 str(base + 100)]))
        time.sleep(5)
        yield port
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def test_cga_over_rpc(tmp_path):
    with _rpc_pool("heron-test") as port:
        runner = ms.runner.RPCRunner(
            rpc_config=ms.runner.RPCConfig(tracker_host="127.0.0.1", tracker_port=port,
                                           tracker_key="heron-test", session_timeout_sec=60),
            max_workers=2,
        )
        workload = make_workload("gemm", (64, 64, 64), "int8")
        result = tune(workload, target=HOST, work_dir=tmp_path, trials=8, strategy="heron-cga",
                      seed=2, trials_per_round=8, runner=runner)
    assert result.trials == 8 and result.valid_trials == 8
    assert result.correct
