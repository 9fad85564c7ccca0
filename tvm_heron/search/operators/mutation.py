"""Mutations of a single parent: unconstrained (GA) and constrained (SA).

:class:`RandomMutation` is the classic GA's mutation for the unconstrained
baseline: it resamples variables independently and may break constraints.
:class:`ConstrainedMutation` is the neighbour move of simulated annealing
over the constrained space: it changes one variable and asks the solver for
the nearest-by-hint feasible point that has the new value, so the other
variables change only as much as the constraints require.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ...constraints import ConstraintModel, CpSatSolver, VarKey
from .base import Operator, Point, solver_seed

__all__ = ["ConstrainedMutation", "RandomMutation"]

logger = logging.getLogger(__name__)

# Draws of ConstrainedMutation before it gives up; on schedule spaces a
# value that admits no feasible point is rare, so a few tries suffice.
_MAX_TRIES = 8


def _other_values(domain: Sequence[int], current: int) -> tuple[int, ...]:
    """The domain values that differ from ``current``."""
    return tuple(v for v in domain if v != current)


class RandomMutation(Operator):
    """Resample each variable with probability ``rate`` (classic GA).

    Parameters
    ----------
    model : ConstraintModel
        Supplies the variables and their domains.
    rate : float, optional
        Probability that a variable is resampled (default 0.1).

    Raises
    ------
    ValueError
        If ``rate`` is outside ``[0, 1]``.

    Notes
    -----
    A resampled variable takes a value drawn uniformly from its domain
    *without its current value*: redrawing the same value would be a
    silent no-op.  When no variable is drawn, one variable (uniformly among
    those with more than one domain value) is, so the child always differs
    from its parent.  No feasibility guarantee.
    """

    n_parents = 1

    def __init__(self, model: ConstraintModel, *, rate: float = 0.1) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        self._model = model
        self._rate = float(rate)
        self._mutable = [i for i, v in enumerate(model.variables) if len(v.domain) > 1]

    @property
    def rate(self) -> float:
        """Probability that a variable is resampled."""
        return self._rate

    def __call__(self, parents: Sequence[Point], rng: np.random.Generator) -> Point | None:
        """Mutate one parent.

        Parameters
        ----------
        parents : sequence of dict
            The single parent.
        rng : numpy.random.Generator
            Draws one ``random`` per variable (resampled when below
            ``rate``), then, only if none was, ``integers`` for the forced
            variable, then one ``integers`` per resampled variable (an index
            into its other values), in variable order.

        Returns
        -------
        dict or None
            The child, or None when every domain has a single value.
        """
        self._check_parents(parents)
        parent = parents[0]
        variables = self._model.variables
        if not self._mutable:
            return None
        drawn = np.asarray(rng.random(len(variables))).ravel() < self._rate
        chosen = {i for i in self._mutable if drawn[i]}
        if not chosen:
            chosen = {self._mutable[int(rng.integers(len(self._mutable)))]}
        child = {k: int(parent[k]) for k in self._model.keys}
        for i in sorted(chosen):
            var = variables[i]
            others = _other_values(var.domain, child[var.key])
            child[var.key] = int(others[int(rng.integers(len(others)))])
        return child

    def __repr__(self) -> str:
        return f"RandomMutation(rate={self._rate})"


class ConstrainedMutation(Operator):
    """Change one variable and let the solver restore feasibility.

    Parameters
    ----------
    solver : CpSatSolver
        Solver of the design space's constraint model.

    Notes
    -----
    Each try draws a variable uniformly among those with more than one
    domain value and a new value uniformly among its other values, then
    solves with that variable fixed and the parent as hint.  Up to 8 tries
    are made; the child is feasible and differs from the parent in (at
    least) the drawn variable.
    """

    n_parents = 1

    def __init__(self, solver: CpSatSolver) -> None:
        self._solver = solver
        self._mutable: list[VarKey] = [v.key for v in solver.model.variables if len(v.domain) > 1]

    def __call__(self, parents: Sequence[Point], rng: np.random.Generator) -> Point | None:
        """Make a feasible neighbour of one parent.

        Parameters
        ----------
        parents : sequence of dict
            The single parent.
        rng : numpy.random.Generator
            Draws, per try: the variable index, the value index (both
            ``integers``) and the solver seed.

        Returns
        -------
        dict or None
            A feasible child, or None when 8 tries found none (or no
            variable can change).
        """
        self._check_parents(parents)
        parent = parents[0]
        if not self._mutable:
            return None
        model = self._solver.model
        for _ in range(_MAX_TRIES):
            key = self._mutable[int(rng.integers(len(self._mutable)))]
            others = _other_values(model.variable(key).domain, int(parent[key]))
            value = int(others[int(rng.integers(len(others)))])
            child = self._solver.solve(restrict={key: {value}}, hint=parent, seed=solver_seed(rng))
            if child is not None:
                return child
        logger.debug("constrained mutation: no feasible neighbour in %d tries", _MAX_TRIES)
        return None

    def __repr__(self) -> str:
        return "ConstrainedMutation()"
