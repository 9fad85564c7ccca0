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
:mod:`.peak`. Outputs in ``OUT``: ``results.json``, ``results.csv``,
``REPORT.md`` (:mod:`.report`), ``speedup_<dtype>.png`` (:mod:`.plots`) and
``peak.json`` (the cached peaks).

    python benchmarks/suite.py --profile smoke --out /tmp/smoke
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tvm

import tvm_heron
from tvm_heron import isa
from tvm_heron.errors import HeronError
from tvm_heron.ops import make_workload
from tvm_heron.target import host_target, instruction_set, parse_target

from . import plots, report
from .figures import gops, merge_seeds, merge_tuner_figures, percent_of_peak, speedup
from .kernels import best_kernel
from .machine import describe
from .msvnni import metaschedule_vnni_patched
from .noise import NoiseGuard
from .path_peak import target_peaks
from .peak import Peaks, cached_peaks
from .profiles import Case, Profile, load_profile, load_workloads
from .reference import with_cached_reference
from .timing import python_timer, time_interleaved
from .tuners import TUNERS, Tuner, tune_case
from .vendor import QUANTIZED_ENGINES, Unavailable, torch_version, vendor_paths

logger = logging.getLogger(__name__)


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
    vendor_isa: str | None = None,
    int8_range: str = "u8",
) -> dict:
    """Run every case of ``profile`` and write all outputs to ``out``; returns the results.

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
    vendor_isa : str, optional
        Newest instruction set oneDNN may use (``ONEDNN_MAX_CPU_ISA``); by
        default that of the target's description (:mod:`tvm_heron.isa`: AVX-512
        VNNI without AMX, AVX2...), so the comparison is on the same hardware
        units; PyTorch's own kernels get the same vector width
        (``ATEN_CPU_CAPABILITY``). ``"all"`` leaves both free.
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
    free = vendor_isa == "all"
    isa = _limit_vendor_isa(vendor_isa if vendor_isa is not None else description.onednn_isa or "all",
                            None if free else description.aten_capability,
                            None if free else description.fbgemm_isa)
    with metaschedule_vnni_patched() if patched else contextlib.nullcontext():
        results = _run_cases(profile, out, seed=seed, seeds=seeds, target=target, guard=guard,
                             peaks=peaks, patched=patched, int8_range=int8_range)
    results["settings"]["vendor_isa"] = isa
    results["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    results["wall_s"] = time.perf_counter() - start
    write_outputs(results, out)
    return results


def _run_cases(profile: Profile, out: Path, *, seed: int, seeds: int, target, guard: NoiseGuard,
               peaks: Peaks | None, patched: bool, int8_range: str = "u8") -> dict:
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
    results = {
        "schema": report.SCHEMA,
        "profile": profile.name,
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "settings": {
            "trials": profile.trials, "trials_per_round": profile.trials_per_round,
            "rounds": profile.rounds, "batch_seconds": profile.batch_seconds, "seed": seed,
            "seeds": seeds,
            "noise_threshold": guard.threshold, "noise_attempts": guard.max_attempts,
            "ms_vnni_patched": patched, "target": str(target),
            "instruction_set": instruction_set(target).name, "int8_range": int8_range,
        },
        "machine": describe(cores),
        "versions": {"tvm": tvm.__version__, "tvm_heron": tvm_heron.__version__,
                     "torch": torch_version() or "not importable",
                     "torch quantized engines": list(QUANTIZED_ENGINES)},
        "peaks": peaks.to_json(),
        "path_peaks": {dtype: path.to_json() for dtype, path in paths.items()},
        "cases": [],
    }
    for index, case in enumerate(profile.cases, 1):
        logger.info("[%d/%d] %s %s %s", index, len(profile.cases), case.id, case.op,
                    "x".join(map(str, case.shape)))
        results["cases"].append(
            run_case(case, profile=profile, out=out, target=target, seed=seed, seeds=seeds,
                     guard=guard, peaks=peaks, cores=cores, int8_range=int8_range,
                     path_peaks=paths)
        )
        results["wall_s"] = time.perf_counter() - start
        report.write_json(results, out / "results.json")  # partial results survive a crash
    return results


def write_outputs(results: dict, out: str | Path) -> None:
    """``results.json``, ``results.csv``, ``REPORT.md`` and the PNG charts."""
    out = Path(out)
    report.write_json(results, out / "results.json")
    report.write_csv(results, out / "results.csv")
    report.write_markdown(results, out / "REPORT.md")
    plots.plot_all(results, out)


def run_case(case: Case, *, profile: Profile, out: Path, target, seed: int, guard: NoiseGuard,
             peaks: Peaks, cores: int, seeds: int = 1, int8_range: str = "u8",
             path_peaks: dict | None = None) -> dict:
    """Tune, check and time one case; returns its entry of the results (never raises)."""
    entry = {"id": case.id, "case": case.name, "op": case.op, "shape": list(case.shape),
             "dtype": case.dtype, "flops": None, "status": "ok", "reason": None,
             "tuners": {}, "candidates": {}, "speedup": {}}
    try:
        workload = with_cached_reference(make_workload(
            case.op, case.shape, case.dtype, int8_range=int8_range if case.dtype == "int8" else "u8"))
        inputs = workload.make_inputs(np.random.default_rng(seed))
    except HeronError as err:
        logger.info("  n/a: %s", err)
        return {**entry, "status": "n/a", "reason": str(err)}
    except Exception as err:  # pylint: disable=broad-except  (one broken case must not end the run)
        return {**entry, **_error(err)}
    entry["flops"] = int(workload.flops)
    timers = {}
    for tuner in TUNERS:
        for key, dirname, tuner_seed in seed_runs(tuner.name, seed, seeds):
            work_dir = out / "work" / case.id / dirname
            entry["tuners"][key] = _tuned(workload, tuner, work_dir, profile=profile,
                                          target=target, seed=tuner_seed)
            entry["candidates"][key], timer = _tuned_kernel(
                workload, entry["tuners"][key], work_dir, target=target, inputs=inputs)
            if timer is not None:
                timers[key] = timer
    paths, vendor_timers = _vendor_paths(workload, inputs, cores=cores)
    entry["vendor_paths"] = paths
    for name, timer in vendor_timers.items():
        entry["candidates"][name] = paths[name.removeprefix(VENDOR_PREFIX)]
        timers[name] = timer
    for name, cand in entry["candidates"].items():
        if cand["status"] != "ok":
            logger.info("  %s: %s: %s", name, cand["status"], cand.get("reason"))
    # % of peak: of the fastest path the target's space has for the dtype (measured with
    # its intrinsic); the machine's peak where that was not measured.
    path = (path_peaks or {}).get(case.dtype)
    peak = path.gops if path is not None and path.gops else peaks.peak(case.dtype)
    if timers:
        _time(entry, workload, timers, profile=profile, guard=guard, peak=peak)
    entry["candidates"]["vendor"] = _fastest_vendor(entry, paths)
    if seeds > 1:
        for tuner in TUNERS:
            keys, _, run_seeds = zip(*seed_runs(tuner.name, seed, seeds))
            entry["tuners"][tuner.name] = merge_tuner_figures([entry["tuners"][k] for k in keys])
            cand = merge_seeds([entry["candidates"][k] for k in keys], run_seeds)
            if cand.get("median_s") is not None:
                _add_throughput(cand, workload.flops, peak)
            entry["candidates"][tuner.name] = cand
    medians = {n: entry["candidates"].get(n, {}).get("median_s") for n in report.CANDIDATES}
    ours = medians.get("heron-cga")
    entry["speedup"] = {"vs_evolutionary": speedup(ours, medians.get("evolutionary")),
                        "vs_vendor": speedup(ours, medians.get("vendor"))}
    logger.info("  " + ", ".join(f"{n} {_ms(s)}" for n, s in medians.items()))
    return entry


def seed_runs(tuner: str, seed: int, seeds: int) -> list[tuple[str, str, int]]:
    """(key in the case's entry, work directory name, seed) of each tuning run of ``tuner``.

    One seed: the tuner's name for both. Several: keys ``name@seed``; the
    first run keeps the one-seed directory, so either kind of run resumes the other.
    """
    if seeds == 1:
        return [(tuner, tuner, seed)]
    return [(f"{tuner}@{seed + k}", tuner if k == 0 else f"{tuner}@{seed + k}", seed + k)
            for k in range(seeds)]


def _tuned(workload, tuner: Tuner, work_dir: Path, *, profile: Profile, target, seed: int) -> dict:
    """Tune (or resume); the tuner's figures, status ``error`` if it raised."""
    logger.info("  tuning with %s (%d trials) in %s", tuner.name, profile.trials, work_dir)
    try:
        figures = tune_case(workload, tuner, target=target, work_dir=work_dir,
                            trials=profile.trials, trials_per_round=profile.trials_per_round,
                            seed=seed)
    except Exception as err:  # pylint: disable=broad-except
        return _error(err)
    if figures["status"] == "ok":
        logger.info("  %s: %d trials, %.0f%% failed, %.1f s%s", tuner.name, figures["trials"],
                    100 * (figures["failed_share"] or 0.0), figures["tuning_s"],
                    " (resumed)" if figures["resumed"] else "")
    return figures


def _tuned_kernel(
    workload, figures: dict, work_dir: Path, *, target, inputs
) -> tuple[dict, object]:
    """(candidate entry, batch timer or None) of the best kernel a tuning run found."""
    if figures["status"] != "ok":
        return {"status": "n/a", "reason": figures["reason"]}, None
    cand = {"impl": f"{figures['strategy']} in the {figures['space']} space"}
    try:
        kernel = best_kernel(workload, work_dir, target, inputs)
    except Exception as err:  # pylint: disable=broad-except
        return {**cand, **_error(err)}, None
    if isinstance(kernel, Unavailable):
        return {**cand, "status": "n/a", "reason": kernel.reason}, None
    cand.update(status="ok" if kernel.correct else "wrong", correct=kernel.correct,
                max_abs_error=kernel.max_abs_error,
                reason=None if kernel.correct else "its output differs from the reference")
    return cand, kernel.timer if kernel.correct else None


def _limit_vendor_isa(isa: str, aten: str | None = None, fbgemm: str | None = None) -> str:
    """Set ``ONEDNN_MAX_CPU_ISA``, ``ATEN_CPU_CAPABILITY``, ``FBGEMM_ENABLE_INSTRUCTIONS``.

    Each is read once, at PyTorch's first use of the library.

    Returns oneDNN's ISA in force.
    """
    if isa != "all":
        os.environ["ONEDNN_MAX_CPU_ISA"] = isa.upper()
    else:
        os.environ.pop("ONEDNN_MAX_CPU_ISA", None)
    for name, value in (("ATEN_CPU_CAPABILITY", aten), ("FBGEMM_ENABLE_INSTRUCTIONS", fbgemm)):
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)
    # ``import tvm`` imports PyTorch when it is installed; both variables are read at the
    # first operation, not at import (checked: torch._int_mm changes ISA after the import).
    return os.environ.get("ONEDNN_MAX_CPU_ISA", "all").lower()


