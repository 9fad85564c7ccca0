"""Helpers shared by the tests (imported as ``helpers``)."""

from __future__ import annotations

import tvm
from tvm.s_tir import meta_schedule as ms

import tvm_heron  # noqa: F401  (registers the intrinsic and the strategies)
from tvm_heron.ops import make_workload
from tvm_heron.space import analyze, heron_space
from tvm_heron.target import VNNI_FEATURE, has_feature, host_target

HOST = host_target()
HAS_VNNI = has_feature(HOST, VNNI_FEATURE)


def design_spaces(workload, target=HOST):
    """(mod, context, [Schedule]) of Heron's space for ``workload``."""
    mod = tvm.IRModule({"main": workload.func})
    ctx = ms.TuneContext(
        mod=mod, target=target, space_generator=heron_space(target), task_name="main", num_threads=2
    )
    return mod, ctx, list(ctx.generate_design_space())


def space_models(op, shape, dtype="int8", **options):
    """The SpaceModel of each Heron design space of an operator (options: make_workload's)."""
    workload = make_workload(op, shape, dtype, **options)
    mod, ctx, spaces = design_spaces(workload)
    return workload, mod, ctx, [analyze(s, mod, HOST) for s in spaces]


def context(strategy, shape=(64, 64, 64), layout="packed"):
    """A TuneContext for Heron's space of int8 GEMM with ``strategy``."""
    workload = make_workload("gemm", shape, "int8", layout=layout)
    return ms.TuneContext(
        mod=tvm.IRModule({"main": workload.func}),
        target=HOST,
        space_generator=heron_space(HOST),
        search_strategy=strategy,
        task_name="main",
        rand_state=7,
        num_threads=2,
    )


def fake_result(cand):
    """A deterministic fake measurement: latency from the program's hash; some fail."""
    from tvm_ffi import structural_hash

    digest = structural_hash(cand.sch.mod) % 1000
    if digest % 10 == 0:
        return ms.runner.RunnerResult(None, "fake: the program crashed")
    return ms.runner.RunnerResult([1e-4 * (1 + digest)], None)


def drive(ctx, *, max_trials, per_iter, database=None, result=fake_result):
    """Run a strategy's whole protocol as the task scheduler does; returns the batches."""
    database = database if database is not None else ms.database.MemoryDatabase()
    strategy = ctx.search_strategy
    spaces = ctx.space_generator.generate_design_space(ctx.mod)
    strategy.pre_tuning(max_trials, per_iter, spaces, database, ms.cost_model.RandomModel())
    batches = []
    while (candidates := strategy.generate_measure_candidates()) is not None:
        batches.append(candidates)
        results = [result(c) for c in candidates]
        workload = database.commit_workload(ctx.mod)
        for cand, res in zip(candidates, results):
            secs = res.run_secs if res.error_msg is None else [1e10]
            database.commit_tuning_record(
                ms.database.TuningRecord(cand.sch.trace, workload, secs, HOST, cand.args_info)
            )
        strategy.notify_runner_results(candidates, results)
    strategy.post_tuning()
    return batches


def hashes(batches):
    """Structural hashes of every candidate of every batch, in order."""
    from tvm_ffi import structural_hash

    return [structural_hash(c.sch.mod) for batch in batches for c in batch]
