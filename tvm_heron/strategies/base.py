"""What every Heron search strategy shares: spaces, budget, deduplication, candidates.

A strategy subclass only proposes points (:meth:`HeronStrategy._propose`);
this base class turns them into MetaSchedule measure candidates:

* in ``pre_tuning`` it derives the constraint model of every design space
  (:func:`tvm_heron.space.analyze`) and reads the records of this workload
  already in the database, so that nothing is measured twice, across runs;
* in ``generate_measure_candidates`` it replays each proposed point (a point
  the replay repairs is rejected), applies the postprocessors, and drops
  duplicates: a point whose program was measured before (two decisions can
  make the same program) is handed to :meth:`HeronStrategy._on_duplicate`
  with that program's latency, as soon as it is known, so that a model
  learns it and the strategy does not propose it again; it returns ``None``
  when the budget is spent or when the strategy cannot find a new point, which ends the task cleanly (a space
  with no free decision is measured once);
* every emitted candidate's point satisfies its constraint model (checked);
* it tallies the measurements (:class:`~tvm_heron.outcome.FailureTally`) and
  logs at the end of the task how many failed, why, and what to change;
* with a tvm-heron database (:func:`tvm_heron.database.open_database`) it
  commits each batch, failure kinds included, the moment the runner returns,
  before any retraining (MetaSchedule's own ``AddToDatabase`` commits later,
  and would lose the batch if the strategy's work raised); reads only this
  target's records; measures again, once, a program that failed for a
  transient reason; and before each round learns what other processes
  tuning the same workload into the file have measured.

The protocol is MetaSchedule's: ``pre_tuning`` twice without ``post_tuning``,
or ``post_tuning`` / ``generate_measure_candidates`` without ``pre_tuning``,
raise ``ValueError`` as its own strategies do. Strategies are declared with
:func:`heron_strategy` (``@derived_object`` that also remembers the wrapper
class), so ``clone()`` works when MetaSchedule made the strategy from its
name and no Python wrapper is left alive.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable

import attrs
import numpy as np
from tvm.ir.utils import derived_object
from tvm.s_tir import Schedule
from tvm.s_tir.schedule import Trace
from tvm.s_tir.meta_schedule.arg_info import ArgInfo
from tvm.s_tir.meta_schedule.search_strategy import MeasureCandidate, PySearchStrategy
from tvm_ffi import structural_hash

from ..constraints.solver import TIMED_OUT
from ..database import as_heron_database, workload_records
from ..database.records import record_json
from ..errors import HeronError
from ..outcome import FailureTally, latency_of
from ..progress import CLOCK, TuningProgress
from ..space import analyze, postprocess, replay
from .options import StrategyOptions

logger = logging.getLogger(__name__)

#: A design space with at most this many points is enumerated once random
#: draws stop finding new ones (see HeronStrategy.random_proposals).
ENUMERATE_LIMIT = 4096
#: A round gives up after this many rejected proposals per wanted candidate
#: (plus 32): a space whose points all fail the postprocessors ends its task.
MAX_REJECTED_PER_WANTED = 8
#: What the base class knows of a program emitted in a batch not measured yet.
IN_FLIGHT = object()


def heron_strategy(cls):
    """Declare a concrete Heron strategy: ``@derived_object``, remembering the wrapper class.

    MetaSchedule holds a strategy made from its name (``strategy="heron-cga"``)
    only as a C++ object: the Python wrapper that ``@derived_object`` makes
    is garbage collected, and the instance's weak reference to it dies.
    ``clone()`` therefore builds the new wrapper from the class recorded here.
    """
    wrapper = derived_object(cls)
    cls._wrapper_class = wrapper
    return wrapper


@attrs.frozen
class KnownRecord:
    """A measured program of this workload, as the strategies use it (no TVM object).

    ``trace`` is the trace's JSON (:func:`~tvm_heron.database.records.record_json`), ``latency``
    None for a failure, ``program`` the scheduled module's structural hash
    when the database stored it.
    """

    trace: list = attrs.field(eq=False, repr=False)
    latency: float | None
    program: int | None = None


@attrs.frozen
class Proposal:
    """A point of design space ``space`` proposed for measurement.

    ``score`` is the fitness the strategy predicted for it when it proposed it
    (None without a model): benchmarks read it to rate the model's ranking of
    the batch it picked, before the model learns the measurements.
    """

    space: int
    point: dict = attrs.field(eq=False)
    key: tuple = ()
    score: float | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Emitted:
    """A proposal that became a measure candidate (kept for inspection and tests).

    ``program`` is the structural hash of its scheduled module.
    """

    proposal: Proposal
    sch: Schedule = attrs.field(eq=False, repr=False)
    program: int


class HeronStrategy(PySearchStrategy):
    """Base class of the Heron strategies (not registered itself).

    Parameters
    ----------
    **options
        The fields of the class's :attr:`Options` (here
        :class:`~tvm_heron.strategies.options.StrategyOptions`: ``seed``).
    """

    #: The options class of the strategy; ``clone()`` passes the same options on.
    Options = StrategyOptions
    _wrapper_class = None  # set by heron_strategy on each concrete class

    def __init__(self, **options) -> None:
        self.options = self.Options(**options)
        self.context = None
        self.spaces: list = []
        self.rng: np.random.Generator | None = None
        self.emitted: list[Emitted] = []
        self.tally = FailureTally()
        self._tuning = False
        # Program (structural hash) -> its latency, None if it failed, IN_FLIGHT if not measured yet.
        self._seen: dict[int, object] = {}
        # Program in flight -> the proposals found to make it, told once it is measured.
        self._waiting: dict[int, list[Proposal]] = {}
        self._enumeration: dict[int, list[Proposal]] = {}
        self._max_trials = 0
        self._per_iter = 0
        self._trials = 0
        self._database = None
        self._cost_model = None
        self._proposed = 0
        self.progress: TuningProgress | None = None
        self.rounds: list[dict] = []
        self.records: list = []
        self._heron_db = None  # the HeronDatabase behind the run's database, if it is one
        self._workload = None
        self._last_row = 0

    @property
    def seed(self) -> int | None:
        """The seed option (None: the tuning context's ``rand_state``)."""
        return self.options.seed

    # -- MetaSchedule interface -----------------------------------------------------------
    def _initialize_with_tune_context(self, context) -> None:
        self.context = context

    def pre_tuning(self, max_trials, num_trials_per_iter, design_spaces, database=None, cost_model=None):
        if self._tuning:
            raise ValueError("`pre_tuning` is already invoked without corresponding `post_tuning`")
        if max_trials < 0 or num_trials_per_iter < 1:
            raise ValueError(
                f"max_trials ({max_trials}) must be >= 0 and num_trials_per_iter "
                f"({num_trials_per_iter}) positive"
            )
        if self.context is None:
            raise ValueError("the strategy has no tuning context: pass it to a TuneContext first")
        self._tuning = True
        ctx = self.context
        seed = self.seed if self.seed is not None else max(int(ctx.rand_state), 0)
        self.rng = np.random.default_rng(seed)
        self._max_trials, self._per_iter, self._trials = int(max_trials), int(num_trials_per_iter), 0
        self._database, self._cost_model = database, cost_model
        self.emitted, self.rounds, self.tally = [], [], FailureTally()
        self._enumeration, self._waiting = {}, {}
        self.progress = TuningProgress(self._max_trials, str(ctx.task_name or "task"))
        if self._max_trials == 0:
            self.spaces, self.records, self._seen = [], [], {}
            return
        start = time.perf_counter()
        self.spaces = self._analyze(design_spaces)
        # Read once: deduplication and the guided strategies' warm start both use them.
        self.records = self._read_records(database)
        self._seen = self._measured_hashes(self.records)
        if self.spaces:
            self._on_pre_tuning()
        CLOCK.add("search", time.perf_counter() - start)

    def post_tuning(self) -> None:
        if not self._tuning:
            raise ValueError("`post_tuning` is invoked without corresponding `pre_tuning`")
        self._tuning = False
        if self.spaces:
            self._on_post_tuning()
        if self.progress is not None:
            self.progress.close()
        self._log_summary()

    def generate_measure_candidates(self):
        if not self._tuning:
            raise ValueError("`generate_measure_candidates` is invoked before `pre_tuning`")
        remaining = self._max_trials - self._trials
        if remaining <= 0 or not self.spaces:
            return None
        want = min(self._per_iter, remaining)
        self._learn_from_other_processes()
        self.progress.round_started()
        start = time.perf_counter()
        candidates, self._proposed = [], 0
        proposals = iter(self._propose(want))
        rejected, patience = 0, MAX_REJECTED_PER_WANTED * want + 32
        while len(candidates) < want and rejected < patience:
            # Pull a proposal only when a candidate is still wanted: a pulled one
            # counts as proposed (random_proposals marks it) and must be tried.
            proposal = next(proposals, None)
            if proposal is None:
                break
            self._proposed += 1
            made = self._materialize(proposal)
            if made is None:
                rejected += 1
                continue
            sch, program = made
            self.emitted.append(Emitted(proposal, sch, program))
            candidates.append(MeasureCandidate(sch, ArgInfo.from_entry_func(sch.mod, True)))
        CLOCK.add("search", time.perf_counter() - start)
        if not candidates:
            logger.info(
                "task %s: no new valid candidate (%d proposals rejected): the search ends",
                self.context.task_name, rejected,
            )
            return None
        self._trials += len(candidates)
        return candidates

    def notify_runner_results(self, measure_candidates, results) -> None:
        self._commit(measure_candidates, results)  # first: nothing after this can lose the batch
        start = time.perf_counter()
        latencies = [latency_of(r.run_secs) if r.error_msg is None else None for r in results]
        duplicates = []
        for emitted, latency in zip(self.emitted[-len(results):], latencies):
            self._seen[emitted.program] = latency
            duplicates.extend((p, latency) for p in self._waiting.pop(emitted.program, ()))
        for result, latency in zip(results, latencies):
            kind = self.tally.add(result.error_msg, latency)
            if kind is not None and self.tally.counts[kind] == 1:
                logger.warning("first %s of task %s: %s", kind.value, self.context.task_name,
                               str(result.error_msg).strip()[:2000])
        try:
            self._on_results(measure_candidates, latencies)
            for proposal, latency in duplicates:
                self._on_duplicate(proposal, latency)
        except Exception:  # pylint: disable=broad-except  # the batch is committed; go on
            logger.exception("task %s: learning from a batch failed; the search goes on without it",
                             self.context.task_name)
        CLOCK.add("search", time.perf_counter() - start)
        self.rounds.append(
            self.progress.round_finished(
                proposed=self._proposed,
                valid=len(measure_candidates),
                measured=len(results),
                latencies=latencies,
            )
        )

    def clone(self):
        # A new wrapper of this strategy's class with the same options; the
        # wrapper of ``self`` may be gone (see heron_strategy).
        return type(self)._wrapper_class(**self.options.to_kwargs())

    # -- for subclasses ---------------------------------------------------------------------
    def _propose(self, n: int) -> Iterable[Proposal]:
        """Yield proposals, most wanted first; the base class keeps the first ``n`` new ones."""
        raise NotImplementedError

    def _on_pre_tuning(self) -> None:
        """Hook after the spaces are analysed (only when one is usable)."""

    def _on_post_tuning(self) -> None:
        """Hook at the end of tuning."""

    def _on_results(self, candidates, latencies: list[float | None]) -> None:
        """Hook when measurements come back: seconds per candidate, None if it failed."""

    def _on_duplicate(self, proposal: Proposal, latency: float | None) -> None:
        """Hook: ``proposal`` makes a program already measured, at ``latency`` (None: it failed).

        Called when the proposal is rejected, or, if its program is in the
        batch being measured, after that batch's :meth:`_on_results`.
        """

    # -- helpers -------------------------------------------------------------------------
    def proposal(self, space: int, point: dict, score: float | None = None) -> Proposal:
        """A :class:`Proposal` with its dedup key (and the predicted ``score``, if any)."""
        return Proposal(space, point, (space, self.spaces[space].model.as_tuple(point)), score)

    def random_proposals(self, n: int, skip: set) -> Iterable[Proposal]:
        """Constrained random proposals whose keys are not in ``skip`` (updated as they are yielded).

        Draws ``n`` points spread over the spaces, in random order, again and
        again. A draw of a small space repeats points; once one brings fewer
        than half of ``n`` new points, the spaces that have at most
        :data:`ENUMERATE_LIMIT` points are enumerated and their unseen points
        follow in random order, so that a batch is short only when the space
        is exhausted. A draw that brings nothing new ends the proposals.
        """
        per_space = -(-n // len(self.spaces))
        while True:
            drawn = {}
            for index, space in enumerate(self.spaces):
                for point in space.solver.sample(per_space, rng=self.rng):
                    proposal = self.proposal(index, point)
                    if proposal.key not in skip:
                        drawn.setdefault(proposal.key, proposal)
            if len(drawn) * 2 < n:
                for index in range(len(self.spaces)):
                    for proposal in self._enumerated(index):
                        if proposal.key not in skip:
                            drawn.setdefault(proposal.key, proposal)
            if not drawn:
                return
            drawn = list(drawn.values())
            for i in self.rng.permutation(len(drawn)):
                # Marked when yielded: the caller may stop before the end of a draw.
                skip.add(drawn[i].key)
                yield drawn[i]

    def _enumerated(self, index: int) -> list[Proposal]:
        """Every point of space ``index`` when it has at most ENUMERATE_LIMIT (else none); cached."""
        if index not in self._enumeration:
            try:
                points = self.spaces[index].solver.enumerate_all(limit=ENUMERATE_LIMIT, time_limit_s=5.0)
            except (ValueError, TimeoutError):
                points = []
            self._enumeration[index] = [self.proposal(index, p) for p in points]
        return self._enumeration[index]

    def _analyze(self, design_spaces) -> list:
        spaces = []
        for index, design_space in enumerate(design_spaces):
            try:
                space = analyze(design_space, self.context.mod, self.context.target)
            except HeronError as err:
                logger.warning("design space %d dropped: %s", index, err)
                continue
            if space.solver.solve(seed=1) is None:
                if space.solver.last_status == TIMED_OUT:
                    logger.warning("design space %d dropped: CP-SAT found no point within its time "
                                   "limit (not proven infeasible)", index)
                else:
                    logger.warning("design space %d dropped: its constraint model has no solution", index)
                continue
            spaces.append(space)
        if not spaces:
            # As MetaSchedule's strategies do when no candidate survives: the task
            # ends without a measurement; other tasks of the run go on.
            logger.error(
                "task %s: no design space has a feasible point, nothing to measure; see "
                "tvm_heron.space.analyze(...).model.dump()", self.context.task_name,
            )
        return spaces

    def _log_summary(self) -> None:
        """Say how the task's measurements went; a warning when every one failed."""
        name = self.context.task_name if self.context is not None else "task"
        if self.tally.measured and not self.tally.valid:
            logger.warning("task %s: %s", name, self.tally.summary())
        elif self.tally.failed:
            logger.info("task %s: %s", name, self.tally.summary())

    def _materialize(self, proposal: Proposal) -> tuple[Schedule, int] | None:
        """The proposal's scheduled program and its structural hash; None if rejected."""
        space = self.spaces[proposal.space]
        if not space.model.is_feasible(proposal.point):
            raise AssertionError(f"strategy proposed an infeasible point:\n{space.model.explain(proposal.point)}")
        try:
            sch = replay(space, self.context.mod, proposal.point)
            postprocess(sch, self.context.space_generator.postprocs)
        except HeronError as err:
            logger.debug("point rejected: %s", err)
            return None
        digest = structural_hash(sch.mod)
        if digest not in self._seen:
            self._seen[digest] = IN_FLIGHT
            return sch, digest
        if self._seen[digest] is IN_FLIGHT:
            self._waiting.setdefault(digest, []).append(proposal)
        else:
            self._on_duplicate(proposal, self._seen[digest])
        return None

    # -- the database ---------------------------------------------------------------------
    def _read_records(self, database) -> list[KnownRecord]:
        """This workload's records to learn from and not measure again (a target's own, with ours)."""
        self._heron_db = as_heron_database(database)
        if self._heron_db is None:
            records = workload_records(database, self.context.mod) if database is not None else []
            return [KnownRecord(record_json(r)[0], latency_of(r.run_secs)) for r in records]
        self._workload = self._heron_db.commit_workload(self.context.mod)
        rows = self._heron_db.stored_records(self.context.mod, self.context.target)
        self._last_row = max((row.id for row in rows), default=0)
        again = sum(row.remeasure for row in rows)
        if again:
            logger.info("task %s: %d programs that failed for a transient reason are measured again",
                        self.context.task_name, again)
        return [_known(row) for row in rows if not row.remeasure]

    def _commit(self, candidates, results) -> None:
        """Commit a measured batch to a tvm-heron database (with each failure's message)."""
        if self._heron_db is None:
            return
        from tvm.s_tir.meta_schedule.database import TuningRecord  # pylint: disable=import-outside-toplevel

        pairs = []
        for cand, result in zip(candidates, results):
            secs = result.run_secs if result.error_msg is None and result.run_secs is not None else [1e10]
            record = TuningRecord(cand.sch.trace, self._workload, secs, self.context.target,
                                  cand.args_info)
            pairs.append((record, result.error_msg, structural_hash(cand.sch.mod)))
        self._heron_db.commit_results(pairs)

    def _learn_from_other_processes(self) -> None:
        """Add what others committed for this workload and target since the last look."""
        if self._heron_db is None:
            return
        rows = self._heron_db.stored_records(self.context.mod, self.context.target, after=self._last_row)
        if not rows:
            return
        self._last_row = max(row.id for row in rows)
        for program, latency in self._measured_hashes([_known(row) for row in rows if not row.remeasure]).items():
            if self._seen.get(program) is not IN_FLIGHT:  # ours in flight: our own result will tell
                self._seen[program] = latency

    def _measured_hashes(self, records: list[KnownRecord]) -> dict[int, float | None]:
        """Structural hash -> latency of the programs of ``records`` (replayed where none was stored)."""
        seen: dict[int, float | None] = {}
        mod = self.context.mod
        for record in records:
            if record.program is not None:
                seen[record.program] = record.latency
                continue
            sch = Schedule(mod, seed=1, debug_mask=0)
            try:
                Trace.apply_json_to_schedule(record.trace, sch)
            except Exception:  # pylint: disable=broad-except
                continue  # a record of another space: it cannot collide with ours
            seen[structural_hash(sch.mod)] = record.latency
        return seen


def _known(row) -> KnownRecord:
    """The :class:`KnownRecord` of a stored row."""
    return KnownRecord(json.loads(row.trace), row.latency, int(row.program) if row.program else None)
