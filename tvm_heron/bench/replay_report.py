"""The replay benchmark: every strategy, many seeds, every table; its report.

:func:`run_tables` replays each (table, strategy, seed) with
:func:`~tvm_heron.bench.replay.replay_run`, in this process or in ``jobs``
worker processes (spawned: each loads the tables once); :func:`report` turns
the runs into the JSON the benchmark writes::

    {"tables": {TABLE: {"optimum_s": x, "strategies": {NAME: {
        "trials_to_95": {"median": m, "q1": a, "q3": b, "censored": c},
        "fraction_at": {"16": f, "32": f, "64": f, ...}, ...}}, ...}}, ...}

plus, per table, Wilcoxon signed-rank tests of ``heron-cga`` against every
other strategy (paired by seed) and whether the issue's targets hold.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import numpy as np

from .replay_metrics import fraction_curve, strategy_summary, trials_to, wilcoxon
from .replay_table import ReplayTable

logger = logging.getLogger(__name__)

#: The strategies of the benchmark, Heron's first, then MetaSchedule's evolutionary search.
STRATEGIES = ("heron-cga", "heron-ga", "heron-sa", "heron-crand", "evolutionary")
#: The strategy the paired tests and the targets are about.
SUBJECT = "heron-cga"
#: Heron's CGA as the paper describes it (before issue 16's changes).
HERON_CGA = {"shared_model": False, "features": "raw", "target": "ratio", "elite_share": 1.0,
             "selection": "proportional", "pool": "last", "key_share": 1.0, "random_hints": 0.0}
#: Variants of heron-cga that undo or change one mechanism each (``heron-cga@LABEL``): the
#: ablation that picks the defaults.
ABLATIONS = {
    "heron": HERON_CGA,
    "per_space": {"shared_model": False},
    "raw": {"features": "raw"},
    "ratio": {"target": "ratio"},
    "rank": {"target": "rank"},
    "elite_all": {"elite_share": 1.0},
    "rank_roulette": {"selection": "rank"},
    "pool_last": {"pool": "last"},
    "key_half": {"key_share": 0.5},
    "hints30": {"random_hints": 0.3},
    "eps20": {"epsilon": 0.2},
    "ensemble_ucb": {"ensemble": 5, "ucb": 1.0},
}


def with_ablations(strategies: Sequence[str], options: dict) -> tuple[tuple, dict]:
    """``strategies`` and ``options`` plus every :data:`ABLATIONS` variant of heron-cga.

    A variant's options are the base ``heron-cga`` options (if any) updated by its own.
    """
    base = dict(options.get(SUBJECT, {}))
    names, merged = list(strategies), dict(options)
    for label, change in ABLATIONS.items():
        name = f"{SUBJECT}@{label}"
        if name not in names:
            names.append(name)
        merged[name] = {**base, **change, **options.get(name, {})}
    return tuple(names), merged


@attrs.frozen(kw_only=True)
class ReplayConfig:
    """What to replay.

    Attributes
    ----------
    seeds : tuple of int
    trials : int
        Budget per run.
    per_iter : int
        Candidates per round.
    strategies : tuple of str
    options : dict
        Strategy name -> its options (e.g. small populations in tests).
    noise : bool
        Answer with the tables' noise models.
    threads : int
        Threads of each run's tuning context.
    """

    seeds: tuple = attrs.field(converter=tuple)
    trials: int = 256
    per_iter: int = 16
    strategies: tuple = attrs.field(default=STRATEGIES, converter=tuple)
    options: dict = attrs.field(factory=dict)
    noise: bool = False
    threads: int = 1

    def to_json(self) -> dict:
        """JSON of the configuration."""
        out = attrs.asdict(self)
        out["seeds"] = list(self.seeds)
        return out


_TABLES: dict[str, tuple] = {}  # a worker's loaded tables: path -> (table, task)


def _load(path: str):
    if path not in _TABLES:
        from .replay_tables import open_task  # pylint: disable=import-outside-toplevel

        table = ReplayTable.load(path)
        _TABLES[path] = (table, open_task(table.spec))
    return _TABLES[path]


def _job(args):
    path, name, seed, config = args
    from .replay import replay_run  # pylint: disable=import-outside-toplevel

    table, task = _load(path)
    return path, replay_run(table, name, seed=seed, trials=config.trials, per_iter=config.per_iter,
                            options=config.options.get(name), task=task, noise=config.noise,
                            threads=config.threads)


def run_tables(paths: Sequence[str | Path], config: ReplayConfig, *, jobs: int = 1,
               on_run: Callable | None = None) -> dict[str, dict[str, list]]:
    """Replay every strategy and seed of ``config`` on every table file.

    Returns
    -------
    dict
        Table path -> strategy -> list of :class:`~tvm_heron.bench.replay.Trajectory`,
        in seed order (whatever order the workers finished in).
    """
    work = [(str(p), name, seed, config) for p in paths for name in config.strategies for seed in config.seeds]
    runs: dict[str, dict[str, dict[int, object]]] = {str(p): {n: {} for n in config.strategies} for p in paths}

    def keep(path, trajectory):
        runs[path][trajectory.strategy][trajectory.seed] = trajectory
        if on_run is not None:
            on_run(path, trajectory)

    if jobs <= 1:
        for item in work:
            keep(*_job(item))
    else:
        context = multiprocessing.get_context("spawn")  # TVM's threads do not survive a fork
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            for path, trajectory in pool.map(_job, work, chunksize=1):
                keep(path, trajectory)
    return {p: {n: [by_seed[s] for s in config.seeds] for n, by_seed in names.items()}
            for p, names in runs.items()}


def curves_of(trajectories: Sequence, optimum_s: float, budget: int) -> np.ndarray:
    """Fraction-of-optimum curves of runs, shape (runs, budget)."""
    return np.stack([fraction_curve(t.latencies, optimum_s, budget) for t in trajectories])


def table_report(table: ReplayTable, runs: dict[str, list], config: ReplayConfig) -> dict:
    """The report of one table: optimum, per-strategy summaries, paired tests, targets."""
    optimum = table.optimum_s
    curves = {name: curves_of(trajs, optimum, config.trials) for name, trajs in runs.items()}
    strategies = {
        name: strategy_summary(curves[name], [t.rank for t in trajs], [t.misses for t in trajs],
                               [t.wall_s for t in trajs])
        for name, trajs in runs.items()
    }
    out = {
        "optimum_s": optimum,
        "model_optimum_s": table.model_optimum_s,
        "table": table.summary(),
        "machine": table.machine.get("cpu"),
        "budget": config.trials,
        "per_iter": config.per_iter,
        "strategies": strategies,
    }
    if SUBJECT in curves:
        seeds = {name: [t.seed for t in trajs] for name, trajs in runs.items()}
        out["tests"] = _paired_tests(curves, seeds, config.trials)
        out["targets"] = _targets(strategies)
    return out


def _paired_tests(curves: dict[str, np.ndarray], seeds: dict[str, list], budget: int) -> dict:
    """Wilcoxon signed-rank of heron-cga against each other strategy, paired by seed.

    Only the seeds both strategies ran are paired (a costly strategy may run fewer).
    """
    at = min(64, budget)
    tests = {}
    for name, other in curves.items():
        if name == SUBJECT:
            continue
        common = sorted(set(seeds[SUBJECT]) & set(seeds[name]))
        mine = curves[SUBJECT][[seeds[SUBJECT].index(s) for s in common]]
        theirs = other[[seeds[name].index(s) for s in common]]
        tests[f"{SUBJECT} vs {name}"] = {
            "pairs": len(common),
            "trials_to_95": wilcoxon([trials_to(c, 0.95)[0] for c in mine],
                                     [trials_to(c, 0.95)[0] for c in theirs]),
            f"fraction_at_{at}": wilcoxon(mine[:, at - 1], theirs[:, at - 1]) if common else None,
        }
    return tests


def _targets(strategies: dict) -> dict:
    """The issue's targets: trials to 95% vs CRand (half) and evolutionary (0.6x); 0.95 at 32."""
    cga = strategies[SUBJECT]
    out = {}
    for name, factor in (("heron-crand", 0.5), ("evolutionary", 0.6)):
        if name in strategies:
            mine, theirs = cga["trials_to_95"]["median"], strategies[name]["trials_to_95"]["median"]
            out[f"trials_to_95 <= {factor} x {name}"] = bool(mine <= factor * theirs)
    if "32" in cga["fraction_at"]:
        out["fraction_at_32 >= 0.95"] = bool(cga["fraction_at"]["32"] >= 0.95)
    return out


