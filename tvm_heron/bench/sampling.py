"""Random programs of MetaSchedule's own spaces, drawn as the validity benchmarks draw them.

Every decision is re-sampled, as MetaSchedule's ``replay-trace`` strategy and
its evolutionary search's initial population do: sample ``i`` replays design
space ``i % len(spaces)`` on a schedule seeded ``seed + i + 1``, then applies
the space's postprocessors. Heron's side of each benchmark draws solver points
instead (:mod:`.validity`, :mod:`.tensorcore_validity`, :mod:`.asm_validity`).
"""

from __future__ import annotations

from collections.abc import Iterator

from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.schedule import Trace

#: The stage of a sample that passed every postprocessor.
OK = "ok"
#: The stage of a sample whose trace TVM could not replay.
REPLAY = "replay"


def metaschedule_samples(ctx: ms.TuneContext, mod, n: int,
                         seed: int) -> Iterator[tuple[str, Schedule | None]]:
    """Yield ``(stage, schedule)`` for ``n`` samples of the space of ``ctx`` on ``mod``.

    ``stage`` is :data:`OK` with the postprocessed schedule, else :data:`REPLAY`
    or ``postproc <Name>`` (the first postprocessor that rejected it) with None.
    """
    spaces = ctx.generate_design_space()
    for i in range(n):
        sch = Schedule(mod, seed=seed + i + 1, debug_mask=0)
        try:
            Trace(spaces[i % len(spaces)].trace.insts, {}).apply_to_schedule(
                sch, remove_postproc=True)
        except Exception:  # pylint: disable=broad-except  # a sample TVM cannot replay
            yield REPLAY, None
            continue
        sch.enter_postproc()
        failed = next((p for p in ctx.space_generator.postprocs if not p.apply(sch)), None)
        yield (OK, sch) if failed is None else (f"postproc {type(failed).__name__}", None)


def tensorcore_space() -> ms.space_generator.PostOrderApply:
    """MetaSchedule's own TensorCore space: its ``cuda-tensorcore`` rules, postprocessors, mutators."""
    # Its rules look their intrinsics up when they are created: register them first.
    import tvm.s_tir.tensor_intrin  # noqa: F401  # pylint: disable=import-outside-toplevel

    return ms.space_generator.PostOrderApply(
        sch_rules="cuda-tensorcore", postprocs="cuda-tensorcore", mutator_probs="cuda-tensorcore"
    )
