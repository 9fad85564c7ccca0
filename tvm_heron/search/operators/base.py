"""The interface every genetic operator implements.

An operator turns ``n_parents`` points of a design space into one child
point.  Crossovers take two parents, mutations one.  Following Optuna's
NSGA-II operators, an operator is a small stateless object whose only
source of randomness is the generator passed to each call, so a seeded
search is reproducible and a test can script every draw with a stub.

A *point* is a ``dict`` mapping each
:data:`~tvm_heron.constraints.keys.VarKey` to an int (see
:mod:`tvm_heron.constraints.model`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

from ...constraints import VarKey
from ...constraints.solver import SEED_LIMIT

__all__ = ["Operator", "Point", "solver_seed"]

#: A point of a design space: one int per variable key.
Point = dict[VarKey, int]


def solver_seed(rng: np.random.Generator) -> int:
    """Draw a CP-SAT seed from ``rng``.

    Constrained operators draw the solver's seed from the search's
    generator, so that the child is a function of the generator's state.

    Parameters
    ----------
    rng : numpy.random.Generator

    Returns
    -------
    int
        A seed in ``[0, 2**31 - 1)``.
    """
    return int(rng.integers(0, SEED_LIMIT))


class Operator(abc.ABC):
    """Makes one child point from ``n_parents`` parent points.

    Attributes
    ----------
    n_parents : int
        How many parents :meth:`__call__` takes.

    Notes
    -----
    Operators never modify their parents; the child is a new ``dict``.
    Whether the child satisfies the constraint model depends on the
    operator: constrained operators guarantee it, the classic GA's
    operators do not (their caller drops invalid children).
    """

    n_parents: int = 2

    @abc.abstractmethod
    def __call__(self, parents: Sequence[Point], rng: np.random.Generator) -> Point | None:
        """Make a child.

        Parameters
        ----------
        parents : sequence of dict
            Exactly :attr:`n_parents` points.
        rng : numpy.random.Generator
            Source of every random draw.

        Returns
        -------
        dict or None
            The child point, or None if no child could be made.
        """

    def _check_parents(self, parents: Sequence[Point]) -> None:
        """Raise ValueError naming ``parents`` if their number is wrong."""
        if len(parents) != self.n_parents:
            raise ValueError(
                f"parents: {type(self).__name__} takes {self.n_parents} parent(s), "
                f"got {len(parents)}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_parents={self.n_parents})"
