"""Helpers shared by the tests (imported as ``helpers``)."""

from __future__ import annotations

import contextlib

import pytest
import tvm
from tvm.s_tir import meta_schedule as ms

import tvm_heron  # noqa: F401  (registers the intrinsic and the strategies)
from tvm_heron.ops import make_workload
from tvm_heron.space import analyze, heron_space
from tvm.target import Target

from tvm_heron import isa
from tvm_heron.target import instruction_set, missing_host_features, host_target

HOST = host_target()
#: The host's instruction-set description: tests derive what they expect from it.
HOST_ISA = instruction_set(HOST)
HAS_VNNI = HOST_ISA.name == "avx512_vnni"


def isa_target(description, cores: int = 2) -> Target:
    """An llvm target of the example CPU of an instruction-set description (any host builds it)."""
    if description.arch == "aarch64":
        triple, mattr = description.example_cpu.split(" ")
        return Target({"kind": "llvm", "mtriple": triple, "mattr": mattr.split(","), "num-cores": cores})
    return Target({"kind": "llvm", "mcpu": description.example_cpu, "num-cores": cores})


def asm_of(executable) -> str:
    """The assembly of a built Relax model's kernels (its VM executable's own source is empty)."""
    return "".join(m.inspect_source("asm") for m in executable.mod.imports if m.kind == "llvm")


def runs_here(target) -> bool:
    """Whether this machine can execute code built for ``target``."""
    return not missing_host_features(target)


def host_intrinsic(dtype: str) -> str:
    """The name of the host's (first) intrinsic for ``dtype``."""
    return HOST_ISA.intrinsics_for(dtype)[0].name


def design_spaces(workload, target=HOST):
    """(mod, context, [Schedule]) of Heron's space for ``workload``."""
    mod = tvm.IRModule({"main": workload.func})
    ctx = ms.TuneContext(
        mod=mod, target=target, space_generator=heron_space(target), task_name="main", num_threads=2
    )
    return mod, ctx, list(ctx.generate_design_space())


def space_models(op, shape, dtype="int8", target=None, **options):
    """The SpaceModel of each Heron design space of an operator (options: make_workload's)."""
    target = HOST if target is None else target
    workload = make_workload(op, shape, dtype, **options)
    mod, ctx, spaces = design_spaces(workload, target)
    return workload, mod, ctx, [analyze(s, mod, target) for s in spaces]


#: Every described instruction set, as pytest parameters (ids: their names).
ALL_ISAS = list(isa.INSTRUCTION_SETS)
ISA_IDS = [d.name for d in ALL_ISAS]


def slow_unless(cases, keep):
    """``cases`` as pytest parameters, those for which ``keep(case)`` is false marked ``slow``.

    The default run keeps a cover of each parametrized test (every operator,
    both dtypes, the host's and a foreign instruction set...); ``-m slow`` runs
    the rest of the grid.
    """
    return [case if keep(case) else pytest.param(*(case if isinstance(case, tuple) else (case,)),
                                                 marks=pytest.mark.slow)
            for case in cases]


#: The instruction sets whose parametrized cases run by default: the host's, and one
#: other per family (an AVX2 machine builds AVX-512 VNNI code, any x86 one builds NEON).
DEFAULT_ISAS = {HOST_ISA.name, "avx512_vnni" if HOST_ISA.name != "avx512_vnni" else "avx2", "neon_dot"}


def context(strategy, shape=(64, 64, 64), layout="packed", target=None):
    """A TuneContext for Heron's space of int8 GEMM with ``strategy`` (on the host by default)."""
    target = HOST if target is None else target
    workload = make_workload("gemm", shape, "int8", layout=layout)
    return ms.TuneContext(
        mod=tvm.IRModule({"main": workload.func}),
        target=target,
        space_generator=heron_space(target),
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


@contextlib.contextmanager
def rpc_pool(key: str, servers: int = 2):
    """An RPC tracker and ``servers`` servers on 127.0.0.1, registered; yields (tracker port, servers)."""
    from tvm.rpc.server import Server
    from tvm.rpc.tracker import Tracker

    from tvm_heron.rpc import RPCConfig, wait_for_servers

    tracker = Tracker(host="127.0.0.1", port=9190, port_end=9990, silent=True)
    started = [Server(host="127.0.0.1", port=10000 + 200 * i, port_end=10190 + 200 * i,
                      tracker_addr=("127.0.0.1", tracker.port), key=key, silent=True)
               for i in range(servers)]
    try:
        if servers:
            config = RPCConfig(tracker_host="127.0.0.1", tracker_port=tracker.port, tracker_key=key)
            wait_for_servers(config, 30, poll_s=0.2)
        yield tracker.port, started
    finally:
        for server in started:
            server.terminate()
        tracker.terminate()


def quantize_qdq(float_path, path, batches, *, per_channel: bool = True, activations: str = "QUInt8",
                 reduce_range: bool = True):
    """ONNX Runtime's static QDQ quantization of ``float_path`` into ``path`` (s8 weights).

    ``batches``: the calibration inputs, a list of feed dicts. ``reduce_range``
    (the default) keeps the weights in 7 bits, ONNX Runtime's remedy for its
    u8 x s8 kernels on CPUs without VNNI, whose 16-bit pair sums (vpmaddubsw)
    saturate on full-range weights: with it, ONNX Runtime's fused output is
    exact integer arithmetic on every CPU, and tests can ask for equality.
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(batches)

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(float_path), str(path), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=getattr(QuantType, activations), weight_type=QuantType.QInt8,
                    per_channel=per_channel, reduce_range=reduce_range)
    return path
