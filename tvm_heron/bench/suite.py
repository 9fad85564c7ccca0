"""The operator benchmark suite: tune, check and time heron-cga, MetaSchedule and the vendor.

For every case of a profile (:mod:`.profiles`): tune with heron-cga and with
MetaSchedule's evolutionary search at the same trial budget and measurement
settings (:mod:`.tuners`; work directories under ``OUT/work/<case>/<tuner>``,
and ``<tuner>@<seed>`` for the further runs of ``--seeds N``, are reused, so a
second run does not tune finished cases again), compile
each database's best kernel and check it against the reference
(:mod:`.kernels`), build and check the PyTorch baseline (:mod:`.vendor`),
then time the three interleaved in this process (:mod:`.timing`) under the
noisy-machine guard (:mod:`.noise`). The machine's peaks come from
:mod:`.peak`. The results are typed (:mod:`.results`). Outputs in ``OUT``:
``results.json``, ``results.csv``, ``REPORT.md`` (:mod:`.report`),
``speedup_<dtype>.png`` (:mod:`.plots`) and ``peak.json`` (the cached peaks).
The command line is ``benchmarks/suite.py``, which also sets the environment
of :func:`vendor_environment` before anything runs::

    python benchmarks/suite.py --profile smoke --out /tmp/smoke
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

import attrs
import numpy as np
import tvm

import tvm_heron
from tvm_heron import isa
from tvm_heron.errors import HeronError
from tvm_heron.ops import make_workload
from tvm_heron.target import host_target, instruction_set

from . import plots, report
from .figures import gops, merge_seeds, merge_tuner_figures, percent_of_peak, speedup
from .kernels import best_kernel
from .machine import describe
from .msvnni import metaschedule_vnni_patched
from .noise import NoiseGuard
from .path_peak import target_peaks
from .peak import Peaks, cached_peaks
from .profiles import Case, Profile
from .reference import with_cached_reference
from .results import (CANDIDATES, Candidate, CaseResult, Machine, Settings, Speedup, Status,
                      SuiteResults, TuningRun)
from .timing import python_timer, time_interleaved
from .tuners import TUNERS, Tuner, tune_case
from .vendor import QUANTIZED_ENGINES, Unavailable, torch_version, vendor_paths

logger = logging.getLogger(__name__)

#: Candidate name prefix of each timed vendor path (``vendor:torch._int_mm``...).
VENDOR_PREFIX = "vendor:"
#: oneDNN's ISA limit (one of the variables of :func:`vendor_environment`).
ONEDNN_ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"


def vendor_environment(description: isa.InstructionSet,
                       vendor_isa: str | None = None) -> dict[str, str | None]:
    """The environment that gives PyTorch the instruction set of ``description`` (None: unset).

    ``ONEDNN_MAX_CPU_ISA``: ``vendor_isa``, by default the description's (AVX-512
    VNNI without AMX, AVX2...), so the comparison is on the same hardware units;
    ``ATEN_CPU_CAPABILITY`` and ``FBGEMM_ENABLE_INSTRUCTIONS``: the same vector
    width for PyTorch's own kernels and FBGEMM. ``vendor_isa="all"`` leaves all
    three free. Each is read once, at PyTorch's first operation (not at import:
    ``torch._int_mm`` changes ISA after the import), so a script sets them before
    running the suite; the suite records oneDNN's in force
    (:func:`vendor_isa_in_force`).
    """
    free = vendor_isa == "all"
    onednn = vendor_isa if vendor_isa is not None else description.onednn_isa or "all"
    return {
        ONEDNN_ISA_VARIABLE: None if onednn == "all" else onednn.upper(),
        "ATEN_CPU_CAPABILITY": None if free else description.aten_capability or None,
        "FBGEMM_ENABLE_INSTRUCTIONS": None if free else description.fbgemm_isa or None,
    }


def vendor_isa_in_force(environ: Mapping[str, str] = os.environ) -> str:
    """oneDNN's ISA limit in ``environ``, lower case (``all``: no limit)."""
    return environ.get(ONEDNN_ISA_VARIABLE, "all").lower()


