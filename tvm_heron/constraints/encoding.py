"""Translation of a :class:`~tvm_heron.constraints.model.ConstraintModel` into CP-SAT.

* a variable becomes an ``IntVar`` over exactly its domain;
* a product ``x1 * x2 * ... * xn`` becomes a chain of intermediate
  ``IntVar`` s, ``p2 = x1 * x2``, ``p3 = p2 * x3``, ..., bounded by interval
  arithmetic; chains with a common prefix share their intermediates;
* ``coef * product`` is then linear, so ``==``, ``<=``, "in a set" and a
  sum of products ``<=`` a limit are plain linear constraints;
* ``divisor | dividend`` becomes ``dividend == q * divisor`` with an
  auxiliary quotient ``q``;
* a constraint without variables is decided on the spot; a false one makes
  the CP-SAT model infeasible.

The auxiliary variables are functions of the model's variables, except a
quotient by zero, so CP-SAT solutions map one-to-one to points (callers
enumerating solutions still de-duplicate, for that exception).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ortools.sat.python import cp_model

from .expr import Monomial
from .keys import VarKey
from .model import ConstraintModel
from .relations import (
    Constraint,
    Divides,
    ProductAtLeast,
    ProductAtMost,
    ProductEquals,
    ProductIn,
    SumAtMost,
)

__all__ = ["CpSatEncoding"]

logger = logging.getLogger(__name__)

# CP-SAT rejects variable bounds near the int64 limits (it must be able to
# negate and add them); products of wide domains are clipped to this.
_BOUND_CAP = 2**61

_Bounds = tuple[int, int]


def _mul_bounds(a: _Bounds, b: _Bounds) -> _Bounds:
    corners = [x * y for x in a for y in b]
    return min(corners), max(corners)


def _clip(bounds: _Bounds, what: str) -> _Bounds:
    lo, hi = max(bounds[0], -_BOUND_CAP), min(bounds[1], _BOUND_CAP)
    if (lo, hi) != bounds:
        logger.warning("bounds of %s clipped to [%d, %d]", what, lo, hi)
    return lo, hi


_TERM_RELATIONS = (ProductEquals, ProductAtMost, ProductAtLeast, ProductIn)


class _CpModel(cp_model.CpModel):
    """A ``CpModel`` without OR-tools' per-instance camelCase aliases.

    ``CpModel.__init__`` attaches a deprecated camelCase alias of each of its
    ~100 ``add_``/``new_`` methods to every instance: 0.4 ms a model, more than
    a hinted solve of a schedule's model takes, paid by every query's clone
    (a CGA round breeds thousands). The aliases are for pre-PEP 8 callers;
    nothing here uses them. Should OR-tools rename the hook, this override is
    merely unused and the clones get slower, not different.
    """

    def _add_pre_pep8_methods(self) -> None:  # noqa: D401
        pass


def _copy(base: cp_model.CpModel) -> cp_model.CpModel:
    """``base.clone()``, as a :class:`_CpModel`."""
    copy = _CpModel()
    copy.proto.copy_from(base.proto)
    copy.rebuild_constant_map()
    return copy


class _Sink(NamedTuple):
    """Where product chains are built: a CpModel, its variables by key, its chains by keys.

    Chains are kept as proto indices, which a clone of the model shares.
    """

    cp: cp_model.CpModel
    var: Callable[[VarKey], cp_model.IntVar]
    products: dict[tuple[VarKey, ...], int]


class CpSatEncoding:
    """A constraint model translated, once, into a base ``cp_model.CpModel``.

    Parameters
    ----------
    model : ConstraintModel
        The model to translate.

    Notes
    -----
    The base model must stay untouched after construction: queries work
    on :meth:`clone` s, so nothing one query adds can leak into another.
    """

    def __init__(self, model: ConstraintModel) -> None:
        self._cp = _CpModel()
        # Proto indices rather than IntVar objects: indices stay valid in a
        # clone, where they are turned back into that clone's IntVars.
        self._index: dict[VarKey, int] = {}
        self._bounds: dict[VarKey, _Bounds] = {}
        self._products: dict[tuple[VarKey, ...], int] = {}  # product chains
        for var in model.variables:
            iv = self._cp.new_int_var_from_domain(cp_model.Domain.from_values(var.domain), str(var.key))
            self._index[var.key] = iv.index
            self._bounds[var.key] = (var.domain[0], var.domain[-1])
        for constraint in model.constraints:
            self._add(constraint)

    def clone(self) -> tuple[cp_model.CpModel, dict[VarKey, cp_model.IntVar]]:
        """A copy of the base model and its IntVars by key.

        Returns
        -------
        cp_model.CpModel
            A fresh copy that the caller may extend freely.
        dict of VarKey to cp_model.IntVar
            The model's variables, as variables of that copy.
        """
        cp = _copy(self._cp)
        return cp, {key: cp.get_int_var_from_proto_index(i) for key, i in self._index.items()}

    def clone_with(
        self, terms: Sequence[Monomial]
    ) -> tuple[cp_model.CpModel, dict[VarKey, cp_model.IntVar], list[cp_model.LinearExprT]]:
        """A clone (as :meth:`clone`) and, in it, a linear expression equal to each of ``terms``.

        For a query's objective: the products that ``terms`` need and the
        base lacks are added to the clone only.
        """
        cp, cp_vars = self.clone()
        sink = _Sink(cp, cp_vars.__getitem__, dict(self._products))
        exprs = [self._expr(term, sink)[0] for term in terms]
        return cp, cp_vars, exprs

    def stats(self) -> str:
        """CP-SAT's one-paragraph statistics of the base model (for logs)."""
        return self._cp.model_stats()

    def _var(self, key: VarKey) -> cp_model.IntVar:
        return self._cp.get_int_var_from_proto_index(self._index[key])

    def _product(
        self, keys: tuple[VarKey, ...], sink: _Sink | None = None
    ) -> tuple[cp_model.IntVar, _Bounds]:
        """IntVar equal to the product of ``keys`` (at least one key), and its bounds.

        Built in ``sink`` (default: the base model), sharing its chains.
        """
        sink = sink or _Sink(self._cp, self._var, self._products)
        if len(keys) == 1:
            return sink.var(keys[0]), self._bounds[keys[0]]
        prefix, head_bounds = self._product(keys[:-1], sink)
        bounds = _mul_bounds(head_bounds, self._bounds[keys[-1]])
        cached = sink.products.get(keys)
        if cached is not None:
            return sink.cp.get_int_var_from_proto_index(cached), bounds
        lo, hi = _clip(bounds, " * ".join(map(str, keys)))
        prod = sink.cp.new_int_var(lo, hi, "*".join(k.short for k in keys))
        sink.cp.add_multiplication_equality(prod, [prefix, sink.var(keys[-1])])
        sink.products[keys] = prod.index
        return prod, bounds

    def _expr(
        self, term: Monomial, sink: _Sink | None = None
    ) -> tuple[cp_model.LinearExprT, _Bounds]:
        """Linear expression equal to ``term``, and its bounds (``sink``: see :meth:`_product`)."""
        if term.is_constant:
            return term.coef, (term.coef, term.coef)
        prod, bounds = self._product(term.keys, sink)
        return term.coef * prod, _mul_bounds((term.coef, term.coef), bounds)

    def _add(self, constraint: Constraint) -> None:
        if isinstance(constraint, _TERM_RELATIONS) and constraint.term.is_constant:
            # No variable: decide now (an int cannot carry a CP-SAT relation).
            self._add_constant(constraint)
            return
        if isinstance(constraint, ProductEquals):
            self._cp.add(self._expr(constraint.term)[0] == constraint.value)
        elif isinstance(constraint, ProductAtMost):
            self._cp.add(self._expr(constraint.term)[0] <= constraint.limit)
        elif isinstance(constraint, ProductAtLeast):
            self._cp.add(self._expr(constraint.term)[0] >= constraint.limit)
        elif isinstance(constraint, ProductIn):
            expr = self._expr(constraint.term)[0]
            self._cp.add_linear_expression_in_domain(expr, cp_model.Domain.from_values(constraint.allowed))
        elif isinstance(constraint, SumAtMost):
            if not constraint.keys():
                self._add_constant(constraint)
            else:
                self._add_sum_at_most(constraint)
        elif isinstance(constraint, Divides):
            self._add_divides(constraint)
        else:
            raise TypeError(f"unsupported constraint type {type(constraint).__name__}")

    def _add_sum_at_most(self, constraint: SumAtMost) -> None:
        """``sum(coef * product) <= limit``, each non-negative product capped at ``limit // coef``.

        The cap keeps the linear expression's bounds small: the products of a
        footprint (tile factors of large loops) can reach 1e16, and CP-SAT
        rejects a model whose ``coef * product`` may overflow int64.
        """
        summands = []
        for term in constraint.terms:
            if term.is_constant:
                summands.append(term.coef)
                continue
            prod, (lo, hi) = self._product(term.keys)
            if lo >= 0 and term.coef > 0:
                cap = max(lo, min(hi, constraint.limit // term.coef))
                capped = self._cp.new_int_var(lo, cap, f"cap[{'*'.join(k.short for k in term.keys)}]")
                self._cp.add(capped == prod)
                summands.append(term.coef * capped)
            else:
                summands.append(term.coef * prod)
        self._cp.add(sum(summands) <= constraint.limit)

    def _add_constant(self, constraint: Constraint) -> None:
        if not constraint.check({}):
            logger.info("constant constraint is false, model infeasible: %s", constraint)
            self._cp.add_bool_or([])  # the empty disjunction is false

    def _add_divides(self, constraint: Divides) -> None:
        if constraint.divisor.is_constant and constraint.dividend.is_constant:
            self._add_constant(constraint)
            return
        dividend, (dlo, dhi) = self._expr(constraint.dividend)
        divisor, (vlo, _vhi) = self._expr(constraint.divisor)
        if dlo >= 0 and vlo >= 1:
            q_lo, q_hi = 0, dhi // vlo
        else:
            # Signs unknown: |q| <= |dividend| whenever the divisor is non-zero.
            # (With a zero divisor q is free; enumerate_all de-duplicates.)
            big = max(abs(dlo), abs(dhi))
            q_lo, q_hi = _clip((-big, big), f"quotient [{constraint.reason}]")
        quotient = self._cp.new_int_var(q_lo, q_hi, f"q[{constraint.reason}]")
        self._cp.add_multiplication_equality(dividend, [quotient, divisor])

