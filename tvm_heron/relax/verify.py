"""Build-only check of a whole model: one sampled program per tensorized task, nothing measured.

Where no device can run the target (CUDA on a machine without a GPU), tuning
is impossible, but whether Heron's spaces produce programs that build inside
the whole model can still be checked: each task planned into Heron's space
gets one point sampled by the constraint solver, replayed and postprocessed
(for CUDA, MetaSchedule's ``VerifyGPUCode`` included); the points are put in
an in-memory database, never in the user's, and the model is built with it
(other tasks: DLight on GPUs, unscheduled on CPUs).
"""

from __future__ import annotations

import logging

import attrs
import numpy as np
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.arg_info import ArgInfo
from tvm.target import Target

from ..errors import HeronError
from ..space import analyze, postprocess, replay
from . import pipeline
from .tasks import HERON, TaskPlan, plan_tasks, space_generator

logger = logging.getLogger(__name__)


@attrs.frozen
class BuildCheck:
    """Outcome of :func:`build_sampled`.

    Attributes
    ----------
    executable : relax.VMExecutable
        The model built with the sampled programs.
    sampled : tuple of str
        Tasks whose Heron-space program is in the build.
    failed : tuple of (str, str)
        Tasks whose sampled program could not be made, with the reason.
    plans : tuple of TaskPlan
        The plan of every task.
    """

    executable: object
    sampled: tuple
    failed: tuple
    plans: tuple


def build_sampled(model, target: Target, *, seed: int = 0, attempts: int = 4) -> BuildCheck:
    """Build ``model`` for ``target`` with one solver-sampled Heron program per tensorized task."""
    prepared = pipeline.prepare(model.mod, model.params, target)
    extracted = ms.relax_integration.extract_tasks(prepared, target)
    plans = plan_tasks(extracted, target)
    database = ms.database.MemoryDatabase()
    rng = np.random.default_rng(seed)
    sampled, failed = [], []
    for plan in plans:
        if plan.space != HERON:
            continue
        try:
            _commit_sample(plan, target, database, rng, attempts)
            sampled.append(plan.name)
        except HeronError as err:
            failed.append((plan.name, str(err)))
            logger.warning("task %s: no sampled program: %s", plan.name, err)
    executable = pipeline.build(prepared, target, database)
    return BuildCheck(executable, tuple(sampled), tuple(failed), tuple(plans))


def _commit_sample(plan: TaskPlan, target: Target, database, rng, attempts: int) -> None:
    context = ms.TuneContext(mod=plan.mod, target=target, space_generator=space_generator(HERON, target),
                             task_name=plan.name)
    postprocs = context.space_generator.postprocs
    errors = []
    for design_space in context.generate_design_space():
        try:
            space = analyze(design_space, plan.mod, target)
        except HeronError as err:
            errors.append(str(err))
            continue
        for point in space.solver.sample(attempts, rng=rng):
            try:
                sch = postprocess(replay(space, plan.mod, point), postprocs)
            except HeronError as err:
                errors.append(str(err))
                continue
            workload = database.commit_workload(plan.mod)
            database.commit_tuning_record(
                ms.database.TuningRecord(
                    sch.trace,
                    workload,
                    run_secs=[1.0],  # not measured: the only record of this in-memory database
                    target=target,
                    args_info=ArgInfo.from_prim_func(plan.mod["main"]),
                )
            )
            return
    raise HeronError(f"no point of the Heron space passed the postprocessors ({'; '.join(errors[:2])})")


def cuda_source(executable) -> str:
    """The CUDA C source of a model built for a CUDA target (empty if there is none)."""
    sources, stack = [], list(executable.mod.imports)
    while stack:
        module = stack.pop()
        stack.extend(module.imports)
        if module.kind == "cuda":
            sources.append(module.inspect_source())
    return "\n".join(sources)


__all__ = ["BuildCheck", "build_sampled", "cuda_source"]
