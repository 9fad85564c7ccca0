"""What every Heron search strategy shares: spaces, budget, deduplication, candidates.

A strategy subclass only proposes points (:meth:`HeronStrategy._propose`);
this base class turns them into MetaSchedule measure candidates:

* in ``pre_tuning`` it derives the constraint model of every design space
  (:func:`tvm_heron.space.analyze`) and reads the records of this workload
  already in the database, so that nothing is measured twice, across runs;
* in ``generate_measure_candidates`` it replays each proposed point (a point
  the replay repairs is rejected), applies the postprocessors, and drops
  duplicates; it returns ``None`` when the budget is spent or when the
  strategy cannot find a new point, which ends the task cleanly;
* every emitted candidate's point satisfies its constraint model (checked).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import attrs
import numpy as np
from tvm_ffi import structural_hash
from tvm.s_tir import Schedule
from tvm.s_tir.meta_schedule.arg_info import ArgInfo
from tvm.s_tir.meta_schedule.search_strategy import MeasureCandidate, PySearchStrategy

from ..errors import HeronError, InfeasibleSpaceError
from ..progress import CLOCK, TuningProgress
from ..space import analyze, postprocess, replay

logger = logging.getLogger(__name__)


#: MetaSchedule records a failed build or run with run_secs of 1e10 or more.
FAILED_SECS = 1e9


def latency_of(run_secs) -> float | None:
    """Mean of a record's or result's ``run_secs``; None for a failure (or none measured)."""
    secs = [float(s) for s in (run_secs or [])]
    if not secs or max(secs) >= FAILED_SECS:
        return None
    return float(np.mean(secs))


def workload_records(database, mod) -> list:
    """The tuning records of ``mod`` in ``database`` (failed ones included), in database order."""
    digest = structural_hash(mod)
    return [r for r in database.get_all_tuning_records() if structural_hash(r.workload.mod) == digest]


@attrs.frozen
class Proposal:
    """A point of design space ``space`` proposed for measurement."""

    space: int
    point: dict = attrs.field(eq=False)
    key: tuple = ()


@attrs.frozen
class Emitted:
    """A proposal that became a measure candidate (kept for inspection and tests)."""

    proposal: Proposal
    sch: Schedule = attrs.field(eq=False, repr=False)


class HeronStrategy(PySearchStrategy):
    """Base class of the Heron strategies (not registered itself).

    Parameters
    ----------
    seed : int, optional
        Seed of the strategy's random generator. ``None`` uses the tuning
        context's ``rand_state`` (``tune_tir(..., seed=...)``).
    """

    def __init__(self, *, seed: int | None = None) -> None:
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.seed = seed
        self.context = None
        self.spaces: list = []
        self.rng: np.random.Generator | None = None
        self.emitted: list[Emitted] = []
        self._seen: set[int] = set()
        self._max_trials = 0
        self._per_iter = 0
        self._trials = 0
        self._database = None
        self._cost_model = None
        self._proposed = 0
        self.progress: TuningProgress | None = None
        self.rounds: list[dict] = []
        self.records: list = []

    # -- MetaSchedule interface -----------------------------------------------------------
    def _initialize_with_tune_context(self, context) -> None:
        self.context = context

    def pre_tuning(self, max_trials, num_trials_per_iter, design_spaces, database=None, cost_model=None):
        if max_trials < 1 or num_trials_per_iter < 1:
            raise ValueError(
                f"max_trials ({max_trials}) and num_trials_per_iter ({num_trials_per_iter}) "
                "must be positive"
            )
        ctx = self.context
        seed = self.seed if self.seed is not None else max(int(ctx.rand_state), 0)
        self.rng = np.random.default_rng(seed)
        self._max_trials, self._per_iter, self._trials = int(max_trials), int(num_trials_per_iter), 0
        self._database, self._cost_model = database, cost_model
        self.spaces = self._analyze(design_spaces)
        # Read once: deduplication and the guided strategies' warm start both use them.
        self.records = workload_records(database, ctx.mod) if database is not None else []
        self._seen = self._measured_hashes()
        self.emitted = []
        self.rounds = []
        self.progress = TuningProgress(self._max_trials, str(ctx.task_name or "task"))
        start = time.perf_counter()
        self._on_pre_tuning()
        CLOCK.add("search", time.perf_counter() - start)

    def post_tuning(self) -> None:
        self._on_post_tuning()
        if self.progress is not None:
            self.progress.close()

    def generate_measure_candidates(self):
        remaining = self._max_trials - self._trials
        if remaining <= 0:
            return None
        want = min(self._per_iter, remaining)
        self.progress.round_started()
        start = time.perf_counter()
        candidates, self._proposed = [], 0
        for proposal in self._propose(want):
            if len(candidates) == want:
                break
            self._proposed += 1
            sch = self._materialize(proposal)
            if sch is None:
                continue
            self.emitted.append(Emitted(proposal, sch))
            candidates.append(MeasureCandidate(sch, ArgInfo.from_entry_func(sch.mod, True)))
        CLOCK.add("search", time.perf_counter() - start)
        if not candidates:
            logger.info("no new valid candidate could be found: the search ends")
            return None
        self._trials += len(candidates)
        return candidates

    def notify_runner_results(self, measure_candidates, results) -> None:
        start = time.perf_counter()
        latencies = [latency_of(r.run_secs) if r.error_msg is None else None for r in results]
        self._on_results(measure_candidates, latencies)
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
        # ``self`` is the Python instance inside a ``@derived_object`` wrapper;
        # MetaSchedule needs a new wrapper, of the wrapper's class.
        return type(self._outer())(**self._init_kwargs())

    # -- for subclasses ---------------------------------------------------------------------
    def _init_kwargs(self) -> dict:
        return {"seed": self.seed}

    def _propose(self, n: int) -> Iterable[Proposal]:
        """Yield proposals, most wanted first; the base class keeps the first ``n`` new ones."""
        raise NotImplementedError

    def _on_pre_tuning(self) -> None:
        """Hook after the spaces are analysed."""

    def _on_post_tuning(self) -> None:
        """Hook at the end of tuning."""

    def _on_results(self, candidates, latencies: list[float | None]) -> None:
        """Hook when measurements come back: seconds per candidate, None if it failed."""

    # -- helpers -------------------------------------------------------------------------
    def proposal(self, space: int, point: dict) -> Proposal:
        """A :class:`Proposal` with its dedup key."""
        return Proposal(space, point, (space, self.spaces[space].model.as_tuple(point)))

    def _analyze(self, design_spaces) -> list:
        spaces = []
        for index, design_space in enumerate(design_spaces):
            try:
                space = analyze(design_space, self.context.mod, self.context.target)
            except HeronError as err:
                logger.warning("design space %d dropped: %s", index, err)
                continue
            if space.solver.solve(seed=1) is None:
                logger.warning("design space %d dropped: its constraint model has no solution", index)
                continue
            spaces.append(space)
        if not spaces:
            raise InfeasibleSpaceError(
                "no design space has a feasible point; see tvm_heron.space.analyze(...).model.dump()"
            )
        return spaces

    def _materialize(self, proposal: Proposal) -> Schedule | None:
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
        if digest in self._seen:
            return None
        self._seen.add(digest)
        return sch

    def _measured_hashes(self) -> set[int]:
        """Structural hashes of the programs of this workload already in the database."""
        seen: set[int] = set()
        mod = self.context.mod
        for record in self.records:
            sch = Schedule(mod, seed=1, debug_mask=0)
            try:
                record.trace.apply_to_schedule(sch, remove_postproc=False)
            except Exception:  # pylint: disable=broad-except
                continue  # a record of another space: it cannot collide with ours
            seen.add(structural_hash(sch.mod))
        return seen
