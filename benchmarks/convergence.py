"""Search ablation on one operator: best latency vs trials for each strategy, in one run.

Tunes the same workload, in the same Heron space, with the same runner
settings, with each strategy in turn (heron-cga, heron-ga, heron-sa,
heron-crand, and MetaSchedule's evolutionary search), then reports the best
latency after given trial counts, wall time per trial, the share of wall time
spent in the search itself, and the trials heron-cga needed to reach the
evolutionary search's final best. Latencies are the runner's figures
(MetaSchedule LocalRunner: mean of 3 runs of >= 100 ms each... per record).

    python benchmarks/convergence.py --shape 512,512,512 --trials 256 --ms-trials 1000
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
    before = CLOCK.snapshot().get("search", 0.0)
    start = time.perf_counter()
    ms.tune_tir(
        mod, target, str(work_dir), max_trials_global=trials, num_trials_per_iter=per_iter,
        space=heron_space(target), strategy=strategy, builder=builder, seed=seed,
    )
    wall = time.perf_counter() - start
    search = CLOCK.snapshot().get("search", 0.0) - before
    return trial_latencies(work_dir), wall, (search if name != "evolutionary" else None)


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
    parser.add_argument("--shape", default="512,512,512")
    parser.add_argument("--trials", type=int, default=256)
    parser.add_argument("--ms-trials", type=int, default=1000)
    parser.add_argument("--per-iter", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--strategies", nargs="+",
                        default=["heron-cga", "heron-cga:tvm", "heron-ga", "heron-sa", "heron-crand", "evolutionary"])
    parser.add_argument("--out", default="benchmarks/results/convergence")
    parser.add_argument("--report-only", action="store_true",
                        help="recompute the report from --out's convergence.json and work dirs")
    args = parser.parse_args()
    shape = tuple(int(x) for x in args.shape.split(","))
    workload = make_workload("gemm", shape, "int8")
    mod = tvm.IRModule({"main": workload.func})
    target = host_target()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    if args.report_only:
        results = json.loads((out / "convergence.json").read_text())["results"]
        for name in results:
            results[name]["latencies"] = trial_latencies(out / f"work_{name.replace(':', '_')}")
    for name in [] if args.report_only else args.strategies:
        trials = args.ms_trials if name == "evolutionary" else args.trials
        work = out / f"work_{name.replace(':', '_')}"
        lat, wall, search = run(name, mod, target, work, trials, args.seed, args.per_iter,
                                ms_builder=(name == "evolutionary"))
        results[name] = {"latencies": lat, "wall_s": wall, "search_s": search}
        print(json.dumps({"strategy": name, "trials": len(lat), "best_ms": best_after(lat, len(lat)) * 1e3,
                          "wall_s": round(wall, 1), "search_s": search}), flush=True)
    checkpoints = [c for c in (32, 64, 128, 256, 512, 1000) if c <= max(len(r["latencies"]) for r in results.values())]
    print("\n| strategy | " + " | ".join(f"best@{c} (ms)" for c in checkpoints)
          + " | wall/trial (s) | search share |")
    print("| --- |" + " --- |" * (len(checkpoints) + 2))
    for name, r in results.items():
        lat = r["latencies"]
        cells = [f"{best_after(lat, c) * 1e3:.4f}" if c <= len(lat) else "-" for c in checkpoints]
        share = f"{100 * r['search_s'] / r['wall_s']:.1f}%" if r["search_s"] is not None else "n/a"
        print(f"| {name} | " + " | ".join(cells) + f" | {r['wall_s'] / max(len(lat), 1):.2f} | {share} |")
    if "evolutionary" in results and "heron-cga" in results:
        target_best = best_after(results["evolutionary"]["latencies"], len(results["evolutionary"]["latencies"]))
        cga = results["heron-cga"]["latencies"]
        reach = next((i + 1 for i in range(len(cga)) if best_after(cga, i + 1) <= target_best), None)
        print(f"\nheron-cga reached evolutionary's final best ({target_best * 1e3:.4f} ms after "
              f"{len(results['evolutionary']['latencies'])} trials) after: {reach} trials")
    (out / "convergence.json").write_text(json.dumps(
        {"workload": workload.name, "target": str(target), "results": results}, indent=1))
    plot(results, out / "convergence.png", workload.name)


def plot(results, path, title) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, r in results.items():
        best = np.minimum.accumulate(np.asarray(r["latencies"]))
        ax.plot(np.arange(1, len(best) + 1), best * 1e3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("trials (measurements)")
    ax.set_ylabel("best latency so far (ms)")
    ax.set_title(f"{title}: convergence")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