def run_suite(
    profile: Profile,
    out: str | Path,
    *,
    seed: int = 0,
    seeds: int = 1,
    target=None,
    guard: NoiseGuard | None = None,
    patch_ms_vnni: bool = True,
    peaks: Peaks | None = None,
    int8_range: str = "u8",
) -> SuiteResults:
    """Run every case of ``profile`` and write all outputs to ``out``; returns the results.

    PyTorch's instruction set is the environment's: set that of
    :func:`vendor_environment` first to compare on the same hardware units (a
    warning says when oneDNN's limit differs from the target's).

    Parameters
    ----------
    seed : int
        Seed of both tuners and of the inputs.
    seeds : int
        Tuning runs per tuner, with seeds ``seed``, ``seed + 1``...: every run's
        best kernel is timed, and a tuner's figure is the median over its
        runs (:func:`~.figures.merge_seeds`).
    target : tvm.target.Target, optional
        Defaults to :func:`~tvm_heron.target.host_target`.
    guard : NoiseGuard, optional
        The noisy-machine guard of the timings (threshold 0.2, 3 attempts by default).
    int8_range : str
        ``"u7"``: the int8 cases declare 7-bit activations (AVX2's vpmaddubsw form).
    patch_ms_vnni : bool
        Replace MetaSchedule's broken VNNI intrinsic by tvm-heron's (int8 cases
        on an AVX-512 VNNI target, where MetaSchedule's VNNI rule applies).
    peaks : Peaks, optional
        Skip the micro-benchmark (tests); otherwise measured once and cached in ``out/peak.json``.
    """
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = target if target is not None else host_target()
    guard = guard if guard is not None else NoiseGuard()
    description = instruction_set(target)
    patched = (patch_ms_vnni and description.name == "avx512_vnni"
               and any(c.dtype == "int8" for c in profile.cases))
    vendor_isa = vendor_isa_in_force()
    wanted = (vendor_environment(description)[ONEDNN_ISA_VARIABLE] or "all").lower()
    if vendor_isa != wanted:
        logger.warning("oneDNN's ISA limit is %s, the target's kernels use %s: set the "
                       "environment of vendor_environment() before PyTorch's first operation "
                       "for a comparison on the same units", vendor_isa, wanted)
    with metaschedule_vnni_patched() if patched else contextlib.nullcontext():
        results = _run_cases(profile, out, seed=seed, seeds=seeds, target=target, guard=guard,
                             peaks=peaks, patched=patched, int8_range=int8_range,
                             vendor_isa=vendor_isa)
    results = attrs.evolve(results, wall_s=time.perf_counter() - start,
                           finished=datetime.datetime.now().isoformat(timespec="seconds"))
    write_outputs(results, out)
    return results


def _run_cases(profile: Profile, out: Path, *, seed: int, seeds: int, target, guard: NoiseGuard,
               peaks: Peaks | None, patched: bool, int8_range: str,
               vendor_isa: str) -> SuiteResults:
    start = time.perf_counter()
    cores = int(target.attrs.get("num-cores", 1))
    if peaks is None:
        peaks = cached_peaks(out / "peak.json", cores)
    logger.info("peak throughput (%d threads): int8 %s GOP/s, float32 %s GFLOP/s", cores,
                _rate(peaks.peak("int8")), _rate(peaks.peak("float32")))
    paths = target_peaks(target, cores, isa.InputRange(int8_range))
    for dtype, path in paths.items():
        logger.info("peak of the %s path %s (%s): %s GOP/s", dtype, path.intrinsic,
                    path.instruction, _rate(path.gops))
    results = SuiteResults(
        profile=profile.name,
        started=datetime.datetime.now().isoformat(timespec="seconds"),
        settings=Settings(
            trials=profile.trials, trials_per_round=profile.trials_per_round,
            rounds=profile.rounds, batch_seconds=profile.batch_seconds, seed=seed, seeds=seeds,
            noise_threshold=guard.threshold, noise_attempts=guard.max_attempts,
            ms_vnni_patched=patched, target=str(target),
            instruction_set=instruction_set(target).name, int8_range=int8_range,
            vendor_isa=vendor_isa),
        machine=Machine.from_json(describe(cores)),
        versions={"tvm": tvm.__version__, "tvm_heron": tvm_heron.__version__,
                  "torch": torch_version() or "not importable",
                  "torch quantized engines": list(QUANTIZED_ENGINES)},
        peaks=peaks,
        path_peaks=paths,
    )
    for index, case in enumerate(profile.cases, 1):
        logger.info("[%d/%d] %s %s %s", index, len(profile.cases), case.id, case.op,
                    "x".join(map(str, case.shape)))
        entry = run_case(case, profile=profile, out=out, target=target, seed=seed, seeds=seeds,
                         guard=guard, peaks=peaks, cores=cores, int8_range=int8_range,
                         path_peaks=paths)
        results = attrs.evolve(results, cases=(*results.cases, entry),
                               wall_s=time.perf_counter() - start)
        report.write_json(results, out / "results.json")  # partial results survive a crash
    return results


def write_outputs(results: SuiteResults, out: str | Path) -> None:
    """``results.json``, ``results.csv``, ``REPORT.md`` and the PNG charts."""
    out = Path(out)
    report.write_json(results, out / "results.json")
    report.write_csv(results, out / "results.csv")
    report.write_markdown(results, out / "REPORT.md")
    plots.plot_all(results, out)


