"""Tune a whole Relax model with Heron's spaces and strategies, build it and check it.

``tune_model(model, target=..., work_dir=..., trials=...)`` is the one call:

1. :func:`~tvm_heron.relax.pipeline.prepare` fuses the model into kernels;
2. MetaSchedule's ``extract_tasks`` lists them, and
   :func:`~tvm_heron.relax.tasks.plan_tasks` gives each its space and strategy;
3. MetaSchedule's task scheduler (``gradient``) splits the global trial budget
   across the tasks, with TVM's builder, runner, cost model and a JSON
   database in ``work_dir`` (a rerun resumes from it);
4. the database is applied to the prepared module, which is built for the
   Relax VM, run against the reference and timed.

The result reports, per task, its space (tensorized or not, and why not),
trials and latency before and after tuning, and the model's latency before
and after.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import attrs
import numpy as np
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.logging import get_loggers_from_work_dir
from tvm.s_tir.meta_schedule.utils import fork_seed
from tvm.target import Target

from .. import isa
from ..builder import PersistentBuilder
from ..checks import writable_dir
from ..database import open_database, workload_records
from ..errors import HeronError
from ..outcome import latency_of
from ..tuning import cores_of, foreign_log_handlers_detached, make_strategy, require_device
from . import measure, pipeline
from .tasks import DEFAULT, HERON, TaskPlan, plan_tasks, space_generator

logger = logging.getLogger(__name__)


@attrs.frozen
class TaskResult:
    """One task of a tuned model (latencies in seconds, None when not measured)."""

    name: str
    weight: int
    space: str
    strategy: str
    intrinsic: str | None
    fallback: str | None
    trials: int
    valid_trials: int
    untuned_latency_s: float | None
    best_latency_s: float | None

    @property
    def tensorized(self) -> bool:
        """Whether the task was tuned in Heron's tensorized space."""
        return self.space == HERON


@attrs.frozen
class ModelResult:
    """Summary of a whole-model tuning run (``tvm-heron tune-model --json`` writes it)."""

    model: str
    target: str
    strategy: str
    space: str
    trials: int
    tuning_seconds: float
    tasks: tuple
    untuned_latency_s: float | None
    latency_s: float | None
    correct: bool | None
    max_abs_error: float | None
    graph_fallbacks: tuple = ()

    @property
    def fallbacks(self) -> list[TaskResult]:
        """Tasks that did not get the space or strategy asked for."""
        return [t for t in self.tasks if t.fallback]

    def to_json(self) -> dict:
        """A JSON-serialisable dict (tasks included)."""
        data = attrs.asdict(self, filter=lambda a, _v: a.name != "graph_fallbacks")
        data["graph_fallbacks"] = [f.to_json() for f in self.graph_fallbacks]
        data["tensorized_tasks"] = sum(t.tensorized for t in self.tasks)
        return data

    def table(self) -> str:
        """The per-task report as a markdown table."""
        rows = [
            "| task | calls | space | strategy | trials (valid) | untuned ms | tuned ms | note |",
            "| --- | ---: | --- | --- | ---: | ---: | ---: | --- |",
        ]
        for t in self.tasks:
            space = f"heron ({t.intrinsic})" if t.tensorized else t.space
            rows.append(
                f"| {t.name} | {t.weight} | {space} | {t.strategy} | {t.trials} ({t.valid_trials}) "
                f"| {_ms(t.untuned_latency_s)} | {_ms(t.best_latency_s)} | {t.fallback or ''} |"
            )
        return "\n".join(rows)


