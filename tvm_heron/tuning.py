"""Tune one workload end to end and check the winner against its numpy reference.

This is the layer under the command line: it checks the input, picks the
space and strategy, runs ``ms.tune_tir`` with TVM's own task scheduler and
runner, tvm-heron's persistent builder and durable database
(:func:`tvm_heron.database.open_database`), then compiles the best record of
this target, checks it and times it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import attrs
import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.target import Target

from . import isa
from .builder import PersistentBuilder
from .callbacks import TallyOutcomes
from .database import open_database, workload_records
from .checks import count_in_range, writable_dir
from .errors import HeronError, InfeasibleSpaceError, UnsupportedDtypeError, UnsupportedTargetError
from .ops import Workload
from .outcome import latency_of
from .space import heron_space
from .space.usable import space_problem
from .strategies.registry import strategy_names
from .target import cpu_intrinsics, require_runs_here, require_tensorcore

logger = logging.getLogger(__name__)

#: MetaSchedule's own strategies accepted next to the Heron ones.
MS_STRATEGIES = ("evolutionary", "replay-trace")
#: Space names: Heron's rules, or MetaSchedule's default space for the target.
SPACES = ("heron", "default")


@attrs.frozen
class TuneResult:
    """Summary of a tuning run (what ``tvm-heron tune --json`` writes).

    Latencies are in seconds; ``best_latency_s`` is the median of a fresh
    timing of the best kernel after tuning (None when nothing ran).
    """

    workload: str
    target: str
    strategy: str
    space: str
    trials: int
    valid_trials: int
    best_latency_s: float | None
    correct: bool | None
    max_abs_error: float | None
    tuning_seconds: float
    outcomes: dict = attrs.field(factory=dict)
    failure_summary: str = ""

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return attrs.asdict(self)


def check_supported(workload: Workload, target: Target, space: str) -> None:
    """Raise a :class:`~tvm_heron.errors.HeronError` naming what is unsupported."""
    if space not in SPACES:
        raise HeronError(f"space must be one of {SPACES}, got {space!r}")
    if space == "heron":
        if target.kind.name == "cuda" or workload.dtype == "float16":
            if workload.dtype != "float16":
                raise UnsupportedDtypeError(
                    f"the Heron CUDA space is built for float16 operators (TensorCore wmma), not "
                    f"{workload.dtype}; use --dtype float16, or --space default"
                )
            require_tensorcore(target, workload.dtype)
            # Imported here: a CPU-only session never loads the CUDA rules.
            from .rules.tensorcore import check_tensorizable  # pylint: disable=import-outside-toplevel

            check_tensorizable(workload.func)
            return
        if workload.dtype not in isa.DTYPES:
            raise UnsupportedDtypeError(
                f"the Heron CPU space is built for int8 (u8 x s8 -> s32) and float32, not "
                f"{workload.dtype}; use --space default (MetaSchedule's generic rules)"
            )
        if target.kind.name != "llvm":
            raise UnsupportedTargetError(
                f"no Heron space for target kind {target.kind.name} with {workload.dtype}; "
                "CPU (llvm) targets take int8 and float32, CUDA targets float16"
            )
        cpu_intrinsics(target, workload.dtype, isa.InputRange(workload.int8_range))


def require_device(target: Target, runner=None) -> None:
    """Raise :class:`UnsupportedTargetError` when a local runner has no device for ``target``.

    Without a GPU, MetaSchedule would build every candidate and then fail
    each measurement; this says so before tuning starts. An RPC runner
    (``runner`` given) measures elsewhere and is not checked.
    """
    if runner is not None or target.kind.name != "cuda":
        return
    if not tvm.cuda(0).exist:
        raise UnsupportedTargetError(
            "no CUDA device on this machine: a CUDA target is measured on an NVIDIA GPU. Tune on "
            "a machine with one, or pass an RPC runner; without a GPU, "
            "benchmarks/tensorcore_validity.py checks that the space's programs build"
        )


def make_strategy(name: str, seed: int | None):
    """A strategy object (or MetaSchedule's own name) for ``tune_tir``."""
    if name in strategy_names():
        return ms.search_strategy.SearchStrategy.create(name, seed=seed)
    if name in MS_STRATEGIES:
        return name
    known = ", ".join(strategy_names() + MS_STRATEGIES)
    raise HeronError(f"unknown strategy {name!r}; known: {known}")


def tune(
    workload: Workload,
    *,
    target: Target,
    work_dir: str | Path,
    trials: int,
    strategy: str = "heron-cga",
    space: str = "heron",
    seed: int | None = None,
    trials_per_round: int = 16,
    builder_timeout_s: float = 120.0,
    runner=None,
    check: bool = True,
) -> TuneResult:
    """Tune ``workload`` on ``target`` with MetaSchedule and a Heron (or MetaSchedule) strategy.

    Parameters
    ----------
    trials : int
        Measurement budget (> 0).
    trials_per_round : int
        Candidates measured per round.
    builder_timeout_s : float
        Per-candidate build timeout of the :class:`PersistentBuilder`.
    runner : Runner, optional
        Defaults to ``LocalRunner``; pass ``ms.runner.RPCRunner`` for RPC.
    check : bool
        Compile the best record, compare with numpy, time it.
    """
    count_in_range("trials", trials)
    count_in_range("trials_per_round", trials_per_round)
    if seed is not None:
        count_in_range("seed", seed, minimum=0)
    check_supported(workload, target, space)
    require_device(target, runner)
    require_runs_here(target, runner)
    search = make_strategy(strategy, seed)
    work_dir = writable_dir(work_dir)
    mod = tvm.IRModule({"main": workload.func})
    if strategy in strategy_names():
        generator = heron_space(target) if space == "heron" else "post-order-apply"
        problem = space_problem(mod, target, generator)
        if problem:
            raise InfeasibleSpaceError(f"{workload.name}: {strategy} cannot search it: {problem}")
    database = open_database(work_dir, target=target)
    start = time.perf_counter()
    builder = PersistentBuilder(max_workers=cores_of(target), timeout_sec=builder_timeout_s)
    tally = TallyOutcomes()
    try:
        with foreign_log_handlers_detached():
            ms.tune_tir(
                mod,
                target,
                str(work_dir),
                max_trials_global=trials,
                num_trials_per_iter=min(trials_per_round, trials),
                space=heron_space(target) if space == "heron" else "post-order-apply",
                strategy=search,
                builder=builder,
                runner=runner if runner is not None else "local",
                database=database,
                seed=seed,
                measure_callbacks=[*ms.measure_callback.MeasureCallback.create("default"), tally],
            )
    except Exception:
        failure = getattr(runner, "failure", None)  # the RPC runner's own error, if it raised
        if failure is not None:
            raise failure from None
        raise
    finally:
        builder.shutdown()
    elapsed = time.perf_counter() - start
    every = workload_records(database, mod, target)  # this target's, this run's and earlier ones
    result = dict(
        workload=workload.name,
        target=str(target),
        strategy=strategy,
        space=space,
        trials=tally.tally.measured,
        valid_trials=tally.tally.valid,
        best_latency_s=None,
        correct=None,
        max_abs_error=None,
        tuning_seconds=elapsed,
        outcomes=tally.tally.to_json(),
        failure_summary=tally.tally.summary() if tally.tally.failed else "",
    )
    if check and any(_ok(r) for r in every):
        sch = ms.tir_integration.compile_tir(database, mod, target)
        result.update(evaluate(workload, sch.mod, target))
    return TuneResult(**result)


def evaluate(workload: Workload, mod, target: Target, *, repeat: int = 20, seed: int = 0) -> dict:
    """Build ``mod``, check it against the reference and time it (median of ``repeat``)."""
    executable = tvm.compile(mod, target)
    runtime = executable.jit()
    dev = tvm.cpu() if target.kind.name == "llvm" else tvm.device(target.kind.name)
    args, logical = workload.make_inputs(np.random.default_rng(seed))
    tensors = [tvm.runtime.tensor(a, dev) for a in args]
    runtime["main"](*tensors)
    correct, error = workload.check(tensors[-1].numpy(), logical)
    timer = runtime.time_evaluator("main", dev, number=1, repeat=repeat, min_repeat_ms=50)
    latency = float(np.median(timer(*tensors).results))
    return {"best_latency_s": latency, "correct": correct, "max_abs_error": error}


@contextlib.contextmanager
def foreign_log_handlers_detached():
    """Detach unnamed handlers from MetaSchedule's logger while it configures logging.

    MetaSchedule rebuilds its logging with ``dictConfig`` naming every handler
    of its logger; a handler it did not create (pytest's log capture, for one)
    has no name there and makes the second tuning run of a process fail.
    """
    ms_logger = logging.getLogger("tvm.s_tir.meta_schedule")
    foreign = [h for h in ms_logger.handlers if h.get_name() is None]
    for handler in foreign:
        ms_logger.removeHandler(handler)
    try:
        yield
    finally:
        for handler in foreign:
            ms_logger.addHandler(handler)


def cores_of(target: Target) -> int:
    """Threads of the target (builder workers, tuning threads): num-cores on CPUs."""
    return max(1, int(target.attrs.get("num-cores", 1))) if target.kind.name == "llvm" else 2


def _ok(record) -> bool:
    return latency_of(record.run_secs) is not None
