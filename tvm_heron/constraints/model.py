"""The constraint model of a schedule design space.

A :class:`ConstraintModel` is a list of integer :class:`Variable` s (one per
random decision of a trace) and a list of constraints over them (see
:mod:`tvm_heron.constraints.relations`).  It only *describes* the space and
checks points against it; finding points is the job of
:mod:`tvm_heron.constraints.solver`.  Keeping the description plain data
means a model can be printed (:meth:`ConstraintModel.dump`) and a rejected
program explained (:meth:`ConstraintModel.explain`) without a solver.

A *point* is a ``dict`` mapping each key to an int: the factor for a
:class:`~tvm_heron.constraints.keys.TileFactor`, the candidate index for a
:class:`~tvm_heron.constraints.keys.Choice`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .keys import VarKey
from .relations import (
    Constraint,
    Divides,
    DomainViolation,
    ProductAtLeast,
    ProductAtMost,
    ProductEquals,
    ProductIn,
    SumAtMost,
    Violation,
    format_ints,
    sorted_ints,
)

# The constraint classes are re-exported: they are part of the model's
# vocabulary and callers may import them from here.
__all__ = [
    "Constraint",
    "ConstraintModel",
    "Divides",
    "DomainViolation",
    "ProductAtLeast",
    "ProductAtMost",
    "ProductEquals",
    "ProductIn",
    "SumAtMost",
    "Variable",
    "Violation",
]


@attrs.frozen
class Variable:
    """An integer decision variable with a finite domain.

    Parameters
    ----------
    key : VarKey
        What the variable stands for.
    domain : tuple of int
        Allowed values; stored sorted and de-duplicated.  Must not be empty.
    candidates : tuple, optional
        For a :class:`~tvm_heron.constraints.keys.Choice`, what each index
        stands for (e.g. unroll steps ``(0, 16, 64, 512)``).  Display only.

    Raises
    ------
    ValueError
        If the domain is empty.
    """

    key: VarKey
    domain: tuple[int, ...] = attrs.field(converter=sorted_ints, kw_only=True)
    candidates: tuple[Any, ...] | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(tuple),
        kw_only=True,
    )

    @domain.validator
    def _check_domain(self, _attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
        if not value:
            raise ValueError(f"variable {self.key} has an empty domain")

    def __str__(self) -> str:
        text = f"{self.key} in {format_ints(self.domain)}"
        if self.candidates is not None:
            text += f" -> candidates {self.candidates!r}"
        return text


class ConstraintModel:
    """Variables, constraints and notes describing one design space.

    Parameters
    ----------
    variables : sequence of Variable
        The decision variables; their order fixes :meth:`as_tuple`.
    constraints : sequence of Constraint
        Constraints over declared variables.
    notes : sequence of str, optional
        Free text, e.g. what the model deliberately leaves unconstrained.

    Raises
    ------
    ValueError
        If two variables share a key, or a constraint uses an undeclared key.
    """

    def __init__(
        self,
        *,
        variables: Sequence[Variable],
        constraints: Sequence[Constraint],
        notes: Sequence[str] = (),
    ) -> None:
        self._variables = tuple(variables)
        self._constraints = tuple(constraints)
        self._notes = tuple(str(note) for note in notes)
        self._by_key: dict[VarKey, Variable] = {}
        for var in self._variables:
            if var.key in self._by_key:
                raise ValueError(f"variable {var.key} is declared twice")
            self._by_key[var.key] = var
        for constraint in self._constraints:
            # sorted() so the error names the same key on every run
            for key in sorted(constraint.keys()):
                if key not in self._by_key:
                    raise ValueError(f"constraint [{constraint}] uses undeclared variable {key}")
        self._keys = tuple(var.key for var in self._variables)
        self._domain_sets = {var.key: frozenset(var.domain) for var in self._variables}

    @property
    def variables(self) -> tuple[Variable, ...]:
        """The variables, in the order given."""
        return self._variables

    @property
    def keys(self) -> tuple[VarKey, ...]:
        """The variables' keys, in variable order."""
        return self._keys

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The constraints, in the order given."""
        return self._constraints

    @property
    def notes(self) -> tuple[str, ...]:
        """Free-text notes about the model."""
        return self._notes

    def variable(self, key: VarKey) -> Variable:
        """The variable declared for ``key``.

        Raises
        ------
        KeyError
            If no variable has that key.
        """
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"no variable {key} in the model") from None

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __len__(self) -> int:
        return len(self._variables)

    def violations(self, point: Mapping[VarKey, int]) -> list[Violation]:
        """Everything ``point`` violates, domains first, then constraints.

        Constraints touching a missing key are skipped (they cannot be
        evaluated); the missing key itself is reported.

        Parameters
        ----------
        point : mapping of VarKey to int

        Returns
        -------
        list of Constraint or DomainViolation
            Empty when the point is feasible.

        Raises
        ------
        ValueError
            If ``point`` has a key the model does not declare.
        """
        self._check_known(point)
        found: list[Violation] = []
        for var in self._variables:
            value = point.get(var.key)
            if value is None or int(value) not in self._domain_sets[var.key]:
                found.append(
                    DomainViolation(
                        key=var.key,
                        value=None if value is None else int(value),
                        domain=var.domain,
                    )
                )
        found.extend(
            c for c in self._constraints if all(k in point for k in c.keys()) and not c.check(point)
        )
        return found

    def is_feasible(self, point: Mapping[VarKey, int]) -> bool:
        """Whether ``point`` is complete, within domains and satisfies all constraints."""
        return not self.violations(point)

    def explain(self, point: Mapping[VarKey, int]) -> str:
        """Answer "why was this point excluded?".

        Returns
        -------
        str
            ``"feasible"``, or one violated constraint (with its reason) per line.
        """
        found = self.violations(point)
        return "\n".join(str(v) for v in found) if found else "feasible"

    def as_tuple(self, point: Mapping[VarKey, int]) -> tuple[int, ...]:
        """The point's values in variable order, for hashing and de-duplication.

        Raises
        ------
        ValueError
            If a key is missing or unknown.
        """
        self._check_known(point)
        missing = [str(k) for k in self.keys if k not in point]
        if missing:
            raise ValueError(f"point lacks variable(s) {', '.join(missing)}")
        return tuple(int(point[key]) for key in self.keys)

    def from_tuple(self, values: Sequence[int]) -> dict[VarKey, int]:
        """Inverse of :meth:`as_tuple`.

        Raises
        ------
        ValueError
            If the number of values differs from the number of variables.
        """
        if len(values) != len(self._variables):
            raise ValueError(f"expected {len(self._variables)} values, got {len(values)}")
        return {key: int(v) for key, v in zip(self.keys, values)}

    def dump(self) -> str:
        """A readable, stable multi-line description of the whole model."""
        lines = [
            f"ConstraintModel: {len(self._variables)} variables, "
            f"{len(self._constraints)} constraints, {len(self._notes)} notes",
            "variables:",
        ]
        lines += [f"  {var}" for var in self._variables]
        lines.append("constraints:")
        lines += [f"  [{i}] {c}" for i, c in enumerate(self._constraints)]
        if self._notes:
            lines.append("notes:")
            lines += [f"  - {note}" for note in self._notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.dump()

    def _check_known(self, point: Mapping[VarKey, int]) -> None:
        unknown = [str(k) for k in point if k not in self._by_key]
        if unknown:
            raise ValueError(f"point has unknown variable(s) {', '.join(sorted(unknown))}")
