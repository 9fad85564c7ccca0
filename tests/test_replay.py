"""The replay benchmark: tables, the replay builder and runner, metrics, the report.

Runs against the committed tiny table (``benchmarks/replay_tables/tiny_gemm_int8.json``,
48 points measured on a znver5) and a tiny table built here with made-up
latencies; nothing is built or timed, so it holds on any x86 host.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from tvm.s_tir import meta_schedule as ms

import tvm_heron  # noqa: F401  (registers the strategies)
from tvm_heron.bench import replay_metrics as metrics
from tvm_heron.bench.replay import MISS_ERROR, ReplayBuilder, ReplayLog, ReplayRunner, replay_run
from tvm_heron.bench.replay_report import STRATEGIES, ReplayConfig, report, run_tables
from tvm_heron.bench.replay_table import NoiseModel, ReplayTable, TablePoint, TableSpec
from tvm_heron.bench.replay_tables import (
    STANDARD_TABLES, SyntheticLatency, build_table, enumerate_points, open_task, space_generator,
)
from tvm_heron.tuning import foreign_log_handlers_detached

TINY = Path(__file__).resolve().parents[1] / "benchmarks" / "replay_tables" / "tiny_gemm_int8.json"
#: Small options so that a round costs milliseconds.
SMALL = {
    "heron-cga": {"population_size": 24, "n_select": 12, "generations": 1, "top_k": 4},
    "heron-ga": {"population_size": 24, "n_select": 12, "generations": 1, "top_k": 4},
    "heron-sa": {"population_size": 24, "n_chains": 4, "steps": 4, "top_k": 4},
    "evolutionary": {"population_size": 32, "init_min_unmeasured": 8},
}


@pytest.fixture(scope="module")
def tiny():
    table = ReplayTable.load(TINY)
    return table, open_task(table.spec)


def _tiny_spec(name="tiny") -> TableSpec:
    fields = dict(STANDARD_TABLES["tiny_gemm_int8"])
    return TableSpec(name=name, target={"kind": "llvm", "mcpu": "znver5", "num-cores": 2}, **fields)


# -- tables --------------------------------------------------------------------------------------
def test_point_needs_a_latency_or_an_error():
    with pytest.raises(ValueError, match="latency or an error"):
        TablePoint(0, [(3, [1, 2])], "00", None, None)
    with pytest.raises(ValueError, match="error must be"):
        TablePoint(0, [(3, [1, 2])], "00", None, "segfault")
    point = TablePoint(0, [(3, [1, 2]), (5, 1)], "00ff", 1e-6, None, False)
    assert TablePoint.from_json(json.loads(json.dumps(point.to_json()))) == point


def test_committed_tiny_table_is_whole(tiny):
    table, task = tiny
    assert len(table.points) == 48 <= 64 and table.rejected == 0
    assert table.machine["isa"] and table.machine["cpu"] and table.noise.samples
    # Every structural point of the spec's spaces is in the table, by program.
    programs = {item.program for item in enumerate_points(task)}
    assert programs == {p.program for p in table.points}
    assert 0 < table.optimum_s <= table.model_optimum_s < math.inf


def test_build_is_resumable_and_a_crash_is_a_run_error(tmp_path):
    spec = _tiny_spec()
    out = tmp_path / "tiny.json"
    first = next(enumerate_points(open_task(spec)))
    # A build that died while measuring ``first``: a start line and no result.
    partial = tmp_path / "tiny.json.partial.jsonl"
    partial.write_text(json.dumps({"program": first.program, "start": True}) + "\n")
    table = build_table(spec, out, measure=SyntheticLatency(seed=1), noise_sample=4, noise_repeats=2)
    assert not partial.exists() and out.exists()
    assert table.lookup(first.program).error == "run-error"
    assert sum(p.latency_s is None for p in table.points) == 1
    again = ReplayTable.load(out)
    assert again == table and again.spec == spec and len(again.noise.samples) == 4


class _OneFastReading(SyntheticLatency):
    """Synthetic latencies, except that the first reading of each of ``flukes`` is 4x too fast."""

    def __init__(self, flukes: int) -> None:
        super().__init__(seed=1)
        self.flukes, self.seen = flukes, set()

    def __call__(self, item):
        result = super().__call__(item)
        first = item.program not in self.seen
        self.seen.add(item.program)
        if first and len(self.seen) <= self.flukes:
            return type(result)(result.latency_s / 4)
        return result


def test_a_fast_fluke_is_not_the_optimum(tmp_path):
    # Stop 28 found the committed conv2d table's optimum 3.7x too fast when measured again:
    # the fastest programs are measured again and take their median.
    spec = _tiny_spec()
    truth = build_table(spec, tmp_path / "truth.json", measure=SyntheticLatency(seed=1), noise_sample=0,
                        confirm=0)
    fluky = build_table(spec, tmp_path / "fluky.json", measure=_OneFastReading(flukes=3), noise_sample=0,
                        confirm=0)
    assert fluky.optimum_s < truth.optimum_s / 3  # unconfirmed, a fluke is the optimum
    confirmed = build_table(spec, tmp_path / "confirmed.json", measure=_OneFastReading(flukes=3),
                            noise_sample=0, confirm=2, confirm_repeats=3)
    assert confirmed.optimum_s == pytest.approx(truth.optimum_s)
    record = confirmed.confirmation
    assert record["count"] == 2 and record["repeats"] == 3
    # Every fluke faster than the true second fastest was confirmed and fell back, one after
    # another, and then the true two fastest were confirmed.
    fastest = sorted(truth.points, key=lambda p: p.latency_s)[:2]
    flukes = {p.program for p in fluky.points if p.latency_s < truth.lookup(p.program).latency_s}
    seen = {p for p in flukes if fluky.lookup(p).latency_s < fastest[1].latency_s}
    assert len(flukes) == 3 and seen
    assert set(record["programs"]) == seen | {p.program for p in fastest}
    assert all(len(v) == 4 for v in record["programs"].values())
    assert ReplayTable.load(tmp_path / "confirmed.json").confirmation == record


def test_noise_model_is_seeded():
    noise = NoiseModel([("a", [1.0, 1.1, 0.9]), ("b", [2.0, 2.0, 2.2])])
    assert 0.05 < noise.relative_sd < 0.11
    draws = [noise.perturb(1.0, np.random.default_rng(3)) for _ in range(2)]
    assert draws[0] == draws[1] != 1.0


# -- the replay builder and runner ---------------------------------------------------------------
def test_builder_and_runner_answer_from_the_table_inside_tune_tir(tmp_path, tiny):
    table, task = tiny
    log = ReplayLog()
    strategy = tvm_heron.strategies.registry.create("heron-crand", seed=2)
    with foreign_log_handlers_detached():
        database = ms.tune_tir(
            task.mod, task.target, str(tmp_path), 8, num_trials_per_iter=4,
            space=space_generator(table.spec, task.target),
            strategy=strategy, builder=ReplayBuilder(table, log), runner=ReplayRunner(table, log),
            database=ms.database.MemoryDatabase(), cost_model="random",
            measure_callbacks=[ms.measure_callback.AddToDatabase()],
        )
    records = database.get_all_tuning_records()
    assert len(records) == 8 and log.hits == 8 and log.misses == 0
    measured = sorted(float(r.run_secs[0]) for r in records)
    assert all(any(math.isclose(m, p.latency_s) for p in table.points) for m in measured)


def test_a_program_not_in_the_table_is_a_counted_miss(tiny):
    table, task = tiny
    log = ReplayLog()
    other = ReplayTable(spec=table.spec, points=table.points[:1])
    results = ReplayBuilder(other, log).build([ms.builder.BuilderInput(task.mod, task.target)])
    assert results[0].error_msg == MISS_ERROR and log.misses == 1


@pytest.mark.parametrize("name", ["heron-cga", "evolutionary"])
def test_replay_is_deterministic_for_a_seed_and_lands_on_the_table(tiny, name):
    table, task = tiny
    runs = [replay_run(table, name, seed=seed, trials=16, per_iter=4, options=SMALL.get(name), task=task)
            for seed in (5, 5, 6)]
    assert runs[0].latencies == runs[1].latencies and runs[0].rank == runs[1].rank
    assert all(r.misses == 0 for r in runs)
    assert len(runs[0].latencies) == sum(runs[0].batches) > 0


# -- metrics -------------------------------------------------------------------------------------
def test_fraction_curve_and_censored_trials():
    curve = metrics.fraction_curve([None, 4.0, 2.0, 1.0], optimum_s=1.0, budget=6)
    assert curve.tolist() == [0.0, 0.25, 0.5, 1.0, 1.0, 1.0]
    assert metrics.trials_to(curve, 0.95) == (4, False)
    assert metrics.trials_to(curve[:3], 0.95) == (3, True)
    summary = metrics.trials_summary(np.stack([curve, np.zeros(6)]), 0.95)
    assert summary["censored"] == 1 and summary["median"] == 5.0


def test_rank_correlation():
    assert metrics.rank_correlation([3, 2, 1], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert metrics.rank_correlation([1, 2, 3], [1.0, 2.0, 3.0]) == pytest.approx(-1.0)
    assert metrics.rank_correlation([1, 1, 1], [1.0, 2.0, 3.0]) is None
    # No score: left out; a failure: throughput 0, ranked last.
    assert metrics.rank_correlation([None, 2, 1, 0], [1.0, 1.0, 2.0, None]) == pytest.approx(1.0)
    assert metrics.rank_correlation([None, 2, 1], [1.0, 1.0, 2.0]) is None  # two pairs left


def test_wilcoxon_normal_approximation_matches_scipy(monkeypatch):
    rng = np.random.default_rng(0)
    x, y = rng.normal(1.0, 1.0, 40), rng.normal(0.0, 1.0, 40)
    exact = metrics.wilcoxon(x, y)
    monkeypatch.setitem(sys.modules, "scipy", None)
    approx = metrics.wilcoxon(x, y)
    assert approx["method"] == "normal approximation"
    assert approx["statistic"] == pytest.approx(exact["statistic"])
    if exact["method"].startswith("scipy"):
        assert approx["p_value"] == pytest.approx(exact["p_value"], rel=0.2)


# -- the report ----------------------------------------------------------------------------------
def test_report_has_the_issue_schema(tiny, tmp_path):
    table, _ = tiny
    config = ReplayConfig(seeds=(0,), trials=64, per_iter=8, options=SMALL)
    runs = run_tables([str(TINY)], config)
    out = json.loads(json.dumps(report({str(TINY): table}, runs, config)))
    entry = out["tables"]["tiny_gemm_int8"]
    assert entry["optimum_s"] == table.optimum_s
    assert set(entry["strategies"]) == set(STRATEGIES)
    for summary in entry["strategies"].values():
        assert set(summary["trials_to_95"]) == {"median", "q1", "q3", "censored"}
        assert {"16", "32", "64"} <= set(summary["fraction_at"])
        assert all(0.0 <= f <= 1.0 for f in summary["fraction_at"].values())
    assert set(entry["tests"]) == {f"heron-cga vs {n}" for n in STRATEGIES if n != "heron-cga"}
    assert "fraction_at_32 >= 0.95" in entry["targets"]
    pytest.importorskip("matplotlib")
    from tvm_heron.bench.replay_plots import convergence_plot

    png = convergence_plot(table, runs[str(TINY)], 64, tmp_path / "c.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_the_script_writes_the_report(tmp_path, capsys):
    import runpy

    script = runpy.run_path(str(TINY.parents[1] / "replay.py"))
    out = tmp_path / "replay.json"
    script["replay_main"]([
        "--seeds", "1", "--json", str(out), "--tables", str(TINY), "--trials", "16", "--per-iter", "8",
        "--strategies", "heron-cga", "heron-crand", "heron-cga@heron",
        "--options", json.dumps({"heron-cga": SMALL["heron-cga"],
                                 "heron-cga@heron": {**SMALL["heron-cga"], "features": "raw"}}),
        "--runs-json", str(tmp_path / "runs.json"),
    ])
    report_ = json.loads(out.read_text())
    assert set(report_["tables"]["tiny_gemm_int8"]["strategies"]) == {"heron-cga", "heron-crand", "heron-cga@heron"}
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert len(runs["tiny_gemm_int8"]["heron-crand"][0]["latencies"]) <= 16
    assert "tiny_gemm_int8" in capsys.readouterr().out


def test_report_merges_invocations_and_pairs_by_common_seeds(tmp_path, capsys):
    """A costly strategy run with fewer seeds: one report, the paired test over the seeds both ran."""
    import runpy

    script = runpy.run_path(str(TINY.parents[1] / "replay.py"))
    common = ["--tables", str(TINY), "--trials", "16", "--per-iter", "8",
              "--options", json.dumps({"heron-cga": SMALL["heron-cga"]})]
    script["replay_main"](["--seeds", "2", "--json", str(tmp_path / "a.json"), "--strategies", "heron-cga",
                           "--runs-json", str(tmp_path / "a_runs.json"), *common])
    script["replay_main"](["--seeds", "1", "--first-seed", "1", "--json", str(tmp_path / "b.json"),
                           "--strategies", "heron-crand", "--runs-json", str(tmp_path / "b_runs.json"), *common])
    out = tmp_path / "merged.json"
    script["report_main"]([str(tmp_path / "a_runs.json"), str(tmp_path / "b_runs.json"), "--json", str(out),
                           "--tables", str(TINY), "--trials", "16", "--per-iter", "8"])
    entry = json.loads(out.read_text())["tables"]["tiny_gemm_int8"]
    assert {n: s["runs"] for n, s in entry["strategies"].items()} == {"heron-cga": 2, "heron-crand": 1}
    assert entry["tests"]["heron-cga vs heron-crand"]["pairs"] == 1  # seed 1 only
    # a run that two files give differently is an error, exit 2
    runs = json.loads((tmp_path / "a_runs.json").read_text())
    runs["tiny_gemm_int8"]["heron-cga"][0]["latencies"][0] = 1.0
    (tmp_path / "bad_runs.json").write_text(json.dumps(runs))
    with pytest.raises(SystemExit) as done:
        script["report_main"]([str(tmp_path / "a_runs.json"), str(tmp_path / "bad_runs.json"),
                               "--json", str(out), "--tables", str(TINY), "--trials", "16"])
    assert done.value.code == 2 and "two files disagree" in capsys.readouterr().err


def test_ablation_variants_start_from_the_base_options():
    from tvm_heron.bench.replay_report import ABLATIONS, with_ablations

    names, options = with_ablations(["heron-cga", "heron-crand"], {"heron-cga": SMALL["heron-cga"]})
    assert names[:2] == ("heron-cga", "heron-crand") and len(names) == 2 + len(ABLATIONS)
    assert options["heron-cga@raw"] == {**SMALL["heron-cga"], "features": "raw"}
    tvm_heron.strategies.registry.create("heron-cga", **options["heron-cga@heron"])  # valid options


def _unroll_candidates(spec) -> list:
    return [[int(c) for c in inst.attrs[0]] for space in open_task(spec).spaces
            for inst in space.trace.insts if inst.kind.name == "SampleCategorical"]


def test_a_metaschedule_table_can_narrow_the_unroll_choices():
    # MetaSchedule's default 64 and 512 unroll steps take 10-120 s a program to compile on a
    # dense 1x512x512: a table's spec narrows them and keeps every other default rule.
    fields = {"name": "ms", "op": "gemm", "shape": (1, 16, 16), "dtype": "float32", "layout": "plain",
              "generator": "metaschedule", "target": {"kind": "llvm", "mcpu": "znver5", "num-cores": 2}}
    default = _unroll_candidates(TableSpec(**fields))
    narrowed = _unroll_candidates(TableSpec(**fields, rule_options={"unroll_max_steps": [0, 16]}))
    assert default and all(c == [0, 16, 64, 512] for c in default)
    assert len(narrowed) == len(default) and all(c == [0, 16] for c in narrowed)
    spec = TableSpec(**fields, rule_options={"unroll_max_steps": [0, 16]})
    assert TableSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_the_evolutionary_search_replays_a_metaschedule_table_without_an_unroll_choice(tmp_path):
    # One unroll candidate: MetaSchedule's MutateUnroll fails on it (Check failed:
    # (!weights.empty())), so the table's generator leaves that mutator out.
    spec = TableSpec(name="ms0", op="gemm", shape=(1, 16, 16), dtype="float32", layout="plain",
                     generator="metaschedule", rule_options={"unroll_max_steps": [0]},
                     target={"kind": "llvm", "mcpu": "znver5", "num-cores": 2})
    mutators = space_generator(spec, open_task(spec).target).mutator_probs
    assert mutators and not any(isinstance(m, ms.mutator.MutateUnroll) for m in mutators)
    table = build_table(spec, tmp_path / "ms0.json", measure=SyntheticLatency(seed=2), noise_sample=0)
    run = replay_run(table, "evolutionary", seed=1, trials=16, per_iter=8, options=SMALL["evolutionary"])
    assert len(run.latencies) == 16 and run.misses <= 1
