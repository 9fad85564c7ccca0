"""A MetaSchedule runner that accounts the wall time spent running candidates.

It wraps another runner (``LocalRunner`` by default, MetaSchedule's default
settings) and adds the seconds of each ``run`` call to a tally. MetaSchedule's
``LocalRunner.run`` measures every candidate before it returns, so that time
is the run stage of a tuning round.
"""

from __future__ import annotations

import time

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.runner import LocalRunner, PyRunner


class RunTally:
    """Seconds spent in runners that share this tally."""

    def __init__(self) -> None:
        self.seconds = 0.0


@derived_object
class TimedRunner(PyRunner):
    """Delegate to ``inner`` and add the wall time of each batch to ``tally``.

    Parameters
    ----------
    tally : RunTally
        Where the seconds go.
    inner : Runner, optional
        The runner doing the work; a default ``LocalRunner`` when omitted.
    """

    def __init__(self, tally: RunTally, inner=None) -> None:
        super().__init__()
        self.tally = tally
        self.inner = inner if inner is not None else LocalRunner()

    def run(self, runner_inputs):
        start = time.perf_counter()
        try:
            return self.inner.run(runner_inputs)
        finally:
            self.tally.seconds += time.perf_counter() - start

    def shutdown(self) -> None:
        """Stop the inner runner's worker process, if it has a pool."""
        pool = getattr(self.inner, "pool", None)
        if pool is not None:
            pool.shutdown()
