"""GPU limits of a design space, read from its trace: threads per block and shared memory.

:mod:`tvm_heron.space.interpreter` replays a trace; for a CUDA target its
handlers (:mod:`tvm_heron.space.handlers`) record, on the way, in a
:class:`GpuRecord`, the instructions that this module turns into
constraints against the target's :class:`~tvm_heron.target.GpuLimits` (the
CPU counterpart is :mod:`tvm_heron.space.cpu`):

* ``Bind`` to ``threadIdx.*``: each bound loop's extent (a monomial of tile
  factors) is at most the dimension's limit (``vthread.*``: at most 8, as
  MetaSchedule's verifier demands); the thread-extent bounds that
  MetaSchedule's multi-level tiling annotates (at least a warp) too; the product of the thread
  extents of a block, with ``threadIdx.x`` = the warp size when a block runs
  per warp (the ``warp_execution`` annotation of a TensorCore block), is at
  most ``max_threads_per_block``; so the warps of a block are bounded too;
* ``CacheRead`` / ``CacheWrite`` into ``shared`` or ``shared.dyn``: the
  footprint of the cache buffer is the region that one thread block needs,
  derived symbolically (see :func:`_footprint`); with its ``StorageAlign``
  padding it counts towards ``max_shared_memory_per_block``: the sum of all
  shared buffers (an upper bound: TVM may let two buffers share memory);
* the ``meta_schedule.cooperative_fetch`` vector width (a categorical
  choice): at most ``max_vector_bytes`` per access, and a divisor of the
  innermost extent of every global buffer the fetch reads or writes, so
  that vector accesses stay aligned.

Each loop is tracked as *pieces* (:class:`~tvm_heron.space.loops.Piece`:
origin loop, extent monomial) in the replay's
:class:`~tvm_heron.space.loops.LoopTable`. A split gives every part one piece
of its loop's origin, a fuse concatenates pieces. The footprint of a cache
buffer along one dimension is the constant region extent of its reference
access times the pieces, of the dimension's origins, of every loop that the
buffer's allocation spans: the loops inside the allocation point and the
thread-bound loops outside it (a shared buffer serves all threads of a
block). This is exact for perfect tilings of the original loops, which is
what the rules build; anything else is left as a note, and to the GPU code
verifier.
"""

from __future__ import annotations

import attrs
from tvm.tirx.analysis import undefined_vars
from tvm.tirx.stmt import For, ForKind

from .. import tir_utils
from ..annotations import THREAD_EXTENT_BOUNDS
from ..constraints import Choice, Monomial, ProductAtLeast, ProductAtMost, ProductIn, SumAtMost
from ..target import GpuLimits
from .loops import LoopTable, product


_BYTES = {"float16": 2, "float32": 4, "int8": 1, "uint8": 1, "int32": 4, "float64": 8,
          "int64": 8, "bfloat16": 2}
_THREAD_DIMS = {"threadIdx.x": 0, "threadIdx.y": 1, "threadIdx.z": 2}


@attrs.frozen
class ThreadBind:
    """A ``Bind`` of a loop to a thread tag; ``extent`` None when it depends on other decisions."""

    tag: str
    extent: Monomial | None


@attrs.frozen
class CacheStage:
    """A ``CacheRead`` / ``CacheWrite``: the cache block (a block RV) and its storage scope."""

    block: object
    scope: str


@attrs.frozen
class StorageAlign:
    """A ``StorageAlign`` of the buffer that ``block`` writes at ``write_index``."""

    block: object
    write_index: int
    factor: int
    offset: int


@attrs.frozen
class CooperativeFetch:
    """A cooperative-fetch annotation of ``block`` whose vector width is a categorical choice."""

    block: object
    choice: Choice
    candidates: tuple


@attrs.define
class GpuRecord:
    """What the interpreter records of a trace for :func:`constraints`.

    Blocks are the replayed schedule's block RVs; ``thread_bounds`` maps
    each of MetaSchedule's thread-extent annotations to its value.
    """

    binds: list[ThreadBind] = attrs.Factory(list)
    warp_execution: bool = False
    caches: list[CacheStage] = attrs.Factory(list)
    aligns: list[StorageAlign] = attrs.Factory(list)
    fetches: list[CooperativeFetch] = attrs.Factory(list)
    thread_bounds: dict[str, int] = attrs.Factory(dict)


