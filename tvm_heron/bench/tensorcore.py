"""fp16 TensorCore benchmark: tvm-heron (heron-cga) vs MetaSchedule cuda-tensorcore vs PyTorch.

For fp16 GEMM 1024^3 and 4096^3 and one 2-d convolution of the paper's list
(``c2d.C3``, NHWC), on the GPU of this machine:

* tvm-heron: Heron's TensorCore space, the constrained GA (``heron-cga``);
* MetaSchedule: its ``cuda-tensorcore`` space (rules, postprocessors,
  mutators) with its evolutionary search;
* PyTorch: ``torch.matmul`` (cuBLAS) and ``conv2d`` on channels-last tensors
  (cuDNN), fp16.

Both tuners get the same trial budget, builder and local runner. The best
kernel of each is checked against numpy; then all three are timed in one
process, interleaved in rotating order; TFLOP/s from the median (and the
minimum) over the rounds (:func:`run_case`). The command line is
``benchmarks/tensorcore.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.target import Target

from ..builder import PersistentBuilder
from ..database import open_database
from ..ops import make_workload
from ..space import analyze, heron_space, postprocess, replay
from ..target import complete_cuda_target, parse_target
from ..tuning import tune
from .kernels import best_kernel
from .sampling import tensorcore_space
from .timing import python_timer, time_interleaved
from .vendor import Unavailable

#: (name, operator, shape) of the benchmark.
CASES = [
    ("gemm_1024", "gemm", (1024, 1024, 1024)),
    ("gemm_4096", "gemm", (4096, 4096, 4096)),
    ("c2d.C3", "c2d", (16, 28, 28, 128, 128, 3, 3, 1, 1, 1)),
]


def gpu_target(text: str | None) -> Target:
    """The target of this machine's GPU (or ``text``), with its limits completed."""
    if text:
        return parse_target(text)
    return complete_cuda_target(Target.from_device(tvm.cuda(0)))


def gpu_target(text: str | None) -> Target:
    """The target of this machine's GPU (or ``text``), with its limits completed."""
    if text:
        return parse_target(text)
    return complete_cuda_target(Target.from_device(tvm.cuda(0)))


def tune_heron(workload, target, work_dir: Path, trials: int, seed: int) -> dict:
    """Tune with heron-cga in Heron's TensorCore space; trials, valid trials, seconds."""
    start = time.perf_counter()
    result = tune(workload, target=target, work_dir=work_dir, trials=trials,
                  strategy="heron-cga", space="heron", seed=seed, check=False)
    return {"valid_trials": result.valid_trials, "trials": result.trials,
            "seconds": time.perf_counter() - start}


def tune_metaschedule(workload, target, work_dir: Path, trials: int, seed: int) -> dict:
    """Tune with MetaSchedule's evolutionary search in its cuda-tensorcore space; seconds."""
    start = time.perf_counter()
    mod = tvm.IRModule({"main": workload.func})
    database = open_database(work_dir, target=target)
    builder = PersistentBuilder(max_workers=2, timeout_sec=120.0)
    try:
        ms.tune_tir(mod, target, str(work_dir), max_trials_global=trials,
                    num_trials_per_iter=min(16, trials), space=tensorcore_space(),
                    strategy="evolutionary", builder=builder, runner="local",
                    database=database, seed=seed)
    finally:
        builder.shutdown()
    return {"seconds": time.perf_counter() - start}


def torch_timer(workload, logical):
    """(batch timer, output as numpy) of PyTorch's fp16 cuBLAS / cuDNN call, or Unavailable."""
    try:
        import torch  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        return Unavailable(f"torch: {err}")
    if not torch.cuda.is_available():
        return Unavailable("torch has no CUDA")
    dev = torch.device("cuda")
    a, w = (torch.from_numpy(np.ascontiguousarray(x)).to(dev) for x in logical[:2])
    if workload.op == "gemm":
        def call():
            return torch.matmul(a, w.t())
    else:  # NHWC activation, [CO, KH, KW, CI] weight -> channels-last NCHW views
        stride, pad, dilation = workload.shape[7], workload.shape[8], workload.shape[9]
        x = a.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        k = w.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)

        def call():
            return torch.nn.functional.conv2d(x, k, stride=stride, padding=pad, dilation=dilation)

    out = call()
    torch.cuda.synchronize()
    result = out.permute(0, 2, 3, 1) if workload.op != "gemm" else out
    timer = python_timer(lambda: (call(), torch.cuda.synchronize()))
    return timer, result.float().cpu().numpy()


