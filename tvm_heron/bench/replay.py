"""Replaying tuning runs against a measured table: no builds, no timings.

:class:`ReplayBuilder` and :class:`ReplayRunner` are a MetaSchedule builder
and runner that answer every candidate from a
:class:`~tvm_heron.bench.replay_table.ReplayTable`: the builder names the
candidate's program by the structural hash of its module (all a builder
sees), the runner returns the latency the table measured for it (or its
failure). Any ``ms.tune_tir`` / ``ms.tune.tune_tasks`` run can use them.

:func:`replay_run` runs one strategy with one seed through MetaSchedule's own
task scheduler (``tune_tasks``, one task, round-robin), with MetaSchedule's
``AddToDatabase`` and, where a strategy uses MetaSchedule's cost model
(the evolutionary search; Heron's strategies with ``fitness="tvm"``), the
default ``XGBModel`` and ``UpdateCostModel``: the same loop as a live run. A
recording callback, first in the list, keeps each batch's latencies in
measurement order and the model's predictions for the batch it picked,
taken before the model learns the batch (MetaSchedule notifies the strategy,
then runs the callbacks in order).

A program the table does not have (a *miss*) is answered as a build error
and counted. The table enumerates every point of the design spaces that
MetaSchedule's samplers and mutators can reach by decisions, so Heron's
strategies and the evolutionary search in Heron's spaces never miss; in
MetaSchedule's own spaces ``MutateParallel`` rewrites an annotation that is
no sampling decision, and its programs miss.

Determinism: everything random is seeded from ``seed``: the strategy, the
tuning context's ``rand_state`` (the evolutionary search), the table's noise
(when asked for), and numpy's global generator, which ``XGBModel`` draws its
warm-up scores from (saved and restored around the run).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time

import attrs
import numpy as np
from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.builder import BuilderResult, PyBuilder
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback
from tvm.s_tir.meta_schedule.runner import PyRunner, PyRunnerFuture, RunnerResult
from tvm_ffi import structural_hash

from ..outcome import latency_of
from ..strategies.registry import create as create_strategy
from ..tuning import foreign_log_handlers_detached
from .replay_metrics import rank_correlation
from .replay_table import ReplayTable, program_key
from .replay_tables import TableTask, open_task, space_generator

logger = logging.getLogger(__name__)

#: Prefix of the artifact paths the replay builder makes (no file behind them).
ARTIFACT_PREFIX = "replay:"
#: The builder's error for a program the table does not have.
MISS_ERROR = "ReplayBuilder: the program is not in the replay table"
#: MetaSchedule's own strategy that the benchmark compares with.
EVOLUTIONARY = "evolutionary"


@attrs.define
class ReplayLog:
    """What a replay builder and runner answered: hits, misses, failures."""

    hits: int = 0
    misses: int = 0
    failures: int = 0


@derived_object
class ReplayBuilder(PyBuilder):
    """A builder that builds nothing: it names each candidate's program for the runner.

    Parameters
    ----------
    table : ReplayTable
    log : ReplayLog, optional
        Counts hits and misses (a fresh one by default).
    """

    def __init__(self, table: ReplayTable, log: ReplayLog | None = None) -> None:
        super().__init__()
        self.table = table
        self.log = log if log is not None else ReplayLog()

    def build(self, build_inputs):
        results = []
        for build_input in build_inputs:
            program = program_key(structural_hash(build_input.mod))
            point = self.table.lookup(program)
            if point is None:
                self.log.misses += 1
                results.append(BuilderResult(None, MISS_ERROR))
            elif point.error == "build-error":
                self.log.hits += 1
                self.log.failures += 1
                results.append(BuilderResult(None, "ReplayBuilder: the table records a build error"))
            else:
                self.log.hits += 1
                results.append(BuilderResult(ARTIFACT_PREFIX + program, None))
        return results


@derived_object
class AnsweredFuture(PyRunnerFuture):
    """A runner future that already holds its result (a runner that answers without running)."""

    def __init__(self, result: RunnerResult) -> None:
        super().__init__()
        self._result = result

    def done(self) -> bool:
        return True

    def result(self) -> RunnerResult:
        return self._result


@derived_object
class ReplayRunner(PyRunner):
    """A runner that answers each built candidate with the table's latency.

    Parameters
    ----------
    table : ReplayTable
    log : ReplayLog, optional
    noise_seed : int, optional
        With a seed (and a table with a noise model), each answer is the
        table's latency times log-normal noise of the table's measured
        spread; without one, the table's latency exactly.
    """

    def __init__(self, table: ReplayTable, log: ReplayLog | None = None, noise_seed: int | None = None):
        super().__init__()
        self.table = table
        self.log = log if log is not None else ReplayLog()
        self.rng = np.random.default_rng(noise_seed) if noise_seed is not None else None

    def run(self, runner_inputs):
        futures = []
        for runner_input in runner_inputs:
            program = str(runner_input.artifact_path).removeprefix(ARTIFACT_PREFIX)
            point = self.table.lookup(program)
            if point is None or point.latency_s is None:
                self.log.failures += point is not None
                why = "not in the table" if point is None else f"the table records a {point.error}"
                futures.append(AnsweredFuture(RunnerResult(None, f"ReplayRunner: {why}")))
                continue
            latency = point.latency_s
            if self.rng is not None and self.table.noise is not None:
                latency = self.table.noise.perturb(latency, self.rng)
            futures.append(AnsweredFuture(RunnerResult([latency], None)))
        return futures


@derived_object
class RecordBatches(PyMeasureCallback):
    """Keep each batch's latencies (measurement order) and its predicted scores.

    Parameters
    ----------
    predict : callable
        ``predict(candidates) -> sequence of float or None``: the model's
        scores of the batch it picked, or None where there is no model.
    """

    def __init__(self, predict) -> None:
        super().__init__()
        self.predict = predict
        self.latencies: list[float | None] = []
        self.batches: list[int] = []
        self.rank: list[float | None] = []

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        latencies = [
            latency_of(ran.run_secs) if built.error_msg is None and ran.error_msg is None else None
            for built, ran in zip(builder_results, runner_results)
        ]
        scores = self.predict(list(measure_candidates))
        self.rank.append(rank_correlation(scores, latencies) if scores is not None else None)
        self.latencies.extend(latencies)
        self.batches.append(len(latencies))


@attrs.frozen
class Trajectory:
    """One replayed tuning run.

    Attributes
    ----------
    strategy : str
    seed : int
    latencies : tuple of float or None
        Every trial's latency in measurement order (None: failed or missed).
    batches : tuple of int
        Trials per round.
    rank : tuple of float or None
        Per round, the Spearman correlation between the model's predictions
        for the batch it picked and the measured throughput (None: no model yet).
    misses : int
        Candidates whose program the table does not have.
    wall_s : float
        Seconds the run took.
    """

    strategy: str
    seed: int
    latencies: tuple
    batches: tuple
    rank: tuple
    misses: int
    wall_s: float

    def to_json(self) -> dict:
        """JSON of the run (latencies in seconds, null for failures)."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Trajectory":
        """The run :meth:`to_json` wrote."""
        return cls(strategy=data["strategy"], seed=int(data["seed"]), latencies=tuple(data["latencies"]),
                   batches=tuple(data["batches"]), rank=tuple(data["rank"]), misses=int(data["misses"]),
                   wall_s=float(data["wall_s"]))


