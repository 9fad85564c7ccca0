"""What the analysis of a design space returns: its sampling sites and constraint model."""

from __future__ import annotations

from collections.abc import Callable

import attrs
from tvm.s_tir.schedule import Trace

from ..constraints import ConstraintModel, CpSatSolver
from . import kinds


@attrs.frozen
class SamplingSite:
    """A sampling instruction of the trace and the variables that decide it.

    Attributes
    ----------
    inst : int
        Index of the instruction in the trace.
    kind : str
        Its kind (:mod:`tvm_heron.space.kinds`).
    keys : tuple of VarKey
        The variables that decide it: one per factor of a
        ``SamplePerfectTile``, one index of a ``SampleCategorical``; empty
        for a decision the model keeps fixed (``decision``).
    decision : object
        The design space's own decision.
    candidates : tuple
        A ``SampleCategorical``'s candidates (what each index stands for).
    """

    inst: int
    kind: str
    keys: tuple = ()
    decision: object = None
    candidates: tuple = ()

    def values_of(self, decision) -> dict:
        """The values of this site's variables for one of its decisions."""
        if self.kind == kinds.SAMPLE_PERFECT_TILE:
            return {key: int(value) for key, value in zip(self.keys, decision)}
        return {self.keys[0]: int(decision)}


#: What a decision reader returns for a trace that does not fit the space.
_MISFIT = object()


@attrs.define
class SpaceModel:
    """A design space and its constraint model.

    Attributes
    ----------
    trace : Trace
        The design space's trace (with its own decisions).
    model : ConstraintModel
        Variables and constraints derived from the trace.
    sites : tuple of SamplingSite
        Sampling instructions, in trace order.
    solver : CpSatSolver
        The solver of ``model``.
    """

    trace: Trace
    model: ConstraintModel
    sites: tuple
    solver: CpSatSolver

    def decisions(self, point) -> dict[int, object]:
        """Map a point to the decision of every sampling instruction (by index)."""
        out = {}
        for site in self.sites:
            if not site.keys:
                out[site.inst] = site.decision
            elif site.kind == kinds.SAMPLE_PERFECT_TILE:
                out[site.inst] = [int(point[k]) for k in site.keys]
            else:
                out[site.inst] = int(point[site.keys[0]])
        return out

    def point_of(self, trace: Trace):
        """Read a point back from a trace of this space (None if it does not fit)."""
        insts = list(trace.insts)

        def decision_of(site):
            if site.inst >= len(insts) or insts[site.inst].kind.name != site.kind:
                return _MISFIT
            return trace.get_decision(insts[site.inst])

        return self._point(decision_of)

    def point_of_json(self, trace_json) -> dict | None:
        """:meth:`point_of` for a trace as JSON (``[instructions, [[index, decision], ...]]``).

        A stored record's decisions are read without replaying its trace.
        """
        try:
            insts, decisions = trace_json
            decided = {int(index): decision for index, decision in decisions}
        except (TypeError, ValueError):
            return None

        def decision_of(site):
            fits = site.inst < len(insts) and insts[site.inst][0] == site.kind
            if not fits or site.inst not in decided:
                return _MISFIT
            return decided[site.inst]

        return self._point(decision_of)

    def _point(self, decision_of: Callable) -> dict | None:
        point = {}
        for site in self.sites:
            if not site.keys:
                continue
            decision = decision_of(site)
            if decision is _MISFIT:
                return None
            point.update(site.values_of(decision))
        return point
