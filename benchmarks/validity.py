"""How many random points of a space are valid: feasible, replayable, built, ran.

For each int8 GEMM shape, draws N random points from Heron's space (the
constraint model's sampler) and N random samples of MetaSchedule's own default
space for the target (its VNNI rules on a VNNI CPU: decisions re-sampled as its
``replay-trace`` strategy does), then builds and runs all of them with
MetaSchedule's LocalBuilder and LocalRunner and counts each stage.

    python benchmarks/validity.py --shapes 64,64,64 512,512,512 --points 200
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import tvm
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.schedule import Trace

import tvm_heron  # noqa: F401
from tvm_heron.bench.msvnni import patch_metaschedule_vnni
from tvm_heron.errors import HeronError
from tvm_heron.ops import make_workload
from tvm_heron.space import analyze, heron_space, postprocess, replay
from tvm_heron.target import host_target


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
    spaces = ctx.generate_design_space()
    counts = {"drawn": 0, "feasible": None, "replayed": 0, "postprocessed": 0}
    schedules = []
    for i in range(n):
        trace = spaces[i % len(spaces)].trace
        counts["drawn"] += 1
        sch = Schedule(mod, seed=seed + i + 1, debug_mask=0)
        try:
            Trace(trace.insts, {}).apply_to_schedule(sch, remove_postproc=True)
        except Exception:  # pylint: disable=broad-except
            continue
        counts["replayed"] += 1
        sch.enter_postproc()
        if all(p.apply(sch) for p in ctx.space_generator.postprocs):
            counts["postprocessed"] += 1
            schedules.append(sch)
    return schedules, counts


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["64,64,64", "512,512,512"])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--patch-ms-vnni",
        action="store_true",
        help="give MetaSchedule's VNNI rule our working intrinsic under its name dot_16x4_vnni",
    )
    args = parser.parse_args()
    target = host_target()
    if args.patch_ms_vnni:
        patch_metaschedule_vnni()
    rows = []
    for text in args.shapes:
        shape = tuple(int(x) for x in text.split(","))
        mod = tvm.IRModule({"main": make_workload("gemm", shape, "int8").func})
        for name, sampler in (("heron", heron_points), ("metaschedule", metaschedule_points)):
            start = time.perf_counter()
            schedules, counts = sampler(mod, target, args.points, args.seed)
            built, ran, errors = build_and_run(schedules, target, args.timeout)
            if args.patch_ms_vnni and name == "metaschedule":
                name = "metaschedule+heron-intrinsic"
            row = {"shape": shape, "space": name, **counts, "built": built, "ran": ran,
                   "seconds": round(time.perf_counter() - start, 1),
                   "first_errors": sorted(set(errors))[:3]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| shape | space | drawn | feasible | replayed | postprocessed | built | ran |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {'x'.join(map(str, r['shape']))} | {r['space']} | {r['drawn']} | "
              f"{'-' if r['feasible'] is None else r['feasible']} | {r['replayed']} | "
              f"{r['postprocessed']} | {r['built']} | {r['ran']} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"target": str(target), "rows": rows}, out, indent=1)


if __name__ == "__main__":
    main()
