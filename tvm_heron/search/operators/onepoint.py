"""One-point crossover: the classic GA's operator (the unconstrained baseline).

Heron's ablation compares its constrained GA with a GA whose crossover
knows nothing of the constraints.  This is that crossover: cut the variable
list once, take the head from one parent and the tail from the other.  The
child may violate the constraint model; the caller checks it and drops it,
which is exactly the waste the constrained crossover avoids.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...constraints import VarKey
from .base import Operator, Point

__all__ = ["OnePointCrossover"]


class OnePointCrossover(Operator):
    """Head of one parent, tail of the other.

    Parameters
    ----------
    keys : sequence of VarKey
        The variables, in the order the cut applies to (usually
        ``model.keys``, where the factors of one split are adjacent).

    Raises
    ------
    ValueError
        If ``keys`` is empty or repeats a key.

    Notes
    -----
    No feasibility guarantee: the child may violate the constraints.
    """

    n_parents = 2

    def __init__(self, keys: Sequence[VarKey]) -> None:
        keys = tuple(keys)
        if not keys:
            raise ValueError("keys must name at least one variable")
        if len(set(keys)) != len(keys):
            raise ValueError("keys repeats a variable")
        self._keys = keys

    @property
    def keys(self) -> tuple[VarKey, ...]:
        """The variable order the cut applies to."""
        return self._keys

    def __call__(self, parents: Sequence[Point], rng: np.random.Generator) -> Point:
        """Cross two parents at a random cut.

        Parameters
        ----------
        parents : sequence of dict
            ``(p1, p2)``; each must give a value for every key.
        rng : numpy.random.Generator
            Draws the cut ``c = rng.integers(1, len(keys))``; the child
            takes ``p1``'s values for ``keys[:c]`` and ``p2``'s for
            ``keys[c:]``.  With a single key there is no cut, and
            ``rng.integers(2)`` picks which parent to copy.

        Returns
        -------
        dict
            The child, keyed in ``keys`` order.
        """
        self._check_parents(parents)
        p1, p2 = parents
        if len(self._keys) == 1:
            source = (p1, p2)[int(rng.integers(2))]
            return {k: int(source[k]) for k in self._keys}
        cut = int(rng.integers(1, len(self._keys)))
        child = {k: int(p1[k]) for k in self._keys[:cut]}
        child.update((k, int(p2[k])) for k in self._keys[cut:])
        return child

    def __repr__(self) -> str:
        return f"OnePointCrossover(keys={len(self._keys)})"
