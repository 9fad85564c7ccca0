"""Derive the constraint model of a design space by interpreting its trace.

Heron's rules emit constraints while they transform the program. Here the
same constraints are read back from any MetaSchedule design space (a trace
of schedule instructions), so that MetaSchedule's own rules get a model too.
The work is split by concept:

* :mod:`~tvm_heron.space.interpreter` replays the trace, one handler per
  instruction kind (:mod:`~tvm_heron.space.kinds`), tracking loop extents
  symbolically (:mod:`~tvm_heron.space.loops`);
* :mod:`~tvm_heron.space.cpu` and :mod:`~tvm_heron.space.gpu` turn what it
  reads into the target's limits;
* :func:`analyze`, here, settles the soft lower bounds against the whole
  model and returns a :class:`~tvm_heron.space.model.SpaceModel`.
"""

from __future__ import annotations

import logging

from tvm.ir import IRModule
from tvm.s_tir import Schedule
from tvm.s_tir.schedule import Trace
from tvm.target import Target

from ..constraints import ConstraintModel, CpSatSolver, settle_lower_bounds
from ..errors import HeronError, UnanalyzableSpaceError
from .cpu import LowerBound
from .interpreter import interpret
from .model import SpaceModel

logger = logging.getLogger(__name__)


def _settle(model: ConstraintModel, bounds: list[LowerBound]) -> ConstraintModel:
    """``model`` plus each bound at the largest limit (<= its own, > 1) that keeps a solution.

    The bounds are settled in order, each against those kept before it; one
    that no limit above 1 satisfies, or a model without a solution, adds
    nothing (see :func:`~tvm_heron.constraints.settle.settle_lower_bounds`:
    one CP-SAT solve).
    """
    if not bounds:
        return model
    kept = settle_lower_bounds(model, [(bound.term, bound.limit) for bound in bounds], seed=1)
    settled = [bound.at(limit) for bound, limit in zip(bounds, kept) if limit is not None]
    if not settled:
        return model
    return ConstraintModel(
        variables=model.variables, constraints=[*model.constraints, *settled], notes=model.notes
    )


def analyze(design_space: Schedule | Trace, mod: IRModule, target: Target | None) -> SpaceModel:
    """Build the :class:`~tvm_heron.space.model.SpaceModel` of a design space.

    Parameters
    ----------
    design_space : Schedule or Trace
        A design space, e.g. one of ``PostOrderApply.generate_design_space``.
    mod : IRModule
        The workload the trace applies to.
    target : Target, optional
        Its limits (llvm: parallel extent, vector lanes, registers, see
        :mod:`tvm_heron.space.cpu`; cuda: threads per block and per
        dimension, shared memory per block, vector widths of cooperative
        fetches, see :mod:`tvm_heron.space.gpu`) become constraints; None
        derives only the structural constraints.

    Raises
    ------
    InfeasibleSpaceError
        When a static check fails or the model has no solution.
    UnanalyzableSpaceError
        When replaying the trace fails in TVM (the space is not one the
        interpreter can follow), or the trace holds an instruction kind the
        interpreter does not know.
    """
    trace = design_space.trace if isinstance(design_space, Schedule) else design_space
    try:
        interp = interpret(trace, mod, target)
    except HeronError:
        raise
    except Exception as err:  # pylint: disable=broad-except  # TVM raises many kinds
        # e.g. an instruction on a block that an earlier one inlined (MetaSchedule's
        # random compute locations): this trace is not one the interpreter follows.
        lines = str(err).strip().splitlines()
        raise UnanalyzableSpaceError(
            f"cannot interpret the trace: {type(err).__name__}: {lines[-1] if lines else ''}"
        ) from err
    read = ConstraintModel(
        variables=interp.variables, constraints=interp.constraints, notes=interp.notes
    )
    model = _settle(read, interp.lower_bounds)
    space = SpaceModel(
        trace=trace, model=model, sites=tuple(interp.sites), solver=CpSatSolver(model)
    )
    own = space.point_of(trace)
    if own is not None and not model.is_feasible(own):
        logger.debug("design space's own decisions violate:\n%s", model.explain(own))
    return space
