"""What launching a parallel loop costs in TVM's thread pool: the floor of a small kernel's time.

A parallel loop over the pool's threads that does (almost) nothing, timed like
the benchmark's kernels (:func:`~tvm_heron.bench.timing.tvm_timer`): what
remains is the pool's wake-up and join, which every parallel kernel pays on
top of its work.
"""

from __future__ import annotations

import numpy as np
import tvm
from tvm import te

from .timing import tvm_timer


def launch_floor_s(target, *, threads: int, calls: int = 20_000, repeats: int = 5) -> float:
    """Seconds per call of a parallel loop of ``threads`` iterations adding 1 to an int32 each.

    The least of ``repeats`` batches of ``calls`` calls.
    """
    a = te.placeholder((threads,), "int32", name="a")
    b = te.compute((threads,), lambda i: a[i] + 1, name="b")
    sch = tvm.s_tir.Schedule(te.create_prim_func([a, b]))
    sch.parallel(sch.get_loops(sch.get_sblock("b"))[0])
    runtime = tvm.compile(sch.mod, target).jit()
    device = tvm.cpu()
    args = [tvm.runtime.tensor(np.zeros(threads, "int32"), device) for _ in range(2)]
    timer = tvm_timer(runtime, device, args)
    return min(timer(calls) for _ in range(repeats))
