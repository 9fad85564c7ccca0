"""Building replay tables: enumerate a design space, measure every program once.

A table (:class:`~tvm_heron.bench.replay_table.ReplayTable`) is built in
three steps:

1. :func:`open_task` rebuilds the workload, the target and the design spaces
   of a :class:`~tvm_heron.bench.replay_table.TableSpec`, with the constraint
   model of each space twice: *structural* (``analyze(..., target=None)``:
   every decision MetaSchedule's samplers and mutators can produce) and
   *constrained* (the target's limits: what Heron's strategies propose);
2. :func:`enumerate_points` walks every structural point, replays it,
   applies the postprocessors and names its program by structural hash, the
   identity the replay builder sees;
3. :func:`build_table` measures every distinct program once in this process
   (``tvm.compile`` and ``time_evaluator``, output checked against the
   workload's reference), then a seeded sample again in interleaved rounds
   for the noise model. Progress goes to a ``.partial.jsonl`` file next to
   the table, so that a build killed (or crashed by a kernel) resumes where it
   stopped; a program that was being measured when the process died is
   recorded as a run error.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.target import Target
from tvm_ffi import structural_hash

from ..errors import HeronError
from ..ops import make_workload
from ..space import analyze, heron_space, postprocess, replay
from ..target import cpu_name, host_target, instruction_set
from .machine import describe
from .replay_table import NoiseModel, ReplayTable, TablePoint, TableSpec, confirmed_latency, program_key

logger = logging.getLogger(__name__)

#: A table with more structural points than this is refused (hours of measuring).
MAX_POINTS = 50_000

_SMALL_HERON = {"spatial_levels": 3, "write_back_levels": [1], "direct_output": False}

#: The benchmark's tables: name -> the spec's fields but the target (the building
#: machine's). Structural points: 16800, 8640, 4410 and 48. Heron's spaces are
#: made smaller than its defaults (3 spatial tile levels, one write-back level)
#: so that every point can be measured; each keeps a serial and a parallel space.
STANDARD_TABLES = {
    "gemm_int8_128": {"op": "gemm", "shape": (128, 128, 128), "dtype": "int8",
                      "rule_options": _SMALL_HERON},
    "gemm_int8_64": {"op": "gemm", "shape": (64, 64, 64), "dtype": "int8",
                     "rule_options": _SMALL_HERON},
    "c2d_int8_7x7x64_3x3": {"op": "c2d", "shape": (1, 7, 7, 64, 64, 3, 3, 1, 1, 1), "dtype": "int8",
                            "rule_options": _SMALL_HERON},
    "ms_dense_fp32_1x512x512": {"op": "gemm", "shape": (1, 512, 512), "dtype": "float32",
                                "layout": "plain", "generator": "metaschedule",
                                "rule_options": {"unroll_max_steps": [0]}},
    "tiny_gemm_int8": {"op": "gemm", "shape": (4, 8, 16), "dtype": "int8",
                       "rule_options": {**_SMALL_HERON, "unroll_max_steps": [0, 64]}},
}


def standard_spec(name: str, target: Target | None = None) -> TableSpec:
    """The :class:`TableSpec` of a :data:`STANDARD_TABLES` entry for ``target`` (default: this CPU).

    Raises
    ------
    ValueError
        For a name that is not a standard table.
    """
    if name not in STANDARD_TABLES:
        raise ValueError(f"unknown table {name!r}; known: {', '.join(STANDARD_TABLES)}")
    target = target or host_target()
    config = {"kind": "llvm", "mcpu": cpu_name(target), "num-cores": int(target.attrs["num-cores"])}
    if target.attrs.get("mattr"):  # a host whose CPU model has features masked
        config["mattr"] = [str(f) for f in target.attrs["mattr"]]
    return TableSpec(name=name, target=config, **STANDARD_TABLES[name])


@attrs.frozen
class TableTask:
    """The workload, target and design spaces of a spec (see :func:`open_task`)."""

    spec: TableSpec
    workload: object = attrs.field(repr=False)
    mod: tvm.IRModule = attrs.field(repr=False)
    target: Target = attrs.field(repr=False)
    spaces: tuple = attrs.field(repr=False)
    structural: tuple = attrs.field(repr=False)
    constrained: tuple = attrs.field(repr=False)
    postprocs: tuple = attrs.field(repr=False)


def space_generator(spec: TableSpec, target: Target):
    """A fresh design-space generator of ``spec`` (one per tuning context)."""
    if spec.generator == "metaschedule":
        if not spec.rule_options:
            return ms.space_generator.PostOrderApply()
        options = spec.rule_kwargs()
        return ms.space_generator.PostOrderApply(sch_rules=metaschedule_cpu_rules(**options),
                                                 mutator_probs=metaschedule_cpu_mutators(**options))
    if not spec.rule_options:
        return heron_space(target)
    # Imported here: the rules register intrinsics on import.
    from ..rules.dlboost import DLBoostRule  # pylint: disable=import-outside-toplevel
    from ..rules.generic import GenericCpuRule  # pylint: disable=import-outside-toplevel

    return heron_space(target, rules=[DLBoostRule(**spec.rule_kwargs()), GenericCpuRule()])


def metaschedule_cpu_rules(*, unroll_max_steps) -> list:
    """MetaSchedule's default CPU schedule rules with other unroll choices.

    The default choices (0, 16, 64, 512) make a dense 1x512x512's programs
    take 10-120 s each to compile at 64 and 512 steps (seen on Zen 5), hours
    for a table; a table's spec can narrow them. Everything else is
    MetaSchedule's ``ScheduleRule.create("llvm")``, the other arguments of its
    ``ParallelizeVectorizeUnroll`` read from the default rule itself.
    """
    rules = []
    for rule in ms.ScheduleRule.create("llvm"):
        if isinstance(rule, ms.schedule_rule.ParallelizeVectorizeUnroll):
            rule = ms.schedule_rule.ParallelizeVectorizeUnroll(
                max_jobs_per_core=int(rule.max_jobs_per_core),
                max_vectorize_extent=int(rule.max_vectorize_extent),
                unroll_max_steps=[int(v) for v in unroll_max_steps],
                unroll_explicit=bool(rule.unroll_explicit))
        rules.append(rule)
    return rules


def metaschedule_cpu_mutators(*, unroll_max_steps) -> dict:
    """MetaSchedule's default CPU mutators, without ``MutateUnroll`` when there is no choice to mutate.

    ``MutateUnroll`` picks another candidate of the unroll choice; on a choice
    of one candidate MetaSchedule fails (``Check failed: (!weights.empty())``,
    seen in its evolutionary search on a table with ``unroll_max_steps`` [0])
    where it could only have returned the same program.
    """
    mutators = ms.Mutator.create("llvm")
    if len(unroll_max_steps) >= 2:
        return mutators
    return {m: p for m, p in mutators.items() if not isinstance(m, ms.mutator.MutateUnroll)}


def open_task(spec: TableSpec) -> TableTask:
    """Rebuild the workload, target, design spaces and constraint models of ``spec``."""
    workload = make_workload(spec.op, spec.shape, spec.dtype, layout=spec.layout)
    mod = tvm.IRModule({"main": workload.func})
    target = Target(spec.target_config())
    context = ms.TuneContext(mod=mod, target=target, space_generator=space_generator(spec, target),
                             task_name=spec.name, rand_state=1, num_threads=1)
    spaces = tuple(context.generate_design_space())
    structural = tuple(analyze(s, mod, None) for s in spaces)
    constrained = []
    for index, design_space in enumerate(spaces):
        try:
            constrained.append(analyze(design_space, mod, target))
        except HeronError as err:
            logger.info("table %s: space %d has no constraint model (%s)", spec.name, index, err)
            constrained.append(None)
    return TableTask(spec, workload, mod, target, spaces, structural, tuple(constrained),
                     tuple(context.space_generator.postprocs))


@attrs.frozen
class Enumerated:
    """A structural point and its program (``sch`` None: the replay or a postprocessor rejected it)."""

    space: int
    point: dict = attrs.field(eq=False)
    decisions: tuple
    in_model: bool
    sch: object = attrs.field(eq=False, repr=False)
    program: str | None


def enumerate_points(task: TableTask, *, limit: int = MAX_POINTS) -> Iterator[Enumerated]:
    """Every structural point of every design space, in a deterministic order.

    Raises
    ------
    ValueError
        When the spaces have more than ``limit`` points in all.
    """
    total = 0
    for index, space in enumerate(task.structural):
        points = space.solver.enumerate_all(limit=limit - total, time_limit_s=600.0)
        total += len(points)
        model = task.constrained[index].model if task.constrained[index] is not None else None
        free = [site for site in space.sites if site.keys]
        for point in points:
            chosen = space.decisions(point)
            decisions = tuple((site.inst, _decision(chosen[site.inst])) for site in free)
            in_model = model is not None and model.is_feasible(point)
            try:
                sch = postprocess(replay(space, task.mod, point), task.postprocs)
            except HeronError:
                yield Enumerated(index, point, decisions, in_model, None, None)
                continue
            yield Enumerated(index, point, decisions, in_model, sch, program_key(structural_hash(sch.mod)))


def _decision(value):
    """A tile's factors as a tuple of int, a choice's index as an int."""
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else int(value)


@attrs.frozen
class Measurement:
    """A program's latency (seconds) or failure kind."""

    latency_s: float | None
    error: str | None = None


