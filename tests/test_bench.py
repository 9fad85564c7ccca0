"""The operator benchmark suite (tvm_heron.bench): its pieces on synthetic inputs; end to end."""

from __future__ import annotations

import csv
import runpy
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from helpers import HOST_ISA

from tvm_heron.bench import figures, noise, peak, profiles, records, report, timing
from tvm_heron.bench.noise import NoiseGuard
from tvm_heron.bench.results import Candidate, Status, SuiteResults, TuningRun

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- noise guard ------------------------------------------------------------------------------
class Counters:
    """A synthetic /proc/stat and process clock: each read advances by the next step."""

    def __init__(self, steps):
        self.steps = list(steps)  # (busy ticks, total ticks, own seconds) per measurement
        self.busy = self.total = 0
        self.own = 0.0
        self.reads = 0

    def reader(self):
        self.reads += 1
        if self.reads % 2 == 0:  # the read after the measurement
            busy, total, own = self.steps.pop(0)
            self.busy, self.total, self.own = self.busy + busy, self.total + total, self.own + own
        return self.busy, self.total

    def clock(self):
        return self.own


def test_other_share_subtracts_own_cpu_time():
    before, after = noise.Sample(100, 1000, 1.0), noise.Sample(180, 1100, 1.5)
    # 80 busy ticks, 50 of them ours (0.5 s at 100 ticks/s): 30 of 100 were others'
    assert noise.other_share(before, after, 100) == pytest.approx(0.3)
    assert noise.other_share(before, before, 100) is None  # no tick elapsed
    assert noise.other_share(before, noise.Sample(150, 1100, 2.0), 100) == 0.0  # clamped


def test_guard_repeats_noisy_measurements_and_keeps_the_least_noisy():
    # others' shares 0.6, 0.4, 0.5: all above 0.2 -> three attempts, the 0.4 one kept
    counters = Counters([(80, 100, 0.2), (60, 100, 0.2), (70, 100, 0.2)])
    values = iter([10.0, 20.0, 30.0])
    guard = NoiseGuard(threshold=0.2, max_attempts=3, reader=counters.reader,
                       own_clock=counters.clock, ticks_per_second=100)
    result = guard.measure(lambda: next(values))
    assert result.value == 20.0 and result.noise == "noisy" and result.attempts == 3
    assert result.other_share == pytest.approx(0.4)


def test_guard_stops_at_the_first_quiet_measurement():
    counters = Counters([(90, 100, 0.2), (25, 100, 0.2), (90, 100, 0.2)])
    values = iter([1.0, 2.0, 3.0])
    guard = NoiseGuard(threshold=0.1, max_attempts=3, reader=counters.reader,
                       own_clock=counters.clock, ticks_per_second=100)
    result = guard.measure(lambda: next(values))
    assert (result.value, result.noise, result.attempts) == (2.0, "quiet", 2)


def test_guard_without_proc_stat_says_unknown(tmp_path):
    guard = NoiseGuard(reader=lambda: noise.read_proc_stat(tmp_path / "absent"))
    calls = []
    result = guard.measure(lambda: calls.append(1) or 5)
    assert (result.value, result.noise, result.other_share, len(calls)) == (5, "unknown", None, 1)


