"""Search ablation (the paper's Figure 12): best latency vs trials per strategy, several seeds.

Tunes the same workload, in the same Heron space, with the same runner
settings, with each strategy in turn (heron-cga, heron-ga, heron-sa,
heron-crand, and MetaSchedule's evolutionary search) and each seed, then
reports, per strategy: the best latency after given trial counts (median and
range over seeds), wall time per trial and its split between search, build
and run, the share of measured candidates that failed, and the trials
heron-cga needed to reach the evolutionary search's final best (per seed).
Latencies are the runner's figures (MetaSchedule LocalRunner). The plot shows
the median best-so-far curve of each strategy with its min-max band.

    python benchmarks/convergence.py --shape 512,512,512 --trials 256 --ms-trials 1000 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms

import tvm_heron  # noqa: F401
from tvm_heron.builder import PersistentBuilder
from tvm_heron.ops import make_workload
from tvm_heron.progress import CLOCK
from tvm_heron.space import heron_space
from tvm_heron.target import host_target

FAILED = 1e9


def run(name, mod, target, work_dir, trials, seed, per_iter, ms_builder):
    """Tune; returns the latency of each trial in order (inf for failures) and timings."""
    base, _, fitness = name.partition(":")  # "heron-cga:tvm" = CGA with MetaSchedule's cost model
    extra = {"fitness": fitness} if fitness else {}
    strategy = name if name == "evolutionary" else ms.search_strategy.SearchStrategy.create(base, seed=seed, **extra)
    builder = ms.builder.LocalBuilder(timeout_sec=300) if ms_builder else PersistentBuilder(timeout_sec=300)
    before = CLOCK.snapshot()
    start = time.perf_counter()
    ms.tune_tir(
        mod, target, str(work_dir), max_trials_global=trials, num_trials_per_iter=per_iter,
        space=heron_space(target), strategy=strategy, builder=builder, seed=seed,
    )
    wall = time.perf_counter() - start
    after = CLOCK.snapshot()
    spent = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in ("search", "build")}
    if name == "evolutionary":  # its search is not clocked; its LocalBuilder neither
        spent = {"search": None, "build": None if ms_builder else spent["build"]}
    return trial_latencies(work_dir), wall, spent


def trial_latencies(work_dir: Path) -> list[float]:
    """Latency of each trial in the order measured (inf for failures).

    Read from the JSON database's file, whose lines are in commit order
    (``get_all_tuning_records`` returns them sorted by latency).
    """
    lat = []
    with open(Path(work_dir) / "database_tuning_record.json", encoding="utf-8") as records:
        for line in records:
            run_secs = json.loads(line)[1][1]
            secs = [float(s) for s in (run_secs or [])]
            lat.append(float(np.mean(secs)) if secs and max(secs) < FAILED else float("inf"))
    return lat


def best_after(lat, n):
    return float(np.min(lat[:n])) if lat[:n] else float("inf")


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
                r["latencies"] = trial_latencies(out / _work_name(name, seed))
    for name in [] if args.report_only else args.strategies:
        for seed in args.seeds:
            trials = args.ms_trials if name == "evolutionary" else args.trials
            work = out / _work_name(name, seed)
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


def _work_name(name: str, seed) -> str:
    return f"work_{name.replace(':', '_')}_seed{seed}"


def make_report(results: dict, title: str) -> str:
    """Markdown: best@N (median [min-max] over seeds), cost split, failures, sample efficiency."""
    longest = max(len(r["latencies"]) for runs in results.values() for r in runs.values())
    checkpoints = [c for c in (32, 64, 128, 256, 512, 1000, 2000) if c <= longest]
    lines = [f"# Search ablation: {title}", "",
             f"Seeds per strategy: {sorted({s for runs in results.values() for s in runs})}. "
             "Best latency (ms) after N trials: median [min-max] over seeds.", "",
             "| strategy | " + " | ".join(f"best@{c}" for c in checkpoints)
             + " | final best | s/trial | search | build | run+other | failed |",
             "| --- |" + " --- |" * (len(checkpoints) + 6)]
    for name, runs in results.items():
        cells = []
        for c in checkpoints:
            vals = [best_after(r["latencies"], c) * 1e3 for r in runs.values() if c <= len(r["latencies"])]
            cells.append(f"{np.median(vals):.4f} [{min(vals):.4f}-{max(vals):.4f}]" if vals else "-")
        final = [best_after(r["latencies"], len(r["latencies"])) * 1e3 for r in runs.values()]
        cells.append(f"{np.median(final):.4f} [{min(final):.4f}-{max(final):.4f}]")
        wall = sum(r["wall_s"] for r in runs.values())
        trials = sum(len(r["latencies"]) for r in runs.values())
        failed = sum(np.isinf(r["latencies"]).sum() for r in runs.values())
        split = []
        for stage in ("search", "build"):
            got = [r.get(f"{stage}_s") for r in runs.values()]
            split.append(f"{100 * sum(got) / wall:.1f}%" if None not in got else "n/a")
        known = [r.get("search_s") or 0.0 for r in runs.values()] + [r.get("build_s") or 0.0 for r in runs.values()]
        rest = f"{100 * (wall - sum(known)) / wall:.1f}%" if "n/a" not in split else "n/a"
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {wall / max(trials, 1):.2f} | {split[0]} | {split[1]} | {rest} | "
                     f"{100 * failed / max(trials, 1):.1f}% |")
    if "evolutionary" in results and "heron-cga" in results:
        lines.append("")
        for seed, evo in results["evolutionary"].items():
            cga = results["heron-cga"].get(seed)
            if cga is None:
                continue
            goal = best_after(evo["latencies"], len(evo["latencies"]))
            reach = next((i + 1 for i in range(len(cga["latencies"]))
                          if best_after(cga["latencies"], i + 1) <= goal), None)
            lines.append(f"- seed {seed}: evolutionary's final best {goal * 1e3:.4f} ms after "
                         f"{len(evo['latencies'])} trials; heron-cga reached it after "
                         f"{reach if reach else 'not within ' + str(len(cga['latencies']))} trials")
    return "\n".join(lines)


def plot(results, path, title) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, runs in results.items():
        curves = [np.minimum.accumulate(np.asarray(r["latencies"])) * 1e3 for r in runs.values()]
        n = min(len(c) for c in curves)
        stack = np.vstack([c[:n] for c in curves])
        x = np.arange(1, n + 1)
        (line,) = ax.plot(x, np.median(stack, axis=0), label=f"{name} ({len(curves)} seeds)")
        if len(curves) > 1:
            ax.fill_between(x, stack.min(axis=0), stack.max(axis=0), color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("trials (measurements)")
    ax.set_ylabel("best latency so far (ms)")
    ax.set_title(f"{title}: convergence")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
