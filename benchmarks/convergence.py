"""Search ablation (the paper's Figure 12): best latency vs trials per strategy, several seeds.

Tunes the same workload, in the same Heron space, with the same runner
settings, with each strategy in turn (heron-cga, heron-ga, heron-sa,
heron-crand, and MetaSchedule's evolutionary search) and each seed, then
writes the report, ``convergence.json`` and the plot of the median
best-so-far curve of each strategy with its min-max band
(:mod:`tvm_heron.bench.convergence`).

    python benchmarks/convergence.py --shape 512,512,512 --trials 256 --ms-trials 1000 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import tvm

import tvm_heron  # noqa: F401
from tvm_heron.bench.convergence import best_after, make_report, plot, run, trial_latencies, work_name
from tvm_heron.ops import make_workload
from tvm_heron.target import host_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--op", default="gemm")
    parser.add_argument("--dtype", default="int8")
    parser.add_argument("--shape", default="512,512,512")
    parser.add_argument("--trials", type=int, default=256)
    parser.add_argument("--ms-trials", type=int, default=1000)
    parser.add_argument("--per-iter", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--strategies", nargs="+",
                        default=["heron-cga", "heron-cga:tvm", "heron-ga", "heron-sa", "heron-crand", "evolutionary"])
    parser.add_argument("--out", default="benchmarks/results/convergence")
    parser.add_argument("--report-only", action="store_true",
                        help="recompute the report from --out's convergence.json and work dirs")
    args = parser.parse_args()
    shape = tuple(int(x) for x in args.shape.split(","))
    workload = make_workload(args.op, shape, args.dtype)
    mod = tvm.IRModule({"main": workload.func})
    target = host_target()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    if args.report_only:
        results = json.loads((out / "convergence.json").read_text())["results"]
        for name, runs in results.items():
            for seed, r in runs.items():
                r["latencies"] = trial_latencies(out / work_name(name, seed))
    for name in [] if args.report_only else args.strategies:
        for seed in args.seeds:
            trials = args.ms_trials if name == "evolutionary" else args.trials
            work = out / work_name(name, seed)
            lat, wall, spent = run(name, mod, target, work, trials, seed, args.per_iter,
                                   ms_builder=(name == "evolutionary"))
            results.setdefault(name, {})[str(seed)] = {"latencies": lat, "wall_s": wall, **{
                f"{k}_s": v for k, v in spent.items()}}
            print(json.dumps({"strategy": name, "seed": seed, "trials": len(lat),
                              "best_ms": best_after(lat, len(lat)) * 1e3, "wall_s": round(wall, 1)}), flush=True)
    report = make_report(results, workload.name)
    print(report)
    (out / "REPORT.md").write_text(report + "\n")
    (out / "convergence.json").write_text(json.dumps(
        {"workload": workload.name, "target": str(target), "results": results}, indent=1))
    plot(results, out / "convergence.png", workload.name)


if __name__ == "__main__":
    main()
