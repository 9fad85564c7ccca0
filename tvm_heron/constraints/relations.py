"""Constraints of a design space, and what a point can violate.

Each constraint is a frozen value object carrying a ``reason``: the
sentence that ``dump`` prints next to it and ``explain`` returns when a
point violates it, so a user can read why a program was excluded.  All
constraints share a small duck-typed interface:

``keys()``
    The variables the constraint reads.
``check(point)``
    Whether a complete point satisfies it.
``str()``
    The relation followed by its reason in parentheses.

:class:`DomainViolation` follows the same interface so that violated
domains and violated constraints can be listed together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

import attrs

from .expr import Monomial
from .keys import Choice, TileFactor, VarKey

__all__ = [
    "Constraint",
    "Divides",
    "DomainViolation",
    "ProductAtLeast",
    "ProductAtMost",
    "ProductEquals",
    "ProductIn",
    "Violation",
]


def _as_monomial(term: Monomial | VarKey | int) -> Monomial:
    # Accept a bare key or constant so callers can write ``ProductAtMost(
    # term=key, ...)`` for the common one-variable case.
    if isinstance(term, Monomial):
        return term
    if isinstance(term, (TileFactor, Choice)):
        return Monomial(keys=(term,))
    return Monomial(coef=int(term))


def sorted_ints(values: Sequence[int]) -> tuple[int, ...]:
    """Sorted, de-duplicated ints (the normal form of domains and value sets).

    Parameters
    ----------
    values : sequence of int

    Returns
    -------
    tuple of int
    """
    return tuple(sorted({int(v) for v in values}))


def format_ints(values: Sequence[int]) -> str:
    """Format ints as a set, e.g. ``{1, 2, 4}``.

    Parameters
    ----------
    values : sequence of int

    Returns
    -------
    str
    """
    return "{" + ", ".join(str(v) for v in values) + "}"


@attrs.frozen(kw_only=True)
class ProductEquals:
    """``term == value``; e.g. the factors of a split multiply to the extent.

    Parameters
    ----------
    term : Monomial
        Left-hand side (a bare key or int is wrapped into a monomial).
    value : int
        Required value.
    reason : str
        Why the constraint exists, shown by ``dump`` and ``explain``.
    """

    term: Monomial = attrs.field(converter=_as_monomial)
    value: int = attrs.field(converter=int)
    reason: str

    def keys(self) -> frozenset[VarKey]:
        """Keys the constraint depends on."""
        return self.term.key_set()

    def check(self, point: Mapping[VarKey, int]) -> bool:
        """Whether ``point`` satisfies the constraint."""
        return self.term.value(point) == self.value

    def __str__(self) -> str:
        return f"{self.term} == {self.value}  ({self.reason})"


@attrs.frozen(kw_only=True)
class ProductAtMost:
    """``term <= limit``; e.g. a buffer footprint fits a cache or register file.

    Parameters
    ----------
    term : Monomial
        Left-hand side (a bare key or int is wrapped into a monomial).
    limit : int
        Inclusive upper bound.
    reason : str
        Why the constraint exists.
    """

    term: Monomial = attrs.field(converter=_as_monomial)
    limit: int = attrs.field(converter=int)
    reason: str

    def keys(self) -> frozenset[VarKey]:
        """Keys the constraint depends on."""
        return self.term.key_set()

    def check(self, point: Mapping[VarKey, int]) -> bool:
        """Whether ``point`` satisfies the constraint."""
        return self.term.value(point) <= self.limit

    def __str__(self) -> str:
        return f"{self.term} <= {self.limit}  ({self.reason})"


@attrs.frozen(kw_only=True)
class SumAtMost:
    """``term_1 + term_2 + ... <= limit``; e.g. the shared memory of several buffers of a block.

    Parameters
    ----------
    terms : tuple of Monomial
        The summands (bare keys or ints are wrapped into monomials).
    limit : int
        Inclusive upper bound.
    reason : str
        Why the constraint exists.
    """

    terms: tuple[Monomial, ...] = attrs.field(
        converter=lambda ts: tuple(_as_monomial(t) for t in ts)
    )
    limit: int = attrs.field(converter=int)
    reason: str

    def keys(self) -> frozenset[VarKey]:
        """Keys the constraint depends on."""
        out: frozenset[VarKey] = frozenset()
        for term in self.terms:
            out |= term.key_set()
        return out

    def check(self, point: Mapping[VarKey, int]) -> bool:
        """Whether ``point`` satisfies the constraint."""
        return sum(term.value(point) for term in self.terms) <= self.limit

    def __str__(self) -> str:
        return f"{' + '.join(map(str, self.terms))} <= {self.limit}  ({self.reason})"


@attrs.frozen(kw_only=True)
class ProductAtLeast:
    """``term >= limit``; e.g. a parallel loop gives every core work.

    Parameters
    ----------
    term : Monomial
        Left-hand side (a bare key or int is wrapped into a monomial).
    limit : int
        Inclusive lower bound.
    reason : str
        Why the constraint exists.
    """

    term: Monomial = attrs.field(converter=_as_monomial)
    limit: int = attrs.field(converter=int)
    reason: str

    def keys(self) -> frozenset[VarKey]:
        """Keys the constraint depends on."""
        return self.term.key_set()

    def check(self, point: Mapping[VarKey, int]) -> bool:
        """Whether ``point`` satisfies the constraint."""
        return self.term.value(point) >= self.limit

    def __str__(self) -> str:
        return f"{self.term} >= {self.limit}  ({self.reason})"


@attrs.frozen(kw_only=True)
class ProductIn:
    """``term`` is one of ``allowed``; e.g. a vector length the ISA offers.

    Parameters
    ----------
    term : Monomial
        Left-hand side (a bare key or int is wrapped into a monomial).
    allowed : tuple of int
        Allowed values; stored sorted and de-duplicated.  Must not be empty
        (an empty set would silently make the whole space infeasible).
    reason : str
        Why the constraint exists.
    """

    term: Monomial = attrs.field(converter=_as_monomial)
    allowed: tuple[int, ...] = attrs.field(converter=sorted_ints)
    reason: str

    @allowed.validator
    def _check_allowed(self, _attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
        if not value:
            raise ValueError(f"ProductIn on {self.term} has no allowed value ({self.reason})")

    def keys(self) -> frozenset[VarKey]:
        """Keys the constraint depends on."""
        return self.term.key_set()

    def check(self, point: Mapping[VarKey, int]) -> bool:
        """Whether ``point`` satisfies the constraint."""
        return self.term.value(point) in self.allowed

    def __str__(self) -> str:
        return f"{self.term} in {format_ints(self.allowed)}  ({self.reason})"


@attrs.frozen(kw_only=True)
class Divides:
    """``divisor`` divides ``dividend``; e.g. a vector width divides a tile.

    Parameters
    ----------
    divisor, dividend : Monomial
        The two sides (a bare key or int is wrapped into a monomial).
    reason : str
        Why the constraint exists.

    Notes
    -----
    Zero divides only zero, matching the encoding ``dividend == q * divisor``
    used by the solver.
    """

    divisor: Monomial = attrs.field(converter=_as_monomial)
    dividend: Monomial = attrs.field(converter=_as_monomial)
    reason: str

    def keys(self) -> frozenset[VarKey]:
        """Keys the constraint depends on."""
        return self.divisor.key_set() | self.dividend.key_set()

    def check(self, point: Mapping[VarKey, int]) -> bool:
        """Whether ``point`` satisfies the constraint."""
        divisor = self.divisor.value(point)
        dividend = self.dividend.value(point)
        if divisor == 0:
            return dividend == 0
        return dividend % divisor == 0

    def __str__(self) -> str:
        return f"({self.divisor}) divides ({self.dividend})  ({self.reason})"


#: Any constraint a :class:`~tvm_heron.constraints.model.ConstraintModel` can hold.
Constraint: TypeAlias = ProductEquals | ProductAtMost | SumAtMost | ProductAtLeast | ProductIn | Divides


@attrs.frozen(kw_only=True)
class DomainViolation:
    """A point's value lies outside its variable's domain, or is missing.

    Returned by
    :meth:`~tvm_heron.constraints.model.ConstraintModel.violations` next to violated
    constraints, so that "why was this point excluded" also covers domains.

    Parameters
    ----------
    key : VarKey
        The offending variable.
    value : int or None
        The value found in the point; None when the key was missing.
    domain : tuple of int
        The variable's domain.
    """

    key: VarKey
    value: int | None
    domain: tuple[int, ...]

    @property
    def reason(self) -> str:
        """Explanation, mirroring the ``reason`` of real constraints."""
        return "value outside the variable's domain" if self.value is not None else "no value given"

    def keys(self) -> frozenset[VarKey]:
        """The single offending key."""
        return frozenset((self.key,))

    def check(self, point: Mapping[VarKey, int]) -> bool:
        """Whether ``point`` gives the key a value within the domain."""
        return self.key in point and int(point[self.key]) in self.domain

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.key} is missing from the point (domain {format_ints(self.domain)})"
        return f"{self.key} = {self.value} is outside its domain {format_ints(self.domain)}"


#: An entry of :meth:`~tvm_heron.constraints.model.ConstraintModel.violations`.
Violation: TypeAlias = Constraint | DomainViolation
