"""What each schedule instruction of a trace means to the constraint model: one handler per kind.

A :class:`Handler` has a *pre* part, run by the
:class:`~tvm_heron.space.interpreter.Interpreter` before TVM applies the
instruction (the schedule still holds its inputs), and a *post* part, given
the instruction's outputs and what *pre* returned. :data:`HANDLERS` maps
each kind (:mod:`tvm_heron.space.kinds`) to its handler;
:data:`PASSIVE_KINDS` lists the kinds known to need none. Any other kind
stops the analysis (:func:`~tvm_heron.space.interpreter.check_kinds`).

* ``SamplePerfectTile``: one variable per factor, whose product is the
  loop's extent, the innermost bounded by ``max_innermost_factor``;
* ``SampleCategorical``: an index variable;
* ``Split``, ``Fuse``, ``GetLoops``, ``ComputeAt``: the loop extents, as
  monomials of those variables (:mod:`tvm_heron.space.loops`); a loop of a
  block that a ``compute_at`` moved is *dependent*;
* ``Parallel``, ``Vectorize``: the CPU limits of :mod:`tvm_heron.space.cpu`,
  in trace order;
* ``Annotate`` (tensorized blocks; on CUDA, warps, thread-extent bounds and
  cooperative fetches), ``Bind``, ``CacheRead`` / ``CacheWrite``,
  ``StorageAlign``: recorded for the limits derived after the replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
from tvm.s_tir.schedule import SBlockRV
from tvm.tirx import IntImm

from ..annotations import AUTO_TENSORIZE, COOPERATIVE_FETCH, THREAD_EXTENT_BOUNDS, WARP_EXECUTION
from ..constraints import (
    Choice,
    Divides,
    Monomial,
    ProductAtMost,
    ProductEquals,
    TileFactor,
    Variable,
)
from . import cpu, gpu, kinds
from .loops import Piece, constant, product
from .model import SamplingSite

if TYPE_CHECKING:
    from .interpreter import Interpreter


@attrs.frozen
class Step:
    """One instruction as the decision provider sees it, numbered in trace order."""

    index: int
    kind: str
    inputs: list
    attrs: list
    decision: object


@attrs.frozen
class Handler:
    """What the interpreter does for one instruction kind: before it runs, and with its outputs."""

    pre: Callable[[Interpreter, Step], object] | None = None
    post: Callable[[Interpreter, Step, list, object], None] | None = None


def _divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


# -- sampling ------------------------------------------------------------------------------
def _sample_perfect_tile(interp: Interpreter, step: Step):
    loop = step.inputs[0]
    extent, name = interp.loop_extent(loop), interp.loop_name(loop)
    n, max_innermost = int(step.attrs[0]), int(step.attrs[1])
    if extent is None or not extent.is_constant:
        interp.sites.append(SamplingSite(step.index, kinds.SAMPLE_PERFECT_TILE, (), step.decision))
        interp.notes.append(
            f"tile #{step.index} of loop {name}: extent depends on other decisions; "
            f"kept fixed at {list(step.decision)}"
        )
        return None
    keys = tuple(TileFactor(step.index, level, loop=name) for level in range(n))
    interp.split_extent[step.index] = extent.coef
    for key in keys:
        interp.variables.append(Variable(key=key, domain=_divisors(extent.coef)))
    interp.constraints.append(
        ProductEquals(
            term=Monomial(keys=keys),
            value=extent.coef,
            reason=f"split of loop {name}: the factors multiply to its extent {extent.coef}",
        )
    )
    if max_innermost > 0:
        interp.constraints.append(
            ProductAtMost(
                term=Monomial(keys=keys[-1:]),
                limit=max_innermost,
                reason=f"tile of loop {name}: max_innermost_factor {max_innermost}",
            )
        )
    interp.sites.append(SamplingSite(step.index, kinds.SAMPLE_PERFECT_TILE, keys, step.decision))
    return keys


def _tile_factors(interp: Interpreter, step: Step, outputs: list, keys) -> None:
    if keys is not None:
        for out, key in zip(outputs, keys):
            interp.exprs[out] = Monomial(keys=(key,))


def _sample_categorical(interp: Interpreter, step: Step):
    candidates = tuple(int(c) if isinstance(c, IntImm) else c for c in step.attrs[0])
    probs = [float(p) for p in step.attrs[1]]
    domain = tuple(i for i, p in enumerate(probs) if p > 0) or (int(step.decision),)
    key = Choice(step.index, name=f"categorical {list(candidates)}")
    interp.variables.append(Variable(key=key, domain=domain, candidates=candidates))
    interp.sites.append(
        SamplingSite(step.index, kinds.SAMPLE_CATEGORICAL, (key,), step.decision, candidates)
    )
    return key, candidates


def _choice(interp: Interpreter, step: Step, outputs: list, state) -> None:
    interp.choice_of[outputs[0]] = state


# -- loop transformations ------------------------------------------------------------------
def _split(interp: Interpreter, step: Step):
    loop, factors = step.inputs[0], step.inputs[1:]
    extent, name = interp.loop_extent(loop), interp.loop_name(loop)
    terms = []
    for factor in factors:
        if factor is None:
            terms.append(None)
        elif isinstance(factor, IntImm):
            terms.append(constant(factor.value))
        else:
            terms.append(interp.exprs.get(factor))
    known = [t for t in terms if t is not None]
    if terms.count(None) == 1 and all(t.is_constant for t in known) and extent is not None:
        divisor = product(known).coef
        if extent.coef % divisor == 0:
            terms[terms.index(None)] = Monomial(coef=extent.coef // divisor, keys=extent.keys)
        if not extent.is_constant:
            interp.constraints.append(
                Divides(
                    divisor=constant(divisor),
                    dividend=extent,
                    reason=f"split of loop {name} by {divisor}: it must divide the extent",
                )
            )
    elif extent is None and any(t is not None and not t.is_constant for t in terms):
        interp.notes.append(
            f"split #{step.index} of loop {name}: extent depends on other decisions"
        )
    return terms, interp.loops.pieces(interp.sref(loop))


def _split_parts(interp: Interpreter, step: Step, outputs: list, state) -> None:
    terms, source = state
    single = source is not None and len(source) == 1
    for out, term in zip(outputs, terms):
        pieces = None
        if single and term is not None:
            pieces = (Piece(origin=source[0].origin, extent=term),)
        interp.loops.set(interp.sref(out), term, pieces)


def _fuse(interp: Interpreter, step: Step):
    term = product(interp.loop_extent(loop) for loop in step.inputs)
    parts = [interp.loops.pieces(interp.sref(loop)) for loop in step.inputs]
    return term, None if any(p is None for p in parts) else tuple(p for ps in parts for p in ps)


def _fused(interp: Interpreter, step: Step, outputs: list, state) -> None:
    term, parts = state
    interp.loops.set(interp.sref(outputs[0]), term, parts if term is not None else None)


def _get_loops(interp: Interpreter, step: Step) -> bool:
    return interp.sref(step.inputs[0]) in interp.moved


def _loops_met(interp: Interpreter, step: Step, outputs: list, moved: bool) -> None:
    for loop in outputs:
        interp.loops.meet(interp.sref(loop), dependent=moved)


def _moved(interp: Interpreter, step: Step, outputs: list, state) -> None:
    interp.moved.add(interp.sref(step.inputs[0]))


# -- CPU limits ----------------------------------------------------------------------------
def _limited_loop(interp: Interpreter, step: Step, what: str):
    """(extent, name) of a loop a CPU limit applies to; None when it cannot be modelled."""
    loop = step.inputs[0]
    extent, name = interp.loop_extent(loop), interp.loop_name(loop)
    if interp.cpu_limits is None:
        return None
    if extent is None:
        interp.notes.append(f"{what} loop {name}: extent depends on other decisions")
        return None
    return extent, name


def _parallel(interp: Interpreter, step: Step) -> None:
    limited = _limited_loop(interp, step, "parallel")
    if limited is not None:
        extent, name = limited
        most = interp.upper_bound(extent)
        interp.constraints.append(cpu.parallel(extent, name, interp.cpu_limits, most))


def _vectorize(interp: Interpreter, step: Step) -> None:
    limited = _limited_loop(interp, step, "vectorized")
    if limited is not None:
        interp.constraints.append(cpu.vectorized(*limited, interp.cpu_limits))


# -- records for the limits derived after the replay -----------------------------------------
def _annotate(interp: Interpreter, step: Step) -> None:
    target, value = step.inputs[0], step.inputs[1]
    key = str(step.attrs[0])
    if key == AUTO_TENSORIZE and isinstance(target, SBlockRV):
        interp.tensorized.append((interp.sref(target), str(value)))
    elif key == WARP_EXECUTION:
        interp.gpu.warp_execution = True
    elif key in THREAD_EXTENT_BOUNDS and isinstance(value, IntImm):
        interp.gpu.thread_bounds[key] = int(value)
    elif key == COOPERATIVE_FETCH and value in interp.choice_of:
        choice, candidates = interp.choice_of[value]
        interp.gpu.fetches.append(gpu.CooperativeFetch(target, choice, candidates))


def _bind(interp: Interpreter, step: Step) -> None:
    extent = interp.loop_extent(step.inputs[0])
    interp.gpu.binds.append(gpu.ThreadBind(str(step.attrs[0]), extent))


def _cache_scope(interp: Interpreter, step: Step) -> str:
    return str(step.attrs[-1])


def _cache(interp: Interpreter, step: Step, outputs: list, scope: str) -> None:
    interp.gpu.caches.append(gpu.CacheStage(outputs[0], scope))


def _storage_align(interp: Interpreter, step: Step) -> None:
    # StorageAlign's attrs: buffer index, axis, factor, offset.
    index, _, factor, offset = (int(a) for a in step.attrs)
    interp.gpu.aligns.append(gpu.StorageAlign(step.inputs[0], index, factor, offset))


_CACHE = Handler(_cache_scope, _cache)
_COMPUTE_AT = Handler(post=_moved)

#: Instruction kind -> its handler.
HANDLERS: dict[str, Handler] = {
    kinds.SAMPLE_PERFECT_TILE: Handler(_sample_perfect_tile, _tile_factors),
    kinds.SAMPLE_CATEGORICAL: Handler(_sample_categorical, _choice),
    kinds.SPLIT: Handler(_split, _split_parts),
    kinds.FUSE: Handler(_fuse, _fused),
    kinds.GET_LOOPS: Handler(_get_loops, _loops_met),
    kinds.COMPUTE_AT: _COMPUTE_AT,
    kinds.REVERSE_COMPUTE_AT: _COMPUTE_AT,
    kinds.PARALLEL: Handler(_parallel),
    kinds.VECTORIZE: Handler(_vectorize),
    kinds.ANNOTATE: Handler(_annotate),
    kinds.BIND: Handler(_bind),
    kinds.CACHE_READ: _CACHE,
    kinds.CACHE_WRITE: _CACHE,
    kinds.STORAGE_ALIGN: Handler(_storage_align),
}

#: The instruction kinds (all the others that TVM 0.27 registers) known to need no handler.
PASSIVE_KINDS = frozenset({
    # Queries: they return blocks and change nothing.
    "GetSBlock", "GetChildBlocks", "GetProducers", "GetConsumers", "GetOutputBlocks",
    # Decisions the model keeps fixed (the interpreter notes each one).
    kinds.SAMPLE_COMPUTE_LOCATION, kinds.SAMPLE_PARTITIONED_TILE,
    # They change no loop's extent.
    "Reorder", "ReorderBlockIterVar", "ComputeInline", "ReverseComputeInline", "Unroll",
    "Unannotate", "Tensorize", "SetScope", "UnsafeSetDType", "TransformLayout",
    "AnnotateBufferAccess", "UnsafeHideBufferAccess", kinds.ENTER_POSTPROC,
    # Their effect on loops is not followed: a loop they create counts as the
    # constant extent it has in the replayed schedule when a later instruction
    # uses it.
    "Blockize", "AddUnitLoop", "Merge", "LoopPartition", "TransformBlockLayout", "RFactor",
    "DecomposeReduction", "DecomposePadding", "PadEinsum", "RollingBuffer", "ReIndex",
    "CacheInplace", "CacheIndex", "ReindexCacheRead", "ReindexCacheWrite", "ReadAt", "WriteAt",
    "FuseReductionEpilogue",
})
