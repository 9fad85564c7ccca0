"""MetaSchedule's ``Database`` interface over the SQLite record store (:mod:`.store`).

:func:`open_database` gives a :class:`HeronDatabase` that ``ms.tune_tir``,
``ms.tune_relax``, ``compile_tir``/``compile_relax`` and the Heron strategies
use unchanged::

    database = tvm_heron.open_database("runs/g64", target=target)
    ms.tune_tir(mod, target, "runs/g64", 64, database=database, strategy="heron-cga", ...)

Differences from ``JSONDatabase``, all on purpose:

* a record's target is part of its key; a database opened with ``target``
  answers every query with that target's records only (``get_top_k``,
  ``get_all_tuning_records``, ``len``), and ``query_tuning_record(mod,
  target, ...)`` always filters by the target it is given: records measured
  with another CPU or another core count are never this target's best kernel;
* committing the same program (workload, target, trace) twice updates one
  record, so a strategy may commit a batch as soon as the runner returns and
  MetaSchedule's ``AddToDatabase`` commit afterwards adds nothing;
* :meth:`HeronDatabase.commit_result` also stores the failure kind of a
  failed candidate, so that a transient failure is measured again once in a
  later run (:attr:`~.store.StoredRecord.remeasure`).
"""

from __future__ import annotations

import json
import logging
import weakref
from pathlib import Path

from tvm.ir import IRModule
from tvm_ffi import structural_equal
from tvm.ir.utils import derived_object
from tvm.s_tir import Schedule
from tvm.s_tir.meta_schedule.database import PyDatabase, TuningRecord, Workload
from tvm.target import Target

from ..outcome import classify
from .records import record_json
from .store import DATABASE_FILE, RecordStore, StoredRecord, target_key

logger = logging.getLogger(__name__)

#: Open databases by the address of their MetaSchedule object (see :func:`as_heron_database`).
_OPEN: dict[int, "HeronDatabase"] = {}


