"""Tuning records that survive kills, torn files and concurrent runs.

* :mod:`.store`: the SQLite record store (no TVM): workloads, targets,
  records keyed by workload, target and trace, failures with their kind.
* :mod:`.jsonio`: MetaSchedule's JSON work directories, read tolerantly
  (bad lines quarantined) and written for ``JSONDatabase`` (no TVM).
* :mod:`.sqlite`: :class:`HeronDatabase`, MetaSchedule's ``Database``
  interface over the store; :func:`open_database` opens a work directory's.
* :func:`workload_records`: a workload's records in any MetaSchedule database.

The TVM-facing names are imported on first use, so that the store and the
JSON reader stay importable without TVM.
"""

from __future__ import annotations

import importlib

from .store import DATABASE_FILE, RecordStore

_LAZY = {
    "HeronDatabase": ".sqlite",
    "as_heron_database": ".sqlite",
    "open_database": ".sqlite",
    "workload_records": ".query",
}

__all__ = ["DATABASE_FILE", "RecordStore", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
