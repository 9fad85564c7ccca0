"""Whether a Heron strategy can search a design-space generator's spaces for a workload."""

from __future__ import annotations

from tvm.ir import IRModule
from tvm.s_tir import meta_schedule as ms
from tvm.target import Target

from ..errors import HeronError
from .analysis import analyze


def space_problem(mod: IRModule, target: Target, generator) -> str | None:
    """Why no design space of ``generator`` for ``mod`` has a feasible constraint model (None: one has).

    The spaces are generated and analysed as a Heron strategy's ``pre_tuning``
    would, so a task that cannot be searched is found before tuning starts.
    """
    try:
        context = ms.TuneContext(mod=mod, target=target, space_generator=generator, task_name="check")
        design_spaces = context.generate_design_space()
        if not design_spaces:
            return "no design space"
        reasons = []
        for design_space in design_spaces:
            try:
                model = analyze(design_space, mod, target)
            except HeronError as err:
                reasons.append(str(err))
                continue
            if model.solver.solve(seed=1) is not None:
                return None
            reasons.append("its constraint model has no solution")
        return "no design space with a feasible constraint model (" + "; ".join(sorted(set(reasons)))[:300] + ")"
    except HeronError:
        raise
    except Exception as err:  # pylint: disable=broad-except  # TVM raises many kinds
        first = str(err).strip().splitlines()
        return f"{type(err).__name__}: {first[-1] if first else ''}"[:200]
