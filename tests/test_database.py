"""The durable tuning database: store semantics, MetaSchedule's interface, JSON import, corruption.

The kill, concurrency and RPC tests that run real tuning processes are in
test_database_faults.py.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
import tvm
from helpers import HOST
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.target import Target

from tvm_heron.cli import main
from tvm_heron.database import open_database
from tvm_heron.database.jsonio import QUARANTINE_SUFFIX, RECORD_FILE, WORKLOAD_FILE, read_work_dir
from tvm_heron.database.store import RecordStore, target_key
from tvm_heron.errors import DatabaseError
from tvm_heron.ops import make_workload
from tvm_heron.outcome import Failure

T1 = target_key({"kind": "llvm", "num-cores": 2})
T2 = target_key({"kind": "llvm", "num-cores": 1})


def _store(tmp_path):
    store = RecordStore(tmp_path / "t.sqlite")
    workload = store.find_or_add_workload("123", "MOD", lambda other: False)
    return store, workload


# -- the store ------------------------------------------------------------------------------------
def test_one_row_per_program_and_what_replaces_what(tmp_path):
    store, w = _store(tmp_path)
    trace = json.dumps([["a"], []])
    store.commit(w, T1, trace, None, [1e10], failure=Failure.RUN_TIMEOUT, error="LocalRunner: Timeout")
    (row,) = store.records(w, T1)
    assert row.failure is Failure.RUN_TIMEOUT and row.remeasure and row.attempts == 1
    # MetaSchedule's AddToDatabase commits the same failure without a message: nothing changes
    store.commit(w, T1, trace, None, [1e10])
    (row,) = store.records(w, T1)
    assert row.failure is Failure.RUN_TIMEOUT and row.attempts == 1
    # measured again: a valid latency replaces the failure
    store.commit(w, T1, trace, None, [2e-3, 4e-3])
    (row,) = store.records(w, T1)
    assert row.failure is None and row.latency == pytest.approx(3e-3) and not row.remeasure
    # a later failure never replaces a latency
    store.commit(w, T1, trace, None, [1e10], failure=Failure.BUILD_ERROR, error="x")
    assert store.records(w, T1)[0].latency == pytest.approx(3e-3)
    assert store.count() == 1


def test_transient_failures_are_measured_again_once_permanent_never(tmp_path):
    store, w = _store(tmp_path)
    store.commit(w, T1, '["t"]', None, [1e10], failure=Failure.LOST, error="connection reset")
    assert store.records(w, T1)[0].remeasure
    store.commit(w, T1, '["t"]', None, [1e10], failure=Failure.RUN_TIMEOUT, error="Timeout")
    assert not store.records(w, T1)[0].remeasure  # twice: given up
    store.commit(w, T1, '["p"]', None, [1e10], failure=Failure.BUILD_ERROR, error="LLVM ERROR")
    assert not [r for r in store.records(w, T1) if r.remeasure]


def test_records_are_keyed_by_target(tmp_path):
    store, w = _store(tmp_path)
    store.commit(w, T1, '["t"]', None, [2e-3])
    store.commit(w, T2, '["t"]', None, [1e-3])
    assert [r.latency for r in store.records(w, T1, valid_only=True)] == [2e-3]
    assert [r.latency for r in store.records(w, T2, valid_only=True)] == [1e-3]
    stats = store.stats()
    assert stats["records"] == 2 and set(stats["targets"]) == {T1, T2}


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"this is not a database at all, just text" * 100), "not a usable tvm-heron database"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE x (y)").connection.commit(), "did not write"),
])
def test_foreign_files_are_refused(tmp_path, make, message):
    path = tmp_path / "t.sqlite"
    make(path)
    with pytest.raises(DatabaseError, match=message):
        RecordStore(path)


def test_a_newer_schema_is_refused(tmp_path):
    store, _ = _store(tmp_path)
    store.close()
    connection = sqlite3.connect(tmp_path / "t.sqlite")
    connection.execute("PRAGMA user_version = 99")
    connection.commit()
    connection.close()
    with pytest.raises(DatabaseError, match="newer tvm-heron"):
        RecordStore(tmp_path / "t.sqlite")


# -- MetaSchedule's interface -------------------------------------------------------------------------
def _record(database, mod, target, secs):
    workload = database.commit_workload(mod)
    func = mod["main"]
    return ms.database.TuningRecord(Schedule(mod).trace, workload, secs, target,
                                    ms.arg_info.ArgInfo.from_prim_func(func))


def test_heron_database_through_metaschedule_calls(tmp_path):
    mod = tvm.IRModule({"main": make_workload("gemm", (16, 16, 16), "int8").func})
    other = Target({"kind": "llvm", "mcpu": "znver3", "num-cores": 1})
    database = open_database(tmp_path, target=HOST)
    assert not database.has_workload(mod)
    database.commit_tuning_record(_record(database, mod, other, [1e-6]))  # another target's
    database.commit_tuning_record(_record(database, mod, HOST, [2e-3]))
    database.commit_tuning_record(_record(database, mod, HOST, [2e-3]))  # the same program again
    assert database.has_workload(mod) and len(database) == 1
    workload = database.commit_workload(mod)
    (best,) = database.get_top_k(workload, 5)
    assert [float(s) for s in best.run_secs] == [2e-3]  # not the other target's faster record
    assert database.query_tuning_record(mod, HOST, "main") is not None
    assert [float(s) for s in database.query_tuning_record(mod, other, "main").run_secs] == [1e-6]
    assert database.query_schedule(mod, HOST, "main") is not None
    # a second process opening the same work dir sees it all
    again = open_database(tmp_path, target=HOST)
    assert len(again) == 1 and again.store.count() == 2


def test_compile_tir_takes_this_targets_best_record(tmp_path):
    """``ms.tir_integration.compile_tir`` asks query_schedule with the target: ours filters by it."""
    mod = tvm.IRModule({"main": make_workload("gemm", (16, 16, 16), "int8").func})
    database = open_database(tmp_path, target=HOST)
    database.commit_tuning_record(_record(database, mod, HOST, [2e-3]))
    assert ms.tir_integration.compile_tir(database, mod, HOST) is not None
    assert ms.tir_integration.compile_tir(database, mod, Target({"kind": "llvm", "num-cores": 7})) is None


# -- MetaSchedule JSON work directories -----------------------------------------------------------------
def _json_work_dir(path, targets=(HOST, HOST, HOST)):
    """A real JSONDatabase work dir: one workload, a record per target given."""
    database = ms.database.JSONDatabase(work_dir=str(path))
    mod = tvm.IRModule({"main": make_workload("gemm", (16, 16, 16), "int8").func})
    workload = database.commit_workload(mod)
    sch = Schedule(mod)
    for i, target in enumerate(targets):
        database.commit_tuning_record(ms.database.TuningRecord(
            sch.trace, workload, [1e-3 * (i + 1)], target, ms.arg_info.ArgInfo.from_prim_func(mod["main"])))
    return path / RECORD_FILE


def _lines(path):
    return path.read_text().splitlines(keepends=True)


#: (corruption of the record file, expected (records imported, problem text, quarantined)).
CORRUPTIONS = {
    "empty line": (lambda p: p.write_text("".join(_lines(p)[:1]) + "\n" + "".join(_lines(p)[1:])),
                   (3, "empty line", True)),
    "torn tail": (lambda p: p.write_bytes(p.read_bytes()[:-25]), (2, "torn last line", False)),
    "zero-filled tail": (lambda p: p.write_bytes(p.read_bytes() + b"\x00" * 300), (3, "torn last line", False)),
    "two merged lines": (lambda p: p.write_text(_lines(p)[0].rstrip("\n") + "".join(_lines(p)[1:])),
                         (1, "two records on one line", True)),
    "garbage line": (lambda p: p.write_text("".join(_lines(p)) + "}{ not json\n"), (3, "not JSON", True)),
    "unknown workload index": (lambda p: p.write_text("".join(_lines(p)) + _lines(p)[0].replace("[0,", "[7,", 1)),
                               (3, "workload index 7 does not exist", True)),
    "null line": (lambda p: p.write_text("".join(_lines(p)) + "null\n"), (3, "not a record", True)),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupted_json_work_dir_is_recovered_with_file_and_line(tmp_path, case, capsys):
    """What segfaulted JSONDatabase (an empty line, null) or stopped it (a torn tail) is recovered here."""
    corrupt, (count, reason, quarantined) = CORRUPTIONS[case]
    path = _json_work_dir(tmp_path)
    corrupt(path)
    _, records, report = read_work_dir(tmp_path)
    assert len(records) == count
    (problem,) = report.problems
    assert reason in problem.reason and problem.file == str(path) and problem.line >= 1
    assert problem.quarantined == quarantined
    assert (tmp_path / (RECORD_FILE + QUARANTINE_SUFFIX)).exists() == quarantined
    # the command line (the empty line, which segfaulted JSONDatabase, in a real process)
    if case == "empty line":
        done = subprocess.run([sys.executable, "-m", "tvm_heron", "db", "check", str(tmp_path)],
                              capture_output=True, text=True, timeout=300)
        status, out = done.returncode, done.stdout
    else:
        status, out = main(["db", "check", str(tmp_path)]), capsys.readouterr().out
    assert status == 0
    assert f"{RECORD_FILE}:{problem.line}" in out and reason in out


def test_an_old_json_work_dir_keeps_working(tmp_path):
    """Opening it imports the JSON records (the files stay); another target's records stay apart."""
    other = Target({"kind": "llvm", "num-cores": 1})
    _json_work_dir(tmp_path, targets=(other, HOST))  # the other target's record is the faster
    before = (tmp_path / RECORD_FILE).read_bytes()
    database = open_database(tmp_path, target=HOST)
    assert len(database) == 1 and database.store.count() == 2
    assert (tmp_path / RECORD_FILE).read_bytes() == before
    mod = tvm.IRModule({"main": make_workload("gemm", (16, 16, 16), "int8").func})
    best = database.query_tuning_record(mod, HOST, "main")
    assert [float(s) for s in best.run_secs] == [2e-3]  # this target's, not the faster other one


