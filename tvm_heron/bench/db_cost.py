"""What the durable database costs a tuning run, at a given number of stored records.

Fills a fresh database with ``records`` programs of one workload (distinct
points of Heron's GEMM space, written as the trace JSON a strategy commits,
with their program hashes), then times what a tuning run does with it:

* ``commit_s``: committing one measured batch, per record (one transaction
  per batch, as the strategies commit);
* ``read_s``: a task's start: every stored row read, its decisions read back
  into a point of the space, its program hash into the dedup set;
* ``refresh_s``: the per-round look for rows other processes added;
* ``best_s``: ``query_tuning_record`` (what ``compile_tir`` asks).

``per_trial_s`` charges one start per ``trials_per_run`` trials and one
refresh per ``per_round`` trials.
"""

from __future__ import annotations

import json
import time

import attrs
import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms

from ..database import open_database
from ..database.records import record_json
from ..ops import make_workload
from ..space import analyze, heron_space


@attrs.frozen
class DbCost:
    """Seconds per operation at ``records`` stored records (see the module docstring)."""

    records: int
    commit_s: float
    read_s: float
    refresh_s: float
    best_s: float
    per_trial_s: float

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return attrs.asdict(self)


def _trace_json(template: list, space, point: dict) -> list:
    """The trace JSON of ``point``: the design space's instructions with the point's decisions."""
    insts, _ = template
    decisions = [[index, decision] for index, decision in space.decisions(point).items()]
    return [insts, decisions]


def measure(path, target, *, records: int = 10_000, batch: int = 16, trials_per_run: int = 64,
            seed: int = 0) -> DbCost:
    """Fill ``path`` (a work directory) with ``records`` records and time the operations."""
    workload = make_workload("gemm", (512, 512, 512), "int8")
    mod = tvm.IRModule({"main": workload.func})
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=heron_space(target), task_name="db")
    design = ctx.generate_design_space()[0]
    space = analyze(design, mod, target)
    points = space.solver.sample(records + batch, rng=np.random.default_rng(seed),
                                 max_attempts=4 * (records + batch))
    if len(points) < records + batch:
        raise RuntimeError(f"the space gave {len(points)} distinct points, fewer than {records + batch}")
    template = record_json(ms.database.TuningRecord(
        design.trace, ms.database.Workload(mod), [1e-3], target,
        ms.arg_info.ArgInfo.from_prim_func(mod["main"])))[0]
    database = open_database(path, target=target)
    workload_id = database._inst._workload_id(mod, create=True)  # pylint: disable=protected-access
    spec = database._inst._target_key  # pylint: disable=protected-access
    store = database.store
    rows = [(workload_id, spec, json.dumps(_trace_json(template, space, p)), None, [1e-3 * (1 + i % 97)],
             None, None, str(10**12 + i)) for i, p in enumerate(points)]
    store.commit_many(rows[:records])
    start = time.perf_counter()
    store.commit_many(rows[records:])
    commit_s = (time.perf_counter() - start) / batch
    start = time.perf_counter()
    stored = database.stored_records(mod, target)
    seen = {int(r.program) for r in stored}
    found = sum(space.point_of_json(json.loads(r.trace)) is not None for r in stored)
    read_s = time.perf_counter() - start
    assert found == len(seen) == records + batch
    start = time.perf_counter()
    database.stored_records(mod, target, after=max(r.id for r in stored))
    refresh_s = time.perf_counter() - start
    start = time.perf_counter()
    database.query_tuning_record(mod, target, "main")
    best_s = time.perf_counter() - start
    per_trial = commit_s + read_s / trials_per_run + refresh_s / batch
    return DbCost(records=records, commit_s=commit_s, read_s=read_s, refresh_s=refresh_s,
                  best_s=best_s, per_trial_s=per_trial)
