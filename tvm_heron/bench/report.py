"""Writers of a benchmark's outputs: ``results.json``, ``results.csv`` and ``REPORT.md`` (no TVM).

The results are a plain dict (what ``results.json`` holds)::

    {"schema": SCHEMA, "profile": ..., "settings": {...}, "machine": {...},
     "peaks": {"gops": {"int8": ..., "float32": ...}, "isa": ..., ...},
     "wall_s": ..., "cases": [case, ...]}

and each case::

    {"id": "gemm.G1-int8", "case": "gemm.G1", "op": "gemm", "shape": [...],
     "dtype": "int8", "flops": ..., "status": "ok" | "n/a" | "error", "reason": ...,
     "tuners": {"heron-cga": {...}, "evolutionary": {...}},
     "candidates": {"heron-cga": {...}, "evolutionary": {...}, "vendor": {...}},
     "speedup": {"vs_evolutionary": ..., "vs_vendor": ...}}

A tuner's figures are those of :func:`tvm_heron.bench.tuners.tune_case`; a
candidate has ``status`` (``ok``, ``n/a``, ``wrong``, ``error``), ``reason``,
``impl``, ``correct``, ``max_abs_error``, the timing of
:meth:`tvm_heron.bench.timing.Timing.to_json` (``rounds_s``, ``noise``,
``other_share``, ``number``, ``min_s``, ``median_s``, ``noisy_rounds``) and
``gops``, ``pct_peak`` (from the median) and ``gops_min``, ``pct_peak_min``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from .figures import geomean, peak_bound_s, peak_ceiling

#: Version tag of the results format.
SCHEMA = "tvm-heron-bench/1"
#: The implementations timed per case, in table order.
CANDIDATES = ("heron-cga", "evolutionary", "vendor")
#: The tuners (candidates that come from a tuning run).
TUNER_NAMES = ("heron-cga", "evolutionary")

#: Columns of results.csv, one row per case and candidate.
CSV_COLUMNS = (
    "id", "case", "op", "shape", "dtype", "flops", "candidate", "status", "reason", "impl",
    "correct", "max_abs_error", "space", "trials", "failed", "failed_share", "tuning_s",
    "search_s", "build_s", "run_s", "strategy_s", "number", "rounds_ms", "noise",
    "other_share", "noisy_rounds", "min_ms", "median_ms", "gops", "pct_peak", "gops_min",
    "pct_peak_min", "speedup",
)


def write_json(results: Mapping, path: str | Path) -> None:
    """``results.json``."""
    Path(path).write_text(json.dumps(results, indent=1, default=_jsonable), encoding="utf-8")


def csv_rows(results: Mapping) -> list[dict]:
    """The rows of ``results.csv`` (one per case and candidate)."""
    rows = []
    for case in results["cases"]:
        for name in CANDIDATES:
            cand = case.get("candidates", {}).get(name) or {"status": case.get("status"),
                                                            "reason": case.get("reason")}
            tuner = case.get("tuners", {}).get(name, {})
            key = {"evolutionary": "vs_evolutionary", "vendor": "vs_vendor"}.get(name)
            rows.append({
                "id": case["id"], "case": case["case"], "op": case["op"],
                "shape": "x".join(map(str, case["shape"])), "dtype": case["dtype"],
                "flops": case.get("flops"), "candidate": name,
                "status": cand.get("status"), "reason": cand.get("reason"),
                "impl": cand.get("impl"), "correct": cand.get("correct"),
                "max_abs_error": cand.get("max_abs_error"),
                "space": tuner.get("space"), "trials": tuner.get("trials"),
                "failed": tuner.get("failed"), "failed_share": tuner.get("failed_share"),
                "tuning_s": tuner.get("tuning_s"), "search_s": tuner.get("search_s"),
                "build_s": tuner.get("build_s"), "run_s": tuner.get("run_s"),
                "strategy_s": tuner.get("strategy_s"), "number": cand.get("number"),
                "rounds_ms": _joined([s * 1e3 for s in cand.get("rounds_s", [])]),
                "noise": ";".join(cand.get("noise", [])),
                "other_share": _joined(cand.get("other_share", [])),
                "noisy_rounds": cand.get("noisy_rounds"),
                "min_ms": _ms(cand.get("min_s")), "median_ms": _ms(cand.get("median_s")),
                "gops": cand.get("gops"), "pct_peak": cand.get("pct_peak"),
                "gops_min": cand.get("gops_min"), "pct_peak_min": cand.get("pct_peak_min"),
                # heron-cga's speedup over this candidate (its own row: empty)
                "speedup": case.get("speedup", {}).get(key) if key else None,
            })
    return rows


def write_csv(results: Mapping, path: str | Path) -> None:
    """``results.csv``: :data:`CSV_COLUMNS`, empty cells for unknowns."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in csv_rows(results):
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def dtypes_of(results: Mapping) -> list[str]:
    """The data types of the cases, in first-seen order."""
    seen: list[str] = []
    for case in results["cases"]:
        if case["dtype"] not in seen:
            seen.append(case["dtype"])
    return seen