#: ``measure(item) -> Measurement`` of an :class:`Enumerated` point: how a build measures.
Measure = Callable[[Enumerated], Measurement]


class KernelTimer:
    """Measure programs in this process: compile, check against the reference, time.

    Parameters
    ----------
    task : TableTask
    repeat : int
        Timed repeats; the latency is their median.
    min_repeat_ms : float
        Each repeat runs the kernel enough times to last this long.
    seed : int
        Seed of the inputs.
    """

    def __init__(self, task: TableTask, *, repeat: int = 3, min_repeat_ms: int = 10, seed: int = 0):
        self.task = task
        self.repeat = int(repeat)
        self.min_repeat_ms = int(min_repeat_ms)
        self.device = tvm.cpu()
        args, self.logical = task.workload.make_inputs(np.random.default_rng(seed))
        self.tensors = [tvm.runtime.tensor(np.array(a, copy=True), self.device) for a in args]
        self._sentinel = np.full(args[-1].shape, 7, dtype=args[-1].dtype)

    def compile(self, sch):
        """The runtime module of a scheduled program (None if it does not build)."""
        # pylint: disable=import-outside-toplevel
        from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

        try:
            mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(sch.mod)
            return tvm.compile(mod, self.task.target).jit()
        except Exception as err:  # pylint: disable=broad-except  # TVM raises many kinds
            logger.debug("build failed: %s", str(err).strip().splitlines()[-1:])
            return None

    def time(self, runtime) -> float:
        """Median seconds per call of a compiled program.

        ``number`` is chosen once from a probe, so that each repeat lasts about
        ``min_repeat_ms`` (``time_evaluator``'s own ``min_repeat_ms`` probes
        again in every repeat, which doubles the cost of a short kernel).
        """
        probe = runtime.time_evaluator("main", self.device, number=4, repeat=1)(*self.tensors).mean
        number = max(1, int(math.ceil(self.min_repeat_ms * 1e-3 / max(probe, 1e-9))))
        evaluator = runtime.time_evaluator("main", self.device, number=number, repeat=self.repeat)
        return float(np.median(evaluator(*self.tensors).results))

    def __call__(self, item: Enumerated) -> Measurement:
        runtime = self.compile(item.sch)
        if runtime is None:
            return Measurement(None, "build-error")
        try:
            self.tensors[-1].copyfrom(self._sentinel)
            runtime["main"](*self.tensors)
            correct, _ = self.task.workload.check(self.tensors[-1].numpy(), self.logical)
            if not correct:
                return Measurement(None, "wrong-result")
            return Measurement(self.time(runtime))
        except Exception as err:  # pylint: disable=broad-except
            logger.debug("run failed: %s", str(err).strip().splitlines()[-1:])
            return Measurement(None, "run-error")