#: Candidate name prefix of each timed vendor path (``vendor:torch._int_mm``...).
VENDOR_PREFIX = "vendor:"


def _vendor_paths(workload, inputs, *, cores: int) -> tuple[dict, dict]:
    """({path: entry}, {candidate name: batch timer}) of every PyTorch path, each checked.

    Every path is reported with whether it was correct on the test data; only
    the correct ones are timed.
    """
    try:
        paths = vendor_paths(workload, inputs[1], threads=cores)
    except Exception as err:  # pylint: disable=broad-except
        return {"-": _error(err)}, {}
    if isinstance(paths, Unavailable):
        return {"-": {"status": "n/a", "reason": paths.reason}}, {}
    entries, timers = {}, {}
    for path in paths:
        if path.call is None:
            entries[path.name] = {"status": "n/a", "reason": path.reason}
            continue
        entries[path.name] = {"status": "ok" if path.correct else "wrong", "impl": path.call.impl,
                              "note": path.call.note, "correct": path.correct,
                              "max_abs_error": path.max_abs_error, "reason": path.reason}
        if path.correct:
            timers[VENDOR_PREFIX + path.name] = python_timer(path.call.fn)
    return entries, timers


def _fastest_vendor(entry: dict, paths: dict) -> dict:
    """The vendor candidate: the timed correct path with the lowest median (others in its note)."""
    timed = [(cand["median_s"], name) for name, cand in paths.items() if cand.get("median_s")]
    if not timed:
        reasons = "; ".join(f"{name}: {cand.get('reason')}" for name, cand in paths.items())
        return {"status": "n/a", "reason": f"no correct PyTorch path ({reasons})"}
    _, best = min(timed)
    others = [f"{name}: {cand.get('reason') or _ms(cand.get('median_s'))}"
              for name, cand in paths.items() if name != best]
    for name in paths:
        entry["candidates"].pop(VENDOR_PREFIX + name, None)
    chosen = dict(paths[best])
    chosen["note"] = "; ".join(x for x in (chosen.get("note"), "fastest correct PyTorch path", *others) if x)
    chosen["path"] = best
    return chosen


