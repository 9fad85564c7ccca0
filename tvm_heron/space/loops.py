"""Symbolic loop state of a trace replay: each loop's extent as a monomial of tile factors.

The interpreter (:mod:`tvm_heron.space.interpreter`) keeps one
:class:`LoopState` per loop it meets, keyed by the loop's sref in the
schedule being replayed:

* ``extent`` is a :class:`~tvm_heron.constraints.Monomial` of the tile
  factors (a constant for a loop of the workload), or None when the loop's
  extent depends on other decisions in a way a monomial cannot express (a
  loop that a ``compute_at`` regenerated);
* ``pieces`` say where the extent comes from: a split gives each part one
  :class:`Piece` of its loop's origin, a fuse concatenates the pieces of its
  loops; :mod:`tvm_heron.space.gpu` reads them to derive buffer footprints.
  None when they are not known (a dependent loop, the part of a fused loop).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import attrs

from ..constraints import Monomial


def constant(value) -> Monomial:
    """The monomial of an integer constant."""
    return Monomial(coef=int(value))


def product(terms: Iterable[Monomial | None]) -> Monomial | None:
    """The product of ``terms``; None when one of them is None (not a monomial)."""
    coef, keys = 1, []
    for term in terms:
        if term is None:
            return None
        coef *= term.coef
        keys.extend(term.keys)
    return Monomial(coef=coef, keys=tuple(keys))


@attrs.frozen
class Piece:
    """A factor of a loop's extent and the original loop it was split from.

    ``origin`` numbers the workload's loops in the order the replay met them.
    """

    origin: int
    extent: Monomial


@attrs.frozen
class LoopState:
    """What the replay knows of one loop: its extent and its pieces (None: not known)."""

    extent: Monomial | None
    pieces: tuple[Piece, ...] | None


class LoopTable:
    """The :class:`LoopState` of every loop met in one replay, by loop sref."""

    def __init__(self) -> None:
        self._states: dict = {}
        self._origins = itertools.count()

    def __contains__(self, sref) -> bool:
        return sref in self._states

    def get(self, sref) -> LoopState | None:
        """The state of a loop; None for a loop the replay has not met."""
        return self._states.get(sref)

    def pieces(self, sref) -> tuple[Piece, ...] | None:
        """The pieces of a loop; None when unknown or not met."""
        state = self._states.get(sref)
        return None if state is None else state.pieces

    def set(self, sref, extent: Monomial | None, pieces: tuple[Piece, ...] | None) -> None:
        """Record a loop that an instruction created."""
        self._states[sref] = LoopState(extent=extent, pieces=pieces)

    def meet(self, sref, *, dependent: bool = False) -> LoopState:
        """The state of a loop, recording it first if new.

        A new loop is one of the workload's (its constant extent, one piece
        of a new origin), or, with ``dependent``, one whose extent depends on
        other decisions (in a block that a ``compute_at`` moved).
        """
        if sref not in self._states:
            if dependent:
                self.set(sref, None, None)
            else:
                extent = constant(sref.stmt.extent)
                self.set(sref, extent, (Piece(origin=next(self._origins), extent=extent),))
        return self._states[sref]

    def static_extent(self, sref) -> Monomial | None:
        """The recorded extent of a loop, or its constant extent in the schedule if not met."""
        state = self._states.get(sref)
        return constant(sref.stmt.extent) if state is None else state.extent