def run_case(case: Case, *, profile: Profile, out: Path, target, seed: int, guard: NoiseGuard,
             peaks: Peaks, cores: int, seeds: int = 1, int8_range: str = "u8",
             path_peaks: Mapping | None = None) -> CaseResult:
    """Tune, check and time one case; returns its results (never raises)."""
    about = {"id": case.id, "case": case.name, "op": case.op, "shape": case.shape,
             "dtype": case.dtype}
    try:
        workload = with_cached_reference(make_workload(
            case.op, case.shape, case.dtype, int8_range=int8_range if case.dtype == "int8" else "u8"))
        inputs = workload.make_inputs(np.random.default_rng(seed))
    except HeronError as err:
        logger.info("  n/a: %s", err)
        return CaseResult(**about, status=Status.NA, reason=str(err))
    except Exception as err:  # pylint: disable=broad-except  (one broken case must not end the run)
        return CaseResult(**about, **_error(err))
    tuners: dict[str, TuningRun] = {}
    candidates: dict[str, Candidate] = {}
    timers = {}
    for tuner in TUNERS:
        for key, dirname, tuner_seed in seed_runs(tuner.name, seed, seeds):
            work_dir = out / "work" / case.id / dirname
            tuners[key] = _tuned(workload, tuner, work_dir, profile=profile, target=target,
                                 seed=tuner_seed)
            candidates[key], timer = _tuned_kernel(workload, tuners[key], work_dir,
                                                   target=target, inputs=inputs)
            if timer is not None:
                timers[key] = timer
    paths, vendor_timers = _vendor_paths(workload, inputs, cores=cores)
    for name, timer in vendor_timers.items():
        candidates[name] = paths[name.removeprefix(VENDOR_PREFIX)]
        timers[name] = timer
    for name, cand in candidates.items():
        if cand.status is not Status.OK:
            logger.info("  %s: %s: %s", name, cand.status, cand.reason)
    # % of peak: of the fastest path the target's space has for the dtype (measured with
    # its intrinsic); the machine's peak where that was not measured.
    path = (path_peaks or {}).get(case.dtype)
    peak = path.gops if path is not None and path.gops else peaks.peak(case.dtype)
    if timers:
        candidates.update(_timed(candidates, workload, timers, profile=profile, guard=guard,
                                 peak=peak))
    # the timed vendor paths back under their own names; the fastest is the vendor candidate
    paths = {name: candidates.pop(VENDOR_PREFIX + name, cand) for name, cand in paths.items()}
    candidates["vendor"] = _fastest_vendor(paths)
    if seeds > 1:
        for tuner in TUNERS:
            keys, _, run_seeds = zip(*seed_runs(tuner.name, seed, seeds))
            tuners[tuner.name] = merge_tuner_figures([tuners[k] for k in keys])
            cand = merge_seeds([candidates[k] for k in keys], run_seeds)
            if cand.median_s is not None:
                cand = _with_throughput(cand, workload.flops, peak)
            candidates[tuner.name] = cand
    medians = {n: candidates[n].median_s for n in CANDIDATES}
    ours = medians["heron-cga"]
    gains = Speedup(vs_evolutionary=speedup(ours, medians["evolutionary"]),
                    vs_vendor=speedup(ours, medians["vendor"]))
    logger.info("  " + ", ".join(f"{n} {_ms(s)}" for n, s in medians.items()))
    return CaseResult(**about, status=Status.OK, flops=int(workload.flops), tuners=tuners,
                      candidates=candidates, speedup=gains, vendor_paths=paths)


def seed_runs(tuner: str, seed: int, seeds: int) -> list[tuple[str, str, int]]:
    """(key in the case's entry, work directory name, seed) of each tuning run of ``tuner``.

    One seed: the tuner's name for both. Several: keys ``name@seed``; the
    first run keeps the one-seed directory, so either kind of run resumes the other.
    """
    if seeds == 1:
        return [(tuner, tuner, seed)]
    return [(f"{tuner}@{seed + k}", tuner if k == 0 else f"{tuner}@{seed + k}", seed + k)
            for k in range(seeds)]


def _tuned(workload, tuner: Tuner, work_dir: Path, *, profile: Profile, target,
           seed: int) -> TuningRun:
    """Tune (or resume); the tuner's figures, status ``error`` if it raised."""
    logger.info("  tuning with %s (%d trials) in %s", tuner.name, profile.trials, work_dir)
    try:
        run = tune_case(workload, tuner, target=target, work_dir=work_dir,
                        trials=profile.trials, trials_per_round=profile.trials_per_round,
                        seed=seed)
    except Exception as err:  # pylint: disable=broad-except
        return TuningRun(**_error(err))
    if run.status is Status.OK:
        logger.info("  %s: %d trials, %.0f%% failed, %.1f s%s", tuner.name, run.trials,
                    100 * (run.failed_share or 0.0), run.tuning_s,
                    " (resumed)" if run.resumed else "")
    return run