def _time(entry: dict, workload, timers: dict, *, profile: Profile, guard: NoiseGuard,
          peak: float | None) -> None:
    """Time the candidates interleaved and add the figures to their entries."""
    logger.info("  timing %s interleaved, %d rounds", ", ".join(timers), profile.rounds)
    try:
        timings = time_interleaved(timers, rounds=profile.rounds,
                                   batch_seconds=profile.batch_seconds, guard=guard)
    except Exception as err:  # pylint: disable=broad-except
        failure = _error(err)
        for name in timers:
            entry["candidates"][name].update(failure)
        return
    for name, timing in timings.items():
        cand = entry["candidates"][name]
        cand.update(timing.to_json())
        _add_throughput(cand, workload.flops, peak)


def _add_throughput(cand: dict, flops: int, peak: float | None) -> None:
    """GOP/s and % of peak of a timed candidate, from its median and its minimum."""
    cand["gops"] = gops(flops, cand["median_s"])
    cand["gops_min"] = gops(flops, cand["min_s"])
    cand["pct_peak"] = percent_of_peak(cand["gops"], peak)
    cand["pct_peak_min"] = percent_of_peak(cand["gops_min"], peak)


def _error(err: Exception) -> dict:
    """The figures of a step that raised (logged with its traceback)."""
    logger.error("  failed:\n%s", traceback.format_exc())
    return {"status": "error", "reason": f"{type(err).__name__}: {err}"}


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:.4f} ms"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line of ``benchmarks/suite.py``."""
    parser = argparse.ArgumentParser(
        description="Operator benchmark: heron-cga vs MetaSchedule's evolutionary search vs "
                    "PyTorch, tuned at the same budget and timed interleaved.")
    parser.add_argument("--profile", default="smoke",
                        help="smoke, small or paper (see --workloads)")
    parser.add_argument("--out", required=True,
                        help="output directory (reused: finished tuning runs are kept)")
    parser.add_argument("--workloads", default=None,
                        help="workloads file (default: benchmarks/workloads.json)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per tuner (default: the profile's)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timing rounds (default: the profile's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1,
                        help="tuning runs per tuner (seeds SEED, SEED+1...); a tuner's time is "
                        "the median over its runs' best kernels")
    parser.add_argument("--ops", default=None,
                        help="comma-separated operators to keep, e.g. gemm,c2d")
    parser.add_argument("--dtypes", default=None,
                        help="comma-separated data types, e.g. int8,float32")
    parser.add_argument("--noise-threshold", type=float, default=0.2,
                        help="largest CPU share of other processes during a quiet timing (0..1)")
    parser.add_argument("--noise-attempts", type=int, default=3,
                        help="timings of a batch at most while the machine is noisy")
    parser.add_argument("--vendor-isa", default=None,
                        help="newest instruction set oneDNN may use (ONEDNN_MAX_CPU_ISA): by "
                        "default that of tvm-heron's kernels on the target (AVX-512 VNNI without "
                        "AMX, AVX2, ...); 'all' leaves oneDNN free")
    parser.add_argument("--target", default=None,
                        help="'host' (default) or a JSON dict of a CPU this machine can run, e.g. "
                        '\'{"kind":"llvm","mcpu":"znver3"}\' for the AVX2 paths')
    parser.add_argument("--int8-range", default="u8", choices=("u8", "u7"),
                        help="u7: the int8 cases declare 7-bit activations (AVX2's vpmaddubsw form)")
    parser.add_argument("--no-patch-ms-vnni", action="store_true",
                        help="keep MetaSchedule's own (broken with LLVM 22) VNNI intrinsic")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``benchmarks/suite.py``; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    data = load_workloads(args.workloads)
    try:
        profile = load_profile(
            data, args.profile, trials=args.trials, rounds=args.rounds,
            ops=args.ops.split(",") if args.ops else None,
            dtypes=args.dtypes.split(",") if args.dtypes else None)
    except (KeyError, ValueError) as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    guard = NoiseGuard(threshold=args.noise_threshold, max_attempts=args.noise_attempts)
    if args.seeds < 1:
        print(f"error: --seeds must be positive, got {args.seeds}", file=sys.stderr)
        return 2
    try:
        target = parse_target(args.target)
        instruction_set(target)
    except HeronError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    results = run_suite(profile, args.out, seed=args.seed, seeds=args.seeds, guard=guard,
                        target=target, patch_ms_vnni=not args.no_patch_ms_vnni,
                        vendor_isa=args.vendor_isa, int8_range=args.int8_range)
    print(f"\n{Path(args.out) / 'REPORT.md'}:\n")
    print(report.render_markdown(results))
    return 0
