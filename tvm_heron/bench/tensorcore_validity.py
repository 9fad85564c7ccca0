"""How many random points of a TensorCore space build, without a GPU: Heron vs MetaSchedule.

For each fp16 operator (:func:`~.profiles.tensorcore_cases`: the first shape of
each operator in the paper's TensorCore list, and the first strided transposed
conv), draws N random points of

* Heron's CUDA space: the constraint solver's sampler, over the design
  spaces of the three wmma fragment shapes in turn;
* MetaSchedule's own ``cuda-tensorcore`` space (its rules, postprocessors
  and mutators): every decision re-sampled (:func:`~.sampling.metaschedule_samples`);

and counts the points that pass every check: the space's postprocessors
(``VerifyGPUCode`` included), ``tvm.compile`` to CUDA C, ``nvcc -ptx`` for
each architecture, and ``wmma.mma.sync`` in every PTX (:mod:`.cuda_build`).
The command line is ``benchmarks/tensorcore_validity.py``.
"""

from __future__ import annotations

import collections
import platform
import time
from collections.abc import Sequence

import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms

from ..errors import HeronError
from ..ops import make_workload
from ..space import analyze, heron_space, postprocess, replay
from .cuda_build import BuildCheck, check_build, nvcc_path
from .sampling import metaschedule_samples, tensorcore_space

def measure_case(name: str, op: str, shape: Sequence[int], *, target, points: int, seed: int,
                 archs: Sequence[str], acc_dtype: str | None = None) -> dict:
    """The row of one case: each side's :func:`count` and seconds."""
    workload = make_workload(op, shape, "float16", acc_dtype=acc_dtype)
    mod = tvm.IRModule({"main": workload.func})
    row = {"case": name, "op": op, "shape": list(shape)}
    for side, draw in (("heron", heron_candidates), ("metaschedule", metaschedule_candidates)):
        start = time.perf_counter()
        row[side] = count(draw(mod, target, points, seed), target, archs)
        row[side]["seconds"] = round(time.perf_counter() - start, 1)
    return row


def heron_candidates(mod, target, n: int, seed: int):
    """Yield (stage, schedule or None) for ``n`` solver points of Heron's space."""
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=heron_space(target),
                         task_name="main", num_threads=1)
    spaces = [analyze(s, mod, target) for s in ctx.generate_design_space()]
    rng = np.random.default_rng(seed)
    pools = [space.solver.sample(-(-n // len(spaces)), rng=rng) for space in spaces]
    drawn = 0
    for i in range(max(len(p) for p in pools)):
        for space, pool in zip(spaces, pools):
            if i >= len(pool) or drawn >= n:
                continue
            drawn += 1
            try:
                sch = replay(space, mod, pool[i])
                yield "ok", postprocess(sch, ctx.space_generator.postprocs)
            except HeronError as err:
                yield f"postproc {type(err).__name__}: {str(err)[:80]}", None


def metaschedule_candidates(mod, target, n: int, seed: int):
    """Yield (stage, schedule or None) for ``n`` random samples of MS's cuda-tensorcore space."""
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=tensorcore_space(),
                         task_name="main", rand_state=seed, num_threads=1)
    yield from metaschedule_samples(ctx, mod, n, seed)


def tensorized(sch) -> bool:
    """Whether the schedule's program calls wmma at all (MS falls back to plain CUDA cores)."""
    return "tvm_mma_sync" in sch.mod.script()


def count(candidates, target, archs) -> dict:
    """Valid/total and the failing stage of each invalid point."""
    stages, total, valid, plain = collections.Counter(), 0, 0, 0
    for stage, sch in candidates:
        total += 1
        if sch is not None:
            plain += not tensorized(sch)
            check: BuildCheck = check_build(sch.mod, target, archs=archs)
            stage = check.stage if not check.ok else "ok"
        valid += stage == "ok"
        stages[stage.split(":")[0] if stage != "ok" else "ok"] += 1
    return {"valid": valid, "total": total, "not_tensorized": plain, "stages": dict(stages)}


def report(rows: list[dict], meta: dict, elapsed: float) -> str:
    """The text of ``REPORT.md``: per case, Heron's and MetaSchedule's valid points."""
    lines = [
        "# TensorCore validity without a GPU: Heron vs MetaSchedule cuda-tensorcore",
        "",
        f"Target `{meta['target']}`, fp16 inputs accumulated in {meta['acc_dtype']}; "
        f"{meta['points']} random points per operator on each side; a point is "
        "valid when it passes the space's postprocessors (VerifyGPUCode included), "
        f"`tvm.compile` to CUDA C, `nvcc -ptx` for {', '.join(meta['archs'])} and has "
        "`wmma.mma.sync` in every PTX. Heron: solver samples of its constrained space. "
        "MetaSchedule: its `cuda-tensorcore` space with every decision re-sampled "
        "(its replay-trace / initial population).",
        "",
        "| case | shape | Heron valid | MetaSchedule valid | MS failures |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        h, m = row["heron"], row["metaschedule"]
        fails = ", ".join(f"{k} {v}" for k, v in m["stages"].items() if k != "ok") or "-"
        lines.append(
            f"| {row['case']} | {'x'.join(map(str, row['shape']))} | {h['valid']}/{h['total']} | "
            f"{m['valid']}/{m['total']} | {fails} |"
        )
    lines += ["", f"Run time {elapsed:.0f} s on {platform.node()} ({platform.processor() or '?'}), "
              f"nvcc {nvcc_path()}, seed {meta['seed']}."]
    return "\n".join(lines) + "\n"
