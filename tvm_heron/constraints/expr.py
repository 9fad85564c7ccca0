"""Monomials over variable keys: the only arithmetic the model needs.

Every quantity Heron constrains in a tiled program (a loop extent, a
buffer footprint, a number of accumulator registers) is an integer
constant times a product of tile factors, so a monomial is expressive
enough and keeps both the checker and the CP-SAT encoding simple.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from .keys import VarKey

__all__ = ["Monomial"]


def _sorted_keys(keys: Iterable[VarKey]) -> tuple[VarKey, ...]:
    # Multiplication commutes; sorting makes ``a*b`` and ``b*a`` equal and
    # gives stable printing.
    return tuple(sorted(keys))


@attrs.frozen(kw_only=True)
class Monomial:
    """``coef`` times the product of the variables named by ``keys``.

    Parameters
    ----------
    coef : int, optional
        Integer coefficient (default 1).
    keys : tuple of VarKey, optional
        Factors of the product; a key may repeat (``x * x``).  Stored
        sorted, so equality does not depend on the order given.

    Examples
    --------
    >>> from tvm_heron.constraints.keys import TileFactor
    >>> m = Monomial(coef=16, keys=(TileFactor(7, 1), TileFactor(5, 2)))
    >>> str(m)
    '16 * tile#5[2] * tile#7[1]'
    >>> m.value({TileFactor(5, 2): 2, TileFactor(7, 1): 4})
    128
    """

    coef: int = attrs.field(default=1, converter=int)
    keys: tuple[VarKey, ...] = attrs.field(default=(), converter=_sorted_keys)

    @classmethod
    def of(cls, *keys: VarKey, coef: int = 1) -> Monomial:
        """Build a monomial from keys given as positional arguments.

        Parameters
        ----------
        *keys : VarKey
            Factors of the product.
        coef : int, optional
            Integer coefficient (default 1).

        Returns
        -------
        Monomial
        """
        return cls(coef=coef, keys=keys)

    @property
    def is_constant(self) -> bool:
        """True when the monomial has no variable factor."""
        return not self.keys

    def key_set(self) -> frozenset[VarKey]:
        """The distinct keys the monomial depends on.

        Returns
        -------
        frozenset of VarKey
        """
        return frozenset(self.keys)

    def value(self, point: Mapping[VarKey, int]) -> int:
        """Evaluate the monomial at ``point``.

        Parameters
        ----------
        point : mapping of VarKey to int
            Must contain every key of the monomial.

        Returns
        -------
        int

        Raises
        ------
        KeyError
            If a key of the monomial is missing from ``point``.
        """
        result = self.coef
        for key in self.keys:
            # int() so numpy integers from samplers do not leak into results
            # (and cannot silently overflow at 64 bits).
            result *= int(point[key])
        return result

    def __str__(self) -> str:
        if not self.keys:
            return str(self.coef)
        names = " * ".join(key.short for key in self.keys)
        return names if self.coef == 1 else f"{self.coef} * {names}"
