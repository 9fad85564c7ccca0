"""Queries over any MetaSchedule ``Database`` that its interface does not offer."""

from __future__ import annotations

from tvm_ffi import structural_hash

from .sqlite import as_heron_database


def workload_records(database, mod, target=None) -> list:
    """The tuning records of ``mod`` in ``database`` (failed ones included), in database order.

    A :class:`~.sqlite.HeronDatabase` answers with ``target``'s records (its
    scope's when None) by one indexed query; any other database is scanned,
    and its records of every target are returned (MetaSchedule's databases
    do not key records by target).
    """
    heron = as_heron_database(database)
    if heron is not None:
        return [record for record, _ in heron.records_of(mod, target)]
    digest = structural_hash(mod)
    return [r for r in database.get_all_tuning_records() if structural_hash(r.workload.mod) == digest]
