"""Typed keys naming the decision variables of a schedule design space.

A MetaSchedule trace makes two kinds of random decisions that the
constraint model reasons about:

* ``SamplePerfectTile`` picks the factors of a loop split; each factor is
  one variable, :class:`TileFactor`.
* ``SampleCategorical`` picks an index into a list of candidates (unroll
  steps, vector widths, ...); the index is one variable, :class:`Choice`.

Both are identified by the number of the trace instruction that made the
decision, so a key stays valid as long as the trace's instruction order
does.  The block/loop/name labels are for humans only: they take no part in
equality, hashing or ordering, because two traces of the same design space
may print the same instruction with different labels.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

__all__ = ["Choice", "TileFactor", "VarKey"]


class _OrderedKey:
    """Total order shared by every key class.

    attrs' generated comparisons refuse to compare instances of different
    classes, which would make ``sorted()`` of a mixed key list raise.  Both
    key classes therefore compare through :attr:`sort_key`, whose last
    component (the class rank) keeps the order consistent with equality.
    """

    __slots__ = ()

    @property
    def sort_key(self) -> tuple[int, int, int]:
        """Tuple ``(inst, level, class rank)`` used for ordering."""
        raise NotImplementedError

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, _OrderedKey):
            return NotImplemented
        return self.sort_key < other.sort_key

    def __le__(self, other: object) -> bool:
        if not isinstance(other, _OrderedKey):
            return NotImplemented
        return self.sort_key <= other.sort_key

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, _OrderedKey):
            return NotImplemented
        return self.sort_key > other.sort_key

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, _OrderedKey):
            return NotImplemented
        return self.sort_key >= other.sort_key


@attrs.frozen(order=False)
class TileFactor(_OrderedKey):
    """One factor of a perfect tiling.

    Parameters
    ----------
    inst : int
        Index of the ``SamplePerfectTile`` instruction in the trace.
    level : int
        Position of the factor in the sampled tile (0 = outermost).
    block : str, optional
        Name of the block whose loop is split (label only).
    loop : str, optional
        Name of the split loop (label only).

    Notes
    -----
    Identity is ``(inst, level)``: the labels are ignored by ``==``,
    ``hash`` and ordering.
    """

    inst: int = attrs.field(converter=int)
    level: int = attrs.field(converter=int)
    block: str = attrs.field(eq=False, order=False, default="", kw_only=True)
    loop: str = attrs.field(eq=False, order=False, default="", kw_only=True)

    @property
    def sort_key(self) -> tuple[int, int, int]:
        """Tuple ``(inst, level, 0)`` used for ordering."""
        return (self.inst, self.level, 0)

    @property
    def short(self) -> str:
        """Label-free name, e.g. ``tile#5[2]``."""
        return f"tile#{self.inst}[{self.level}]"

    @property
    def label(self) -> str:
        """Human label such as ``C.i`` (empty when no label was given)."""
        return ".".join(part for part in (self.block, self.loop) if part)

    def __str__(self) -> str:
        label = self.label
        return f"{self.short} ({label})" if label else self.short


@attrs.frozen(order=False)
class Choice(_OrderedKey):
    """The index picked by a categorical sampling instruction.

    Parameters
    ----------
    inst : int
        Index of the ``SampleCategorical`` instruction in the trace.
    name : str, optional
        What the choice decides, e.g. ``"unroll"`` (label only).

    Notes
    -----
    Identity is ``inst``: the name is ignored by ``==``, ``hash`` and
    ordering.  The variable's value is the index into the candidates, not
    the candidate itself.
    """

    inst: int = attrs.field(converter=int)
    name: str = attrs.field(eq=False, order=False, default="", kw_only=True)

    @property
    def level(self) -> int:
        """Always 0; lets code treat both key kinds alike."""
        return 0

    @property
    def sort_key(self) -> tuple[int, int, int]:
        """Tuple ``(inst, 0, 1)`` used for ordering."""
        return (self.inst, 0, 1)

    @property
    def short(self) -> str:
        """Label-free name, e.g. ``choice#9``."""
        return f"choice#{self.inst}"

    @property
    def label(self) -> str:
        """Human label (the name; empty when none was given)."""
        return self.name

    def __str__(self) -> str:
        return f"{self.short} ({self.name})" if self.name else self.short


#: Any variable key of a :class:`~tvm_heron.constraints.model.ConstraintModel`.
VarKey: TypeAlias = TileFactor | Choice
