"""Tuning runs that are killed, run side by side, or lose their RPC servers: no record is lost.

Real ``tvm-heron tune`` processes on small int8 GEMMs. The default run kills
one and finishes the run on its database; ``-m slow`` adds 20 kill cycles.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tvm
from helpers import HOST, rpc_pool
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm_ffi import structural_hash

from tvm_heron.cli import EXIT_BAD_INPUT, main
from tvm_heron.database import open_database
from tvm_heron.database.store import DATABASE_FILE, RecordStore
from tvm_heron.ops import make_workload
from tvm_heron.outcome import Failure


def _command(work_dir, shape=(64, 64, 64), trials=12, seed=1, json_out=None, per_round=4):
    command = [sys.executable, "-m", "tvm_heron", "tune", "--op", "gemm", "--shape",
               ",".join(map(str, shape)), "--trials", str(trials), "--trials-per-round", str(per_round),
               "--work-dir", str(work_dir), "--seed", str(seed), "--strategy", "heron-crand"]
    return command + (["--json", str(json_out)] if json_out else [])


def _rows(work_dir) -> dict:
    """trace digest -> (latency, failure) of every stored record (the file must open)."""
    path = work_dir / DATABASE_FILE
    if not path.exists():
        return {}
    store = RecordStore(path, readonly=True)
    try:
        return {r.trace: (r.latency, r.failure) for r in store.records()}
    finally:
        store.close()


def _programs(work_dir, shape=(64, 64, 64)) -> list[int]:
    """The structural hash of every stored program of the GEMM (its trace replayed)."""
    mod = tvm.IRModule({"main": make_workload("gemm", shape, "int8").func})
    database = open_database(work_dir, target=HOST)
    hashes = []
    for record, _ in database.records_of(mod, HOST):
        sch = Schedule(mod, seed=1, debug_mask=0)
        record.trace.apply_to_schedule(sch, remove_postproc=False)
        hashes.append(structural_hash(sch.mod))
    return hashes


def _wait_for_rows(work_dir, count: int, proc, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(_rows(work_dir)) < count and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)


def _kill_cycles(tmp_path, cycles: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    work_dir = tmp_path / "run"
    figures = []
    for cycle in range(cycles):
        before = _rows(work_dir)
        proc = subprocess.Popen(_command(work_dir, trials=48, seed=cycle + 1, per_round=2),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill at a random instant once this run has committed a batch: mid-round, while
        # candidates build or run, or while a batch is being written.
        _wait_for_rows(work_dir, len(before) + 1, proc)
        time.sleep(float(rng.uniform(0.0, 3.0)))  # a round of 2 candidates takes about 1 s here
        proc.kill()
        proc.wait()
        after = _rows(work_dir)  # opens after every kill
        lost = [key for key in before if key not in after]
        figures.append({"cycle": cycle, "before": len(before), "after": len(after), "lost": len(lost)})
        assert not lost, figures[-1]
        for key, (latency, _) in before.items():
            if latency is not None:
                assert after[key][0] is not None  # a measured latency stays measured
    assert all(f["after"] > f["before"] for f in figures)  # every cycle committed before its kill
    programs = _programs(work_dir)
    assert len(programs) == len(set(programs)) == len(_rows(work_dir)), "a program stored twice"
    # the run finishes on the same database and its kernel is right (the same command, run
    # in this process: a process's start is what the cycles above have shown)
    summary = tmp_path / "final.json"
    assert main(_command(work_dir, trials=4, seed=99, json_out=summary)[3:]) == 0
    assert json.loads(summary.read_text())["correct"] is True
    programs = _programs(work_dir)
    assert len(programs) == len(set(programs))
    return figures


def test_kill_and_restart(tmp_path):
    figures = _kill_cycles(tmp_path, 1)
    assert [f["lost"] for f in figures] == [0]


@pytest.mark.slow
def test_kill_and_restart_twenty_cycles(tmp_path):
    figures = _kill_cycles(tmp_path, 20, seed=7)
    print(json.dumps(figures))


@pytest.mark.slow
def test_two_processes_tune_different_workloads_into_one_database(tmp_path):
    work_dir = tmp_path / "shared"
    shapes = [(64, 64, 64), (48, 64, 32)]
    procs = [subprocess.Popen(_command(work_dir, shape=s, trials=12, seed=i + 1,
                                       json_out=tmp_path / f"s{i}.json"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, s in enumerate(shapes)]
    outputs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]
    trials = [json.loads((tmp_path / f"s{i}.json").read_text())["trials"] for i in range(2)]
    database = open_database(work_dir, target=HOST)
    counted = 0
    for shape, expected in zip(shapes, trials):
        mod = tvm.IRModule({"main": make_workload("gemm", shape, "int8").func})
        pairs = database.records_of(mod, HOST)
        for record, _ in pairs:  # every record replays on its own workload
            sch = Schedule(mod, seed=1, debug_mask=0)
            record.trace.apply_to_schedule(sch, remove_postproc=False)
        assert len(pairs) == expected == 12
        counted += len(pairs)
    assert counted == database.store.count() == sum(trials)


# -- RPC --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_rpc_server_killed_mid_run_the_run_goes_on(tmp_path):
    from tvm_heron.rpc import TrackedRPCRunner
    from tvm_heron.tuning import tune

    with rpc_pool("heron-faults", servers=2) as (port, servers):
        runner = TrackedRPCRunner(tracker_host="127.0.0.1", tracker_port=port,
                                  tracker_key="heron-faults", max_workers=2, session_timeout_s=20,
                                  wait_s=30)
        killer = threading.Timer(12.0, servers[0].terminate)  # mid-run: the run takes ~25 s
        killer.start()
        workload = make_workload("gemm", (64, 64, 64), "int8")
        result = tune(workload, target=HOST, work_dir=tmp_path, trials=24, trials_per_round=4,
                      strategy="heron-crand", seed=3, runner=runner)
        killer.join()
    print(json.dumps(result.outcomes))
    assert result.trials == 24 and result.valid_trials >= 12 and result.correct
    failed = {Failure(k) for k in result.outcomes["failed"]}
    assert failed <= {Failure.LOST, Failure.RUN_TIMEOUT}  # the dead server's: transient only


def test_no_rpc_server_is_a_clear_error_within_the_bound(tmp_path, capsys):
    with rpc_pool("nobody", servers=0) as (port, _):
        start = time.monotonic()
        status = main(["tune", "--op", "gemm", "--shape", "64,64,64", "--trials", "4",
                       "--work-dir", str(tmp_path), "--rpc-tracker", f"127.0.0.1:{port}",
                       "--rpc-key", "nobody", "--rpc-wait", "1"])
        elapsed = time.monotonic() - start
    assert status == EXIT_BAD_INPUT and elapsed < 30
    assert "no RPC server for key 'nobody'" in capsys.readouterr().err


@pytest.mark.slow
def test_records_of_another_target_are_not_this_ones(tmp_path):
    """Measured with num-cores 1: not re-used, not the best kernel, for num-cores 2."""
    from tvm_heron.target import host_target
    from tvm_heron.tuning import tune

    workload = make_workload("gemm", (32, 32, 32), "int8")
    one = tune(workload, target=host_target(1), work_dir=tmp_path, trials=4, trials_per_round=4,
               strategy="heron-crand", seed=1)
    two = tune(workload, target=host_target(2), work_dir=tmp_path, trials=4, trials_per_round=4,
               strategy="heron-crand", seed=1)
    assert one.trials == two.trials == 4  # the same seed measures the same programs again
    database = open_database(tmp_path)
    assert database.store.count() == 8
    for target in (host_target(1), host_target(2)):
        mod = tvm.IRModule({"main": workload.func})
        assert len(database.records_of(mod, target)) == 4
        assert ms.tir_integration.compile_tir(database, mod, target) is not None


def test_a_database_is_never_seen_half_made(tmp_path):
    """Readers polling the path while a writer creates the file find no file or a whole database
    (made aside and linked in place), never a half-written schema; no temporary file is left."""
    for attempt in range(20):
        path = tmp_path / f"{attempt}" / DATABASE_FILE
        path.parent.mkdir()
        errors, done = [], threading.Event()

        def poll(path=path, errors=errors, done=done):
            while not done.is_set():
                if path.exists():
                    try:
                        RecordStore(path, readonly=True).close()
                    except Exception as err:  # pylint: disable=broad-except
                        errors.append(err)

        readers = [threading.Thread(target=poll) for _ in range(2)]
        for reader in readers:
            reader.start()
        RecordStore(path).close()
        done.set()
        for reader in readers:
            reader.join()
        assert not errors, errors[0]
        assert [p.name for p in path.parent.iterdir() if p.name.endswith(".new")] == []


def test_a_second_creator_keeps_the_first_ones_records(tmp_path):
    """Two processes that both found no file: the one that links second, or writes the schema
    second, keeps the database the first made, with its records."""
    from tvm_heron.database.store import _write_schema

    path = tmp_path / DATABASE_FILE
    store = RecordStore(path)
    workload = store.find_or_add_workload("1", "{}", lambda _: False)
    store.commit(workload, '{"kind": "llvm"}', "[]", None, [1e-3])
    store.close()
    late = sqlite3.connect(path, isolation_level=None)
    _write_schema(late)
    late.close()
    assert RecordStore(path).count() == 1
