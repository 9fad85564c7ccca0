"""The typed benchmark results (tvm_heron.bench.results) against the committed results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tvm_heron.bench import report
from tvm_heron.bench.results import (Candidate, CaseResult, PathPeak, Speedup, Status,
                                     SuiteResults, TuningRun)

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
#: Every committed run of the operator suite (the other results are other benchmarks' formats).
SUITE_RUNS = sorted(RESULTS.glob("**/results.json"))
SUITE_RUNS = [p for p in SUITE_RUNS if json.loads(p.read_text()).get("schema") == report.SCHEMA]


def test_a_committed_suite_run_exists():
    assert RESULTS / "suite_small" / "results.json" in SUITE_RUNS


@pytest.mark.parametrize("path", SUITE_RUNS, ids=lambda p: p.parent.name)
def test_committed_results_round_trip(path):
    data = json.loads(path.read_text())
    assert SuiteResults.from_json(data).to_json() == data


@pytest.mark.parametrize("path", SUITE_RUNS, ids=lambda p: p.parent.name)
def test_committed_csv_is_written_again_from_the_typed_results(path, tmp_path):
    """The committed results.csv came from the dict reader; the typed one writes it byte for byte."""
    report.write_csv(report.read_json(path), tmp_path / "results.csv")
    assert (tmp_path / "results.csv").read_text() == path.with_name("results.csv").read_text()


def test_committed_ceiling_is_written_again():
    results = report.read_json(RESULTS / "suite_small" / "results.json")
    text = report.ceiling_report(results, 0.81e-6, "measured now")
    assert text == (RESULTS / "suite_small" / "CEILING.md").read_text()


def test_status_is_its_json_string():
    assert Status("n/a") is Status.NA and json.dumps(Status.WRONG) == '"wrong"'
    assert f"{Status.ERROR}" == "error" and str(Status.OK) == "ok"
    assert {s.value for s in Status} == {"ok", "n/a", "wrong", "error"}


def test_each_form_of_a_candidate_writes_only_its_keys():
    assert Candidate(status=Status.NA, reason="no torch").to_json() == {
        "status": "n/a", "reason": "no torch"}
    checked = Candidate(status="wrong", impl="k", correct=False, max_abs_error=3.0,
                        reason="differs")
    assert checked.to_json() == {"status": "wrong", "reason": "differs", "impl": "k",
                                 "correct": False, "max_abs_error": 3.0}
    # a timed candidate on a machine whose peak is unknown: % of peak written as null
    timed = Candidate(status="ok", min_s=1.0, median_s=2.0, noisy_rounds=0, gops=5.0,
                      gops_min=10.0)
    assert timed.to_json()["pct_peak"] is None and "rounds_s" not in timed.to_json()
    assert timed.timed and not checked.timed


def test_tuning_run_forms():
    error = TuningRun(status=Status.ERROR, reason="RuntimeError: x")
    assert error.to_json() == {"status": "error", "reason": "RuntimeError: x"}
    na = TuningRun(status="n/a", reason="r", strategy="s", space="heron", work_dir="w")
    assert na.to_json() == {"status": "n/a", "reason": "r", "strategy": "s", "space": "heron",
                            "space_note": None, "work_dir": "w"}
    assert TuningRun.from_json(na.to_json()) == na


def test_a_case_that_ended_before_tuning():
    case = CaseResult(id="x-int8", case="x", op="fft", shape=[4], dtype="int8",
                      status=Status.NA, reason="unknown operator")
    data = case.to_json()
    assert data["speedup"] == {} and data["tuners"] == {} and "vendor_paths" not in data
    assert CaseResult.from_json(data) == case
    assert case.candidate("vendor") == Candidate(status=Status.NA, reason="unknown operator")
    assert case.speedup_over("vendor") is None
    assert Speedup(vs_evolutionary=2.0).over("evolutionary") == 2.0


def test_from_json_rejects_unknown_and_missing_keys_and_other_schemas():
    with pytest.raises(ValueError, match="unknown key.*median_ms"):
        Candidate.from_json({"status": "ok", "median_ms": 1.0})
    with pytest.raises(ValueError, match="missing key.*status"):
        TuningRun.from_json({"reason": None})
    with pytest.raises(ValueError, match="no such"):
        Status("no such")
    data = json.loads((RESULTS / "suite_small" / "results.json").read_text())
    with pytest.raises(ValueError, match="schema"):
        SuiteResults.from_json({**data, "schema": "tvm-heron-bench/0"})


def test_path_peak_round_trip():
    peak = PathPeak(isa="avx2", intrinsic="i", dtype="int8", instruction="vpmaddubsw",
                    exact_for="u7", rows=12, cores=2, target_cpu="znver3", gops=None,
                    reason="not run here")
    assert PathPeak.from_json(json.loads(json.dumps(peak.to_json()))) == peak
