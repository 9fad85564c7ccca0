"""Tune one case with one tuner, resumable, with the wall time split by stage.

A tuner is a strategy in a space: ``heron-cga`` in Heron's space (or, where
that space does not support the case, MetaSchedule's default space: the
``auto`` space), ``evolutionary`` in MetaSchedule's default space. Both run
through :func:`tvm_heron.tuning.tune`, with the same builder, runner
settings, trial budget and candidates per round.

Each work directory keeps MetaSchedule's JSON database and a ``tuned.json``
summary written when tuning finished: a second run with a budget no larger
does not tune again, and one interrupted before the summary continues with
the trials still missing (the database keeps what was measured). A work
directory tuned in another space (Heron's space gained support for a case)
is moved aside to ``<tuner>.<space>-space`` and the case tuned afresh.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import attrs

from ..errors import HeronError
from ..progress import CLOCK
from ..tuning import MS_STRATEGIES, check_supported, tune
from .records import record_stats
from .results import Status, TuningRun
from .timed_runner import RunTally, TimedRunner

logger = logging.getLogger(__name__)

#: Summary file of a finished tuning run in its work directory.
SUMMARY_FILE = "tuned.json"


@attrs.frozen
class Tuner:
    """A search strategy in a space (``heron``, ``default``, or ``auto``: heron where supported)."""

    name: str
    strategy: str
    space: str


#: The two tuners the suite compares.
HERON = Tuner("heron-cga", "heron-cga", "auto")
EVOLUTIONARY = Tuner("evolutionary", "evolutionary", "default")
TUNERS = (HERON, EVOLUTIONARY)


def resolve_space(tuner: Tuner, workload, target) -> tuple[str, str | None]:
    """(space, why it is not ``heron``) for ``auto``; the tuner's space otherwise."""
    if tuner.space != "auto":
        return tuner.space, None
    try:
        check_supported(workload, target, "heron")
    except HeronError as err:
        return "default", (f"Heron's space does not support this case ({err}); tuned in "
                           "MetaSchedule's default space")
    return "heron", None


def tune_case(
    workload,
    tuner: Tuner,
    *,
    target,
    work_dir: str | Path,
    trials: int,
    trials_per_round: int,
    seed: int,
) -> TuningRun:
    """Tune (or resume) ``workload`` with ``tuner`` in ``work_dir``; returns the tuner's figures.

    Returns
    -------
    TuningRun
        Status ``ok``, or ``n/a`` where the space does not support the case
        (only the tuner's fields then) or nothing was measured.
    """
    work_dir = Path(work_dir)
    space, space_note = resolve_space(tuner, workload, target)
    base = {"strategy": tuner.strategy, "space": space, "space_note": space_note,
            "work_dir": str(work_dir)}
    summary = _read_summary(work_dir)
    if summary is not None and summary.get("space") != space:
        # e.g. Heron's space now supports a case tuned before in the default space
        aside = work_dir.with_name(f"{work_dir.name}.{summary.get('space')}-space")
        logger.info("%s was tuned in the %s space: moved to %s", work_dir, summary.get("space"),
                    aside)
        shutil.rmtree(aside, ignore_errors=True)
        work_dir.rename(aside)
        summary = None
    if summary is not None and summary.get("trials_requested", 0) >= trials:
        return _figures(base, summary, work_dir, resumed=True)
    missing = trials - record_stats(work_dir).trials
    stages = {"tuning_s": 0.0, "build_s": 0.0, "run_s": 0.0, "strategy_s": None}
    if missing > 0:
        try:
            stages = _tune_timed(workload, tuner, space, target=target, work_dir=work_dir,
                                 trials=missing, trials_per_round=trials_per_round, seed=seed)
        except HeronError as err:
            return TuningRun(**base, status=Status.NA, reason=str(err))
    if summary is not None:  # a finished run, now extended
        stages = _add_stages(summary, stages)
    summary = {"trials_requested": trials, "space": space, **stages}
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return _figures(base, summary, work_dir, resumed=False)


def _tune_timed(workload, tuner: Tuner, space: str, **kwargs) -> dict:
    tally = RunTally()
    runner = TimedRunner(tally)
    before = CLOCK.snapshot()
    try:
        result = tune(workload, strategy=tuner.strategy, space=space, runner=runner, check=False,
                      **kwargs)
    finally:
        runner.shutdown()
    after = CLOCK.snapshot()
    strategy_s = after.get("search", 0.0) - before.get("search", 0.0)
    return {
        "tuning_s": result.tuning_seconds,
        "build_s": after.get("build", 0.0) - before.get("build", 0.0),
        "run_s": tally.seconds,
        "strategy_s": None if tuner.strategy in MS_STRATEGIES else strategy_s,
    }


def _add_stages(previous: dict, current: dict) -> dict:
    total = {}
    for key, value in current.items():
        earlier = previous.get(key)
        total[key] = value if earlier is None or value is None else earlier + value
    return total


def _figures(base: dict, summary: dict, work_dir: Path, *, resumed: bool) -> TuningRun:
    stats = record_stats(work_dir)
    tuning = summary.get("tuning_s") or 0.0
    build, run = summary.get("build_s") or 0.0, summary.get("run_s") or 0.0
    return TuningRun(
        **base,
        status=Status.OK if stats.trials else Status.NA,
        reason=None if stats.trials else "no candidate was measured",
        trials=stats.trials,
        failed=stats.failed,
        failed_share=stats.failed_share,
        best_runner_s=stats.best_s,
        tuning_s=tuning,
        build_s=build,
        run_s=run,
        search_s=max(tuning - build - run, 0.0),
        strategy_s=summary.get("strategy_s"),
        resumed=resumed,
    )


def _read_summary(work_dir: Path) -> dict | None:
    path = work_dir / SUMMARY_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