class _Progress:
    """The resumable log of a build: a start line before each measurement, a result line after."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, Measurement] = {}
        started: set[str] = set()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a kill
                if row.get("start"):
                    started.add(row["program"])
                elif row.get("abandoned"):
                    started.discard(row["program"])
                else:
                    self.done[row["program"]] = Measurement(row["latency_s"], row["error"])
        for program in started - set(self.done):
            logger.warning("program %s was being measured when the last build died: a run error", program)
            self.done[program] = Measurement(None, "run-error")
        self._file = path.open("a", encoding="utf-8")

    def start(self, program: str) -> None:
        self._write({"program": program, "start": True})

    def abandon(self, program: str) -> None:
        self._write({"program": program, "abandoned": True})

    def finish(self, program: str, result: Measurement) -> None:
        self.done[program] = result
        self._write({"program": program, "latency_s": result.latency_s, "error": result.error})

    def _write(self, row: dict) -> None:
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def build_table(
    spec: TableSpec,
    out: str | Path,
    *,
    measure: Measure | None = None,
    repeat: int = 3,
    min_repeat_ms: int = 10,
    noise_sample: int = 64,
    noise_repeats: int = 5,
    confirm: int = 32,
    confirm_repeats: int = 5,
    seed: int = 0,
    limit: int = MAX_POINTS,
) -> ReplayTable:
    """Measure every program of ``spec``'s design spaces and write the table to ``out``.

    Parameters
    ----------
    spec : TableSpec
    out : path
        The table file; ``OUT.partial.jsonl`` holds the progress until it is written.
    measure : callable, optional
        ``measure(item) -> Measurement`` of an :class:`Enumerated` point; by
        default a :class:`KernelTimer` (tests pass :class:`SyntheticLatency`).
    repeat, min_repeat_ms : int, float
        The default timer's settings (recorded in the table).
    noise_sample, noise_repeats : int
        Programs measured again for the noise model, and how many times each
        (interleaved rounds); 0 skips the noise model.
    confirm, confirm_repeats : int
        The fastest programs measured again, and how many times each, until
        the ``confirm`` fastest are all confirmed (see :func:`_confirm_fastest`);
        0 skips the confirmation.
    seed : int
        Seeds the inputs and the noise sample.
    limit : int
        Refuse spaces with more structural points.
    """
    out = Path(out)
    task = open_task(spec)
    timer = measure or KernelTimer(task, repeat=repeat, min_repeat_ms=min_repeat_ms, seed=seed)
    progress = _Progress(out.with_name(out.name + ".partial.jsonl"))
    points, schedules, rejected = [], {}, 0
    start = time.perf_counter()
    try:
        for n, item in enumerate(enumerate_points(task, limit=limit)):
            if item.sch is None:
                rejected += 1
                continue
            if item.program not in progress.done:
                progress.start(item.program)
                try:
                    result = timer(item)
                except BaseException:
                    progress.abandon(item.program)  # a Python error, not a crash of the kernel
                    raise
                progress.finish(item.program, result)
            result = progress.done[item.program]
            schedules.setdefault(item.program, item)
            points.append(TablePoint(item.space, item.decisions, item.program, result.latency_s,
                                     result.error, item.in_model))
            if n % 500 == 0:
                logger.info("table %s: %d points, %.0f s", spec.name, n, time.perf_counter() - start)
        points, confirmation = _confirm_fastest(points, schedules, timer, confirm, confirm_repeats)
        noise = _noise_model(points, schedules, timer, noise_sample, noise_repeats, seed)
    finally:
        progress.close()
    table = ReplayTable(
        spec=spec, points=points, machine=machine_of(task.target), noise=noise, rejected=rejected,
        measurement={
            "method": "tvm.compile + time_evaluator in the building process; output checked",
            "repeat": repeat, "min_repeat_ms": min_repeat_ms, "statistic": "median of repeats",
            "timer": "synthetic" if measure is not None else "KernelTimer",
            "seconds": round(time.perf_counter() - start, 1),
        },
        created=datetime.date.today().isoformat(), confirmation=confirmation,
    )
    table.save(out)
    progress.path.unlink()
    return table


def _noise_model(points, schedules, timer, sample: int, repeats: int, seed: int) -> NoiseModel | None:
    """Repeats of a seeded sample of the programs that ran, in interleaved rounds."""
    good = sorted({p.program for p in points if p.latency_s is not None})
    if not sample or not repeats or not good:
        return None
    rng = np.random.default_rng(seed)
    chosen = [good[i] for i in sorted(rng.choice(len(good), size=min(sample, len(good)), replace=False))]
    values = _measure_again(chosen, schedules, timer, repeats)
    return NoiseModel([(p, v) for p, v in values.items() if v])


def _measure_again(programs: list, schedules: dict, timer, repeats: int) -> dict[str, list[float]]:
    """``repeats`` more latencies of each program, in interleaved rounds (rotated each round)."""
    runtimes = {}
    if isinstance(timer, KernelTimer):
        runtimes = {p: timer.compile(schedules[p].sch) for p in programs}
    values: dict[str, list[float]] = {p: [] for p in programs}
    for round_index in range(repeats):
        shift = round_index % len(programs) if programs else 0
        for program in programs[shift:] + programs[:shift]:
            if runtimes.get(program) is not None:
                values[program].append(timer.time(runtimes[program]))
            elif not runtimes:
                result = timer(schedules[program])
                if result.latency_s is not None:
                    values[program].append(result.latency_s)
    return values


def _confirm_fastest(points: list, schedules: dict, timer, count: int, repeats: int) -> tuple[list, dict]:
    """The points with their ``count`` fastest programs confirmed, and the confirmation record.

    Each of the fastest programs is measured ``repeats`` more times in
    interleaved rounds and takes the median of all its measurements
    (:func:`~tvm_heron.bench.replay_table.confirmed_latency`). A program that
    falls back lets an unconfirmed one into the fastest ``count``, which is
    then confirmed in turn, until the fastest ``count`` are all confirmed.
    """
    if not count or not repeats:
        return points, {}
    measured: dict[str, list[float]] = {}
    latency = {p.program: p.latency_s for p in points if p.latency_s is not None}
    while True:
        fastest = sorted(latency, key=latency.get)[:count]
        todo = [p for p in fastest if p not in measured]
        if not todo:
            break
        again = _measure_again(todo, schedules, timer, repeats)
        for program in todo:
            measured[program] = [latency[program], *again[program]]
            latency[program] = confirmed_latency(measured[program])
    changed = [p for p in measured if abs(latency[p] / measured[p][0] - 1) > 0.1]
    if changed:
        logger.info("confirmation moved %d of %d programs by more than 10%%", len(changed), len(measured))
    points = [attrs.evolve(p, latency_s=latency[p.program]) if p.program in measured else p for p in points]
    return points, {"count": count, "repeats": repeats, "programs": measured}


class SyntheticLatency:
    """A made-up latency landscape over the decisions, for tests and quick experiments.

    Each tile decision (by its position among the point's decisions, so that
    spaces of the same loops share it) has a seeded ideal factor per level;
    the latency grows with the squared log2 distance of the point's factors
    from those ideals, when the product of the first two tiles' outermost
    factors (the parallel extent) is below 2, with a seeded preference over
    each categorical choice and with the space's index; a seeded 5% jitter
    per program breaks ties. Smooth in the log of the factors, as real tiling
    landscapes roughly are; measured tables are what conclusions must rest on.
    """

    def __init__(self, seed: int = 0, base_s: float = 1e-5) -> None:
        self.seed = int(seed)
        self.base_s = float(base_s)

    def _rng(self, *key: int) -> np.random.Generator:
        # Integers only: Python's hash of a string changes from process to process.
        return np.random.default_rng([self.seed, *(int(k) % 2**63 for k in key)])

    def __call__(self, item: Enumerated) -> Measurement:
        penalty, outer = 0.3 * item.space, []
        for position, (_, decision) in enumerate(item.decisions):
            rng = self._rng(1, position)
            if isinstance(decision, tuple):
                logs = np.log2(np.asarray(decision, dtype=float))
                ideal = rng.uniform(0.0, max(1.0, float(logs.sum())), size=logs.size)
                penalty += float(np.sum((logs - ideal) ** 2)) / max(1, logs.size)
                outer.append(decision[0])
            else:
                penalty += float(rng.uniform(0.0, 1.0, size=decision + 1)[decision])
        if len(outer) >= 2 and outer[0] * outer[1] < 2:
            penalty += 2.0
        jitter = self._rng(2, int(item.program, 16)).uniform(0.95, 1.05)
        return Measurement(self.base_s * math.exp(0.12 * penalty) * jitter)


def machine_of(target: Target) -> dict:
    """The machine description a table records: CPU, cores, flags, the target and its ISA."""
    machine = describe(int(target.attrs.get("num-cores", 1)))
    machine["target"] = str(target)
    try:
        machine["isa"] = instruction_set(target).name
    except HeronError:
        machine["isa"] = None
    machine["tvm"] = tvm.__version__
    return machine