def run_case(name: str, op: str, shape, *, trials: int, rounds: int, seed: int, target,
             out: Path) -> dict:
    """Tune both, check their best kernels and PyTorch's call, time the three interleaved."""
    workload = make_workload(op, shape, "float16")
    row = {"case": name, "op": op, "shape": list(shape), "flops": workload.flops}
    work = out / "work" / name
    row["heron"] = tune_heron(workload, target, work / "heron-cga", trials, seed)
    row["metaschedule"] = tune_metaschedule(workload, target, work / "ms-tensorcore",
                                            trials, seed)
    inputs = workload.make_inputs(np.random.default_rng(seed))
    timers = {}
    for side, sub in (("heron", "heron-cga"), ("metaschedule", "ms-tensorcore")):
        kernel = best_kernel(workload, work / sub, target, inputs)
        if isinstance(kernel, Unavailable):
            row[side]["error"] = kernel.reason
            continue
        row[side].update(correct=kernel.correct, max_abs_error=kernel.max_abs_error)
        timers[side] = kernel.timer
    vendor = torch_timer(workload, inputs[1])
    if isinstance(vendor, Unavailable):
        row["torch"] = {"error": vendor.reason}
    else:
        timer, output = vendor
        correct, error = workload.check(output, inputs[1])
        row["torch"] = {"correct": correct, "max_abs_error": error}
        timers["torch"] = timer
    timings = time_interleaved(timers, rounds=rounds, batch_seconds=0.2)
    for side, timing in timings.items():
        row[side].update(median_s=timing.median_s, min_s=timing.min_s,
                         tflops_median=workload.flops / timing.median_s / 1e12,
                         tflops_best=workload.flops / timing.min_s / 1e12)
    return row


def dry_run(target: Target) -> Iterator[str]:
    """Everything up to the device: workloads, both spaces, one Heron point built to CUDA C.

    Yields a line per case, then one that says the run is done.
    """
    for name, op, shape in CASES:
        workload = make_workload(op, shape, "float16")
        mod = tvm.IRModule({"main": workload.func})
        ctx = ms.TuneContext(mod=mod, target=target, space_generator=heron_space(target),
                             task_name="main", num_threads=1)
        spaces = [analyze(s, mod, target) for s in ctx.generate_design_space()]
        point = spaces[0].solver.sample(1, rng=np.random.default_rng(0))[0]
        sch = postprocess(replay(spaces[0], mod, point), ctx.space_generator.postprocs)
        tvm.compile(sch.mod, target=target)
        ms_ctx = ms.TuneContext(mod=mod, target=target, space_generator=tensorcore_space(),
                                task_name="main", num_threads=1)
        ms_spaces = ms_ctx.generate_design_space()
        yield (f"{name}: {workload.flops / 1e9:.1f} GFLOP; heron {len(spaces)} spaces (a point "
               f"built), MetaSchedule cuda-tensorcore {len(ms_spaces)} spaces")
    yield "dry run done: nothing was tuned or timed"


def report(rows: list[dict], meta: dict) -> str:
    """The text of ``REPORT.md``: TFLOP/s of each side per case."""
    lines = [
        "# fp16 TensorCore: tvm-heron vs MetaSchedule cuda-tensorcore vs PyTorch",
        "",
        f"GPU {meta['gpu']}, target `{meta['target']}`, {meta['trials']} trials per tuner, "
        f"{meta['rounds']} interleaved timing rounds; TFLOP/s from the median round "
        "(best round in parentheses).",
        "",
        "| case | tvm-heron (heron-cga) | MetaSchedule tensorcore | PyTorch (cuBLAS/cuDNN) |",
        "|---|---|---|---|",
    ]
    for row in rows:
        cells = []
        for side in ("heron", "metaschedule", "torch"):
            r = row[side]
            if "tflops_median" in r:
                flag = "" if r.get("correct", True) else " WRONG"
                cells.append(f"{r['tflops_median']:.1f} ({r['tflops_best']:.1f}){flag}")
            else:
                cells.append(r.get("error", "-"))
        lines.append(f"| {row['case']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
