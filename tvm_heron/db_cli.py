"""``tvm-heron db check|stats|export|import``: look after a tuning database from the shell.

Each prints a readable report (``--json FILE`` also writes it) and exits 0,
or 2 with a message when the database cannot be used (not one of ours, a
newer schema, a damaged file). A JSON work directory (MetaSchedule's, or an
earlier tvm-heron's) is checked line by line: every bad line is listed with
its file and line number.
"""

from __future__ import annotations

import json
from pathlib import Path

from .database.jsonio import RECORD_FILE, export_work_dir, import_work_dir, read_work_dir
from .database.store import DATABASE_FILE, RecordStore, target_key
from .errors import DatabaseError


def _database_path(location: str) -> Path:
    path = Path(location)
    return path if path.suffix == ".sqlite" else path / DATABASE_FILE


class _Report(dict):
    def to_json(self) -> dict:
        return dict(self)


def run_db(args, write_json) -> int:
    """Run one ``db`` subcommand; returns the exit status (DatabaseError propagates: exit 2)."""
    command = {"check": _check, "stats": _stats, "export": _export, "import": _import}[args.db_command]
    report = _Report(command(args))
    write_json(getattr(args, "json", None), report)
    return 0


def _open(location: str, readonly: bool = True) -> RecordStore:
    path = _database_path(location)
    if not path.exists():
        raise DatabaseError(f"{path}: no tvm-heron database here (tvm-heron tune creates one)")
    return RecordStore(path, readonly=readonly)


def _check(args) -> dict:
    report = {"location": args.location, "problems": []}
    json_dir = Path(args.location)
    if (json_dir / RECORD_FILE).exists():
        _, _, found = read_work_dir(json_dir, quarantine=False)
        report["json"] = found.to_json()
        report["problems"] += [str(p) for p in found.problems]
    if _database_path(args.location).exists() or "json" not in report:
        store = _open(args.location)
        try:
            report["problems"] += store.problems()
            report["stats"] = store.stats()
        finally:
            store.close()
    for line in report["problems"]:
        print(line)
    print(f"{args.location}: {len(report['problems'])} problems")
    return report


def _stats(args) -> dict:
    store = _open(args.location)
    try:
        stats = store.stats()
    finally:
        store.close()
    print(f"{stats['file']}: schema {stats['schema']}, {stats['workloads']} workloads, "
          f"{stats['records']} records, {stats['valid']} valid")
    for spec, entry in stats["targets"].items():
        failed = ", ".join(f"{n} {kind}" for kind, n in sorted(entry["failed"].items())) or "none failed"
        print(f"  {spec}: {entry['records']} records, {entry['valid']} valid; {failed}")
    return stats


def _export(args) -> dict:
    store = _open(args.location)
    try:
        target = target_key(json.loads(args.target)) if args.target else None
        workloads, records = export_work_dir(store, args.out, target=target)
    finally:
        store.close()
    print(f"wrote {workloads} workloads and {records} records to {args.out} (JSONDatabase's files)")
    return {"out": args.out, "workloads": workloads, "records": records}


def _import(args) -> dict:
    if not (Path(args.source) / RECORD_FILE).exists():
        raise DatabaseError(f"{args.source}: no {RECORD_FILE} to import")
    store = RecordStore(_database_path(args.location))
    try:
        found = import_work_dir(args.source, store)
    finally:
        store.close()
    print(found.summary())
    return found.to_json()
