"""The peak of every intrinsic path this machine can run, measured with the intrinsic itself.

A path is one intrinsic of one instruction-set description
(:mod:`tvm_heron.isa`): AVX-512 VNNI's ``vpdpbusd zmm``, AVX2's exact
widening form and its ``vpmaddubsw`` form, the fp32 multiply-adds... Its
peak is what a register-tiled micro-kernel of that intrinsic reaches with
its operands in L1: a register tile of ``rows x groups`` accumulators (about
the description's register budget, at most 24; ``groups`` weight tiles of
``lanes`` each, ``rows`` broadcast activations each reused across the
groups), the way Heron's and oneDNN's register tiles use it; one such
kernel per core, in a parallel loop; the best of 1 to 4 groups. The figure counts 2 ops per
multiply-add and is the best of ``repeat`` timings. It includes what the
intrinsic really costs (the AVX2 exact form's widening and shuffles), so a
kernel's "percent of its path's peak" says how well the space used the
instruction sequence it had, not how it compares with another path.

Built for the description's example CPU (the host's own CPU for the host's
description), and run only where this machine has every feature of it.
"""

from __future__ import annotations

import numpy as np
import tvm
from tvm import te
from tvm.s_tir import Schedule
from tvm.target import Target

from .. import isa
from ..target import host_target, instruction_set, missing_host_features
from .results import PathPeak

#: Calls per timed kernel: ``REPS x STEPS`` per accumulator row.
STEPS = 256
REPS = 64


def tile_shapes(accumulators: int) -> list[tuple[int, int]]:
    """``(rows, groups)`` register tiles tried for a budget of accumulators (1 to 4 weight groups)."""
    return [(accumulators // g, g) for g in range(1, min(4, accumulators) + 1)]


def _kernel(intrinsic: isa.Intrinsic, cores: int, rows: int, groups: int):
    """``C[t, r, g, l] += A[t, s, r, k] * B[t, s, g, l, k]`` over ``REPS x STEPS x depth``."""
    a_dtype, b_dtype, acc = intrinsic.operands
    depth, lanes = intrinsic.depth, intrinsic.lanes
    a = te.placeholder((cores, STEPS, rows, depth), a_dtype, name="A")
    if intrinsic.weight_order == isa.WeightOrder.LANES_MAJOR:
        b = te.placeholder((cores, STEPS, groups, lanes, depth), b_dtype, name="B")

        def weight(t, s, g, lane, k):
            return b[t, s, g, lane, k]
    else:
        b = te.placeholder((cores, STEPS, groups, depth, lanes), b_dtype, name="B")

        def weight(t, s, g, lane, k):
            return b[t, s, g, k, lane]
    rep = te.reduce_axis((0, REPS), name="rep")
    step = te.reduce_axis((0, STEPS), name="step")
    k = te.reduce_axis((0, depth), name="k")
    c = te.compute(
        (cores, rows, groups, lanes),
        lambda t, r, g, lane: te.sum(
            a[t, step, r, k].astype(acc) * weight(t, step, g, lane, k).astype(acc), axis=[rep, step, k]
        ),
        name="C",
    )
    sch = Schedule(tvm.IRModule({"main": te.create_prim_func([a, b, c])}))
    block = sch.get_sblock("C")
    t, r, g, lane, rep_l, step_l, k_l = sch.get_loops(block)
    sch.reorder(t, rep_l, step_l, r, g, lane, k_l)
    write_back = sch.cache_write(block, 0, "global")
    sch.reverse_compute_at(write_back, t)
    sch.parallel(t)
    sch.unroll(r)
    sch.unroll(g)
    sch.decompose_reduction(block, rep_l)
    sch.tensorize(lane, intrinsic.name)
    return sch.mod, (a, b, c)


def _target(description: isa.InstructionSet, cores: int) -> Target:
    host = host_target(cores)
    try:
        if instruction_set(host).name == description.name:
            return host
    except ValueError:
        pass
    return Target({"kind": "llvm", "mcpu": description.example_cpu, "num-cores": cores})


def measure_path(description: isa.InstructionSet, intrinsic: isa.Intrinsic, cores: int,
                 *, repeat: int = 7) -> PathPeak:
    """The :class:`PathPeak` of one intrinsic of ``description``, on ``cores`` threads."""
    budget = min(description.max_accumulators(intrinsic), 24)
    exact = "u7" if intrinsic.input_range == isa.InputRange.U7 else "u8"
    base = dict(isa=description.name, intrinsic=intrinsic.name, dtype=intrinsic.dtype,
                instruction=f"{intrinsic.instruction} {intrinsic.register}", exact_for=exact,
                rows=budget, cores=cores)
    if description.arch != "x86_64":
        return PathPeak(**base, target_cpu=description.example_cpu, gops=None,
                        reason=f"{description.arch}: built only (cross-compiled), not run here")
    target = _target(description, cores)
    missing = missing_host_features(target)
    if missing:
        return PathPeak(**base, target_cpu=str(target.attrs["mcpu"]), gops=None,
                        reason=f"this CPU lacks {', '.join(missing)}")
    best, best_shape = 0.0, (budget, 1)
    for rows, groups in tile_shapes(budget):
        gops = _run(intrinsic, target, cores, rows, groups, repeat, high=128 if exact == "u7" else 256)
        if gops > best:
            best, best_shape = gops, (rows, groups)
    base["rows"] = best_shape[0] * best_shape[1]
    return PathPeak(**base, target_cpu=str(target.attrs["mcpu"]), gops=best)


def _run(intrinsic, target, cores: int, rows: int, groups: int, repeat: int, *, high: int) -> float:
    """GOP/s of one micro-kernel shape."""
    mod, (a, b, c) = _kernel(intrinsic, cores, rows, groups)
    runtime = tvm.compile(mod, target).jit()
    dev = tvm.cpu()
    rng = np.random.default_rng(0)
    if intrinsic.dtype == "int8":
        args = [rng.integers(0, high, [int(x) for x in a.shape]).astype(str(a.dtype)),
                rng.integers(-128, 128, [int(x) for x in b.shape]).astype(str(b.dtype))]
    else:
        args = [rng.uniform(-1, 1, [int(x) for x in t.shape]).astype("float32") for t in (a, b)]
    args.append(np.zeros([int(x) for x in c.shape], str(c.dtype)))
    tensors = [tvm.runtime.tensor(x, dev) for x in args]
    seconds = min(runtime.time_evaluator("main", dev, number=3, repeat=repeat)(*tensors).results)
    return 2 * cores * REPS * STEPS * rows * groups * intrinsic.macs / seconds / 1e9


def measure_all(cores: int, *, repeat: int = 7) -> list[PathPeak]:
    """Every (description, intrinsic) path, measured where this machine runs it."""
    return [measure_path(d, i, cores, repeat=repeat) for d in isa.INSTRUCTION_SETS for i in d.intrinsics]


def target_peaks(target, cores: int, input_range: isa.InputRange = isa.InputRange.U8) -> dict:
    """``{dtype: PathPeak}``: the fastest path the target's space has for each dtype, measured.

    The intrinsics of the target's description allowed for ``input_range``
    (the 7-bit int8 form only with ``U7``); for each dtype the path with the
    highest measured peak, the one a kernel of that dtype could at best reach.
    """
    description = instruction_set(target)
    best: dict[str, PathPeak] = {}
    for dtype in isa.DTYPES:
        for intrinsic in description.intrinsics_for(dtype, input_range):
            peak = measure_path(description, intrinsic, cores)
            current = best.get(dtype)
            if current is None or (peak.gops or 0) > (current.gops or 0):
                best[dtype] = peak
    return best