def _tuned_kernel(
    workload, run: TuningRun, work_dir: Path, *, target, inputs
) -> tuple[Candidate, object]:
    """(candidate, batch timer or None) of the best kernel a tuning run found."""
    if run.status is not Status.OK:
        return Candidate(status=Status.NA, reason=run.reason), None
    impl = f"{run.strategy} in the {run.space} space"
    try:
        kernel = best_kernel(workload, work_dir, target, inputs)
    except Exception as err:  # pylint: disable=broad-except
        return Candidate(impl=impl, **_error(err)), None
    if isinstance(kernel, Unavailable):
        return Candidate(impl=impl, status=Status.NA, reason=kernel.reason), None
    cand = Candidate(impl=impl, status=Status.OK if kernel.correct else Status.WRONG,
                     correct=kernel.correct, max_abs_error=kernel.max_abs_error,
                     reason=None if kernel.correct else "its output differs from the reference")
    return cand, kernel.timer if kernel.correct else None


def _vendor_paths(workload, inputs, *, cores: int) -> tuple[dict, dict]:
    """({path: Candidate}, {candidate name: batch timer}) of every PyTorch path, each checked.

    Every path is reported with whether it was correct on the test data; only
    the correct ones are timed.
    """
    try:
        paths = vendor_paths(workload, inputs[1], threads=cores)
    except Exception as err:  # pylint: disable=broad-except
        return {"-": Candidate(**_error(err))}, {}
    if isinstance(paths, Unavailable):
        return {"-": Candidate(status=Status.NA, reason=paths.reason)}, {}
    entries, timers = {}, {}
    for path in paths:
        if path.call is None:
            entries[path.name] = Candidate(status=Status.NA, reason=path.reason)
            continue
        entries[path.name] = Candidate(
            status=Status.OK if path.correct else Status.WRONG, impl=path.call.impl,
            note=path.call.note, correct=path.correct, max_abs_error=path.max_abs_error,
            reason=path.reason)
        if path.correct:
            timers[VENDOR_PREFIX + path.name] = python_timer(path.call.fn)
    return entries, timers


def _fastest_vendor(paths: Mapping[str, Candidate]) -> Candidate:
    """The vendor candidate: the timed correct path with the lowest median (others in its note)."""
    timed = [(cand.median_s, name) for name, cand in paths.items() if cand.median_s]
    if not timed:
        reasons = "; ".join(f"{name}: {cand.reason}" for name, cand in paths.items())
        return Candidate(status=Status.NA, reason=f"no correct PyTorch path ({reasons})")
    _, best = min(timed)
    others = [f"{name}: {cand.reason or _ms(cand.median_s)}"
              for name, cand in paths.items() if name != best]
    chosen = paths[best]
    note = "; ".join(x for x in (chosen.note, "fastest correct PyTorch path", *others) if x)
    return attrs.evolve(chosen, note=note, path=best)


def _timed(candidates: Mapping[str, Candidate], workload, timers: dict, *, profile: Profile,
           guard: NoiseGuard, peak: float | None) -> dict[str, Candidate]:
    """The candidates of ``timers``, timed interleaved (status ``error`` if the timing raised)."""
    logger.info("  timing %s interleaved, %d rounds", ", ".join(timers), profile.rounds)
    try:
        timings = time_interleaved(timers, rounds=profile.rounds,
                                   batch_seconds=profile.batch_seconds, guard=guard)
    except Exception as err:  # pylint: disable=broad-except
        failure = _error(err)
        return {name: attrs.evolve(candidates[name], **failure) for name in timers}
    return {name: _with_throughput(attrs.evolve(candidates[name], **timing.to_json()),
                                   workload.flops, peak)
            for name, timing in timings.items()}


def _with_throughput(cand: Candidate, flops: int, peak: float | None) -> Candidate:
    """GOP/s and % of peak of a timed candidate, from its median and its minimum."""
    rate, rate_min = gops(flops, cand.median_s), gops(flops, cand.min_s)
    return attrs.evolve(cand, gops=rate, gops_min=rate_min, pct_peak=percent_of_peak(rate, peak),
                        pct_peak_min=percent_of_peak(rate_min, peak))


def _error(err: Exception) -> dict:
    """``status`` and ``reason`` of a step that raised (logged with its traceback)."""
    logger.error("  failed:\n%s", traceback.format_exc())
    return {"status": Status.ERROR, "reason": f"{type(err).__name__}: {err}"}


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:.4f} ms"
