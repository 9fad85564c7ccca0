"""The tuning-record store: an SQLite file of workloads, targets and measured programs (no TVM).

Everything is kept as MetaSchedule's own JSON (``Workload.as_json()``,
``TuningRecord.as_json()``), in a real embedded database:

* WAL journal, one transaction per commit, a busy timeout: several
  processes may tune into one file; a process killed at any instant leaves
  every committed transaction intact (``synchronous=NORMAL`` in WAL mode
  survives a killed process; a power loss may lose the last transactions);
* records keyed by workload **and** target (the target's full JSON, cores
  included), and by the trace with its decisions: committing a program twice
  updates one row;
* failures stored with their kind (:class:`~tvm_heron.outcome.Failure`): a
  transient one (time-out, lost connection) is offered for measuring again,
  once (``attempts``); a permanent one (build or run error) is not;
* a schema version (``PRAGMA user_version``) and an application id, so that
  a newer or foreign file is refused with a clear error.

:class:`~tvm_heron.database.sqlite.HeronDatabase` puts MetaSchedule's
``Database`` interface over this store.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import attrs

from ..errors import DatabaseError
from ..outcome import FAILED_SECS, Failure

#: ``PRAGMA application_id`` of a tvm-heron database ("HRN1").
APPLICATION_ID = 0x48524E31
#: Schema version this code writes and reads.
SCHEMA_VERSION = 1
#: File name of the database in a work directory.
DATABASE_FILE = "tuning.sqlite"
#: Seconds a writer waits for another process's transaction.
BUSY_TIMEOUT_S = 60.0
#: Measurements of a program that failed transiently, at most.
MAX_ATTEMPTS = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workloads (
    id INTEGER PRIMARY KEY,
    shash TEXT NOT NULL,
    mod TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS workloads_shash ON workloads (shash);
CREATE TABLE IF NOT EXISTS targets (
    id INTEGER PRIMARY KEY,
    spec TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    workload_id INTEGER NOT NULL REFERENCES workloads (id),
    target_id INTEGER NOT NULL REFERENCES targets (id),
    trace_key TEXT NOT NULL,
    trace TEXT NOT NULL,
    args_info TEXT,
    run_secs TEXT,
    latency REAL,
    failure TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    program TEXT,
    writer TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (workload_id, target_id, trace_key)
);
CREATE INDEX IF NOT EXISTS records_best ON records (workload_id, target_id, latency);
"""


@attrs.frozen
class StoredRecord:
    """One row of ``records``: JSON texts as stored, plus what the store knows of the outcome."""

    id: int
    workload_id: int
    target: str
    trace: str
    args_info: str | None
    run_secs: str | None
    latency: float | None
    failure: Failure | None
    error: str | None
    attempts: int
    program: str | None = None

    @property
    def remeasure(self) -> bool:
        """Whether the program should be measured again (a transient failure, tried too few times)."""
        return self.failure is not None and self.failure.transient and self.attempts < MAX_ATTEMPTS

    def as_json(self) -> list:
        """``TuningRecord.as_json()``: [trace, run_secs, target, args_info] as Python objects."""
        return [json.loads(self.trace), json.loads(self.run_secs) if self.run_secs else None,
                json.loads(self.target), json.loads(self.args_info) if self.args_info else None]


def target_key(spec: dict | str | None) -> str:
    """The canonical text of a target's JSON (sorted keys); ``"null"`` for none."""
    if isinstance(spec, str):
        spec = json.loads(spec)
    return json.dumps(spec, sort_keys=True)