def base_name(name: str) -> str:
    """The registered strategy of a benchmark name: ``heron-cga@old`` is ``heron-cga``.

    A label after ``@`` lets one benchmark compare variants of a strategy
    (each with its own options).
    """
    return name.split("@", 1)[0]


def make_strategy(name: str, seed: int, options: dict | None = None):
    """A strategy by name: a Heron strategy (``heron-...``) or MetaSchedule's ``evolutionary``."""
    options = dict(options or {})
    if base_name(name) == EVOLUTIONARY:
        return ms.search_strategy.EvolutionarySearch(**options)
    return create_strategy(base_name(name), seed=seed, **options)


def uses_tvm_model(name: str, options: dict | None) -> bool:
    """Whether the strategy reads MetaSchedule's cost model."""
    return base_name(name) == EVOLUTIONARY or (options or {}).get("fitness") == "tvm"


@contextlib.contextmanager
def _seeded_numpy(seed: int):
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


def replay_run(
    table: ReplayTable,
    name: str,
    *,
    seed: int,
    trials: int,
    per_iter: int = 16,
    options: dict | None = None,
    task: TableTask | None = None,
    noise: bool = False,
    threads: int = 1,
) -> Trajectory:
    """Tune the table's workload with strategy ``name`` against the table.

    Parameters
    ----------
    table : ReplayTable
    name : str
        ``heron-cga``, ``heron-ga``, ``heron-sa``, ``heron-crand`` or
        ``evolutionary``, optionally with a variant label (``heron-cga@old``).
    seed : int
        Seeds everything random in the run (see the module docstring).
    trials : int
        The budget (``max_trials_global``).
    per_iter : int
        Candidates per round (``num_trials_per_iter``).
    options : dict, optional
        The strategy's options (Heron's option fields, or EvolutionarySearch's).
    task : TableTask, optional
        :func:`~tvm_heron.bench.replay_tables.open_task` of the table's spec, to reuse.
    noise : bool
        Answer with the table's noise model (seeded from ``seed``).
    threads : int
        The tuning context's ``num_threads``. With more than one the
        evolutionary search samples and mutates in parallel and is no longer
        deterministic for a seed (seen: two runs of seed 3 with 2 threads
        differed); 1, the default, is.
    """
    task = task or open_task(table.spec)
    strategy = make_strategy(name, seed, options)
    context = ms.TuneContext(
        mod=task.mod, target=task.target, space_generator=space_generator(table.spec, task.target),
        search_strategy=strategy, task_name=table.spec.name, rand_state=seed, num_threads=threads,
    )
    model = None
    if uses_tvm_model(name, options):
        model = ms.cost_model.XGBModel(num_tuning_cores=threads)
    log = ReplayLog()
    recorder = RecordBatches(_predictor(name, strategy, model, context))
    callbacks = [recorder, ms.measure_callback.AddToDatabase()]
    if model is not None:
        callbacks.append(ms.measure_callback.UpdateCostModel())
    start = time.perf_counter()
    with _seeded_numpy(seed), tempfile.TemporaryDirectory() as work_dir, _quiet():
        ms.tune.tune_tasks(
            tasks=[context], task_weights=[1.0], work_dir=work_dir, max_trials_global=trials,
            num_trials_per_iter=per_iter, builder=ReplayBuilder(table, log),
            runner=ReplayRunner(table, log, noise_seed=seed if noise else None),
            database=ms.database.MemoryDatabase(), cost_model=model if model is not None else "none",
            measure_callbacks=callbacks, task_scheduler="round-robin",
        )
    return Trajectory(name, seed, tuple(recorder.latencies), tuple(recorder.batches),
                      tuple(recorder.rank), log.misses, time.perf_counter() - start)


def _predictor(name: str, strategy, model, context):
    """The scores of a picked batch: the XGB model's (before it learns it) or the Heron proposal's."""
    if base_name(name) == EVOLUTIONARY:
        def predict(candidates):
            # XGBModel's warm-up scores are random draws: asking would change the run.
            if model is None or model.data_size < model.num_warmup_samples or model.booster is None:
                return None
            return [float(s) for s in model.predict(context, candidates)]
        return predict

    def predict_heron(candidates):
        # Random fill-ins carry no score; rank_correlation leaves them out.
        scores = [e.proposal.score for e in strategy.emitted[-len(candidates):]]
        return scores if any(s is not None for s in scores) else None
    return predict_heron


@contextlib.contextmanager
def _quiet():
    """MetaSchedule's per-round tables and Heron's progress bars off for a replay."""
    names = ("tvm.s_tir.meta_schedule", "tvm_heron.progress", "tvm_heron.strategies")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with foreign_log_handlers_detached():
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
