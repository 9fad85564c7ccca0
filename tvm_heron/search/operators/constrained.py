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
    2. every other key variable ``k`` is restricted to ``{p1[k], p2[k]}``
       (with ``key_share`` < 1, each only with that probability: a random
       subset of the key variables, drawn per child);
    3. variables that are not key variables are unrestricted;
    4. every variable that does not mutate is hinted at ``p1``'s or
       ``p2``'s value, picked by a fair coin; with probability
       ``random_hints`` per child, the unrestricted ones are hinted at
       uniformly random domain values instead (Heron's exploration: the
       child keeps its parents' key values and explores the rest);
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
    key_share : float, optional
        Probability that each non-mutating key variable is restricted to
        its parents' values, in (0, 1] (default 1: every one).
    random_hints : float, optional
        Probability that a child's unrestricted variables are hinted at
        random values rather than at a parent's, in [0, 1] (default 0).

    Raises
    ------
    ValueError
        If ``key_vars`` names a variable that is not in the model or
        repeats one, ``n_mutate`` is negative, or ``key_share`` or
        ``random_hints`` is outside its interval.
    """

    n_parents = 2

    def __init__(
        self,
        solver: CpSatSolver,
        key_vars: Sequence[VarKey] = (),
        *,
        n_mutate: int = 1,
        key_share: float = 1.0,
        random_hints: float = 0.0,
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
        if not 0.0 < key_share <= 1.0:
            raise ValueError(f"key_share must be in (0, 1], got {key_share}")
        if not 0.0 <= random_hints <= 1.0:
            raise ValueError(f"random_hints must be in [0, 1], got {random_hints}")
        self._key_share = float(key_share)
        self._random_hints = float(random_hints)
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
            Draws, in this order: the mutating variables (``choice``); with
            ``key_share`` < 1, one draw per non-mutating key variable
            (``random``, kept when below the share); one coin per model
            variable (``random``); with ``random_hints`` > 0, one draw
            (``random``) and, when below it, a domain index per unrestricted
            non-mutating variable (``integers``); a domain index per
            mutating variable (``integers``); the solver seed (``integers``).

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
        kept = [k for k in self._key_vars if k not in mutating]
        if self._key_share < 1.0 and kept:
            draws = np.asarray(rng.random(len(kept))).ravel()
            kept = [k for k, d in zip(kept, draws) if d < self._key_share]
        restrict = {k: {int(p1[k]), int(p2[k])} for k in kept}

        # Hints steer CP-SAT towards a mix of the parents rather than its
        # default (smallest) values, which would collapse the population.
        coins = np.asarray(rng.random(len(model.keys))).ravel()
        hint = {k: int(p1[k] if coin < 0.5 else p2[k]) for k, coin in zip(model.keys, coins)}
        if self._random_hints > 0.0 and float(rng.random()) < self._random_hints:
            for key in model.keys:
                if key not in restrict and key not in mutating:
                    domain = model.variable(key).domain
                    hint[key] = int(domain[int(rng.integers(len(domain)))])
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
        return (f"ConstrainedCrossover(key_vars={len(self._key_vars)}, n_mutate={self._n_mutate}, "
                f"key_share={self._key_share}, random_hints={self._random_hints})")
