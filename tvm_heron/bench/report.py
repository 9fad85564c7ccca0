"""Writers of a benchmark's outputs: ``results.json``, ``results.csv`` and ``REPORT.md`` (no TVM).

They read the typed results of :mod:`.results` (:class:`~.results.SuiteResults`,
whose ``to_json`` is ``results.json``; its module docstring has the format).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from .figures import geomean, peak_bound_s, peak_ceiling
from .results import (CANDIDATES, RIVALS, SCHEMA, TUNER_NAMES, CaseResult, Candidate,  # noqa: F401
                      Settings, Status, SuiteResults)

#: Columns of results.csv, one row per case and candidate.
CSV_COLUMNS = (
    "id", "case", "op", "shape", "dtype", "flops", "candidate", "status", "reason", "impl",
    "correct", "max_abs_error", "space", "trials", "failed", "failed_share", "tuning_s",
    "search_s", "build_s", "run_s", "strategy_s", "number", "rounds_ms", "noise",
    "other_share", "noisy_rounds", "min_ms", "median_ms", "gops", "pct_peak", "gops_min",
    "pct_peak_min", "speedup",
)


def write_json(results: SuiteResults, path: str | Path) -> None:
    """``results.json``."""
    Path(path).write_text(json.dumps(results.to_json(), indent=1), encoding="utf-8")


def read_json(path: str | Path) -> SuiteResults:
    """The results of ``results.json`` (:meth:`~.results.SuiteResults.from_json`)."""
    return SuiteResults.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


#: The tuning-run columns of results.csv (a row of a candidate that was not tuned: empty).
_TUNER_COLUMNS = ("space", "trials", "failed", "failed_share", "tuning_s", "search_s", "build_s",
                  "run_s", "strategy_s")
#: The candidate columns of results.csv taken as they are.
_CANDIDATE_COLUMNS = ("reason", "impl", "correct", "max_abs_error", "number",
                      "noisy_rounds", "gops", "pct_peak", "gops_min", "pct_peak_min")


def csv_rows(results: SuiteResults) -> list[dict]:
    """The rows of ``results.csv`` (one per case and candidate)."""
    rows = []
    for case in results.cases:
        for name in CANDIDATES:
            cand = case.candidate(name)
            tuner = case.tuners.get(name)
            row = {"id": case.id, "case": case.case, "op": case.op,
                   "shape": "x".join(map(str, case.shape)), "dtype": case.dtype,
                   "flops": case.flops, "candidate": name, "status": cand.status.value,
                   **{key: getattr(cand, key) for key in _CANDIDATE_COLUMNS},
                   **{key: None if tuner is None else getattr(tuner, key)
                      for key in _TUNER_COLUMNS},
                   "rounds_ms": _joined([s * 1e3 for s in cand.rounds_s or ()]),
                   "noise": ";".join(cand.noise or ()),
                   "other_share": _joined(cand.other_share or ()),
                   "min_ms": _ms(cand.min_s), "median_ms": _ms(cand.median_s),
                   # heron-cga's speedup over this candidate (its own row: empty)
                   "speedup": case.speedup_over(name) if name in RIVALS else None}
            rows.append({column: row[column] for column in CSV_COLUMNS})
    return rows


def write_csv(results: SuiteResults, path: str | Path) -> None:
    """``results.csv``: :data:`CSV_COLUMNS`, empty cells for unknowns."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in csv_rows(results):
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def dtypes_of(results: SuiteResults) -> list[str]:
    """The data types of the cases, in first-seen order."""
    return results.dtypes()