def speed_table(results: Mapping, dtype: str) -> list[str]:
    """Markdown lines of the speed table of one data type, geomean row last."""
    unit = "GOP/s" if dtype == "int8" else "GFLOP/s"
    lines = [
        f"| case | heron-cga ms | evolutionary ms | vendor ms | heron-cga {unit} "
        "| heron-cga % of peak | evolutionary % of peak | speedup vs evolutionary "
        "| speedup vs vendor | ceiling vs evolutionary |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    cases = [c for c in results["cases"] if c["dtype"] == dtype]
    for case in cases:
        cands = case.get("candidates", {})
        heron, evo = cands.get("heron-cga", {}), cands.get("evolutionary", {})
        speed = case.get("speedup", {})
        label = f"{case['case']} ({'x'.join(map(str, case['shape']))})"
        lines.append(
            f"| {label} | " + " | ".join(_time_cell(cands.get(n, case)) for n in CANDIDATES)
            + f" | {_num(heron.get('gops'), 1)} | {_num(heron.get('pct_peak'), 1)} "
            f"| {_num(evo.get('pct_peak'), 1)} "
            f"| {_ratio(speed.get('vs_evolutionary'))} | {_ratio(speed.get('vs_vendor'))} "
            f"| {_ratio(_evolutionary_ceiling(case))} |"
        )
    lines.append(
        "| **geomean** | | | | | | "
        f"| **{_ratio(geomean(c.get('speedup', {}).get('vs_evolutionary') for c in cases))}** "
        f"| **{_ratio(geomean(c.get('speedup', {}).get('vs_vendor') for c in cases))}** "
        f"| **{_ratio(geomean(_evolutionary_ceiling(c) for c in cases))}** |"
    )
    return lines


def _evolutionary_ceiling(case: Mapping) -> float | None:
    """Speedup over the evolutionary search's kernel of a kernel at the measured peak."""
    evo = case.get("candidates", {}).get("evolutionary", {})
    return peak_ceiling(evo.get("pct_peak")) if evo.get("status") == "ok" else None


def cores_of(results: Mapping) -> int | None:
    """The threads the run's kernels and peaks used (None if the results do not say)."""
    return results.get("peaks", {}).get("threads") or results.get("machine", {}).get("cores_used")


def bound_table(results: Mapping, dtype: str, launch_s: float) -> list[str]:
    """Markdown lines: per case, the evolutionary search's time against the least time at
    the measured peak with a parallel launch cost (:func:`~.figures.peak_bound_s`), and
    the ratio, the most any tuner could gain over it; geomean row last."""
    peak = results.get("peaks", {}).get("gops", {}).get(dtype)
    cores = cores_of(results)
    lines = [
        f"| case | evolutionary ms | bound ms (launch {launch_s * 1e6:.2f} us) | ceiling |",
        "| --- | ---: | ---: | ---: |",
    ]
    ceilings = []
    for case in results["cases"]:
        evo = case.get("candidates", {}).get("evolutionary", {})
        if case["dtype"] != dtype or evo.get("status") != "ok" or not peak or not cores:
            continue
        bound = peak_bound_s(case["flops"], peak, cores=cores, launch_s=launch_s)
        ceilings.append(evo["median_s"] / bound)
        lines.append(f"| {case['case']} | {_num(_ms(evo['median_s']), 4)} "
                     f"| {_num(_ms(bound), 4)} | {_ratio(ceilings[-1])} |")
    lines.append(f"| **geomean** | | | **{_ratio(geomean(ceilings))}** |")
    return lines


def losses(results: Mapping) -> list[str]:
    """``case (dtype): 0.8x vs vendor`` for every comparison heron-cga loses."""
    lost = []
    for case in results["cases"]:
        for key, name in (("vs_evolutionary", "evolutionary"), ("vs_vendor", "vendor")):
            value = case.get("speedup", {}).get(key)
            if value is not None and value < 1.0:
                lost.append(f"{case['case']} ({case['dtype']}): {value:.2f}x vs {name}")
    return lost


def tuning_table(results: Mapping) -> list[str]:
    """Markdown lines: trials, failed share and the wall-time split of every tuning run."""
    lines = [
        "| case | dtype | tuner | space | trials | failed | tuning s | search s | build s | run s "
        "| strategy s |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in results["cases"]:
        for name in TUNER_NAMES:
            t = case.get("tuners", {}).get(name)
            if t is None:
                continue
            if t.get("status") != "ok":
                lines.append(f"| {case['case']} | {case['dtype']} | {name} | {t.get('space', '')} "
                             f"| {t.get('status')}: {_cell(t.get('reason'))} | | | | | | |")
                continue
            share = t.get("failed_share")
            resumed = " (resumed)" if t.get("resumed") else ""
            lines.append(
                f"| {case['case']} | {case['dtype']} | {name} | {t.get('space')} "
                f"| {t.get('trials')} "
                f"| {'' if share is None else f'{100 * share:.0f}%'} "
                f"| {_num(t.get('tuning_s'), 1)}{resumed} | {_num(t.get('search_s'), 1)} "
                f"| {_num(t.get('build_s'), 1)} | {_num(t.get('run_s'), 1)} "
                f"| {_num(t.get('strategy_s'), 1)} |"
            )
    return lines


def machine_lines(results: Mapping) -> list[str]:
    """Markdown bullet lines describing the machine and its measured peaks."""
    machine, peaks = results.get("machine", {}), results.get("peaks", {})
    lines = [
        f"- CPU: {machine.get('cpu')}; cores used: {machine.get('cores_used')} "
        f"(of {machine.get('cpus_online')} online); flags: {', '.join(machine.get('flags', []))}",
        f"- target: `{results.get('settings', {}).get('target')}`",
    ]
    for dtype, unit in (("int8", "GOP/s"), ("float32", "GFLOP/s")):
        value = peaks.get("gops", {}).get(dtype)
        if value is None:
            why = peaks.get("reasons", {}).get(dtype, "not measured")
            lines.append(f"- measured {dtype} peak: n/a ({why})")
        else:
            lines.append(f"- measured {dtype} peak: {value:.1f} {unit} "
                         f"({peaks.get('isa', {}).get(dtype)}, {peaks.get('threads')} threads, "
                         "micro-benchmark of this suite)")
    for dtype, path in (results.get("path_peaks") or {}).items():
        unit = "GOP/s" if dtype == "int8" else "GFLOP/s"
        figure = f"{path['gops']:.1f} {unit}" if path.get("gops") else f"n/a ({path.get('reason')})"
        lines.append(f"- {dtype} path peak: {figure}: `{path['intrinsic']}` ({path['instruction']}, "
                     f"{path['isa']}), a {path['rows']}-accumulator micro-kernel of the intrinsic; "
                     "% of peak in the tables is of this figure")
    if peaks.get("noise") == "noisy":
        lines.append(f"- the peaks were measured while other processes used "
                     f"{100 * (peaks.get('other_share') or 0):.0f}% of the CPU time: they are low "
                     "(a later run into the same directory measures them again)")
    versions = ", ".join(f"{k} {v}" for k, v in results.get("versions", {}).items())
    if versions:
        lines.append(f"- software: {versions}")
    isa = results.get("settings", {}).get("vendor_isa", "all")
    if isa != "all":
        lines.append(f"- oneDNN limited to ISA `{isa}` (ONEDNN_MAX_CPU_ISA), PyTorch and FBGEMM to "
                     "the same vector width (ATEN_CPU_CAPABILITY, FBGEMM_ENABLE_INSTRUCTIONS): the "
                     "instruction set of tvm-heron's kernels; `--vendor-isa all` lets them use "
                     "everything (AMX)")
    elif "amx_int8" in machine.get("flags", []):
        lines.append("- this CPU has AMX-INT8: oneDNN may use it for the int8 vendor baseline, "
                     "while TVM's kernels use AVX-512 VNNI; % of peak is of the VNNI peak")
    return lines


def _seed_text(settings: Mapping) -> str:
    seed, seeds = settings.get("seed"), settings.get("seeds") or 1
    if seeds == 1:
        return f"seed {seed}"
    return (f"{seeds} tuning runs per tuner (seeds {seed} to {seed + seeds - 1}); a tuner's time "
            "is the median over its runs' best kernels (each run's in `results.json`, "
            "under `name@seed`)")


def render_markdown(results: Mapping) -> str:
    """The text of ``REPORT.md``."""
    settings = results.get("settings", {})
    out = [
        "# Operator benchmark: tvm-heron (heron-cga) vs MetaSchedule (evolutionary) vs vendor",
        "",
        f"Profile `{results.get('profile')}`: {settings.get('trials')} trials per tuner "
        f"({settings.get('trials_per_round')} per round, same builder and runner settings), "
        f"{settings.get('rounds')} interleaved timing rounds of about "
        f"{settings.get('batch_seconds')} s per candidate, {_seed_text(settings)}; "
        f"total wall time {_num(results.get('wall_s'), 0)} s.",
        "",
        "## Machine",
        "",
        *machine_lines(results),
        "",
    ]
    for dtype in dtypes_of(results):
        out += [f"## {dtype}", "", *speed_table(results, dtype), ""]
    out += [
        "Times are the median over the rounds (the minimum is in `results.csv`); a `*` marks a "
        "figure with at least one round during which other processes used more than "
        f"{100 * settings.get('noise_threshold', 0):.0f}% of the CPU time (after "
        f"{settings.get('noise_attempts')} attempts). Speedups are heron-cga's (> 1: heron-cga "
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


def vendor_path_table(results: Mapping) -> list[str]:
    """One row per case and PyTorch path: status (correct / wrong / n/a) and median time."""
    rows = []
    for case in results["cases"]:
        for name, cand in (case.get("vendor_paths") or {}).items():
            if name == "-":
                continue
            median = _num(cand["median_s"] * 1e3, 4) if cand.get("median_s") else "-"
            status = {"ok": "correct", "wrong": "wrong"}.get(cand.get("status"), "n/a")
            detail = "" if status == "correct" else _cell(cand.get("reason"))
            rows.append(f"| {case['id']} | {name} | {status} | {median} | {detail} |")
    if not rows:
        return []
    return ["| case | path | on the test data | median ms | why not |", "| --- | --- | --- | ---: | --- |", *rows]


def write_markdown(results: Mapping, path: str | Path) -> None:
    """``REPORT.md``."""
    Path(path).write_text(render_markdown(results), encoding="utf-8")


def _notes(results: Mapping) -> list[str]:
    notes = []
    if results.get("settings", {}).get("ms_vnni_patched"):
        notes.append("- int8 baseline: MetaSchedule's `dot_16x4_vnni` intrinsic (broken with "
                     "LLVM 22) was replaced by tvm-heron's VNNI intrinsic, the same computation, "
                     "so that MetaSchedule's default int8 space builds.")
    seen = set()
    for case in results["cases"]:
        if case.get("status") not in (None, "ok"):
            notes.append(f"- {case['id']}: {case['status']}: {_cell(case.get('reason'))}")
        heron = case.get("tuners", {}).get("heron-cga", {})
        if heron.get("space_note") and ("space", case["dtype"]) not in seen:
            seen.add(("space", case["dtype"]))
            notes.append(f"- heron-cga, {case['dtype']}: {heron['space_note']}")
        for name, cand in case.get("candidates", {}).items():
            if cand.get("status") not in ("ok", None):
                reason = _cell(cand.get("reason"))
                notes.append(f"- {case['id']} {name}: {cand['status']}: {reason}")
            if name == "vendor" and cand.get("impl") and (cand["impl"], case["dtype"]) not in seen:
                seen.add((cand["impl"], case["dtype"]))
                extra = f"; {cand['note']}" if cand.get("note") else ""
                notes.append(f"- vendor, {case['dtype']} {case['op']}: `{cand['impl']}`{extra}")
    return notes or ["- none"]


def _time_cell(cand: Mapping) -> str:
    status = cand.get("status")
    if status != "ok" or cand.get("median_s") is None:
        return f"n/a{'' if status in (None, 'n/a', 'ok') else f' ({status})'}"
    star = "*" if cand.get("noisy_rounds") else ""
    return f"{cand['median_s'] * 1e3:.4f}{star}"


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


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)
