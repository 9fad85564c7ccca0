"""Queries over any MetaSchedule ``Database`` that its interface does not offer."""

from __future__ import annotations

from tvm_ffi import structural_hash


def workload_records(database, mod) -> list:
    """The tuning records of ``mod`` in ``database`` (failed ones included), in database order."""
    digest = structural_hash(mod)
    return [r for r in database.get_all_tuning_records() if structural_hash(r.workload.mod) == digest]