def constraints(record: GpuRecord, sch, loops: LoopTable, limits: GpuLimits):
    """(constraints, notes) of the recorded instructions, for a schedule after the replay."""
    out, notes = [], []
    if record.warp_execution:
        notes.append("wmma fragments per warp (registers): not limited; the compiler spills "
                     "what does not fit, which is legal and left to the measurements")
    _threads(record, limits, out, notes)
    _shared_memory(record, sch, loops, limits, out, notes)
    _vector_widths(record, sch, limits, out, notes)
    return out, notes


def _threads(record, limits, out, notes) -> None:
    per_dim = {}
    for bind in record.binds:
        tag, extent = bind.tag, bind.extent
        if tag.startswith("vthread") and extent is not None:
            out.append(ProductAtMost(
                term=extent, limit=limits.max_vthread,
                reason=f"target: {tag} extent at most {limits.max_vthread} (GPU verifier)",
            ))
        if tag not in _THREAD_DIMS:
            continue
        if extent is None:
            notes.append(f"{tag} loop: extent depends on other decisions; left to VerifyGPUCode")
            continue
        dim = _THREAD_DIMS[tag]
        out.append(ProductAtMost(
            term=extent, limit=limits.max_thread_extent[dim],
            reason=f"target: {tag} extent at most {limits.max_thread_extent[dim]}",
        ))
        per_dim.setdefault(dim, extent)
    if record.warp_execution and 0 not in per_dim:
        per_dim[0] = Monomial(coef=limits.warp_size)
    if per_dim:
        total = product(per_dim.values())
        what = "threads per block (threadIdx.x = the warp's lanes)" if record.warp_execution \
            else "threads per block"
        out.append(ProductAtMost(
            term=total, limit=limits.max_threads_per_block,
            reason=f"target: {what} at most {limits.max_threads_per_block} "
            f"({limits.max_warps_per_block} warps)",
        ))
        low = record.thread_bounds.get(THREAD_EXTENT_BOUNDS[0])
        high = record.thread_bounds.get(THREAD_EXTENT_BOUNDS[1])
        if low is not None:
            out.append(ProductAtLeast(term=total, limit=low,
                                      reason=f"trace: threads per block at least {low}"))
        if high is not None:
            out.append(ProductAtMost(term=total, limit=high,
                                     reason=f"trace: threads per block at most {high}"))


def _shared_memory(record, sch, loops, limits, out, notes) -> None:
    aligns = {}
    for align in record.aligns:
        name = sch.get(align.block).writes[align.write_index].source.name
        aligns[name] = align
    terms = []
    for cache in record.caches:
        scope = cache.scope
        if not scope.startswith("shared"):
            continue
        block = sch.get(cache.block)
        buffer = next(r.source for r in [*block.writes, *block.reads]
                      if str(r.source.scope()) == scope)
        dims = _footprint(sch, cache.block, buffer, loops)
        if dims is None:
            notes.append(f"shared buffer {buffer.name}: footprint not a product of tile "
                         "factors; left to VerifyGPUCode")
            continue
        size = _BYTES.get(str(buffer.dtype), 4)
        rows_cols = product(dims) if dims else Monomial(coef=1)
        terms.append(Monomial(coef=rows_cols.coef * size, keys=rows_cols.keys))
        if buffer.name in aligns and len(dims) >= 2:
            # storage_align pads each row by at most factor - 1 elements.
            factor = aligns[buffer.name].factor
            rows = product(dims[:-1])
            terms.append(Monomial(coef=rows.coef * (factor - 1) * size, keys=rows.keys))
        notes.append(f"shared buffer {buffer.name} ({scope}): "
                     f"{' x '.join(map(str, dims))} x {size} B"
                     + (" + row padding" if buffer.name in aligns else ""))
    if terms:
        out.append(SumAtMost(
            terms=tuple(terms), limit=limits.max_shared_memory_per_block,
            reason=f"target: shared memory of a block (all shared buffers, storage_align "
            f"padding included) at most {limits.max_shared_memory_per_block} bytes",
        ))


