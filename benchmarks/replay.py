"""Replay benchmark of the search strategies over measured tables (no builds, no timings).

Replay every strategy with many seeds against the tables in benchmarks/replay_tables/:

    python benchmarks/replay.py --seeds 100 --json replay.json --plots DIR

Report on the runs of several invocations together (say a costly strategy run with fewer seeds):

    python benchmarks/replay.py report runs_a.json runs_b.json --json replay.json --plots DIR

Build a table (measures every program of its space on this machine, resumable):

    python benchmarks/replay.py build gemm_int8_128
    python benchmarks/replay.py build --synthetic 3 gemm_int8_128 --out /tmp/synth.json

See tvm_heron.bench.replay (the runner), replay_tables (building), replay_report (the JSON).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

TABLE_DIR = Path(__file__).resolve().parent / "replay_tables"


def build_main(argv: list[str]) -> None:
    from tvm_heron.bench.replay_tables import STANDARD_TABLES, SyntheticLatency, build_table, standard_spec

    parser = argparse.ArgumentParser(prog="replay.py build", description="Measure every program of a table's space.")
    parser.add_argument("names", nargs="+", choices=sorted(STANDARD_TABLES))
    parser.add_argument("--out", help="the table file (one table only); default replay_tables/NAME.json")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats per program (median)")
    parser.add_argument("--min-repeat-ms", type=int, default=10, help="length of each repeat")
    parser.add_argument("--noise-sample", type=int, default=64, help="programs measured again for the noise model")
    parser.add_argument("--noise-repeats", type=int, default=5)
    parser.add_argument("--confirm", type=int, default=32,
                        help="the fastest programs measured again until they are all confirmed (0: none)")
    parser.add_argument("--confirm-repeats", type=int, default=5, help="more measurements per confirmed program")
    parser.add_argument("--synthetic", type=int, metavar="SEED", help="made-up latencies (no measuring)")
    parser.add_argument("--seed", type=int, default=0, help="inputs and noise sample")
    args = parser.parse_args(argv)
    if args.out and len(args.names) > 1:
        parser.error("--out takes one table")
    for name in args.names:
        out = Path(args.out) if args.out else TABLE_DIR / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        measure = SyntheticLatency(args.synthetic) if args.synthetic is not None else None
        table = build_table(standard_spec(name), out, measure=measure, repeat=args.repeat,
                            min_repeat_ms=args.min_repeat_ms, noise_sample=args.noise_sample,
                            noise_repeats=args.noise_repeats, confirm=args.confirm,
                            confirm_repeats=args.confirm_repeats, seed=args.seed)
        print(f"{name}: {json.dumps(table.summary())} in {time.perf_counter() - start:.0f} s -> {out}")


def _write_outputs(tables, runs, config, args) -> None:
    from tvm_heron.bench.replay_report import report, runs_json

    out = report(tables, runs, config)
    Path(args.json).write_text(json.dumps(out, indent=1), encoding="utf-8")
    if getattr(args, "runs_json", None):
        Path(args.runs_json).write_text(json.dumps(runs_json(tables, runs)), encoding="utf-8")
    if args.plots:
        from tvm_heron.bench.replay_plots import convergence_plot

        Path(args.plots).mkdir(parents=True, exist_ok=True)
        for path, by_name in runs.items():
            convergence_plot(tables[path], by_name, config.trials,
                             Path(args.plots) / f"convergence_{tables[path].spec.name}.png")
    for name, entry in out["tables"].items():
        for strategy, summary in entry["strategies"].items():
            t95 = summary["trials_to_95"]
            print(f"{name:28s} {strategy:24s} runs {summary['runs']:3d} trials_to_95 {t95['median']:.0f} "
                  f"[{t95['q1']:.0f}, {t95['q3']:.0f}] censored {t95['censored']:3d}  fraction@16/32/64 "
                  + " ".join(f"{summary['fraction_at'].get(b, float('nan')):.3f}" for b in ("16", "32", "64")))


def report_main(argv: list[str]) -> None:
    from tvm_heron.bench.replay_report import ReplayConfig, merge_runs
    from tvm_heron.bench.replay_table import ReplayTable

    parser = argparse.ArgumentParser(prog="replay.py report", description="One report from several runs files.")
    parser.add_argument("runs", nargs="+", help="--runs-json outputs of replay.py")
    parser.add_argument("--json", required=True, help="the report")
    parser.add_argument("--tables", nargs="*", help="table files (default: every table in replay_tables/)")
    parser.add_argument("--trials", type=int, default=256, help="the runs' budget")
    parser.add_argument("--per-iter", type=int, default=16, help="the runs' candidates per round")
    parser.add_argument("--plots", help="directory for convergence_TABLE.png")
    args = parser.parse_args(argv)
    paths = args.tables or sorted(str(p) for p in TABLE_DIR.glob("*.json"))
    tables = {str(p): ReplayTable.load(p) for p in paths}
    try:
        runs = merge_runs(tables, *(json.loads(Path(f).read_text(encoding="utf-8")) for f in args.runs))
    except ValueError as error:
        parser.exit(2, f"replay.py report: {error}\n")
    for path, by_name in runs.items():
        for name, trajectories in by_name.items():
            longest = max(len(t.latencies) for t in trajectories)
            if longest > args.trials:
                parser.exit(2, f"replay.py report: {tables[path].spec.name} {name} has runs of {longest} "
                               f"trials, more than --trials {args.trials}\n")
    seeds = sorted({t.seed for by_name in runs.values() for ts in by_name.values() for t in ts})
    names = list(dict.fromkeys(n for by_name in runs.values() for n in by_name))
    config = ReplayConfig(seeds=seeds, trials=args.trials, per_iter=args.per_iter, strategies=names)
    _write_outputs({p: tables[p] for p in runs}, runs, config, args)


def replay_main(argv: list[str]) -> None:
    from tvm_heron.bench.replay_report import STRATEGIES, ReplayConfig, run_tables, with_ablations
    from tvm_heron.bench.replay_table import ReplayTable

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=100, help="seeds 0..N-1 per strategy and table")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--json", required=True, help="the report")
    parser.add_argument("--tables", nargs="*", help="table files (default: every table in replay_tables/)")
    parser.add_argument("--strategies", nargs="*", default=list(STRATEGIES))
    parser.add_argument("--trials", type=int, default=256, help="budget per run")
    parser.add_argument("--per-iter", type=int, default=16, help="candidates per round")
    parser.add_argument("--options", default="{}", help='JSON: strategy -> options, e.g. \'{"heron-cga": {"epsilon": 0.2}}\'')
    parser.add_argument("--noise", action="store_true", help="answer with the tables' noise models")
    parser.add_argument("--ablation", action="store_true",
                        help="also every heron-cga@LABEL variant of replay_report.ABLATIONS")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per run; >1 makes the evolutionary search non-deterministic")
    parser.add_argument("--plots", help="directory for convergence_TABLE.png")
    parser.add_argument("--runs-json", help="also write every run's trajectory here")
    args = parser.parse_args(argv)
    paths = args.tables or sorted(str(p) for p in TABLE_DIR.glob("*.json"))
    if not paths:
        parser.error(f"no table in {TABLE_DIR}; build one first (replay.py build NAME)")
    strategies, options = args.strategies, json.loads(args.options)
    if args.ablation:
        strategies, options = with_ablations(strategies, options)
    config = ReplayConfig(seeds=range(args.first_seed, args.first_seed + args.seeds), trials=args.trials,
                          per_iter=args.per_iter, strategies=strategies,
                          options=options, noise=args.noise, threads=args.threads)
    tables = {str(p): ReplayTable.load(p) for p in paths}
    done = [0]
    total = len(paths) * len(config.strategies) * len(config.seeds)

    def on_run(path, trajectory):
        done[0] += 1
        logging.info("%d/%d %s %s seed %d: %.1f s", done[0], total, tables[path].spec.name,
                     trajectory.strategy, trajectory.seed, trajectory.wall_s)

    runs = run_tables(paths, config, jobs=args.jobs, on_run=on_run)
    _write_outputs(tables, runs, config, args)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    argv = sys.argv[1:]
    if argv and argv[0] == "build":
        build_main(argv[1:])
    elif argv and argv[0] == "report":
        report_main(argv[1:])
    else:
        replay_main(argv)


if __name__ == "__main__":
    main()
