"""Measure callbacks of tvm_heron for MetaSchedule's task scheduler."""

from __future__ import annotations

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

from .outcome import FailureTally, latency_of


@derived_object
class TallyOutcomes(PyMeasureCallback):
    """Count every measured candidate of a run by outcome (:class:`~tvm_heron.outcome.FailureTally`).

    The strategy of each task logs its own tally; this one sees all tasks and
    any strategy (MetaSchedule's too), so a run's summary can say how many
    candidates failed, why, and what to change.
    """

    def __init__(self) -> None:
        super().__init__()
        self.tally = FailureTally()

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        for built, ran in zip(builder_results, runner_results):
            error = built.error_msg if built.error_msg is not None else ran.error_msg
            self.tally.add(error, latency_of(ran.run_secs) if error is None else None)
