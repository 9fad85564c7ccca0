"""A MetaSchedule builder that keeps its worker processes between batches.

``LocalBuilder`` starts a fresh process pool for every batch (to contain a
memory leak of long-lived workers); on a loaded 2-core machine that start-up
dominates a round and makes builds time out (see TVM_0_27.md). This builder
keeps one pool and retires each worker after ``max_uses`` builds instead,
which contains the leak the same way.

Its workers also skip what made LocalBuilder's first build of a run take
15-50 s here: ``default_build`` imports all of TVM's tensor intrinsics, which
a candidate does not need (MetaSchedule tensorizes in the tuning process,
so a candidate reaching the builder holds no reference to an intrinsic).
The build itself is the same: drop weight-layout-rewrite blocks, ``tvm.build``,
export as a tar archive.
"""

from __future__ import annotations

import logging
import time
import weakref

import cloudpickle

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.builder import BuilderResult, PyBuilder
from tvm.support.popen_pool import PopenPoolExecutor, StatusKind

from . import build_worker
from .progress import CLOCK

# The workers get the build function by value, so that they import TVM but not
# tvm_heron, whose import registers intrinsics and strategies that a build does
# not use (seconds per worker start on a small machine).
cloudpickle.register_pickle_by_value(build_worker)

logger = logging.getLogger(__name__)


@derived_object
class PersistentBuilder(PyBuilder):
    """Build candidates in a pool of worker processes that outlives each batch.

    Parameters
    ----------
    max_workers : int
        Worker processes.
    timeout_sec : float
        Per-candidate build timeout; a worker past it is killed and replaced.
    max_uses : int
        Builds after which a worker is replaced (bounds its memory growth).
    """

    def __init__(self, *, max_workers: int = 2, timeout_sec: float = 120.0, max_uses: int = 64):
        super().__init__()
        for name, value in (("max_workers", max_workers), ("timeout_sec", timeout_sec), ("max_uses", max_uses)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.max_workers = max_workers
        self.timeout_sec = timeout_sec
        self.max_uses = max_uses
        self._pool = None
        self._finalizer = None

    def _executor(self) -> PopenPoolExecutor:
        if self._pool is None:
            self._pool = PopenPoolExecutor(
                max_workers=self.max_workers,
                timeout=self.timeout_sec,
                maximum_process_uses=self.max_uses,
            )
            # Workers outlive an interpreter that exits without shutting the pool
            # down (they are orphaned, see TVM_0_27.md); stop them at exit too.
            self._finalizer = weakref.finalize(self, self._pool.shutdown)
        return self._pool

    def shutdown(self) -> None:
        """Stop the worker processes (a later build starts new ones)."""
        if self._pool is not None:
            self._finalizer()
            self._pool = None

    def build(self, build_inputs):
        start = time.perf_counter()
        for b in build_inputs:
            if b.params:
                raise ValueError("PersistentBuilder does not take params; use LocalBuilder")
        jobs = [(b.mod, b.target) for b in build_inputs]
        results = []
        for outcome in self._executor().map_with_error_catching(build_worker.build_and_export, jobs):
            if outcome.status == StatusKind.COMPLETE:
                results.append(BuilderResult(outcome.value, None))
            elif outcome.status == StatusKind.TIMEOUT:
                results.append(BuilderResult(None, f"PersistentBuilder: timeout after {self.timeout_sec} s"))
            else:
                results.append(BuilderResult(None, f"PersistentBuilder: build failed\n{outcome.value}"))
        CLOCK.add("build", time.perf_counter() - start)
        return results