def tune_model(
    model,
    *,
    target: Target,
    work_dir: str | Path,
    trials: int,
    strategy: str = "heron-cga",
    space: str = HERON,
    seed: int | None = None,
    trials_per_round: int = 8,
    max_trials_per_task: int | None = None,
    runner=None,
    cold_weights: bool = True,
    builder_timeout_s: float = 120.0,
    measure_untuned: bool = True,
    check: bool = True,
    repeat: int = 10,
) -> ModelResult:
    """Tune ``model`` (a :class:`~tvm_heron.models.Model`) and report per task and end to end.

    Parameters
    ----------
    trials : int
        Global measurement budget, split across the tasks by the task scheduler
        (0: build without tuning).
    space, strategy : str
        ``space="heron"`` with a Heron strategy is tvm-heron; ``space="default"``
        with ``strategy="evolutionary"`` is MetaSchedule's baseline.
    max_trials_per_task : int, optional
        Cap per task (default: the global budget).
    runner : MetaSchedule runner, optional
        Where candidates are measured (default: locally, see ``cold_weights``).
    cold_weights : bool
        Without a ``runner``, on a CPU: measure each kernel with its weights
        out of the caches, as it runs in the model
        (:func:`~tvm_heron.relax.measure.cold_weights_runner`); False measures
        it warm, MetaSchedule's default.
    measure_untuned : bool
        Also time every task and the model before tuning (unscheduled kernels).
    check : bool
        Compare the tuned model's outputs with the model's reference.
    """
    if trials < 0:
        raise HeronError(f"trials must be >= 0, got {trials}")
    # tuning measures and the check runs the model: both need the device
    require_device(target, runner if trials > 0 else None)
    work_dir = writable_dir(work_dir)
    prepared = pipeline.prepare(model.mod, model.params, target)
    extracted = ms.relax_integration.extract_tasks(prepared, target)
    if not extracted:
        raise HeronError(f"model {model.name}: no tunable kernel was extracted")
    plans = plan_tasks(extracted, target, space=space, strategy=strategy)
    database = open_database(work_dir, target=target)
    before = {p.name: _traces(database, p) for p in plans}
    start = time.perf_counter()
    if trials > 0:
        if runner is None and cold_weights and target.kind.name == "llvm":
            runner = measure.cold_weights_runner()
        _tune(plans, target, work_dir, database, trials, trials_per_round, max_trials_per_task,
              seed, runner, builder_timeout_s)
    elapsed = time.perf_counter() - start
    tasks = tuple(_task_result(p, database, before[p.name], target, measure_untuned) for p in plans)
    result = dict(
        model=model.name, target=str(target), strategy=strategy, space=space, trials=trials,
        tuning_seconds=elapsed, tasks=tasks, untuned_latency_s=None, latency_s=None,
        correct=None, max_abs_error=None, graph_fallbacks=tuple(model.fallbacks),
    )
    if measure_untuned:
        untuned = pipeline.build(prepared, target)
        result["untuned_latency_s"] = measure.time_model(untuned, target, model.inputs, repeat=1, min_repeat_ms=0)
    executable = pipeline.build(prepared, target, database)
    if check:
        result.update(compare(measure.run_model(executable, target, model.inputs), model))
    result["latency_s"] = measure.time_model(executable, target, model.inputs, repeat=repeat)
    return ModelResult(**result)


def compare(outputs, model) -> dict:
    """``correct`` and ``max_abs_error`` of outputs against the model's reference.

    Integer models must match exactly; an output dequantized from integers
    (``model.quant_steps``) within one quantization step; float models within
    a relative tolerance of 1e-3 of the reference's magnitude (elementwise
    rtol 1e-3).
    """
    if len(outputs) != len(model.reference):
        return {"correct": False, "max_abs_error": None}
    correct, error = True, 0.0
    steps = tuple(model.quant_steps) or (None,) * len(outputs)
    for out, ref, step in zip(outputs, model.reference, steps):
        if out.shape != ref.shape:
            return {"correct": False, "max_abs_error": None}
        diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        error = max(error, float(diff.max()) if diff.size else 0.0)
        if step is not None and not model.exact:
            # one step, and a float32 rounding of the dequantized value on top
            correct &= bool(np.all(diff <= step * (1 + 1e-5) + 1e-6 * np.abs(ref)))
        elif model.exact:
            correct &= bool(np.array_equal(out, ref))
        else:
            scale = max(1.0, float(np.abs(ref).max()))
            correct &= bool(np.allclose(out, ref, rtol=1e-3, atol=1e-3 * scale))
    return {"correct": correct, "max_abs_error": error}


