"""Search ablation (the paper's Figure 12): best latency vs trials per strategy, several seeds.

Tunes the same workload, in the same Heron space, with the same runner
settings, with each strategy in turn and each seed (:func:`run`); the report
(:func:`make_report`) gives, per strategy, the best latency after given trial
counts (median and range over seeds), wall time per trial and its split
between search, build and run, the share of measured candidates that failed,
and the trials heron-cga needed to reach the evolutionary search's final best
(per seed). Latencies are the runner's figures (MetaSchedule LocalRunner). The
command line is ``benchmarks/convergence.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from tvm.s_tir import meta_schedule as ms

from ..builder import PersistentBuilder
from ..outcome import latency_of
from ..progress import CLOCK
from ..space import heron_space


def run(name, mod, target, work_dir, trials, seed, per_iter, ms_builder):
    """Tune with strategy ``name`` in Heron's space; (latency of each trial in order, inf for
    failures; wall seconds; ``{"search": s, "build": s}``, None where not clocked)."""
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
            latency = latency_of(json.loads(line)[1][1])
            lat.append(float("inf") if latency is None else latency)
    return lat


def best_after(lat, n):
    """The best latency of the first ``n`` trials (inf if none ran)."""
    return float(np.min(lat[:n])) if lat[:n] else float("inf")


def work_name(name: str, seed) -> str:
    """The work directory name of a strategy's run with one seed."""
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
    """The median best-so-far curve of each strategy, with its min-max band over seeds."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

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
