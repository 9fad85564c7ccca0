"""CPU limits of a design space, read from its trace: parallel extent, vector lanes, registers.

:mod:`tvm_heron.space.interpreter` replays a trace; for an llvm target its
handlers (:mod:`tvm_heron.space.handlers`) turn, on the way, the loops the
trace parallelises or vectorises, and afterwards the register tiles of the
blocks it tensorizes, into constraints against the target's
:class:`~tvm_heron.target.CpuLimits` (the GPU counterpart is
:mod:`tvm_heron.space.gpu`):

* a ``Parallel`` loop has at least ``num_cores`` iterations, or all it can
  have, so that every core gets work;
* a ``Vectorize`` loop has a legal lane count;
* the register tile of a tensorized block (the spatial loops inside its
  innermost reduction loop) holds at most the accumulators the registers
  allow, and, as a :class:`LowerBound` that the analysis settles against the
  whole model, at least as many as hide the multiply-accumulate's latency.

Each function takes the extent (a monomial of tile factors) of the loop or
tile it limits; the constraints come back in the order of the trace, which
fixes the model, and so the solver's points, for a given trace.
"""

from __future__ import annotations

import attrs

from .. import tir_utils
from ..constraints import Monomial, ProductAtLeast, ProductAtMost, ProductIn
from ..target import CpuLimits
from .loops import LoopTable, product


@attrs.frozen
class LowerBound:
    """A wish ``term >= limit``, lowered until the model stays feasible.

    ``reason`` is a format string with a ``{limit}`` field, filled with the
    limit that the settling keeps.
    """

    term: Monomial
    limit: int
    reason: str

    def at(self, limit: int) -> ProductAtLeast:
        """The constraint of this wish at ``limit``."""
        return ProductAtLeast(term=self.term, limit=limit, reason=self.reason.format(limit=limit))


def parallel(extent: Monomial, name: str, limits: CpuLimits, most: int) -> ProductAtLeast:
    """A parallel loop's iterations: ``min_parallel_extent``, or ``most`` (all it can have)."""
    need = min(limits.min_parallel_extent, most)
    return ProductAtLeast(
        term=extent,
        limit=need,
        reason=f"target: parallel loop {name} has at least {need} iterations "
        f"(num-cores {limits.num_cores}, or all it can have)",
    )


def vectorized(extent: Monomial, name: str, limits: CpuLimits) -> ProductIn:
    """A vectorised loop's extent: one of the target's lane counts."""
    return ProductIn(
        term=extent,
        allowed=limits.vector_lanes,
        reason=f"target: vectorized loop {name} has a legal lane count",
    )


@attrs.frozen
class RegisterTile:
    """The limits of one tensorized block's register tile (see :func:`register_tile`)."""

    constraints: tuple = ()
    bound: LowerBound | None = None
    note: str | None = None


def register_tile(block_sref, intrin: str, loops: LoopTable, limits: CpuLimits) -> RegisterTile:
    """The accumulator limits of a block tensorized with ``intrin``, after the replay.

    The tile is the product of the extents of the loops inside the block's
    innermost reduction loop (``loops`` gives those the replay tracked). A
    block without a reduction loop has no limits; one whose tile depends on
    other decisions gets a note instead.
    """
    enclosing = tir_utils.enclosing_loops(block_sref)
    reduce = [i for i, s in enumerate(enclosing) if tir_utils.is_reduction_loop(block_sref, s.stmt)]
    if not reduce:
        return RegisterTile()
    tile = product(loops.static_extent(s) for s in enclosing[reduce[-1] + 1 :])
    name = block_sref.stmt.name_hint
    if tile is None:
        return RegisterTile(note=f"register tile of {name}: extent depends on other decisions")
    most, need = limits.accumulators(intrin)
    at_most = ProductAtMost(
        term=tile,
        limit=most,
        reason=f"target: the register tile of {name} (spatial loops inside its innermost "
        f"reduction loop) holds at most {most} {intrin} accumulators",
    )
    # Fewer independent accumulators than the multiply-accumulate's latency
    # x issue ports leave its unit waiting; a tile that cannot have that many
    # takes the most it can: the bound is settled against the whole model
    # (see analysis.settle_lower_bounds), as other limits (a parallel loop
    # over the same extent) may leave less.
    bound = None
    if need > 1:
        bound = LowerBound(
            term=tile, limit=need,
            reason=f"target: the register tile of {name} keeps at least {{limit}} "
            f"independent {intrin} accumulators (latency hiding: {need}, or the most "
            "that fits)",
        )
    return RegisterTile(constraints=(at_most,), bound=bound)