def trace_key(trace_json) -> str:
    """A digest of a trace's JSON (instructions and decisions)."""
    text = trace_json if isinstance(trace_json, str) else json.dumps(trace_json, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def mean_latency(run_secs: Sequence[float] | None) -> float | None:
    """Mean of ``run_secs``; None for a failure or nothing measured."""
    secs = [float(s) for s in (run_secs or [])]
    if not secs or max(secs) >= FAILED_SECS:
        return None
    return sum(secs) / len(secs)


def _write_schema(db: sqlite3.Connection) -> None:
    """Tables, application id and schema version, in one transaction, unless they are there.

    The write lock is taken first: a process that made the schema in the
    meantime is seen, and its database kept.
    """
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA application_id").fetchone()[0] == 0:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class RecordStore:
    """An open tvm-heron database file (thread-safe; several processes may share the file).

    Parameters
    ----------
    path : str or Path
        The SQLite file; created (with its directory) when missing.
    readonly : bool
        Open for reading only (``tvm-heron db check``); a missing file is an error.

    Raises
    ------
    DatabaseError
        When the file is not an SQLite database, was written by something
        else, or by a newer version of tvm-heron.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.writer = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.RLock()
        if readonly and not self.path.is_file():
            raise DatabaseError(f"{self.path}: no such database file")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self._create_file()
        uri = f"file:{self.path}?mode={'ro' if readonly else 'rwc'}"
        try:
            self._db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                                       isolation_level=None)
            self._check_identity(readonly)
        except sqlite3.DatabaseError as err:
            raise DatabaseError(f"{self.path}: not a usable tvm-heron database ({err})") from err

    # -- opening -----------------------------------------------------------------------
    def _create_file(self) -> None:
        """Make the database whole in a file of its own, then link it in place.

        Another process (``tvm-heron db check``, a second tuning run, a test
        polling the file) may open the path at any instant: it finds no file
        or a whole database, never one whose schema is half written. A killed
        creation leaves only its ``*.new`` file. Where the file system has no
        hard links, the database is made in place (:meth:`_create`).
        """
        try:
            fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".new")
        except OSError:
            return  # an unwritable directory: the connection says so
        os.close(fd)
        try:
            db = sqlite3.connect(name, isolation_level=None)
            try:
                _write_schema(db)
            finally:
                db.close()
            try:
                os.link(name, self.path)
            except FileExistsError:
                pass  # another process made it first: use that one
            except OSError:
                pass  # no hard links here: the connection creates it in place
        finally:
            os.unlink(name)

    def _identity(self) -> tuple[int, int, set]:
        """``(application id, schema version, table names)``, read in one snapshot.

        Three statements in autocommit mode would each see the file as it then
        is, and a creation committed between them would look half made.
        """
        with self._lock:
            self._db.execute("BEGIN")
            try:
                app = self._db.execute("PRAGMA application_id").fetchone()[0]
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            finally:
                self._db.execute("COMMIT")
        return app, version, tables

    def _check_identity(self, readonly: bool) -> None:
        app, version, tables = self._identity()
        if app == 0 and version == 0 and not tables and not readonly:
            self._create()
            return
        if app != APPLICATION_ID:
            raise DatabaseError(
                f"{self.path}: an SQLite file that tvm-heron did not write (application id {app:#x}); "
                "give tvm-heron a file or work directory of its own"
            )
        if version > SCHEMA_VERSION:
            raise DatabaseError(
                f"{self.path}: written by a newer tvm-heron (schema {version}, this one reads "
                f"{SCHEMA_VERSION}); upgrade tvm-heron, or export it there (tvm-heron db export)"
            )
        if not readonly:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")

    def _create(self) -> None:
        """Write the schema into the open, empty file (one that was there, or made in place)."""
        with self._lock:
            _write_schema(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        """Close the connection (committed data is already on disk)."""
        with self._lock:
            self._db.close()

    def transaction(self):
        """A context manager: one ``BEGIN IMMEDIATE ... COMMIT`` (rolled back on an exception)."""
        return _Transaction(self._db, self._lock)

    # -- workloads and targets ---------------------------------------------------------------
    def workloads_with_hash(self, shash: str) -> list[tuple[int, str]]:
        """``(id, mod JSON)`` of the workloads whose structural hash is ``shash``."""
        with self._lock:
            return self._db.execute("SELECT id, mod FROM workloads WHERE shash = ? ORDER BY id",
                                    (shash,)).fetchall()

    def find_or_add_workload(self, shash: str, mod: str, same: Callable[[str], bool]) -> int:
        """The id of the workload ``mod`` (its JSON), added when no stored one is the same.

        ``same(stored_mod_json)`` decides equality among those with the same
        structural hash (a hash collision is a different workload). Lookup and
        insert are one transaction: two processes committing the same workload
        at once get one row.
        """
        with self.transaction() as db:
            for workload_id, stored in db.execute(
                    "SELECT id, mod FROM workloads WHERE shash = ? ORDER BY id", (shash,)).fetchall():
                if stored == mod or same(stored):
                    return workload_id
            return db.execute("INSERT INTO workloads (shash, mod, created) VALUES (?, ?, ?)",
                              (shash, mod, time.time())).lastrowid

    def workload(self, workload_id: int) -> tuple[str, str]:
        """``(shash, mod JSON)`` of a workload."""
        with self._lock:
            row = self._db.execute("SELECT shash, mod FROM workloads WHERE id = ?", (workload_id,)).fetchone()
        if row is None:
            raise DatabaseError(f"{self.path}: no workload {workload_id}")
        return row

    def workload_ids(self) -> list[int]:
        """Every workload id, in insertion order."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM workloads ORDER BY id")]

    def target_id(self, spec: str, *, create: bool = True) -> int | None:
        """The id of a target's canonical JSON (:func:`target_key`), added when missing."""
        with self._lock:
            row = self._db.execute("SELECT id FROM targets WHERE spec = ?", (spec,)).fetchone()
            if row is not None or not create:
                return None if row is None else row[0]
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO targets (spec) VALUES (?)", (spec,))
            return db.execute("SELECT id FROM targets WHERE spec = ?", (spec,)).fetchone()[0]

    # -- records ---------------------------------------------------------------------------
    def commit(self, workload_id: int, target: str, trace: str, args_info: str | None,
               run_secs: Sequence[float] | None, *, failure: Failure | None = None,
               error: str | None = None) -> None:
        """Store one measurement (see :meth:`commit_many`)."""
        self.commit_many([(workload_id, target, trace, args_info, run_secs, failure, error)])

    def commit_many(self, rows: Iterable[tuple]) -> None:
        """Store measurements in one transaction.

        Each row is ``(workload_id, target JSON, trace JSON, args_info JSON,
        run_secs, failure, error[, program])``, ``program`` the structural hash
        of the scheduled module when the committer knows it (tvm-heron's
        strategies do: a later run then deduplicates without replaying traces). A program (workload, target, trace) is one
        row: a valid latency replaces a failure; a failure whose kind is known
        replaces an unknown one and counts one more attempt; a failure never
        replaces a latency, and a failure of unknown kind (MetaSchedule's
        ``AddToDatabase`` after tvm-heron committed the same result) changes nothing.
        """
        now = time.time()
        prepared = []
        for workload_id, target, trace, args_info, run_secs, failure, error, *program in rows:
            latency = mean_latency(run_secs)
            if latency is not None:
                failure, error = None, None
            prepared.append((workload_id, target, trace_key(trace), trace, args_info,
                             json.dumps([float(s) for s in run_secs]) if run_secs is not None else None,
                             latency, failure.value if failure else None, error,
                             program[0] if program else None))
        with self.transaction() as db:
            for workload_id, target, key, trace, args_info, secs, latency, failure, error, program in prepared:
                target_id = self._target_id_in(db, target)
                db.execute(
                    "INSERT INTO records (workload_id, target_id, trace_key, trace, args_info, run_secs,"
                    " latency, failure, error, attempts, program, writer, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)"
                    " ON CONFLICT (workload_id, target_id, trace_key) DO UPDATE SET"
                    "  run_secs = CASE WHEN excluded.latency IS NOT NULL THEN excluded.run_secs"
                    "   WHEN records.latency IS NULL AND excluded.failure IS NOT NULL THEN excluded.run_secs"
                    "   ELSE records.run_secs END,"
                    "  failure = CASE WHEN excluded.latency IS NOT NULL THEN NULL"
                    "   WHEN records.latency IS NULL AND excluded.failure IS NOT NULL THEN excluded.failure"
                    "   ELSE records.failure END,"
                    "  error = CASE WHEN excluded.latency IS NOT NULL THEN NULL"
                    "   WHEN records.latency IS NULL AND excluded.failure IS NOT NULL THEN excluded.error"
                    "   ELSE records.error END,"
                    "  attempts = records.attempts + (CASE WHEN excluded.latency IS NOT NULL"
                    "   OR excluded.failure IS NOT NULL THEN 1 ELSE 0 END),"
                    "  latency = COALESCE(excluded.latency, records.latency),"
                    "  program = COALESCE(excluded.program, records.program)",
                    (workload_id, target_id, key, trace, args_info, secs, latency, failure, error,
                     program, self.writer, now),
                )

    def _target_id_in(self, db, spec: str) -> int:
        db.execute("INSERT OR IGNORE INTO targets (spec) VALUES (?)", (spec,))
        return db.execute("SELECT id FROM targets WHERE spec = ?", (spec,)).fetchone()[0]

    def records(self, workload_id: int | None = None, target: str | None = None, *,
                valid_only: bool = False, limit: int | None = None, after: int = 0) -> list[StoredRecord]:
        """Stored records, best latency first when ``valid_only`` (else in insertion order).

        ``workload_id`` / ``target`` (canonical JSON) restrict them; ``after``
        keeps those with a larger id (what other processes added since).
        """
        clauses, args = ["r.id > ?"], [after]
        if workload_id is not None:
            clauses.append("r.workload_id = ?")
            args.append(workload_id)
        if target is not None:
            clauses.append("t.spec = ?")
            args.append(target)
        if valid_only:
            clauses.append("r.latency IS NOT NULL")
        order = "r.latency, r.id" if valid_only else "r.id"
        sql = ("SELECT r.id, r.workload_id, t.spec, r.trace, r.args_info, r.run_secs, r.latency,"
               " r.failure, r.error, r.attempts, r.program FROM records r"
               " JOIN targets t ON t.id = r.target_id"
               f" WHERE {' AND '.join(clauses)} ORDER BY {order}")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [StoredRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                             Failure(r[7]) if r[7] else None, r[8], r[9], r[10]) for r in rows]

    def count(self, target: str | None = None) -> int:
        """Records (of ``target`` when given)."""
        with self._lock:
            if target is None:
                return self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            return self._db.execute(
                "SELECT COUNT(*) FROM records r JOIN targets t ON t.id = r.target_id WHERE t.spec = ?",
                (target,)).fetchone()[0]

    def stats(self) -> dict:
        """Counts of workloads, records, valid and failed records by kind, per target."""
        with self._lock:
            per_target = self._db.execute(
                "SELECT t.spec, COUNT(*), SUM(r.latency IS NOT NULL), COALESCE(r.failure, 'unknown')"
                " FROM records r JOIN targets t ON t.id = r.target_id GROUP BY t.spec,"
                " r.latency IS NOT NULL, r.failure").fetchall()
            workloads = self._db.execute("SELECT COUNT(*) FROM workloads").fetchone()[0]
        targets: dict[str, dict] = {}
        for spec, n, valid, failure in per_target:
            entry = targets.setdefault(spec, {"records": 0, "valid": 0, "failed": {}})
            entry["records"] += n
            if valid:
                entry["valid"] += n
            else:
                entry["failed"][failure] = entry["failed"].get(failure, 0) + n
        return {
            "file": str(self.path),
            "schema": SCHEMA_VERSION,
            "workloads": workloads,
            "records": sum(t["records"] for t in targets.values()),
            "valid": sum(t["valid"] for t in targets.values()),
            "targets": targets,
        }

    def problems(self) -> list[str]:
        """What ``PRAGMA integrity_check`` and the store's own checks find (empty: none)."""
        with self._lock:
            found = [r[0] for r in self._db.execute("PRAGMA integrity_check") if r[0] != "ok"]
            orphans = self._db.execute(
                "SELECT COUNT(*) FROM records r LEFT JOIN workloads w ON w.id = r.workload_id"
                " WHERE w.id IS NULL").fetchone()[0]
        if orphans:
            found.append(f"{orphans} records of a workload that is not in the database")
        return [f"{self.path}: {p}" for p in found]


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db, self._lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, kind, value, traceback) -> None:
        try:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self._lock.release()
