"""Constraint model of a schedule design space (Heron's constrained search).

This package is deliberately independent of TVM: it describes a design
space as integer variables (tile factors and categorical choices of a
trace) with product constraints, checks and explains points, and finds
points with OR-tools CP-SAT.  Code that reads TVM traces builds the model;
nothing here imports ``tvm``.

Modules
-------
keys
    :class:`TileFactor` and :class:`Choice`, the variable keys.
expr
    :class:`Monomial`, a coefficient times a product of variables.
model
    :class:`Variable`, the constraint classes and :class:`ConstraintModel`.
solver
    :class:`CpSatSolver`: solve, sample, repair, enumerate.
settle
    :func:`settle_lower_bounds`: the largest limits of soft lower bounds, in one solve.
"""

from .expr import Monomial
from .keys import Choice, TileFactor, VarKey
from .model import (
    Constraint,
    ConstraintModel,
    Divides,
    DomainViolation,
    ProductAtLeast,
    ProductAtMost,
    ProductEquals,
    ProductIn,
    SumAtMost,
    Variable,
    Violation,
)
from .settle import settle_lower_bounds
from .solver import CpSatSolver

__all__ = [
    "Choice",
    "Constraint",
    "ConstraintModel",
    "CpSatSolver",
    "Divides",
    "DomainViolation",
    "Monomial",
    "ProductAtLeast",
    "ProductAtMost",
    "ProductEquals",
    "ProductIn",
    "SumAtMost",
    "TileFactor",
    "Variable",
    "VarKey",
    "Violation",
    "settle_lower_bounds",
]
