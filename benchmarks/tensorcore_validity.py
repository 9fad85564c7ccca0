"""How many random points of a TensorCore space build, without a GPU: Heron vs MetaSchedule.

For each fp16 operator (the first shape of each operator in the paper's
TensorCore list, ``benchmarks/tensorcore_workloads.json``, and the first
strided transposed conv), draws N random points of

* Heron's CUDA space: the constraint solver's sampler, over the design
  spaces of the three wmma fragment shapes in turn;
* MetaSchedule's own ``cuda-tensorcore`` space (its rules, postprocessors
  and mutators): every decision re-sampled, as its ``replay-trace`` strategy
  and the evolutionary search's initial population do;

and counts the points that pass every check: the space's postprocessors
(``VerifyGPUCode`` included), ``tvm.compile`` to CUDA C, ``nvcc -ptx`` for
each architecture, and ``wmma.mma.sync`` in every PTX. Writes
``validity.json`` and ``REPORT.md`` to ``--out``.

    python benchmarks/tensorcore_validity.py --points 8 --out benchmarks/results/tensorcore_validity
    python benchmarks/tensorcore_validity.py --points 8 --acc-dtype float32 \
        --out benchmarks/results/tensorcore_validity_fp32acc
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import time
from pathlib import Path

import numpy as np
import tvm
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.schedule import Trace

import tvm_heron  # noqa: F401
from tvm_heron.bench.cuda_build import ARCHS, BuildCheck, check_build, nvcc_path
from tvm_heron.errors import HeronError
from tvm_heron.ops import make_workload
from tvm_heron.space import analyze, heron_space, postprocess, replay
from tvm_heron.target import parse_target

WORKLOADS = Path(__file__).with_name("tensorcore_workloads.json")


def paper_cases(ops: list[str] | None) -> list[tuple[str, str, tuple[int, ...]]]:
    """(case name, op, shape): the first TensorCore case of each operator, and of
    transposed conv also the first strided one (one reduction per output phase)."""
    workloads = json.loads(WORKLOADS.read_text())
    seen, cases = set(), []
    for name, case in workloads["suites"]["tensorcore"].items():
        op, shape = case["op"], tuple(case["shape"])
        strided = op == "t2d" and shape[workloads["fields"][op].index("stride")] > 1
        if (op, strided) in seen or (ops and op not in ops):
            continue
        seen.add((op, strided))
        cases.append((name, op, shape))
    return cases


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
    # Its rules look their intrinsics up when they are created: register them first.
    import tvm.s_tir.tensor_intrin  # noqa: F401  # pylint: disable=import-outside-toplevel

    space = ms.space_generator.PostOrderApply(
        sch_rules="cuda-tensorcore", postprocs="cuda-tensorcore", mutator_probs="cuda-tensorcore"
    )
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=space, task_name="main",
                         rand_state=seed, num_threads=1)
    spaces = ctx.generate_design_space()
    for i in range(n):
        sch = Schedule(mod, seed=seed + i + 1, debug_mask=0)
        try:
            Trace(spaces[i % len(spaces)].trace.insts, {}).apply_to_schedule(
                sch, remove_postproc=True
            )
        except Exception:  # pylint: disable=broad-except  # a sample the replay rejects
            yield "replay", None
            continue
        sch.enter_postproc()
        failed = next((p for p in ctx.space_generator.postprocs if not p.apply(sch)), None)
        yield ("ok", sch) if failed is None else (f"postproc {type(failed).__name__}", None)


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


def report(rows, args, elapsed) -> str:
    lines = [
        "# TensorCore validity without a GPU: Heron vs MetaSchedule cuda-tensorcore",
        "",
        f"Target `{args.target}`, fp16 inputs accumulated in {args.acc_dtype or 'float16'}; "
        f"{args.points} random points per operator on each side; a point is "
        "valid when it passes the space's postprocessors (VerifyGPUCode included), "
        f"`tvm.compile` to CUDA C, `nvcc -ptx` for {', '.join(args.archs)} and has "
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
              f"nvcc {nvcc_path()}, seed {args.seed}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--ops", nargs="*", default=None, help="operators (default: all)")
    parser.add_argument("--target", default="nvidia/nvidia-a100")
    parser.add_argument("--archs", nargs="+", default=list(ARCHS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--acc-dtype", default=None, choices=("float32",),
                        help="accumulate in float32 (default: float16)")
    parser.add_argument("--out", default="benchmarks/results/tensorcore_validity")
    args = parser.parse_args()
    if nvcc_path() is None:
        raise SystemExit("nvcc not found on PATH: the validity check compiles CUDA C to PTX")
    target = parse_target(args.target)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start, rows = time.perf_counter(), []
    for name, op, shape in paper_cases(args.ops):
        workload = make_workload(op, shape, "float16", acc_dtype=args.acc_dtype)
        mod = tvm.IRModule({"main": workload.func})
        row = {"case": name, "op": op, "shape": list(shape)}
        for side, draw in (("heron", heron_candidates), ("metaschedule", metaschedule_candidates)):
            t0 = time.perf_counter()
            row[side] = count(draw(mod, target, args.points, args.seed), target, args.archs)
            row[side]["seconds"] = round(time.perf_counter() - t0, 1)
        print(f"{name:10s} heron {row['heron']['valid']}/{row['heron']['total']}  "
              f"ms {row['metaschedule']['valid']}/{row['metaschedule']['total']} "
              f"{row['metaschedule']['stages']}", flush=True)
        rows.append(row)
    elapsed = time.perf_counter() - start
    meta = {"target": args.target, "archs": args.archs, "points": args.points, "seed": args.seed,
            "acc_dtype": args.acc_dtype or "float16",
            "tvm": tvm.__version__, "seconds": round(elapsed, 1)}
    (out / "validity.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (out / "REPORT.md").write_text(report(rows, args, elapsed))
    print(f"wrote {out / 'validity.json'} and {out / 'REPORT.md'}")


if __name__ == "__main__":
    main()
