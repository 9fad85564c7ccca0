"""The best kernel of a tuning database: compiled, checked against the reference, ready to time."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms

from ..database import DATABASE_FILE, open_database
from .records import RECORD_FILE
from .timing import BatchTimer, tvm_timer
from .vendor import Unavailable


@attrs.frozen
class Kernel:
    """A compiled, checked kernel.

    Attributes
    ----------
    timer : BatchTimer
        Its batch timer (``time_evaluator`` on its own copy of the inputs).
    correct : bool
        Whether its output matched the workload's reference.
    max_abs_error : float
        Largest absolute difference from the reference.
    """

    timer: BatchTimer = attrs.field(repr=False)
    correct: bool
    max_abs_error: float


def best_kernel(workload, work_dir: str | Path, target, args) -> Kernel | Unavailable:
    """Compile the best record of ``workload`` in ``work_dir``'s JSON database and check it.

    Parameters
    ----------
    workload : tvm_heron.ops.Workload
    work_dir : path
        A MetaSchedule JSON database directory.
    target : tvm.target.Target
        The target tuned for.
    args : tuple
        ``(kernel_args, logical)`` from ``workload.make_inputs``; the kernel gets
        copies of ``kernel_args``, its output is compared with the reference on ``logical``.
    """
    work_dir = Path(work_dir)
    if not (work_dir / DATABASE_FILE).exists() and not (work_dir / RECORD_FILE).exists():
        return Unavailable(f"no tuning database in {work_dir}")
    mod = tvm.IRModule({"main": workload.func})
    database = open_database(work_dir, target=target)
    sch = ms.tir_integration.compile_tir(database, mod, target)
    if sch is None:
        return Unavailable("the database has no valid record of this workload")
    runtime = tvm.compile(sch.mod, target).jit()
    device = tvm.cpu() if target.kind.name == "llvm" else tvm.device(target.kind.name)
    kernel_args, logical = args
    tensors = [tvm.runtime.tensor(np.array(a, copy=True), device) for a in kernel_args]
    runtime["main"](*tensors)
    correct, error = workload.check(tensors[-1].numpy(), logical)
    return Kernel(timer=tvm_timer(runtime, device, tensors), correct=bool(correct),
                  max_abs_error=float(error))