def _footprint(sch, cache_rv, buffer, loops: LoopTable):
    """Symbolic extents of ``buffer``'s region that one allocation holds, per dimension."""
    cache_sref = sch.get_sref(cache_rv)
    shape = [int(x) for x in buffer.shape]
    ref = _reference(sch, cache_rv, buffer.name, shape, loops)
    if ref is None:
        return None
    ref_sref, region = ref
    ref_loops = tir_utils.enclosing_loops(ref_sref)
    cache_loops = tir_utils.enclosing_loops(cache_sref)
    common = 0
    while (common < min(len(ref_loops), len(cache_loops))
           and ref_loops[common].same_as(cache_loops[common])):
        common += 1
    relaxed = [s for s in ref_loops[:common] if _thread_bound(s.stmt)] + ref_loops[common:]
    realize = tir_utils.block_realize(ref_sref)
    binding = {iv.var: value for iv, value in zip(realize.block.iter_vars, realize.iter_values)}
    loop_of = {s.stmt.loop_var: s for s in ref_loops}
    dims = []
    for rng in region:
        if not hasattr(rng.extent, "value"):
            return None
        origins = set()
        for var in undefined_vars(rng.min, []):
            value = next((v for k, v in binding.items() if k.same_as(var)), None)
            for loop_var in undefined_vars(value, []) if value is not None else []:
                sref = next((s for lv, s in loop_of.items() if lv.same_as(loop_var)), None)
                loop_pieces = loops.pieces(sref) if sref is not None else None
                if loop_pieces is not None and len(loop_pieces) == 1:
                    origins.add(loop_pieces[0].origin)
        terms = [Monomial(coef=int(rng.extent.value))]
        for sref in relaxed:
            loop_pieces = loops.pieces(sref)
            if loop_pieces is None:
                return None
            terms.extend(piece.extent for piece in loop_pieces if piece.origin in origins)
        dims.append(product(terms))
    return dims


def _reference(sch, cache_rv, name: str, shape, loops: LoopTable):
    """The access that fixes a cache buffer's footprint: (block sref, region).

    The nearest block (through producers and consumers) whose loops are all
    tracked and that accesses the buffer, or a buffer staged from the same
    tensor (the same name stem, e.g. ``A_reindex_shared`` and
    ``A_reindex_shared_wmma.matrix_a``) with the same shape.
    """
    stem = name.rsplit("_shared", 1)[0]
    seen, frontier = set(), [cache_rv]
    while frontier:
        nxt = []
        for rv in frontier:
            for other in [*sch.get_consumers(rv), *sch.get_producers(rv)]:
                sref = sch.get_sref(other)
                if sref in seen:
                    continue
                seen.add(sref)
                nxt.append(other)
                enclosing = tir_utils.enclosing_loops(sref)
                if any(loops.pieces(s) is None for s in enclosing):
                    continue
                block = sref.stmt
                for region in [*block.reads, *block.writes]:
                    if [int(x) for x in region.source.shape] == shape and \
                            str(region.source.name).startswith(stem):
                        return sref, region.region
        frontier = nxt
    return None


def _thread_bound(loop: For) -> bool:
    if loop.kind != ForKind.THREAD_BINDING or loop.thread_binding is None:
        return False
    tag = str(loop.thread_binding.thread_tag)
    return tag.startswith("threadIdx") or tag.startswith("vthread")


def _vector_widths(record, sch, limits, out, notes) -> None:
    for fetch in record.fetches:
        candidates = fetch.candidates
        block = sch.get(fetch.block)
        size = _BYTES.get(str(block.writes[0].source.dtype), 4)
        # Global rows whose length the width does not divide would make
        # misaligned vector accesses (the copy out of shared memory writes them).
        inner = [int(r.source.shape[-1]) for r in [*block.reads, *block.writes]
                 if str(r.source.scope()) == "global" and len(r.source.shape)]
        legal = tuple(
            i for i, width in enumerate(candidates)
            if width * size <= limits.max_vector_bytes and all(n % width == 0 for n in inner)
        )
        if not legal:
            continue
        out.append(ProductIn(
            term=Monomial(keys=(fetch.choice,)), allowed=legal,
            reason=f"target: cooperative fetch of {block.name_hint}: vector width in "
            f"{[candidates[i] for i in legal]} (at most {limits.max_vector_bytes} bytes, "
            f"dividing the innermost extents {inner} of the global buffers it accesses)",
        ))