def test_export_loads_in_metaschedules_json_database(tmp_path):
    mod = tvm.IRModule({"main": make_workload("gemm", (16, 16, 16), "int8").func})
    database = open_database(tmp_path / "db", target=HOST)
    database.commit_tuning_record(_record(database, mod, HOST, [2e-3]))
    assert main(["db", "export", str(tmp_path / "db"), str(tmp_path / "json"),
                 "--json", str(tmp_path / "e.json")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["records"] == 1
    loaded = ms.database.JSONDatabase(work_dir=str(tmp_path / "json"))
    assert len(loaded.get_all_tuning_records()) == 1
    assert (tmp_path / "json" / WORKLOAD_FILE).exists()


def test_db_stats_and_a_database_that_cannot_be_used(tmp_path, capsys):
    (tmp_path / "tuning.sqlite").write_bytes(b"garbage" * 1000)
    assert main(["db", "stats", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a usable tvm-heron database" in err and "Traceback" not in err


def test_a_trace_with_an_index_map_is_stored_and_read_back(tmp_path):
    """The in-kernel weight packing (TransformLayout) holds an IndexMap: stored as MetaSchedule's C++ writes it."""
    from helpers import space_models

    from tvm_heron.space import postprocess, replay

    _, mod, ctx, spaces = space_models("gemm", (64, 64, 64), layout="plain")
    sch = postprocess(replay(spaces[0], mod, spaces[0].solver.solve(seed=1)), ctx.space_generator.postprocs)
    assert "transform_layout" in str(sch.trace)
    database = open_database(tmp_path, target=HOST)
    record = ms.database.TuningRecord(sch.trace, database.commit_workload(mod), [1e-3], HOST,
                                      ms.arg_info.ArgInfo.from_prim_func(mod["main"]))
    database.commit_tuning_record(record)
    back = database.query_schedule(mod, HOST, "main")
    tvm.ir.assert_structural_equal(back.mod, sch.mod)
