"""How many random points of a space are valid: feasible, replayed, postprocessed, built, ran.

For an int8 GEMM shape, draws N random points from Heron's space (the
constraint model's sampler) and N random samples of MetaSchedule's own default
space for the target (its VNNI rules on a VNNI CPU: decisions re-sampled,
:func:`~.sampling.metaschedule_samples`), then builds and runs all of them with
MetaSchedule's LocalBuilder and LocalRunner and counts each stage. The command
line is ``benchmarks/validity.py``.
"""

from __future__ import annotations

import time

import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms

from ..errors import HeronError
from ..ops import make_workload
from ..space import analyze, heron_space, postprocess, replay
from .sampling import OK, REPLAY, metaschedule_samples


def heron_points(mod, target, n, seed):
    """(schedules, counts) for n random points of Heron's space."""
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=heron_space(target), task_name="m")
    spaces = [analyze(s, mod, target) for s in ctx.generate_design_space()]
    rng = np.random.default_rng(seed)
    counts = {"drawn": 0, "feasible": 0, "replayed": 0, "postprocessed": 0}
    schedules = []
    per_space = -(-n // len(spaces))
    for space in spaces:
        for point in space.solver.sample(per_space, rng=rng)[: n - counts["drawn"]]:
            counts["drawn"] += 1
            counts["feasible"] += space.model.is_feasible(point)
            try:
                sch = replay(space, mod, point)
                counts["replayed"] += 1
                schedules.append(postprocess(sch, ctx.space_generator.postprocs))
                counts["postprocessed"] += 1
            except HeronError:
                pass
    return schedules, counts


def metaschedule_points(mod, target, n, seed):
    """(schedules, counts) for n random samples of MetaSchedule's default space."""
    ctx = ms.TuneContext(
        mod=mod, target=target, space_generator="post-order-apply", task_name="m", rand_state=seed
    )
    counts = {"drawn": 0, "feasible": None, "replayed": 0, "postprocessed": 0}
    schedules = []
    for stage, sch in metaschedule_samples(ctx, mod, n, seed):
        counts["drawn"] += 1
        counts["replayed"] += stage != REPLAY
        if stage == OK:
            counts["postprocessed"] += 1
            schedules.append(sch)
    return schedules, counts


#: The spaces compared, and how each one's points are drawn.
SAMPLERS = {"heron": heron_points, "metaschedule": metaschedule_points}


def measure(shape: tuple[int, ...], space: str, target, *, points: int, seed: int,
            timeout: float) -> dict:
    """The row of one int8 GEMM shape and space (a key of :data:`SAMPLERS`): every stage's count."""
    start = time.perf_counter()
    mod = tvm.IRModule({"main": make_workload("gemm", shape, "int8").func})
    schedules, counts = SAMPLERS[space](mod, target, points, seed)
    built, ran, errors = build_and_run(schedules, target, timeout)
    return {"shape": shape, "space": space, **counts, "built": built, "ran": ran,
            "seconds": round(time.perf_counter() - start, 1),
            "first_errors": sorted(set(errors))[:3]}


def build_and_run(schedules, target, timeout):
    """Counts of schedules that built and that ran."""
    builder = ms.builder.LocalBuilder(timeout_sec=timeout)
    runner = ms.runner.LocalRunner(timeout_sec=timeout)
    inputs = [ms.builder.BuilderInput(s.mod, target) for s in schedules]
    built, ran, errors = 0, 0, []
    for start in range(0, len(inputs), 32):
        results = builder.build(inputs[start : start + 32])
        run_inputs = []
        for sch, result in zip(schedules[start : start + 32], results):
            if result.error_msg:
                errors.append(result.error_msg.strip().splitlines()[-1][:200])
                continue
            built += 1
            args = ms.arg_info.ArgInfo.from_entry_func(sch.mod, True)
            run_inputs.append(ms.runner.RunnerInput(result.artifact_path, "cpu", args))
        for future in runner.run(run_inputs):
            outcome = future.result()
            if outcome.error_msg is None:
                ran += 1
            else:
                errors.append(outcome.error_msg.strip().splitlines()[-1][:200])
    return built, ran, errors


def table(rows: list[dict]) -> str:
    """A markdown table of the rows of :func:`measure`."""
    lines = ["| shape | space | drawn | feasible | replayed | postprocessed | built | ran |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {'x'.join(map(str, r['shape']))} | {r['space']} | {r['drawn']} | "
                     f"{'-' if r['feasible'] is None else r['feasible']} | {r['replayed']} | "
                     f"{r['postprocessed']} | {r['built']} | {r['ran']} |")
    return "\n".join(lines)