def test_read_proc_stat_counts_idle_and_iowait_as_idle(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  10 1 5 100 4 1 1 2 7 0\ncpu0 5 0 2 50 2 0 0 1 0 0\n")
    busy, total = noise.read_proc_stat(stat)
    assert total == 10 + 1 + 5 + 100 + 4 + 1 + 1 + 2  # guest columns are inside user
    assert busy == total - 104
    assert noise.read_proc_stat(tmp_path / "absent") is None


def test_guard_rejects_bad_settings():
    with pytest.raises(ValueError):
        NoiseGuard(threshold=1.5)
    with pytest.raises(ValueError):
        NoiseGuard(max_attempts=0)


# -- interleaved timing -------------------------------------------------------------------------
def test_rotation_moves_every_name_to_the_front_in_turn():
    names = ["a", "b", "c"]
    assert [timing.rotation(names, r) for r in range(4)] == [
        ["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert timing.rotation([], 3) == []


def test_time_interleaved_order_batches_and_figures():
    calls: list[tuple[str, int]] = []
    per_call = {"x": 0.001, "y": 0.004, "z": 0.01}
    batch = {"x": 100, "y": 25, "z": 10}  # calls in 0.1 s; the probes are exact, batches jitter
    jitter = iter([1.0, 1.2, 0.9, 1.1, 1.5, 1.0, 2.0, 1.0, 1.0] * 2)

    def fake(name):
        def timer(n):
            calls.append((name, n))
            return per_call[name] * (next(jitter) if n == batch[name] else 1.0)
        return timer

    quiet = NoiseGuard(reader=lambda: None)
    result = timing.time_interleaved({k: fake(k) for k in "xyz"}, rounds=3, batch_seconds=0.1,
                                     guard=quiet)
    # probes double the calls until a quarter of a batch (0.025 s): x 32 calls, y 8, z 4
    probes, batches = calls[:-9], calls[-9:]
    assert [n for name, n in probes if name == "x"] == [1, 2, 4, 8, 16, 32]
    assert [n for name, n in probes if name == "z"] == [1, 2, 4]
    assert [name for name, _ in batches] == list("xyz" + "yzx" + "zxy")
    assert {name: n for name, n in batches} == batch
    x = result["x"]
    assert x.number == 100 and len(x.rounds_s) == 3 and x.noise == ["unknown"] * 3
    assert x.min_s == min(x.rounds_s) and x.median_s == sorted(x.rounds_s)[1]
    assert x.to_json()["noisy_rounds"] == 0
    y = result["y"]  # jitter 1.2 (round 0, second), 1.1 (round 1, first), 1.0 (round 2, third)
    assert y.rounds_s == pytest.approx([0.0048, 0.0044, 0.004])
    assert (y.min_s, y.median_s) == pytest.approx((0.004, 0.0044))


def test_time_interleaved_settles_before_each_batch():
    sleeps = []
    timers = {"a": lambda n: 0.01, "b": lambda n: 0.02}
    timing.time_interleaved(timers, rounds=2, batch_seconds=0.1, guard=NoiseGuard(reader=lambda: None),
                            settle_seconds=0.3, sleep=sleeps.append)
    assert sleeps == [0.3] * 4  # one pause before each of the 2 x 2 batches, none in the probes


def test_python_timer_warms_up_then_times_n_calls():
    ticks = iter(range(100))
    calls = []
    timer = timing.python_timer(lambda: calls.append(1), clock=lambda: float(next(ticks)))
    assert timer(4) == pytest.approx(1 / 4)  # the clock advanced once over the 4 calls
    assert len(calls) == 5


def test_calls_per_batch_bounds():
    assert timing.calls_per_batch(lambda n: 0.5, 0.1) == 1
    assert timing.calls_per_batch(lambda n: 1e-6, 0.1) == 100_000
    assert timing.calls_per_batch(lambda n: 0.0, 0.1, max_calls=7) == 7
    assert timing.calls_per_batch(lambda n: 1e-9, 0.1, max_calls=64) == 64


def test_calls_per_batch_is_not_fooled_by_one_fast_call():
    # the first call is fast, the following ones 1000 times slower (a descheduled thread)
    assert timing.calls_per_batch(lambda n: 1e-6 if n == 1 else 1e-3, 0.1) == 100


# -- figures, profiles, records, peaks ----------------------------------------------------------
def test_figures():
    assert figures.gops(2_000_000_000, 1.0) == 2.0
    assert figures.gops(1, None) is None
    assert figures.percent_of_peak(50.0, 200.0) == 25.0
    assert figures.percent_of_peak(50.0, None) is None
    assert figures.peak_ceiling(80.0) == pytest.approx(1.25)
    assert figures.peak_ceiling(None) is None and figures.peak_ceiling(0.0) is None
    assert figures.speedup(1.0, 2.0) == 2.0
    # 1 GOP at 100 GOP/s on 2 cores: 10 ms in parallel (+ launch) or 20 ms on one core
    assert figures.peak_bound_s(1e9, 100.0, cores=2, launch_s=1e-3) == pytest.approx(0.011)
    assert figures.peak_bound_s(1e3, 100.0, cores=2, launch_s=1e-3) == pytest.approx(2e-8)
    assert figures.geomean([2.0, 8.0, None]) == pytest.approx(4.0)
    assert figures.geomean([None]) is None


def test_profiles_of_the_workloads_file():
    data = profiles.load_workloads()  # the package's
    assert profiles.load_workloads(ROOT / "benchmarks" / "workloads.json") == data
    assert {"smoke", "small", "paper"} <= set(profiles.profile_names(data))
    smoke = profiles.load_profile(data, "smoke")
    assert [c.id for c in smoke.cases] == ["gemm.S64-int8", "gemm.S64-float32"]
    assert smoke.trials == 8 and smoke.rounds == 3
    small = profiles.load_profile(data, "small")
    # every operator of the paper's CPU list, each in int8 and fp32; GEMM also at 1024^3 and 64^3
    assert {c.op for c in small.cases} == {"gemm", "bmm", "gemv", "scan", "c1d", "c2d", "dil", "c3d", "t2d"}
    assert len(small.cases) == 2 * 11 and "gemm.S64-int8" in {c.id for c in small.cases}
    paper = profiles.load_profile(data, "paper", ops=["gemm"], trials=5)
    assert paper.trials == 5
    assert {c.name for c in paper.cases} == {f"gemm.G{i}" for i in range(1, 6)}
    assert paper.cases[0].shape == tuple(data["suites"]["dlboost"]["gemm.G1"]["shape"])
    with pytest.raises(KeyError, match="unknown profile"):
        profiles.load_profile(data, "huge")
    with pytest.raises(ValueError, match="dtype"):
        profiles.load_profile(data, "smoke", dtypes=["float16"])
    with pytest.raises(ValueError, match="no case"):
        profiles.load_profile(data, "smoke", ops=["c2d"])


def test_record_stats_counts_failures(tmp_path):
    lines = [[0, ["trace", [1e-3, 2e-3], "t", []]], [0, ["trace", [1e10], "t", []]],
             [0, ["trace", None, "t", []]], [0, ["trace", [5e-4], "t", []]]]
    (tmp_path / records.RECORD_FILE).write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    stats = records.record_stats(tmp_path)
    assert (stats.trials, stats.failed, stats.best_s) == (4, 2, 5e-4)
    assert stats.failed_share == 0.5
    empty = records.record_stats(tmp_path / "none")
    assert (empty.trials, empty.failed_share) == (0, None)


def test_peak_output_parsing_and_missing_compiler():
    text = "threads 2\nint8 avx512_vnni 9.3e+11\nfloat32 none no FMA here\n"
    parsed = peak.parse_output(text, 1)
    assert parsed.threads == 2 and parsed.gops["int8"] == pytest.approx(930.0)
    assert parsed.isa["int8"] == "avx512_vnni" and parsed.gops["float32"] is None
    assert parsed.reasons["float32"] == "no FMA here"
    missing = peak.measure_peaks(2, compiler="no-such-compiler-xyz")
    assert missing.gops == {"int8": None, "float32": None}
    assert "no C compiler" in missing.reasons["int8"]
    assert peak.Peaks.from_json(json.loads(json.dumps(parsed.to_json()))) == parsed


def test_tune_case_resumes_extends_and_restarts_on_a_new_space(tmp_path, monkeypatch):
    from tvm_heron.bench import tuners
    from tvm_heron.errors import HeronError, UnsupportedDtypeError

    calls = []

    def fake_tune(workload, tuner, space, *, target, work_dir, trials, trials_per_round, seed):
        calls.append((space, trials))
        if workload == "unsupported":
            raise UnsupportedDtypeError("no such dtype")
        work_dir.mkdir(parents=True, exist_ok=True)
        with open(work_dir / records.RECORD_FILE, "a") as handle:
            for i in range(trials):
                handle.write(json.dumps([0, ["t", [1e10] if i == 0 else [1e-3], "x", []]]) + "\n")
        return {"tuning_s": 1.0, "build_s": 0.5, "run_s": 0.25, "strategy_s": 0.1}

    supported = {"heron": True}

    def fake_check(workload, target, space):
        if not supported["heron"]:
            raise HeronError("not in Heron's space")

    monkeypatch.setattr(tuners, "_tune_timed", fake_tune)
    monkeypatch.setattr(tuners, "check_supported", fake_check)
    work = tmp_path / "heron-cga"
    kwargs = dict(target=None, work_dir=work, trials_per_round=4, seed=0)
    first = tuners.tune_case("w", tuners.HERON, trials=4, **kwargs)
    assert calls == [("heron", 4)] and first.trials == 4 and first.failed == 1
    assert first.search_s == pytest.approx(0.25) and first.resumed is False
    again = tuners.tune_case("w", tuners.HERON, trials=4, **kwargs)
    assert calls == [("heron", 4)] and again.resumed is True
    more = tuners.tune_case("w", tuners.HERON, trials=6, **kwargs)
    assert calls[-1] == ("heron", 2) and more.trials == 6 and more.tuning_s == 2.0
    supported["heron"] = False  # the case is now tuned in the default space, from scratch
    other = tuners.tune_case("w", tuners.HERON, trials=6, **kwargs)
    assert calls[-1] == ("default", 6) and other.space == "default" and other.space_note
    assert (tmp_path / "heron-cga.heron-space" / records.RECORD_FILE).exists()
    na = tuners.tune_case("unsupported", tuners.EVOLUTIONARY, trials=2,
                          **{**kwargs, "work_dir": tmp_path / "evo"})
    assert na.status is Status.NA and "no such dtype" in na.reason


# -- writers on fake results --------------------------------------------------------------------
def _cand(median, *, noisy=0, status="ok", pct=10.0):
    rounds = [median * 0.9, median, median * 1.1]
    return {"status": status, "reason": None, "impl": "fake", "correct": True, "max_abs_error": 0.0,
            "rounds_s": rounds, "noise": ["quiet"] * 3, "other_share": [0.0, 0.01, None],
            "number": 10, "min_s": min(rounds), "median_s": median, "noisy_rounds": noisy,
            "gops": 1.0 / median, "pct_peak": pct, "gops_min": 1.1 / median,
            "pct_peak_min": 1.1 * pct}


def _tuner(space="heron"):
    return {"status": "ok", "reason": None, "strategy": "s", "space": space, "space_note": None,
            "trials": 8, "failed": 2, "failed_share": 0.25, "tuning_s": 10.0, "build_s": 5.0,
            "run_s": 3.0, "search_s": 2.0, "strategy_s": 1.0, "resumed": False, "work_dir": "w"}


def fake_results_json() -> dict:
    ok = {"id": "gemm.A-int8", "case": "gemm.A", "op": "gemm", "shape": [64, 64, 64],
          "dtype": "int8", "flops": 524288, "status": "ok", "reason": None,
          "tuners": {"heron-cga": _tuner(), "evolutionary": _tuner("default")},
          "candidates": {"heron-cga": _cand(1e-3), "evolutionary": _cand(2e-3, noisy=1, pct=40.0),
                         "vendor": _cand(0.5e-3)},
          "speedup": {"vs_evolutionary": 2.0, "vs_vendor": 0.5}}
    na = {"id": "c9d.X-int8", "case": "c9d.X", "op": "c9d", "shape": [1], "dtype": "int8",
          "flops": None, "status": "n/a", "reason": "unknown operator 'c9d'",
          "tuners": {}, "candidates": {}, "speedup": {}}
    fp = {**ok, "id": "gemm.A-float32", "dtype": "float32",
          "candidates": {**ok["candidates"], "vendor": {"status": "n/a", "reason": "no torch"}},
          "speedup": {"vs_evolutionary": 1.5, "vs_vendor": None}}
    return {"schema": report.SCHEMA, "profile": "fake", "wall_s": 12.0,
            "settings": {"trials": 8, "trials_per_round": 8, "rounds": 3, "batch_seconds": 0.1,
                         "seed": 0, "noise_threshold": 0.2, "noise_attempts": 3,
                         "ms_vnni_patched": True, "target": "llvm"},
            "machine": {"cpu": "Fake CPU", "cores_used": 2, "cpus_online": 2,
                        "flags": ["avx512_vnni"]},
            "versions": {"tvm": "0"},
            "peaks": {"threads": 2, "gops": {"int8": 900.0, "float32": None},
                      "isa": {"int8": "avx512_vnni", "float32": None},
                      "reasons": {"float32": "no compiler"}, "cpu": "Fake CPU",
                      "noise": "noisy", "other_share": 0.3},
            "cases": [ok, na, fp]}


def fake_results() -> SuiteResults:
    return SuiteResults.from_json(fake_results_json())


def test_csv_has_a_row_per_case_and_candidate(tmp_path):
    report.write_csv(fake_results(), tmp_path / "r.csv")
    with open(tmp_path / "r.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == report.CSV_COLUMNS
    assert len(rows) == 3 * len(report.CANDIDATES)
    heron, evo, vendor = rows[:3]
    assert (heron["candidate"], heron["trials"]) == ("heron-cga", "8")
    assert heron["failed_share"] == "0.25"
    assert [float(x) for x in heron["rounds_ms"].split(";")] == pytest.approx([0.9, 1.0, 1.1])
    assert evo["speedup"] == "2.0" and vendor["speedup"] == "0.5" and heron["speedup"] == ""
    assert rows[3]["status"] == "n/a" and "c9d" in rows[3]["reason"]


def test_markdown_report_tables(tmp_path):
    report.write_markdown(fake_results(), tmp_path / "REPORT.md")
    text = (tmp_path / "REPORT.md").read_text()
    assert "## int8" in text and "## float32" in text and "Fake CPU" in text
    assert "measured int8 peak: 900.0 GOP/s" in text and "float32 peak: n/a (no compiler)" in text
    assert "the peaks were measured while other processes used 30%" in text
    int8 = report.speed_table(fake_results(), "int8")
    assert int8[0].startswith("| case | heron-cga ms | evolutionary ms | vendor ms |")
    assert "| 1.0000 | 2.0000* | 0.5000 |" in int8[2]
    assert "n/a" in int8[3]  # the unsupported case
    assert int8[-1].startswith("| **geomean**") and "**2.00x**" in int8[-1]
    # evolutionary at 40% of peak: a kernel at the peak would be 2.5x faster than it
    assert "| 10.0 | 40.0 | 2.00x | 0.50x | 2.50x |" in int8[2]
    assert int8[-1].endswith("| **2.50x** |")
    assert "**Where tvm-heron loses:** gemm.A (int8): 0.50x vs vendor." in text
    assert "| gemm.A | int8 | heron-cga | heron | 8 | 25% | 10.0 | 2.0 | 5.0 | 3.0 | 1.0 |" in text


def test_json_round_trip_and_charts(tmp_path):
    from tvm_heron.bench import plots

    results = fake_results()
    report.write_json(results, tmp_path / "results.json")
    assert report.read_json(tmp_path / "results.json") == results
    paths = plots.plot_all(results, tmp_path)
    assert [p.name for p in paths] == ["speedup_int8.png", "speedup_float32.png"]
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths)


def test_plain_python_modules_do_not_import_tvm():
    """noise, timing, peak, profiles, records, figures, results, report, plots, vendor: no TVM."""
    script = textwrap.dedent(f"""
        import sys, types
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "tvm" or name.startswith("tvm."):
                    raise ImportError("tvm is blocked")
        sys.meta_path.insert(0, Block())
        pkg = types.ModuleType("tvm_heron")  # the real __init__ imports TVM on purpose
        pkg.__path__ = [{str(ROOT / "tvm_heron")!r}]
        sys.modules["tvm_heron"] = pkg
        from tvm_heron.bench import (figures, machine, noise, peak, plots, profiles, records,
                                     report, results, timing, vendor)
        assert not any(m == "tvm" or m.startswith("tvm.") for m in sys.modules)
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# -- the vendor baseline against the project's references ------------------------------------
VENDOR_CASES = [
    ("gemm", (32, 64, 48)), ("bmm", (2, 16, 32, 16)), ("gemv", (64, 32)), ("scan", (8, 32, 16)),
    ("c1d", (1, 20, 16, 32, 3, 1, 1, 2)), ("c2d", (1, 9, 9, 16, 32, 3, 3, 2, 1, 1)),
    ("dil", (1, 9, 9, 16, 16, 3, 3, 1, 2, 2)), ("c3d", (1, 4, 6, 6, 16, 16, 3, 3, 3, 1, 1, 1)),
    ("t2d", (1, 5, 5, 16, 32, 3, 3, 2, 1, 1, 1)),
    ("t2d", (1, 5, 5, 16, 32, 3, 3, 2, 1, 1, 0)),  # int8: onednn computes it wrongly, fbgemm runs
]


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("op,shape", VENDOR_CASES)
def test_vendor_matches_the_reference(op, shape, dtype):
    pytest.importorskip("torch")
    from tvm_heron.bench.vendor import Unavailable, vendor_baseline
    from tvm_heron.errors import HeronError
    from tvm_heron.ops import make_workload

    try:
        workload = make_workload(op, shape, dtype)
    except HeronError as err:
        pytest.skip(f"{op} is not defined here: {err}")
    _, logical = workload.make_inputs(np.random.default_rng(1))
    vendor = vendor_baseline(workload, logical, threads=1)
    if isinstance(vendor, Unavailable):
        # Without VNNI, PyTorch 2.13's int8 kernels saturate on full-range u8 data (seen on
        # AVX2 for _int_mm and every engine's convolutions): reported, never required.
        assert dtype == "int8" and HOST_ISA.name != "avx512_vnni", vendor
        assert "computes it correctly" in vendor.reason and "wrong output" in vendor.reason
        return
    correct, error = vendor.check(workload, logical)
    assert correct, (vendor.impl, error)


def test_every_vendor_path_is_checked_and_marked():
    """Each PyTorch path of an int8 GEMM is run on the test data and marked correct or not."""
    pytest.importorskip("torch")
    from tvm_heron.bench.vendor import vendor_paths
    from tvm_heron.ops import make_workload

    workload = make_workload("gemm", (32, 64, 48), "int8")
    _, logical = workload.make_inputs(np.random.default_rng(1))
    paths = vendor_paths(workload, logical, threads=1)
    names = [p.name for p in paths]
    assert names[0] == "torch._int_mm" and any(n.startswith("quantized.linear") for n in names)
    for path in paths:
        assert path.correct is not None or path.call is None
        if path.correct is False:
            assert "wrong output" in path.reason and path.max_abs_error > 0
    seven_bit = make_workload("gemm", (32, 64, 48), "int8", int8_range="u7")
    _, logical = seven_bit.make_inputs(np.random.default_rng(1))
    assert logical[0].max() < 128  # 7-bit data: every path, saturating or not, is exact on it
    assert all(p.correct for p in vendor_paths(seven_bit, logical, threads=1) if p.call is not None)


def test_vendor_reports_what_it_cannot_do():
    pytest.importorskip("torch")
    from types import SimpleNamespace

    from tvm_heron.bench.vendor import Unavailable, vendor_baseline

    odd = SimpleNamespace(op="fft", dtype="float32", epilogue="none", shape=(4,))
    assert "fft" in vendor_baseline(odd, (), threads=1).reason
    fused = SimpleNamespace(op="gemm", dtype="int8", epilogue="requant", shape=(4, 4, 4))
    assert isinstance(vendor_baseline(fused, (), threads=1), Unavailable)


# -- end to end ---------------------------------------------------------------------------------
def check_outputs(out: Path, case_ids: list[str], dtypes: list[str]) -> dict:
    """Assert the structure of every output of a suite run; returns results.json."""
    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == report.SCHEMA
    assert SuiteResults.from_json(results).to_json() == results
    for key in ("profile", "settings", "machine", "peaks", "versions", "wall_s", "cases"):
        assert key in results
    assert set(results["peaks"]["gops"]) == {"int8", "float32"}
    assert [c["id"] for c in results["cases"]] == case_ids
    for case in results["cases"]:
        assert case["status"] == "ok", case["reason"]
        seeds = results["settings"]["seeds"]
        runs = {f"{t}@{results['settings']['seed'] + k}" for t in report.TUNER_NAMES
                for k in range(seeds)} if seeds > 1 else set()
        assert set(case["tuners"]) == {"heron-cga", "evolutionary"} | runs
        for tuner in case["tuners"].values():
            assert tuner["status"] == "ok" and tuner["trials"] >= 1
            assert 0.0 <= tuner["failed_share"] <= 1.0
            for key in ("tuning_s", "search_s", "build_s", "run_s"):
                assert tuner[key] >= 0.0
        assert set(case["candidates"]) == set(report.CANDIDATES) | runs
        for name in ("heron-cga", "evolutionary", *runs):
            cand = case["candidates"][name]
            assert cand["status"] == "ok" and cand["correct"] is True
            if name in runs or seeds == 1:
                assert len(cand["rounds_s"]) == results["settings"]["rounds"]
            else:
                assert len(cand["seed_median_s"]) == seeds
            assert cand["min_s"] <= cand["median_s"] and cand["gops"] > 0
            assert set(cand.get("noise", [])) <= {"quiet", "noisy", "unknown"}
        assert set(case["speedup"]) == {"vs_evolutionary", "vs_vendor"}
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == report.CSV_COLUMNS and len(rows) == 3 * len(case_ids)
    text = (out / "REPORT.md").read_text()
    for dtype in dtypes:
        assert f"## {dtype}" in text
        assert (out / f"speedup_{dtype}.png").read_bytes()[:8] == PNG_MAGIC
    assert "| case | heron-cga ms | evolutionary ms | vendor ms |" in text
    assert "| **geomean** |" in text and "Where tvm-heron loses" in text
    assert json.loads((out / "peak.json").read_text())["threads"] >= 1
    return results


@pytest.mark.slow
def test_pipeline_end_to_end_with_eight_trials(tmp_path, monkeypatch):
    """The whole pipeline on int8 GEMM 32^3, 8 trials per tuner; a second run resumes.

    8 trials, not fewer: a third or more of the candidates of MetaSchedule's own
    VNNI space fail to build, and a run in which all of them fail has no kernel.
    """
    from tvm_heron.bench.suite import run_suite, vendor_environment

    for name, value in vendor_environment(HOST_ISA).items():  # as benchmarks/suite.py does
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    case = profiles.Case("gemm.T32", "gemm", (32, 32, 32), "int8")
    profile = profiles.Profile(name="tiny", cases=(case,), trials=8, trials_per_round=8, rounds=2,
                               batch_seconds=0.02)
    run_suite(profile, tmp_path, seed=1)
    first = check_outputs(tmp_path, ["gemm.T32-int8"], ["int8"])
    vnni = HOST_ISA.name == "avx512_vnni"  # MetaSchedule's VNNI rule applies there only
    assert first["settings"]["ms_vnni_patched"] is vnni
    assert first["settings"]["vendor_isa"] == HOST_ISA.onednn_isa  # same ISA as our kernels
    assert first["settings"]["instruction_set"] == HOST_ISA.name
    assert first["path_peaks"]["int8"]["intrinsic"] == HOST_ISA.intrinsics_for("int8")[0].name
    measured = peak.Peaks.from_json(json.loads((tmp_path / "peak.json").read_text()))
    run_suite(profile, tmp_path, seed=1, peaks=measured)  # a noisy peak would be measured again
    second = check_outputs(tmp_path, ["gemm.T32-int8"], ["int8"])
    tuners = second["cases"][0]["tuners"]
    assert all(t["resumed"] for t in tuners.values())
    assert [t["trials"] for t in tuners.values()] == [8, 8]
    # Two seeds: the first run is the one above (resumed), the second is tuned now.
    run_suite(profile, tmp_path, seed=1, seeds=2, peaks=measured)
    third = check_outputs(tmp_path, ["gemm.T32-int8"], ["int8"])
    case = third["cases"][0]
    assert case["tuners"]["heron-cga@1"]["resumed"]
    assert not case["tuners"]["heron-cga@2"]["resumed"]
    assert (tmp_path / "work" / "gemm.T32-int8" / "evolutionary@2").is_dir()
    assert case["tuners"]["heron-cga"]["trials"] == 16 and case["tuners"]["heron-cga"]["runs"] == 2
    merged = case["candidates"]["heron-cga"]
    assert merged["seeds"] == [1, 2] and merged["status"] == "ok"
    assert sorted(merged["seed_median_s"]) == sorted(
        case["candidates"][k]["median_s"] for k in ("heron-cga@1", "heron-cga@2"))
    assert "2 tuning runs per tuner" in (tmp_path / "REPORT.md").read_text()
    # the suite gave MetaSchedule's intrinsic name back to TVM's implementation
    import tvm
    from tvm.s_tir import TensorIntrin
    from tvm.s_tir.tensor_intrin import x86

    restored = TensorIntrin.get("dot_16x4_vnni").impl
    tvm.ir.assert_structural_equal(restored, x86.dot_product_16x4_u8i8i32_vnni)


@pytest.mark.slow
def test_smoke_profile_end_to_end(tmp_path):
    """``benchmarks/suite.py --profile smoke`` writes every output (in CI: about 2 minutes)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "suite.py"), "--profile", "smoke", "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    check_outputs(tmp_path, ["gemm.S64-int8", "gemm.S64-float32"], ["int8", "float32"])
    assert "REPORT.md" in done.stdout


def test_seed_runs_keep_the_one_seed_directory_for_the_first_run():
    from tvm_heron.bench.suite import seed_runs

    assert seed_runs("heron-cga", 3, 1) == [("heron-cga", "heron-cga", 3)]
    assert seed_runs("heron-cga", 3, 3) == [
        ("heron-cga@3", "heron-cga", 3), ("heron-cga@4", "heron-cga@4", 4),
        ("heron-cga@5", "heron-cga@5", 5)]


def test_merge_seeds_takes_the_median_of_the_seeds_medians():
    merge_seeds = figures.merge_seeds

    def cand(median, least, error=0.0):
        return Candidate(impl="heron-cga in the heron space", status=Status.OK, correct=True,
                         max_abs_error=error, median_s=median, min_s=least, noisy_rounds=1)

    merged = merge_seeds([cand(3.0, 2.5), cand(1.0, 0.9, error=2.0), cand(2.0, 1.5)], [0, 1, 2])
    assert merged.median_s == 2.0 and merged.min_s == 0.9
    assert merged.seed_median_s == (3.0, 1.0, 2.0) and merged.seeds == (0, 1, 2)
    assert merged.status is Status.OK and merged.correct and merged.max_abs_error == 2.0
    assert merged.noisy_rounds == 3
    # a wrong kernel on one seed marks the tuner; the timed seeds still give figures
    wrong = Candidate(impl="x", status=Status.WRONG, reason="its output differs", correct=False,
                      max_abs_error=9.0)
    merged = merge_seeds([cand(4.0, 3.0), wrong], [0, 1])
    assert merged.status is Status.WRONG and merged.reason == "its output differs"
    assert merged.median_s == 4.0 and merged.correct is False


def test_merge_tuner_figures_sums_counts_and_seconds():
    merge_tuner_figures = figures.merge_tuner_figures

    runs = [TuningRun(status=Status.OK, space="heron", trials=64, failed=0, tuning_s=10.0,
                      build_s=4.0, run_s=5.0, search_s=1.0, strategy_s=0.5, resumed=True),
            TuningRun(status=Status.OK, space="heron", trials=64, failed=16, tuning_s=20.0,
                      build_s=8.0, run_s=10.0, search_s=2.0, strategy_s=None, resumed=False)]
    merged = merge_tuner_figures(runs)
    assert merged.trials == 128 and merged.failed == 16 and merged.failed_share == 0.125
    assert merged.tuning_s == 30.0 and merged.strategy_s is None
    assert merged.runs == 2 and merged.resumed is False and merged.space == "heron"


def test_tensorcore_validity_cases_cover_both_transposed_conv_forms():
    """The first case of every operator, plus the first strided transposed conv (phase-wise)."""
    assert [name for name, _, _ in profiles.tensorcore_cases(["t2d"])] == ["t2d.T1", "t2d.T2"]
    cases = profiles.tensorcore_cases()
    assert len(cases) == 10 and len({op for _, op, _ in cases}) == 9


def test_bound_table_and_ceiling_script(tmp_path):
    """The launch-aware ceiling: per case and geomean; the script with a given launch cost."""
    lines = report.bound_table(fake_results(), "int8", 1e-6)
    # 524288 ops at 900 GOP/s: 1.165 us on one core beats 1 us + 0.583 us on two
    assert lines[2].startswith("| gemm.A | 2.0000 | 0.0012 |")
    ceiling = 2e-3 / (524288 * 2 / 900e9)
    assert lines[-1] == f"| **geomean** | | | **{ceiling:.2f}x** |"
    assert report.bound_table(fake_results(), "float32", 1e-6)[-1].endswith("**n/a** |")
    text = report.ceiling_report(fake_results(), 1e-6, "given")
    assert text.startswith("Launch cost of a parallel loop: 1.00 us (given).")
    assert "## int8" in text and "\n".join(lines) in text
    # the script's command line, as runpy runs it (a process's start is tested elsewhere)
    report.write_json(fake_results(), tmp_path / "results.json")
    script = str(ROOT / "benchmarks" / "ceiling.py")
    argv = [script, str(tmp_path / "results.json"), "--launch-us", "1", "--out", str(tmp_path / "c.md")]
    with mock.patch.object(sys, "argv", argv):
        runpy.run_path(script, run_name="__main__")
    assert (tmp_path / "c.md").read_text() == text


def test_launch_floor_is_measured():
    from tvm_heron.bench.launch import launch_floor_s
    from tvm_heron.target import host_target

    floor = launch_floor_s(host_target(), threads=2, calls=100, repeats=2)
    # a duration, not a target: 2 ms on a 2-vCPU host while the rest of the suite ran
    assert 0 < floor < 1.0


def test_path_peak_of_the_host_and_a_cross_built_set():
    """The micro-kernel of the host's int8 intrinsic runs; an aarch64 path says why it did not."""
    from helpers import HOST_ISA

    from tvm_heron import isa
    from tvm_heron.bench.path_peak import measure_path

    intrinsic = HOST_ISA.intrinsics_for("int8")[0]
    peak = measure_path(HOST_ISA, intrinsic, 1, repeat=1)
    assert peak.gops > 1 and peak.reason is None and 1 <= peak.rows <= min(HOST_ISA.max_accumulators(intrinsic), 24)
    neon = isa.by_name("neon_i8mm")
    skipped = measure_path(neon, neon.intrinsics[0], 1)
    assert skipped.gops is None and "not run here" in skipped.reason


@pytest.mark.parametrize("name", ["avx2", "neon_dot"])
def test_asm_validity_counts_the_instruction(name):
    """Built for a CPU the host may lack: Heron's points all hold the description's instruction."""
    from tvm_heron import isa
    from tvm_heron.bench.asm_validity import count
    from tvm_heron.ops import make_workload

    workload = make_workload("gemm", (32, 32, 32), "int8")
    heron = count(workload, isa.by_name(name), "heron", 3)
    assert (heron.drawn, heron.postprocessed, heron.built, heron.with_instruction) == (3, 3, 3, 3)
    meta = count(workload, isa.by_name(name), "metaschedule", 2)
    assert meta.drawn == 2 and meta.built <= meta.postprocessed <= 2


def test_database_cost_benchmark_runs(tmp_path):
    """benchmarks/db_cost.py's measurement on a small database (the figure itself is the benchmark's)."""
    from helpers import HOST

    from tvm_heron.bench.db_cost import measure

    cost = measure(tmp_path, HOST, records=200)
    assert cost.records == 200 and 0 < cost.commit_s < cost.read_s + 1 and cost.per_trial_s > 0