def _tune(plans, target, work_dir, database, trials, per_round, per_task, seed, runner, timeout_s):
    plans = [p for p in plans if p.tuned]
    if not plans:
        return
    builder = PersistentBuilder(max_workers=cores_of(target), timeout_sec=timeout_s)
    try:
        # MetaSchedule configures its loggers (per task here) with dictConfig: foreign
        # handlers must be off its logger from the first logger made.
        with foreign_log_handlers_detached():
            ms.tune.tune_tasks(
                tasks=_contexts(plans, target, work_dir, seed),
                task_weights=[float(p.weight) for p in plans],
                work_dir=str(work_dir),
                max_trials_global=trials,
                max_trials_per_task=per_task,
                num_trials_per_iter=per_round,
                builder=builder,
                runner=runner if runner is not None else "local",
                database=database,
            )
    finally:
        builder.shutdown()


def _contexts(plans, target, work_dir, seed) -> list:
    """One TuneContext per task, with its space, strategy, logger and forked seed."""
    # The strategy wrappers must outlive ``clone()``: a Heron strategy clones
    # itself through a weak reference to its Python wrapper.
    strategies = [make_strategy(p.strategy, seed) for p in plans]
    loggers = get_loggers_from_work_dir(str(work_dir), [p.name for p in plans])
    return [
        ms.TuneContext(
            mod=plan.mod,
            target=target,
            space_generator=space_generator(plan.space, target),
            search_strategy=strategy,
            task_name=plan.name,
            logger=task_logger,
            rand_state=rand_state,
            num_threads=cores_of(target),
        ).clone()
        for strategy, plan, task_logger, rand_state in zip(
            strategies, plans, loggers, fork_seed(seed, n=len(plans))
        )
    ]


def _traces(database, plan: TaskPlan) -> set[str]:
    return {str(r.trace) for r in workload_records(database, plan.mod)}


def _task_result(plan: TaskPlan, database, before: set[str], target, measure_untuned) -> TaskResult:
    every = workload_records(database, plan.mod)
    new = [r for r in every if str(r.trace) not in before]
    timed = [(lat, r) for r in every if (lat := latency_of(r.run_secs)) is not None]
    latencies = [lat for lat, _ in timed]
    untuned = None
    if measure_untuned:
        try:
            untuned = measure.time_kernel(plan.mod, target)
        except Exception as err:  # pylint: disable=broad-except  # report, do not fail the run
            logger.warning("task %s: untuned kernel could not be timed: %s", plan.name, err)
    return TaskResult(
        name=plan.name,
        weight=plan.weight,
        space=plan.space,
        strategy=plan.strategy,
        intrinsic=_used_intrinsic(min(timed, key=lambda t: t[0])[1], plan.intrinsic) if timed else plan.intrinsic,
        fallback=plan.fallback if latencies else _untuned_note(plan),
        trials=len(new),
        valid_trials=sum(latency_of(r.run_secs) is not None for r in new),
        untuned_latency_s=untuned,
        best_latency_s=min(latencies) if latencies else None,
    )


def _used_intrinsic(record, planned: str | None) -> str | None:
    """The described intrinsic that the record's schedule tensorizes with (the plan's where none is named).

    A space may offer more than one (AVX2's two int8 forms for a kernel on 7-bit weights); the
    plan names the first.
    """
    trace = str(record.trace)
    named = [i.name for i in isa.intrinsics() if re.search(rf"\b{re.escape(i.name)}\b", trace)]
    return named[0] if len(named) == 1 else planned


def _untuned_note(plan: TaskPlan) -> str:
    reason = f"{plan.fallback}; " if plan.fallback else ""
    return f"{reason}no valid record: built unscheduled (untuned)"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.4g}"


__all__ = ["DEFAULT", "HERON", "ModelResult", "TaskResult", "compare", "tune_model"]