def speed_table(results: SuiteResults, dtype: str) -> list[str]:
    """Markdown lines of the speed table of one data type, geomean row last."""
    unit = "GOP/s" if dtype == "int8" else "GFLOP/s"
    lines = [
        f"| case | heron-cga ms | evolutionary ms | vendor ms | heron-cga {unit} "
        "| heron-cga % of peak | evolutionary % of peak | speedup vs evolutionary "
        "| speedup vs vendor | ceiling vs evolutionary |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    cases = results.cases_of(dtype)
    for case in cases:
        heron, evo = case.candidate("heron-cga"), case.candidate("evolutionary")
        label = f"{case.case} ({'x'.join(map(str, case.shape))})"
        lines.append(
            f"| {label} | " + " | ".join(_time_cell(case.candidate(n)) for n in CANDIDATES)
            + f" | {_num(heron.gops, 1)} | {_num(heron.pct_peak, 1)} "
            f"| {_num(evo.pct_peak, 1)} "
            + "".join(f"| {_ratio(case.speedup_over(rival))} " for rival in RIVALS)
            + f"| {_ratio(_evolutionary_ceiling(case))} |"
        )
    lines.append(
        "| **geomean** | | | | | | "
        + "".join(f"| **{_ratio(geomean(c.speedup_over(rival) for c in cases))}** "
                  for rival in RIVALS)
        + f"| **{_ratio(geomean(_evolutionary_ceiling(c) for c in cases))}** |"
    )
    return lines


def _evolutionary_ceiling(case: CaseResult) -> float | None:
    """Speedup over the evolutionary search's kernel of a kernel at the measured peak."""
    evo = case.candidate("evolutionary")
    return peak_ceiling(evo.pct_peak) if evo.status is Status.OK else None


def cores_of(results: SuiteResults) -> int | None:
    """The threads the run's kernels and peaks used (None if the results do not say)."""
    return results.peaks.threads or results.machine.cores_used


def bound_table(results: SuiteResults, dtype: str, launch_s: float) -> list[str]:
    """Markdown lines: per case, the evolutionary search's time against the least time at
    the measured peak with a parallel launch cost (:func:`~.figures.peak_bound_s`), and
    the ratio, the most any tuner could gain over it; geomean row last."""
    peak = results.peaks.peak(dtype)
    cores = cores_of(results)
    lines = [
        f"| case | evolutionary ms | bound ms (launch {launch_s * 1e6:.2f} us) | ceiling |",
        "| --- | ---: | ---: | ---: |",
    ]
    ceilings = []
    for case in results.cases_of(dtype):
        evo = case.candidate("evolutionary")
        if not evo.timed or not peak or not cores:
            continue
        bound = peak_bound_s(case.flops, peak, cores=cores, launch_s=launch_s)
        ceilings.append(evo.median_s / bound)
        lines.append(f"| {case.case} | {_num(_ms(evo.median_s), 4)} "
                     f"| {_num(_ms(bound), 4)} | {_ratio(ceilings[-1])} |")
    lines.append(f"| **geomean** | | | **{_ratio(geomean(ceilings))}** |")
    return lines


def ceiling_report(results: SuiteResults, launch_s: float, how: str) -> str:
    """The text of ``benchmarks/ceiling.py``: :func:`bound_table` of every data type.

    ``how`` says where the launch cost came from (``measured now``, ``given``).
    """
    text = [f"Launch cost of a parallel loop: {launch_s * 1e6:.2f} us ({how}).", ""]
    for dtype in results.dtypes():
        text += [f"## {dtype}", "", *bound_table(results, dtype, launch_s), ""]
    return "\n".join(text)


def losses(results: SuiteResults) -> list[str]:
    """``case (dtype): 0.8x vs vendor`` for every comparison heron-cga loses."""
    lost = []
    for case in results.cases:
        for rival in RIVALS:
            value = case.speedup_over(rival)
            if value is not None and value < 1.0:
                lost.append(f"{case.case} ({case.dtype}): {value:.2f}x vs {rival}")
    return lost


def tuning_table(results: SuiteResults) -> list[str]:
    """Markdown lines: trials, failed share and the wall-time split of every tuning run."""
    lines = [
        "| case | dtype | tuner | space | trials | failed | tuning s | search s | build s | run s "
        "| strategy s |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in results.cases:
        for name in TUNER_NAMES:
            t = case.tuners.get(name)
            if t is None:
                continue
            start = f"| {case.case} | {case.dtype} | {name} | {t.space or ''} "
            if t.status is not Status.OK:
                lines.append(f"{start}| {t.status}: {_cell(t.reason)} | | | | | | |")
                continue
            share = "" if t.failed_share is None else f"{100 * t.failed_share:.0f}%"
            resumed = " (resumed)" if t.resumed else ""
            lines.append(
                f"{start}| {t.trials} | {share} | {_num(t.tuning_s, 1)}{resumed} "
                f"| {_num(t.search_s, 1)} | {_num(t.build_s, 1)} | {_num(t.run_s, 1)} "
                f"| {_num(t.strategy_s, 1)} |"
            )
    return lines


def machine_lines(results: SuiteResults) -> list[str]:
    """Markdown bullet lines describing the machine and its measured peaks."""
    machine, peaks = results.machine, results.peaks
    lines = [
        f"- CPU: {machine.cpu}; cores used: {machine.cores_used} "
        f"(of {machine.cpus_online} online); flags: {', '.join(machine.flags)}",
        f"- target: `{results.settings.target}`",
    ]
    for dtype, unit in (("int8", "GOP/s"), ("float32", "GFLOP/s")):
        value = peaks.peak(dtype)
        if value is None:
            why = peaks.reasons.get(dtype, "not measured")
            lines.append(f"- measured {dtype} peak: n/a ({why})")
        else:
            lines.append(f"- measured {dtype} peak: {value:.1f} {unit} "
                         f"({peaks.isa.get(dtype)}, {peaks.threads} threads, "
                         "micro-benchmark of this suite)")
    for dtype, path in (results.path_peaks or {}).items():
        unit = "GOP/s" if dtype == "int8" else "GFLOP/s"
        figure = f"{path.gops:.1f} {unit}" if path.gops else f"n/a ({path.reason})"
        lines.append(f"- {dtype} path peak: {figure}: `{path.intrinsic}` ({path.instruction}, "
                     f"{path.isa}), a {path.rows}-accumulator micro-kernel of the intrinsic; "
                     "% of peak in the tables is of this figure")
    if peaks.noise == "noisy":
        lines.append(f"- the peaks were measured while other processes used "
                     f"{100 * (peaks.other_share or 0):.0f}% of the CPU time: they are low "
                     "(a later run into the same directory measures them again)")
    versions = ", ".join(f"{k} {v}" for k, v in results.versions.items())
    if versions:
        lines.append(f"- software: {versions}")
    isa = results.settings.vendor_isa or "all"
    if isa != "all":
        lines.append(f"- oneDNN limited to ISA `{isa}` (ONEDNN_MAX_CPU_ISA), PyTorch and FBGEMM to "
                     "the same vector width (ATEN_CPU_CAPABILITY, FBGEMM_ENABLE_INSTRUCTIONS): the "
                     "instruction set of tvm-heron's kernels; `--vendor-isa all` lets them use "
                     "everything (AMX)")
    elif "amx_int8" in machine.flags:
        lines.append("- this CPU has AMX-INT8: oneDNN may use it for the int8 vendor baseline, "
                     "while TVM's kernels use AVX-512 VNNI; % of peak is of the VNNI peak")
    return lines


def _seed_text(settings: Settings) -> str:
    seed, seeds = settings.seed, settings.seeds
    if seeds == 1:
        return f"seed {seed}"
    return (f"{seeds} tuning runs per tuner (seeds {seed} to {seed + seeds - 1}); a tuner's time "
            "is the median over its runs' best kernels (each run's in `results.json`, "
            "under `name@seed`)")


def render_markdown(results: SuiteResults) -> str:
    """The text of ``REPORT.md``."""
    settings = results.settings
    out = [
        "# Operator benchmark: tvm-heron (heron-cga) vs MetaSchedule (evolutionary) vs vendor",
        "",
        f"Profile `{results.profile}`: {settings.trials} trials per tuner "
        f"({settings.trials_per_round} per round, same builder and runner settings), "
        f"{settings.rounds} interleaved timing rounds of about "
        f"{settings.batch_seconds} s per candidate, {_seed_text(settings)}; "
        f"total wall time {_num(results.wall_s, 0)} s.",
        "",
        "## Machine",
        "",
        *machine_lines(results),
        "",
    ]
    for dtype in results.dtypes():
        out += [f"## {dtype}", "", *speed_table(results, dtype), ""]
    out += [
        "Times are the median over the rounds (the minimum is in `results.csv`); a `*` marks a "
        "figure with at least one round during which other processes used more than "
        f"{100 * (settings.noise_threshold or 0):.0f}% of the CPU time (after "
        f"{settings.noise_attempts} attempts). Speedups are heron-cga's (> 1: heron-cga "
        "is faster); throughput and % of peak are from the median time. The ceiling is "
        "100 / evolutionary's % of peak: the speedup over the evolutionary search's kernel of "
        "a kernel at the measured compute peak, an upper bound on what any tuner could show "
        "(memory- and launch-bound cases leave less).",
        "",
    ]
    lost = losses(results)
    where = "; ".join(lost) if lost else "nowhere in this run"
    out.append(f"**Where tvm-heron loses:** {where}.")
    out += ["", "## Tuning runs", "", *tuning_table(results), "",
            "failed: share of measured candidates that failed to build or run. build s: in the "
            "builder (the same persistent builder for both tuners); run s: in the runner "
            "(MetaSchedule's LocalRunner, default settings, for both); search s: the rest of the "
            "tuning wall time (search strategy, cost model, database, scheduling); strategy s: "
            "of that, the time inside a Heron strategy's own code (n/a for MetaSchedule's).", ""]
    paths = vendor_path_table(results)
    if paths:
        out += ["## PyTorch paths", "", *paths, "",
                "Every path PyTorch offers for the case, run once on the test data (full-range u8 "
                "activations unless the case declares 7-bit ones) and checked; only correct paths "
                "are timed, and the vendor column is the fastest of them.", ""]
    out += ["## Notes", "", *_notes(results), ""]
    return "\n".join(out)


#: How the PyTorch path table names a path's status.
_PATH_STATUS = {Status.OK: "correct", Status.WRONG: "wrong"}


def vendor_path_table(results: SuiteResults) -> list[str]:
    """One row per case and PyTorch path: status (correct / wrong / n/a) and median time."""
    rows = []
    for case in results.cases:
        for name, cand in (case.vendor_paths or {}).items():
            if name == "-":
                continue
            median = _num(cand.median_s * 1e3, 4) if cand.median_s else "-"
            status = _PATH_STATUS.get(cand.status, "n/a")
            detail = "" if status == "correct" else _cell(cand.reason)
            rows.append(f"| {case.id} | {name} | {status} | {median} | {detail} |")
    if not rows:
        return []
    return ["| case | path | on the test data | median ms | why not |", "| --- | --- | --- | ---: | --- |", *rows]


def write_markdown(results: SuiteResults, path: str | Path) -> None:
    """``REPORT.md``."""
    Path(path).write_text(render_markdown(results), encoding="utf-8")


def _notes(results: SuiteResults) -> list[str]:
    notes = []
    if results.settings.ms_vnni_patched:
        notes.append("- int8 baseline: MetaSchedule's `dot_16x4_vnni` intrinsic (broken with "
                     "LLVM 22) was replaced by tvm-heron's VNNI intrinsic, the same computation, "
                     "so that MetaSchedule's default int8 space builds.")
    seen = set()
    for case in results.cases:
        if case.status is not Status.OK:
            notes.append(f"- {case.id}: {case.status}: {_cell(case.reason)}")
        heron = case.tuners.get("heron-cga")
        if heron is not None and heron.space_note and ("space", case.dtype) not in seen:
            seen.add(("space", case.dtype))
            notes.append(f"- heron-cga, {case.dtype}: {heron.space_note}")
        for name, cand in case.candidates.items():
            if cand.status is not Status.OK:
                notes.append(f"- {case.id} {name}: {cand.status}: {_cell(cand.reason)}")
            if name == "vendor" and cand.impl and (cand.impl, case.dtype) not in seen:
                seen.add((cand.impl, case.dtype))
                extra = f"; {cand.note}" if cand.note else ""
                notes.append(f"- vendor, {case.dtype} {case.op}: `{cand.impl}`{extra}")
    return notes or ["- none"]


def _time_cell(cand: Candidate) -> str:
    if not cand.timed:
        return f"n/a{'' if cand.status in (Status.NA, Status.OK) else f' ({cand.status})'}"
    star = "*" if cand.noisy_rounds else ""
    return f"{cand.median_s * 1e3:.4f}{star}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _num(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


def _joined(values: Sequence[float | None]) -> str:
    return ";".join("" if v is None else f"{v:.6g}" for v in values)


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "/").replace("\n", " ")[:300]
