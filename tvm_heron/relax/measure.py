"""Run and time a built Relax model, and time one task's kernel on random arguments."""

from __future__ import annotations

import numpy as np
import tvm
from tvm import relax
from tvm.ir import IRModule
from tvm.s_tir.meta_schedule.arg_info import ArgInfo
from tvm.target import Target


def device_of(target: Target):
    """The runtime device of a target (this CPU for llvm)."""
    return tvm.cpu() if target.kind.name == "llvm" else tvm.device(target.kind.name)


def run_model(executable, target: Target, inputs) -> list[np.ndarray]:
    """Run ``main`` of a built model on numpy ``inputs``; the outputs as numpy arrays."""
    dev = device_of(target)
    vm = relax.VirtualMachine(executable, dev)
    out = vm["main"](*[tvm.runtime.tensor(x, dev) for x in inputs])
    return [t.numpy() for t in _flatten(out)]


def time_model(executable, target: Target, inputs, *, repeat: int = 10, min_repeat_ms: int = 100) -> float:
    """Median seconds of one call of ``main`` (``repeat`` samples of at least ``min_repeat_ms``)."""
    dev = device_of(target)
    vm = relax.VirtualMachine(executable, dev)
    args = [tvm.runtime.tensor(x, dev) for x in inputs]
    timer = vm.time_evaluator("main", dev, number=1, repeat=repeat, min_repeat_ms=min_repeat_ms)
    return float(np.median(timer(*args).results))


def time_kernel(mod: IRModule, target: Target, *, repeat: int = 3, seed: int = 0) -> float:
    """Median seconds of a PrimFunc module's ``main`` as it is (scheduled or not), random args."""
    rng = np.random.default_rng(seed)
    dev = device_of(target)
    runtime = tvm.compile(mod, target).jit()
    args = []
    for info in ArgInfo.from_entry_func(mod, remove_preproc=True):
        shape, dtype = [int(x) for x in info.shape], str(info.dtype)
        if dtype.startswith(("int", "uint")):
            data = rng.integers(0, 8, size=shape).astype(dtype)
        else:
            data = rng.standard_normal(shape).astype(dtype)
        args.append(tvm.runtime.tensor(data, dev))
    timer = runtime.time_evaluator("main", dev, number=1, repeat=repeat, min_repeat_ms=20)
    return float(np.median(timer(*args).results))


def _flatten(value) -> list:
    if isinstance(value, tvm.runtime.Tensor):
        return [value]
    return [t for item in value for t in _flatten(item)]
