"""Heron's constrained crossover (with its built-in mutation).

The classic GA mixes two parents value by value and hopes the child is a
valid program; on a schedule space, where tile factors must multiply to
loop extents and fit hardware limits, most such children are not.  Heron
instead states the mix as constraints and lets the CSP solver find the
child: every key variable but a few must take one of its parents' values,
the few mutate freely, and the solver fills in everything else.  The child
therefore satisfies the model by construction (Heron paper, section 5;
``../shared/HERON.md`` section 3, step 5).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ...constraints import CpSatSolver, VarKey
from .base import Operator, Point, solver_seed

__all__ = ["ConstrainedCrossover"]

logger = logging.getLogger(__name__)


class ConstrainedCrossover(Operator):
    """Crossover of two parents solved as a constrained problem.

    For parents ``p1`` and ``p2``:

    1. ``n_mutate`` key variables, drawn without replacement, mutate: they
       are left unrestricted and hinted at a uniformly random domain value;
    2. every other key variable ``k`` is restricted to ``{p1[k], p2[k]}``;
    3. variables that are not key variables are unrestricted;
    4. every variable that does not mutate is hinted at ``p1``'s or
       ``p2``'s value, picked by a fair coin;
    5. the solver (seeded from ``rng``) returns a feasible point, which is
       the child, or None when the restrictions leave none.

    Parameters
    ----------
    solver : CpSatSolver
        Solver of the design space's constraint model.
    key_vars : sequence of VarKey, optional
        The key variables (Heron: the ~20% the cost model finds most
        important).  Empty (the default) means every variable of the model.
    n_mutate : int, optional
        How many key variables mutate freely in each child (default 1;
        fewer when there are fewer key variables).

    Raises
    ------
    ValueError
        If ``key_vars`` names a variable that is not in the model or
        repeats one, or ``n_mutate`` is negative.
    """

    n_parents = 2

    def __init__(
        self, solver: CpSatSolver, key_vars: Sequence[VarKey] = (), *, n_mutate: int = 1
    ) -> None:
        model = solver.model
        key_vars = tuple(key_vars) if len(key_vars) else tuple(model.keys)
        unknown = [str(k) for k in key_vars if k not in model]
        if unknown:
            raise ValueError(f"key_vars names variable(s) not in the model: {', '.join(unknown)}")
        if len(set(key_vars)) != len(key_vars):
            raise ValueError("key_vars repeats a variable")
        if n_mutate < 0:
            raise ValueError(f"n_mutate must be >= 0, got {n_mutate}")
        self._solver = solver
        self._key_vars = key_vars
        self._n_mutate = int(n_mutate)

    @property
    def key_vars(self) -> tuple[VarKey, ...]:
        """The key variables, in the order given (all variables if none were)."""
        return self._key_vars

    @property
    def n_mutate(self) -> int:
        """How many key variables mutate freely in each child."""
        return self._n_mutate

    def __call__(self, parents: Sequence[Point], rng: np.random.Generator) -> Point | None:
        """Make one child of two parents.

        Parameters
        ----------
        parents : sequence of dict
            The two parents ``(p1, p2)``; each must give a value for every
            variable of the model.
        rng : numpy.random.Generator
            Draws, in this order: the mutating variables (``choice``), one
            coin per model variable (``random``), a domain index per
            mutating variable (``integers``), the solver seed
            (``integers``).

        Returns
        -------
        dict or None
            A feasible child, or None when no point satisfies the
            restrictions (or the solver timed out).
        """
        self._check_parents(parents)
        p1, p2 = parents
        model = self._solver.model
        n_mutate = min(self._n_mutate, len(self._key_vars))
        picked = np.asarray(rng.choice(len(self._key_vars), size=n_mutate, replace=False)).ravel()
        mutating = [self._key_vars[int(i)] for i in picked]
        restrict = {k: {int(p1[k]), int(p2[k])} for k in self._key_vars if k not in mutating}

        # Hints steer CP-SAT towards a mix of the parents rather than its
        # default (smallest) values, which would collapse the population.
        coins = np.asarray(rng.random(len(model.keys))).ravel()
        hint = {k: int(p1[k] if coin < 0.5 else p2[k]) for k, coin in zip(model.keys, coins)}
        for key in mutating:
            domain = model.variable(key).domain
            hint[key] = int(domain[int(rng.integers(len(domain)))])

        child = self._solver.solve(restrict=restrict, hint=hint, seed=solver_seed(rng))
        if child is None:
            logger.debug(
                "constrained crossover: no child (mutating %s)", [str(k) for k in mutating]
            )
        return child

    def __repr__(self) -> str:
        return f"ConstrainedCrossover(key_vars={len(self._key_vars)}, n_mutate={self._n_mutate})"
