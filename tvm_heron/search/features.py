"""Features of design-space points for the fitness model, shared by a task's design spaces.

Heron's knob model learns from the raw decision vector. Trees split one
feature at a time, so from raw factors they cannot see what decides a
kernel's speed: products of factors (the register tile, the parallel extent,
the vector length, a cache's footprint). :class:`FeatureMap` gives them:

``tile:LOOP:LEVEL/N``
    log2 of each tile factor; the column is named by the loop's label, the
    level and the tile's number of levels, so spaces that tile the same loop
    share it (a task's serial and parallel spaces, its write-back levels);
``choice:NAME``
    a categorical choice: log2(1 + candidate) when the candidates are
    numbers (unroll steps), else the index;
``level:N:L`` and ``inner:N:L``
    per group of tiles with N levels (spatial tiles and reduction tiles in
    MetaSchedule's and Heron's multi-level tiling), log2 of the product of
    the factors at level L, and of those at levels >= L (the tile's extent
    inside level L: its footprint in iterations);
``term:REASON``
    log2 of every product a constraint of the model limits (the target's
    parallel loop, vectorised loop, register tile, shared memory...), named
    by the constraint's reason with its numbers masked;
``space:I``
    1 for the points of design space I (a shared model can tell spaces apart).

A column a space does not have is NaN (XGBoost's missing value). With
``engineered=False`` the columns are the raw decision values, per space
(``raw:I:K``), the knob vector of Heron's paper. Nothing here imports TVM.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ..constraints import ConstraintModel, TileFactor

__all__ = ["FeatureMap"]

_NUMBER = re.compile(r"\d+")


def _choice_value(candidates, index: int) -> float:
    if candidates is not None and index < len(candidates):
        candidate = candidates[index]
        if isinstance(candidate, (int, float)) and not isinstance(candidate, bool) and candidate >= 0:
            return math.log2(1.0 + float(candidate))
    return float(index)


class _SpaceColumns:
    """How the points of one space fill the shared columns."""

    def __init__(self, model: ConstraintModel, space: int, engineered: bool, column) -> None:
        self.model = model
        self.keys = model.keys
        self.cells: list[tuple[int, object]] = []  # (column, how to compute it)
        self.uses: dict[int, tuple] = {}  # column -> variable positions it depends on
        position = {key: i for i, key in enumerate(self.keys)}
        self._add(column(f"space:{space}"), ("const", 1.0), ())
        if not engineered:
            for i, key in enumerate(self.keys):
                self._add(column(f"raw:{space}:{i}"), ("raw", i), (i,))
            return
        tiles: dict[int, list] = defaultdict(list)
        for i, key in enumerate(self.keys):
            if isinstance(key, TileFactor):
                tiles[key.inst].append((key.level, i, key))
            else:
                variable = model.variable(key)
                self._add(column(f"choice:{key.name or key.inst}"), ("choice", i, variable.candidates), (i,))
        seen: dict[str, int] = defaultdict(int)
        groups: dict[int, list] = defaultdict(list)
        for inst in sorted(tiles):
            levels = sorted(tiles[inst])
            n = len(levels)
            label = levels[0][2].loop or f"#{inst}"
            base = f"tile:{label}/{n}"
            seen[base] += 1
            suffix = f"@{seen[base]}" if seen[base] > 1 else ""
            for level, i, _ in levels:
                self._add(column(f"tile:{label}:{level}/{n}{suffix}"), ("log", (i,)), (i,))
            groups[n].append([i for _, i, _ in levels])
        for n, sites in groups.items():
            for level in range(n):
                at = tuple(site[level] for site in sites)
                inside = tuple(site[lv] for site in sites for lv in range(level, n))
                self._add(column(f"level:{n}:{level}"), ("log", at), at)
                self._add(column(f"inner:{n}:{level}"), ("log", inside), inside)
        terms = set()
        for constraint in model.constraints:
            term = getattr(constraint, "term", None)
            if term is None or len(term.keys) < 2 or term.keys in terms or not hasattr(constraint, "reason"):
                continue
            if type(constraint).__name__ == "ProductEquals":
                continue  # a split's product is its loop's extent: constant
            terms.add(term.keys)
            used = tuple(position[k] for k in term.keys)
            name = "term:" + _NUMBER.sub("N", constraint.reason.split("(")[0]).strip()
            self._add(column(name), ("log", used, term.coef), used)

    def _add(self, col: int, how, uses: tuple) -> None:
        self.cells.append((col, how))
        self.uses[col] = uses

    def fill(self, out: np.ndarray, values: np.ndarray) -> None:
        """Fill the columns of ``out`` (n x width) from decision values (n x variables)."""
        logs = np.log2(np.maximum(values, 1.0))  # tile factors are >= 1; choices go through "choice"
        for col, how in self.cells:
            kind = how[0]
            if kind == "const":
                out[:, col] = how[1]
            elif kind == "raw":
                out[:, col] = values[:, how[1]]
            elif kind == "choice":
                index = values[:, how[1]].astype(int)
                table = np.asarray([_choice_value(how[2], j) for j in range(int(index.max()) + 1)])
                out[:, col] = table[index]
            else:
                coef = how[2] if len(how) > 2 else 1
                out[:, col] = logs[:, list(how[1])].sum(axis=1) + math.log2(coef)


class FeatureMap:
    """The feature columns of a task's design spaces (see the module docstring).

    Parameters
    ----------
    models : sequence of ConstraintModel
        The constraint model of each design space, in space order.
    engineered : bool
        The engineered columns (default) or the raw decision values.
    """

    def __init__(self, models: Sequence[ConstraintModel], *, engineered: bool = True) -> None:
        names: dict[str, int] = {}

        def column(name: str) -> int:
            return names.setdefault(name, len(names))

        self._spaces = [_SpaceColumns(m, i, engineered, column) for i, m in enumerate(models)]
        self.names: tuple[str, ...] = tuple(names)

    @property
    def width(self) -> int:
        """Number of columns."""
        return len(self.names)

    def rows(self, space: int, points: Sequence[Sequence[int]]) -> np.ndarray:
        """The feature rows, shape (len(points), width), of points of ``space``.

        Parameters
        ----------
        space : int
        points : sequence of sequences of int
            Each point as ``model.as_tuple(point)`` of that space's model.
        """
        out = np.full((len(points), self.width), np.nan)
        if len(points):
            self._spaces[space].fill(out, np.asarray(points, dtype=float).reshape(len(points), -1))
        return out

    def variable_importance(self, space: int, importance: np.ndarray) -> np.ndarray:
        """Importance per variable of ``space``: each column's share split over the variables it uses."""
        columns = self._spaces[space]
        out = np.zeros(len(columns.keys))
        for col, uses in columns.uses.items():
            if uses:
                out[list(uses)] += float(importance[col]) / len(uses)
        total = out.sum()
        return out / total if total > 0 else np.full(out.size, 1.0 / max(1, out.size))