def report(tables: dict[str, ReplayTable], runs: dict[str, dict[str, list]], config: ReplayConfig) -> dict:
    """The benchmark's JSON: ``{"tables": {name: table_report}, "config": ...}``."""
    return {
        "tables": {tables[p].spec.name: table_report(tables[p], runs[p], config) for p in runs},
        "config": config.to_json(),
    }


def runs_json(tables: dict[str, ReplayTable], runs: dict[str, dict[str, list]]) -> dict:
    """Every run's trajectory, for analyses the report does not make."""
    return {tables[p].spec.name: {n: [t.to_json() for t in trajs] for n, trajs in by_name.items()}
            for p, by_name in runs.items()}


def merge_runs(tables: dict[str, ReplayTable], *runs_files: dict) -> dict[str, dict[str, list]]:
    """Table path -> strategy -> runs, from :func:`runs_json` outputs (of several invocations).

    A (table, strategy, seed) that two files both have must be the same run
    (replays are deterministic); it is kept once.

    Raises
    ------
    ValueError
        If a file names a table that ``tables`` lacks, or two files disagree on a run.
    """
    from .replay import Trajectory  # pylint: disable=import-outside-toplevel

    path_of = {table.spec.name: path for path, table in tables.items()}
    merged: dict[str, dict[str, dict[int, object]]] = {}
    for data in runs_files:
        for name, by_strategy in data.items():
            if name not in path_of:
                raise ValueError(f"runs of table {name!r}, which is not among {sorted(path_of)}")
            for strategy, trajectories in by_strategy.items():
                kept = merged.setdefault(path_of[name], {}).setdefault(strategy, {})
                for item in trajectories:
                    run = Trajectory.from_json(item)
                    if run.seed in kept and kept[run.seed].latencies != run.latencies:
                        raise ValueError(f"{name} {strategy} seed {run.seed}: two files disagree")
                    kept[run.seed] = run
    return {p: {n: [by_seed[s] for s in sorted(by_seed)] for n, by_seed in names.items()}
            for p, names in merged.items()}
