"""Counts of a tuning run read from its database (no TVM).

MetaSchedule's ``JSONDatabase`` appends one line per measured candidate to
``database_tuning_record.json``: ``[workload_index, [trace, run_secs, target,
args_info]]``. A candidate that failed to build or run has ``run_secs`` of
1e10 (or none).
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from ..database.store import DATABASE_FILE, RecordStore
from ..outcome import latency_of

#: The record file of a JSONDatabase work directory.
RECORD_FILE = "database_tuning_record.json"


@attrs.frozen
class RecordStats:
    """Measured candidates of a work directory.

    Attributes
    ----------
    trials : int
        Records (candidates measured, failures included).
    failed : int
        Records that failed to build or run.
    best_s : float or None
        Best mean runner latency (None when nothing ran).
    """

    trials: int
    failed: int
    best_s: float | None

    @property
    def failed_share(self) -> float | None:
        """``failed / trials`` (None without trials)."""
        return self.failed / self.trials if self.trials else None


def record_stats(work_dir: str | Path) -> RecordStats:
    """The :class:`RecordStats` of a work directory (zeros where it has no database).

    Its tvm-heron database (:data:`~tvm_heron.database.store.DATABASE_FILE`)
    when there is one, else MetaSchedule's JSON record file.
    """
    database = Path(work_dir) / DATABASE_FILE
    if database.exists():
        store = RecordStore(database, readonly=True)
        try:
            rows = store.records()
        finally:
            store.close()
        latencies = [row.latency for row in rows]
    else:
        latencies = _json_latencies(Path(work_dir) / RECORD_FILE)
    ran = [s for s in latencies if s is not None]
    return RecordStats(trials=len(latencies), failed=len(latencies) - len(ran),
                       best_s=min(ran) if ran else None)


def _json_latencies(path: Path) -> list[float | None]:
    latencies: list[float | None] = []
    if path.exists():
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    latencies.append(latency_of(json.loads(line)[1][1]))
    return latencies
