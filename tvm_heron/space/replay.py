"""Turn a point of a constraint model into a schedule by replaying the trace.

MetaSchedule's replay silently repairs a bad tile decision (a factor that
does not divide the remaining extent is replaced). A point that the model
accepted must replay unchanged, so the replayed decisions are read back and
any difference raises :class:`~tvm_heron.errors.ReplayRepairedError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from tvm.ir import IRModule
from tvm.s_tir import Schedule

from ..errors import HeronError, ReplayRepairedError
from .model import SpaceModel


class PostprocFailedError(HeronError):
    """A postprocessor rejected a replayed schedule."""


def replay(space: SpaceModel, mod: IRModule, point, *, seed: int = 1) -> Schedule:
    """The schedule of ``point`` (design-space instructions only, no postprocessing).

    Raises
    ------
    ReplayRepairedError
        When the replay changed a decision of ``point``.
    """
    decisions = space.decisions(point)
    counter = itertools.count()

    def provide(inst, inputs, attrs, decision):  # pylint: disable=unused-argument
        return decisions.get(next(counter), decision)

    sch = Schedule(mod, seed=seed, debug_mask=0)
    space.trace.apply_to_schedule(sch, remove_postproc=True, decision_provider=provide)
    got = space.point_of(sch.trace)
    if got != {k: int(v) for k, v in point.items()}:
        diff = {str(k): (point[k], (got or {}).get(k)) for k in point if (got or {}).get(k) != point[k]}
        raise ReplayRepairedError(f"replay changed decisions (wanted, got): {diff}")
    return sch


def postprocess(sch: Schedule, postprocs: Sequence) -> Schedule:
    """Apply MetaSchedule postprocessors in place, as the evolutionary search does."""
    sch.enter_postproc()
    for postproc in postprocs:
        if not postproc.apply(sch):
            raise PostprocFailedError(f"postprocessor {type(postproc).__name__} rejected the schedule")
    return sch
