"""MetaSchedule JSON work directories: a tolerant reader (import) and a writer (export). No TVM.

``JSONDatabase`` keeps ``database_workload.json`` (one ``[shash, module]``
per line) and ``database_tuning_record.json`` (one ``[workload_index,
[trace, run_secs, target, args_info]]`` per line), appended without fsync or
lock, and aborts its whole load on any bad line (an empty line or ``null``
segfaults it). Here every line is parsed and checked in Python first:

* a torn last line (what ``kill -9`` during a write leaves: no newline, or
  zeros) is skipped and reported;
* any other bad line (garbage, two records merged on one line, a record
  whose workload index does not exist) goes to a quarantine file beside the
  original, ``<file>.quarantine``, one JSON object per line with the line
  number, the reason and the text; the good lines are imported;
* nothing is rewritten: the original files stay as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import attrs

from .store import RecordStore, StoredRecord, target_key

WORKLOAD_FILE = "database_workload.json"
RECORD_FILE = "database_tuning_record.json"
QUARANTINE_SUFFIX = ".quarantine"


@attrs.frozen
class Problem:
    """One bad line: file, line number (1-based), what is wrong, whether it was quarantined."""

    file: str
    line: int
    reason: str
    quarantined: bool

    def __str__(self) -> str:
        action = "quarantined" if self.quarantined else "skipped"
        return f"{self.file}:{self.line}: {self.reason} ({action})"


@attrs.define
class ImportReport:
    """What an import or a check of a JSON work directory found."""

    work_dir: str
    workloads: int = 0
    records: int = 0
    problems: list[Problem] = attrs.field(factory=list)

    def summary(self) -> str:
        """One paragraph for the log."""
        text = (f"{self.work_dir}: imported {self.workloads} workloads and {self.records} records "
                "from MetaSchedule's JSON files")
        if self.problems:
            text += f"; {len(self.problems)} bad lines: " + "; ".join(map(str, self.problems[:5]))
        return text

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return {"work_dir": self.work_dir, "workloads": self.workloads, "records": self.records,
                "problems": [attrs.asdict(p) for p in self.problems]}


def _lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, is the last line) of a file, decoded leniently."""
    if not path.exists():
        return
    data = path.read_bytes()
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    for number, chunk in enumerate(chunks, 1):
        yield number, chunk.decode("utf-8", errors="replace"), number == len(chunks)


def _parse(text: str):
    """The JSON value of a line, or raise ValueError naming what is wrong."""
    if not text.strip():
        raise ValueError("empty line")
    if not text.replace("\x00", "").strip():
        raise ValueError("zero bytes")
    try:
        return json.loads(text.replace("\x00", "").strip())
    except json.JSONDecodeError as err:
        extra = " (two records on one line?)" if "Extra data" in str(err) else ""
        raise ValueError(f"not JSON: {err.msg} at column {err.colno}{extra}") from None


def _check_workload(value) -> tuple[str, str]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ValueError("not a workload: expected [structural hash, module JSON]")
    return value[0], value[1]


def _check_record(value, workloads: int):
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
            and isinstance(value[1], list) and len(value[1]) == 4):
        raise ValueError("not a record: expected [workload index, [trace, run_secs, target, args_info]]")
    index, (trace, run_secs, target, args_info) = value
    if not 0 <= index < workloads:
        raise ValueError(f"workload index {index} does not exist ({workloads} workloads)")
    if not isinstance(trace, list):
        raise ValueError("the trace is not a JSON list")
    if run_secs is not None and not (isinstance(run_secs, list)
                                     and all(isinstance(s, (int, float)) for s in run_secs)):
        raise ValueError("run_secs is not a list of numbers")
    if target is not None and not isinstance(target, dict):
        raise ValueError("the target is not a JSON object")
    return index, trace, run_secs, target, args_info


def read_work_dir(work_dir: str | Path, *, quarantine: bool = True):
    """Parse a JSON work directory: (workloads, records, report).

    ``workloads`` is a list of ``(shash, module JSON)``; ``records`` of
    ``(workload index, trace, run_secs, target, args_info)``. With
    ``quarantine``, bad lines (all but a torn last line) are appended to the
    quarantine file beside their file.
    """
    work_dir = Path(work_dir)
    report = ImportReport(str(work_dir))
    workloads, records = [], []
    for path in (work_dir / WORKLOAD_FILE, work_dir / RECORD_FILE):
        complete = not path.exists() or path.read_bytes().endswith(b"\n")
        bad = []
        for number, text, last in _lines(path):
            try:
                value = _parse(text)
                if path.name == WORKLOAD_FILE:
                    workloads.append(_check_workload(value))
                else:
                    records.append(_check_record(value, len(workloads)))
            except ValueError as err:
                # What a write cut short leaves: a last line without its newline, or zeros.
                torn = last and (not complete or not text.replace("\x00", "").strip())
                report.problems.append(Problem(str(path), number,
                                               f"torn last line: {err}" if torn else str(err),
                                               quarantine and not torn))
                if not torn:
                    bad.append({"line": number, "reason": str(err), "text": text[:100_000]})
        if bad and quarantine:
            with open(str(path) + QUARANTINE_SUFFIX, "a", encoding="utf-8") as out:
                for entry in bad:
                    out.write(json.dumps(entry) + "\n")
    report.workloads, report.records = len(workloads), len(records)
    return workloads, records, report


def import_work_dir(work_dir: str | Path, store: RecordStore, *, same=None) -> ImportReport:
    """Import a JSON work directory into ``store`` (see the module docstring).

    ``same(stored_mod_json, mod_json)`` decides whether two workloads with one
    structural hash are the same (default: identical JSON text).
    """
    workloads, records, report = read_work_dir(work_dir)
    ids = []
    for shash, mod in workloads:
        ids.append(store.find_or_add_workload(shash, mod, (lambda stored, m=mod: same(stored, m))
                                              if same else (lambda stored: False)))
    rows = [(ids[index], target_key(target), json.dumps(trace),
             json.dumps(args_info) if args_info is not None else None, run_secs, None, None)
            for index, trace, run_secs, target, args_info in records]
    store.commit_many(rows)
    return report


def export_work_dir(store: RecordStore, work_dir: str | Path, *, target: str | None = None) -> tuple[int, int]:
    """Write ``store`` (its ``target`` records only, when given) as the JSON pair ``JSONDatabase`` loads.

    Failures are written with run_secs ``[1e10]``, as MetaSchedule writes them.
    Returns (workloads, records) written.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    index: dict[int, int] = {}
    rows: list[StoredRecord] = store.records(None, target)
    with open(work_dir / WORKLOAD_FILE, "w", encoding="utf-8") as out:
        for workload_id in store.workload_ids():
            shash, mod = store.workload(workload_id)
            index[workload_id] = len(index)
            out.write(json.dumps([shash, mod]) + "\n")
    with open(work_dir / RECORD_FILE, "w", encoding="utf-8") as out:
        for row in rows:
            trace, run_secs, spec, args_info = row.as_json()
            if row.latency is None:
                run_secs = [1e10]
            out.write(json.dumps([index[row.workload_id], [trace, run_secs, spec, args_info]]) + "\n")
    return len(index), len(rows)
