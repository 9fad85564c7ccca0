"""Find points of a :class:`~tvm_heron.constraints.model.ConstraintModel` with CP-SAT.

The model is translated once, in the constructor, into a base
``cp_model.CpModel``.  Every query clones that base and adds its own
restrictions, hints or objective to the clone, so nothing a query adds can
leak into a later one (see :mod:`tvm_heron.constraints.encoding` for the
translation).  Each query fixes ``random_seed`` and ``num_workers``, which
makes results a function of the arguments.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping

import numpy as np
from ortools.sat.python import cp_model

from .encoding import CpSatEncoding
from .keys import VarKey
from .model import ConstraintModel

__all__ = ["CpSatSolver", "FEASIBLE", "INFEASIBLE", "TIMED_OUT"]

#: Outcomes of :meth:`CpSatSolver.solve` (its ``last_status``).
FEASIBLE, INFEASIBLE, TIMED_OUT = "feasible", "infeasible", "timed out"

logger = logging.getLogger(__name__)

#: CP-SAT's random_seed is a 32-bit signed integer: seeds are drawn below this.
SEED_LIMIT = 2**31 - 1
# Parameters of the plain solves (solve, sample).  Presolve is off because
# on these small models it costs more than the search (about 1.3 ms against
# 0.6 ms per sample on 18 variables) and because it fixes variables that
# appear in no constraint without looking at their hints, which would make
# every sample agree on them.
_SEARCH_PARAMS = {"cp_model_presolve": False}


class CpSatSolver:
    """CP-SAT queries over one constraint model.

    Parameters
    ----------
    model : ConstraintModel
        The design space.
    num_workers : int, optional
        CP-SAT search workers per solve.  1 (the default) is fastest on the
        small models of a schedule.  More workers are interleaved
        (``interleave_search``) so results stay reproducible.
    time_limit_s : float, optional
        Wall-clock limit of one solve; a solve that runs out of time without
        a solution returns None with :attr:`last_status` ``TIMED_OUT`` (not
        proven infeasible), and a warning.
    sample_budget_s : float, optional
        Default wall-clock budget of one :meth:`sample` call.
    """

    def __init__(
        self, model: ConstraintModel, *, num_workers: int = 1, time_limit_s: float = 10.0,
        sample_budget_s: float = 60.0,
    ) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self._model = model
        self._num_workers = int(num_workers)
        self._time_limit_s = float(time_limit_s)
        self._sample_budget_s = float(sample_budget_s)
        #: Outcome of the last :meth:`solve`: FEASIBLE, INFEASIBLE or TIMED_OUT.
        self.last_status: str | None = None
        self._encoding = CpSatEncoding(model)

    @property
    def model(self) -> ConstraintModel:
        """The model the solver answers queries about."""
        return self._model

    # ------------------------------------------------------------------
    # query plumbing
    # ------------------------------------------------------------------
    def _clone(self) -> tuple[cp_model.CpModel, dict[VarKey, cp_model.IntVar]]:
        return self._encoding.clone()

    def _check_keys(self, mapping: Mapping[VarKey, object], what: str) -> None:
        for key in mapping:
            if key not in self._model:
                raise ValueError(f"{what} names variable {key}, which is not in the model")

    def _restrict(
        self,
        cp: cp_model.CpModel,
        cp_vars: Mapping[VarKey, cp_model.IntVar],
        restrict: Mapping[VarKey, Collection[int]] | None,
    ) -> bool:
        """Add ``restrict`` to ``cp``; False when it empties some domain."""
        if not restrict:
            return True
        self._check_keys(restrict, "restrict")
        feasible = True
        for key, values in restrict.items():
            wanted = {int(v) for v in values}
            if not wanted:
                raise ValueError(f"restrict gives no value for variable {key}")
            domain = self._model.variable(key).domain
            allowed = sorted(wanted.intersection(domain))
            if not allowed:
                logger.debug("restrict leaves %s no value of its domain", key)
                feasible = False  # keep going so every key is still validated
            elif len(allowed) < len(domain):
                cp.add_linear_expression_in_domain(cp_vars[key], cp_model.Domain.from_values(allowed))
        return feasible

    def _hint(
        self,
        cp: cp_model.CpModel,
        cp_vars: Mapping[VarKey, cp_model.IntVar],
        hint: Mapping[VarKey, int],
    ) -> None:
        for key, value in hint.items():
            # An out-of-domain hint can only mislead the search; drop it.
            if int(value) in self._model.variable(key).domain:
                cp.add_hint(cp_vars[key], int(value))

    def _solver(self, seed: int, **params: object) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.random_seed = int(seed) % SEED_LIMIT
        p.num_workers = self._num_workers
        p.max_time_in_seconds = self._time_limit_s
        for name, value in params.items():
            setattr(p, name, value)
        if p.num_workers > 1:
            # The parallel portfolio races its workers, so its answer depends
            # on timing; interleave_search schedules them in deterministic
            # batches instead, making the answer a function of the seed.
            p.interleave_search = True
        return solver

    def _point(
        self, solver: cp_model.CpSolver, cp_vars: Mapping[VarKey, cp_model.IntVar]
    ) -> dict[VarKey, int]:
        return {key: int(solver.value(cp_vars[key])) for key in self._model.keys}

    # ------------------------------------------------------------------
    # queries
    # ------------------------------------------------------------------
    def solve(
        self,
        *,
        restrict: Mapping[VarKey, Collection[int]] | None = None,
        hint: Mapping[VarKey, int] | None = None,
        seed: int = 0,
    ) -> dict[VarKey, int] | None:
        """Find one feasible point.

        Parameters
        ----------
        restrict : mapping of VarKey to collection of int, optional
            Limit each named variable to the given values (values outside
            its domain are ignored).  Constrained crossover uses this to
            say "variable k takes one of the parents' values".
        hint : mapping of VarKey to int, optional
            Preferred values; CP-SAT follows them where it can.
        seed : int, optional
            CP-SAT random seed.

        Returns
        -------
        dict or None
            A feasible point, or None if there is none (or none was found
            within the time limit).

        Raises
        ------
        ValueError
            If ``restrict`` or ``hint`` names an unknown variable, or
            ``restrict`` gives an empty collection.
        """
        cp, cp_vars = self._clone()
        if hint:
            self._check_keys(hint, "hint")
        if not self._restrict(cp, cp_vars, restrict):
            return None
        if hint:
            self._hint(cp, cp_vars, hint)
        solver = self._solver(seed, **_SEARCH_PARAMS)
        status = solver.solve(cp)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.last_status = FEASIBLE
            return self._point(solver, cp_vars)
        if status == cp_model.UNKNOWN:
            self.last_status = TIMED_OUT
            logger.warning("CP-SAT hit its %.1f s time limit without a solution (the model is not "
                           "proven infeasible)", self._time_limit_s)
        else:
            self.last_status = INFEASIBLE
        return None

    def sample(
        self,
        n: int,
        *,
        rng: np.random.Generator | int,
        max_attempts: int | None = None,
        time_budget_s: float | None = None,
    ) -> list[dict[VarKey, int]]:
        """Draw up to ``n`` distinct feasible points.

        Each attempt solves with a hint drawn uniformly from every
        variable's domain and a solver seed drawn from ``rng``.  CP-SAT
        follows the hint as far as the constraints allow, so random hints
        spread the points over the space (the distribution is not uniform).

        Parameters
        ----------
        n : int
            Number of points wanted.
        rng : numpy.random.Generator or int
            Source of all randomness (an int seeds a new generator).  The
            same generator state gives the same list.
        max_attempts : int, optional
            Maximum number of solves, default ``4 * n + 8``.  Fewer than
            ``n`` points come back when the space is small or the attempts
            keep landing on points already drawn.
        time_budget_s : float, optional
            Wall-clock budget of the whole call (default: the solver's
            ``sample_budget_s``); when it runs out the points found so far
            are returned, with a warning.

        Returns
        -------
        list of dict
            Distinct feasible points, in the order found.
        """
        rng = np.random.default_rng(rng)
        attempts = 4 * n + 8 if max_attempts is None else int(max_attempts)
        deadline = time.monotonic() + (self._sample_budget_s if time_budget_s is None else time_budget_s)
        # One clone for the whole call: only the hints change between solves.
        cp, cp_vars = self._clone()
        domains = [(cp_vars[var.key], var.domain) for var in self._model.variables]
        found: list[dict[VarKey, int]] = []
        seen: set[tuple[int, ...]] = set()
        for _ in range(attempts):
            if len(found) >= n:
                break
            if time.monotonic() > deadline:
                logger.warning("sample: stopped at its time budget with %d of %d points (CP-SAT "
                               "time-outs, or a space with few points)", len(found), n)
                break
            cp.clear_hints()
            for iv, domain in domains:
                cp.add_hint(iv, domain[int(rng.integers(len(domain)))])
            solver = self._solver(int(rng.integers(SEED_LIMIT)), **_SEARCH_PARAMS)
            status = solver.solve(cp)
            if status == cp_model.INFEASIBLE:
                logger.info("sample: the model has no feasible point")
                break
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                continue
            point = self._point(solver, cp_vars)
            values = tuple(point.values())
            if values not in seen:
                seen.add(values)
                found.append(point)
        logger.debug("sample: %d of %d points wanted", len(found), n)
        return found

    def repair(self, point: Mapping[VarKey, int], *, seed: int = 0) -> dict[VarKey, int] | None:
        """The feasible point that changes the fewest variables of ``point``.

        Parameters
        ----------
        point : mapping of VarKey to int
            A possibly infeasible point; missing keys and out-of-domain
            values necessarily change and so cost nothing extra.
        seed : int, optional
            CP-SAT random seed (picks among equally near points).

        Returns
        -------
        dict or None
            A copy of ``point`` when it is feasible, else a nearest feasible
            point (minimal Hamming distance, unless the time limit stopped
            the optimisation), or None when the model is infeasible.
        """
        self._check_keys(point, "point")
        if self._model.is_feasible(point):
            return {key: int(point[key]) for key in self._model.keys}
        cp, cp_vars = self._clone()
        kept = []
        for key, value in point.items():
            if int(value) in self._model.variable(key).domain:
                same = cp.new_bool_var(f"same[{key.short}]")
                cp.add(cp_vars[key] == int(value)).only_enforce_if(same)
                cp.add_hint(cp_vars[key], int(value))
                kept.append(same)
        cp.maximize(sum(kept))
        solver = self._solver(seed)
        status = solver.solve(cp)
        if status == cp_model.FEASIBLE:
            logger.warning("repair hit the time limit; the point returned may not be the nearest")
        elif status != cp_model.OPTIMAL:
            return None
        return self._point(solver, cp_vars)

    def enumerate_all(
        self,
        *,
        restrict: Mapping[VarKey, Collection[int]] | None = None,
        limit: int = 100_000,
        time_limit_s: float | None = None,
    ) -> list[dict[VarKey, int]]:
        """Every feasible point, in CP-SAT's search order.

        Parameters
        ----------
        restrict : mapping of VarKey to collection of int, optional
            As in :meth:`solve`.
        limit : int, optional
            Maximum number of points.
        time_limit_s : float, optional
            Overrides the solver's per-solve time limit for this call.

        Returns
        -------
        list of dict

        Raises
        ------
        ValueError
            If there are more than ``limit`` points.
        TimeoutError
            If the enumeration did not finish in time.
        """
        cp, cp_vars = self._clone()
        if not self._restrict(cp, cp_vars, restrict):
            return []
        order = [cp_vars[key] for key in self._model.keys]
        collector = _Collector(order, limit)
        # Presolve may merge or drop solutions, and enumeration is only
        # supported by the single-worker search.
        solver = self._solver(0, enumerate_all_solutions=True, cp_model_presolve=False, num_workers=1)
        if time_limit_s is not None:
            solver.parameters.max_time_in_seconds = float(time_limit_s)
        status = solver.solve(cp, collector)
        if collector.overflow:
            raise ValueError(f"the model has more than {limit} feasible points")
        if status not in (cp_model.OPTIMAL, cp_model.INFEASIBLE):
            raise TimeoutError(
                f"enumeration stopped ({solver.status_name(status)}) after {len(collector.points)} points"
            )
        return [self._model.from_tuple(values) for values in collector.points]

    def count(
        self,
        *,
        restrict: Mapping[VarKey, Collection[int]] | None = None,
        limit: int = 100_000,
    ) -> int:
        """Number of feasible points (see :meth:`enumerate_all`)."""
        return len(self.enumerate_all(restrict=restrict, limit=limit))


class _Collector(cp_model.CpSolverSolutionCallback):
    """Collects distinct solutions projected on the model's variables."""

    def __init__(self, order: list[cp_model.IntVar], limit: int) -> None:
        super().__init__()
        self._order = order
        self._limit = limit
        self._seen: set[tuple[int, ...]] = set()
        self.points: list[tuple[int, ...]] = []
        self.overflow = False

    def on_solution_callback(self) -> None:
        # Auxiliary variables that are not functions of the model's
        # variables (a quotient by zero) can repeat a projected point.
        values = tuple(int(self.value(v)) for v in self._order)
        if values in self._seen:
            return
        self._seen.add(values)
        self.points.append(values)
        if len(self.points) > self._limit:
            self.overflow = True
            self.stop_search()