@derived_object
class HeronDatabase(PyDatabase):
    """A MetaSchedule database in an SQLite file (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The database file (created when missing).
    target : Target, optional
        Scope of the reads (see the module docstring); records are always
        stored with their own target.
    """

    def __init__(self, path: str | Path, *, target: Target | None = None) -> None:
        super().__init__()
        self.store = RecordStore(path)
        self.target = target
        self._target_key = _target_spec(target) if target is not None else None
        self._by_id: dict[int, Workload] = {}
        self._ids: dict[int, int] = {}  # address of a Workload object -> its id

    # -- workloads ---------------------------------------------------------------------------
    def _workload_id(self, mod: IRModule, *, create: bool) -> int | None:
        workload = Workload(mod)
        shash, text = workload.as_json()
        shash = str(shash)

        def same(stored: str) -> bool:
            return structural_equal(Workload.from_json([shash, stored]).mod, mod)

        if not create:
            for workload_id, stored in self.store.workloads_with_hash(shash):
                if stored == text or same(stored):
                    return workload_id
            return None
        return self.store.find_or_add_workload(shash, text, same)

    def _workload(self, workload_id: int) -> Workload:
        if workload_id not in self._by_id:
            shash, text = self.store.workload(workload_id)
            workload = Workload.from_json([shash, text])
            self._by_id[workload_id] = workload
            self._ids[workload.__chandle__()] = workload_id
        return self._by_id[workload_id]

    def _id_of(self, workload: Workload) -> int:
        found = self._ids.get(workload.__chandle__())
        if found is None:
            found = self._workload_id(workload.mod, create=True)
            self._workload(found)
        return found

    def has_workload(self, mod: IRModule) -> bool:
        return self._workload_id(mod, create=False) is not None

    def commit_workload(self, mod: IRModule) -> Workload:
        return self._workload(self._workload_id(mod, create=True))

    # -- records -------------------------------------------------------------------------------
    def commit_tuning_record(self, record: TuningRecord) -> None:
        self.commit_result(record, None)

    def commit_result(self, record: TuningRecord, error_msg: str | None) -> None:
        """Store ``record``, and for a failed one the kind of ``error_msg`` (see :mod:`tvm_heron.outcome`)."""
        self.commit_results([(record, error_msg)])

    def commit_results(self, pairs) -> None:
        """:meth:`commit_result` for many ``(record, error_msg[, program hash])`` in one transaction."""
        rows = []
        for record, error_msg, *program in pairs:
            trace, run_secs, target, args_info = record_json(record)
            spec = target_key(target) if target is not None else (self._target_key or "null")
            failure = classify(error_msg) if error_msg else None
            rows.append((self._id_of(record.workload), spec, json.dumps(trace),
                         json.dumps(args_info) if args_info is not None else None,
                         [float(s) for s in run_secs] if run_secs is not None else None,
                         failure, error_msg, *(str(p) for p in program)))
        self.store.commit_many(rows)

    def _records(self, stored: list[StoredRecord]) -> list[TuningRecord]:
        out = []
        for row in stored:
            try:
                out.append(TuningRecord.from_json(row.as_json(), self._workload(row.workload_id)))
            except Exception as err:  # pylint: disable=broad-except  # a trace TVM cannot replay
                logger.warning("%s: record %d skipped: %s", self.store.path, row.id,
                               str(err).strip().splitlines()[-1][:200])
        return out

    def stored_records(self, mod: IRModule, target: Target | None = None, *,
                       after: int = 0) -> list[StoredRecord]:
        """The stored rows of ``mod`` (of ``target``, else of the scope), in insertion order.

        Rows, not TuningRecords: no trace is replayed (the strategies read the
        decisions and the program hash from them directly).
        """
        workload_id = self._workload_id(mod, create=False)
        if workload_id is None:
            return []
        spec = _target_spec(target) if target is not None else self._target_key
        return self.store.records(workload_id, spec, after=after)

    def records_of(self, mod: IRModule, target: Target | None = None, *, after: int = 0):
        """``(TuningRecord, StoredRecord)`` of ``mod`` for ``target`` (else the scope), added after ``after``."""
        workload_id = self._workload_id(mod, create=False)
        if workload_id is None:
            return []
        spec = _target_spec(target) if target is not None else self._target_key
        rows = self.store.records(workload_id, spec, after=after)
        workload = self._workload(workload_id)
        pairs = []
        for row in rows:
            try:
                pairs.append((TuningRecord.from_json(row.as_json(), workload), row))
            except Exception:  # pylint: disable=broad-except  # a trace TVM cannot replay
                continue
        return pairs

    def get_top_k(self, workload: Workload, top_k: int) -> list[TuningRecord]:
        if top_k < 0:
            raise ValueError(f"top_k must be non-negative, got {top_k}")
        if top_k == 0:
            return []
        rows = self.store.records(self._id_of(workload), self._target_key, valid_only=True, limit=top_k)
        return self._records(rows)

    def get_all_tuning_records(self) -> list[TuningRecord]:
        return self._records(self.store.records(None, self._target_key))

    def query_tuning_record(self, mod: IRModule, target: Target, workload_name: str) -> TuningRecord | None:
        workload_id = self._workload_id(mod, create=False)
        if workload_id is None:
            return None
        spec = _target_spec(target) if target is not None else self._target_key
        best = self._records(self.store.records(workload_id, spec, valid_only=True, limit=1))
        return best[0] if best else None

    def query_schedule(self, mod: IRModule, target: Target, workload_name: str) -> Schedule | None:
        record = self.query_tuning_record(mod, target, workload_name)
        if record is None:
            return None
        sch = Schedule(record.workload.mod, seed=1, debug_mask=0)
        record.trace.apply_to_schedule(sch, remove_postproc=False)
        return sch

    def query_ir_module(self, mod: IRModule, target: Target, workload_name: str) -> IRModule | None:
        sch = self.query_schedule(mod, target, workload_name)
        return None if sch is None else sch.mod

    def __len__(self) -> int:
        return self.store.count(self._target_key)

    def close(self) -> None:
        """Close the file (committed records are already on disk)."""
        self.store.close()


def _target_spec(target: Target) -> str:
    """The canonical JSON of a Target, as its records store it (``str(target)`` is its JSON)."""
    return target_key(json.loads(str(target)))


def open_database(location: str | Path, *, target: Target | None = None) -> HeronDatabase:
    """The tvm-heron database of a work directory or file, for ``tune_tir(..., database=...)``.

    ``location`` is a ``.sqlite`` file or a work directory (its
    :data:`~.store.DATABASE_FILE`). A work directory that holds only
    MetaSchedule JSON files (an earlier tvm-heron's, or ``JSONDatabase``'s)
    is imported first, with the tolerant reader (:mod:`.jsonio`: bad lines
    are quarantined, never a crash); the JSON files are left as they are.
    """
    location = Path(location)
    path = location if location.suffix == ".sqlite" else location / DATABASE_FILE
    fresh = not path.exists()
    database = HeronDatabase(path, target=target)
    if fresh and path.parent.joinpath("database_tuning_record.json").exists():
        from .jsonio import import_work_dir  # pylint: disable=import-outside-toplevel

        report = import_work_dir(path.parent, database.store)
        logger.warning("%s", report.summary())
    handle = database.__chandle__()
    _OPEN[handle] = database._inst  # pylint: disable=protected-access
    weakref.finalize(database, _OPEN.pop, handle, None)
    return database


def as_heron_database(database) -> "HeronDatabase | None":
    """The :class:`HeronDatabase` behind a MetaSchedule ``Database`` object, if it is one.

    MetaSchedule hands a strategy its database as a plain C++ object; the
    Python side is found again through :func:`open_database`'s registry.
    """
    if database is None:
        return None
    try:
        return _OPEN.get(database.__chandle__())
    except AttributeError:
        return None
