"""Run TVM's CPU kernels on every core the target was tuned for.

TVM's runtime sizes its CPU thread pool from ``TVM_NUM_THREADS``, else
``OMP_NUM_THREADS``, else *half* the hardware threads on x86 (it assumes two
hyper-threads per core). On a virtual machine whose vCPUs are whole cores
that halves the machine: on 2 vCPUs the pool has one thread, so every
parallel loop of a kernel tuned for ``num-cores`` 2 ran serially, in the
runner's measurements and in the Relax VM alike, while the vendor library
we compare with used both cores.

:func:`use_all_cores` sets the pool to the cores this process may run on
(the count :func:`tvm_heron.target.host_target` gives ``num-cores``), here
and in the processes started afterwards (MetaSchedule's builder and runner
workers, RPC servers started by the caller), unless the user chose a count
with either variable. ``import tvm_heron`` calls it.

It also leaves the pool's threads free to run on any of those CPUs
(``TVM_BIND_THREADS=0``) unless the user set that variable. TVM pins each
worker to one CPU but leaves the calling thread free; on this 2-vCPU
machine a process could settle with the caller on the worker's CPU, and
every parallel kernel then ran its halves one after the other for seconds
at a time. A 16-microsecond kernel (the int8 3-d convolution C3D6, two
parallel chunks) measured 0.016 ms in some processes and 0.028 ms in
others, for the same code and data; with the threads unpinned it measured
0.016 ms in every run (``benchmarks/`` and the runner inherit the setting).
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

#: Environment variables TVM's runtime reads for its pool size, in order.
THREAD_VARIABLES = ("TVM_NUM_THREADS", "OMP_NUM_THREADS")
#: Environment variable that makes TVM pin its workers to CPUs ("0": do not).
BIND_VARIABLE = "TVM_BIND_THREADS"


def _affinity_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


#: Read once, when the package is imported: a TVM thread pool of one thread
#: pins the thread that made it to CPU 0, after which this thread's
#: affinity mask says 1 (and a later count would tune for one core).
_USABLE_CORES = _affinity_count()


def usable_cores() -> int:
    """CPUs this process could run on when ``tvm_heron`` was imported, at least 1."""
    return _USABLE_CORES


def use_all_cores(cores: int | None = None) -> int:
    """Size TVM's CPU thread pool to ``cores`` (default: :func:`usable_cores`).

    A count the user set in ``TVM_NUM_THREADS`` or ``OMP_NUM_THREADS`` wins.
    Otherwise ``TVM_NUM_THREADS`` is set, for this process's pool and for
    child processes. ``TVM_BIND_THREADS`` is set to 0 (threads not pinned)
    unless the user set it. TVM reads both once, when a process first runs a
    parallel loop; a pool made earlier cannot grow (TVM caps it at its size
    when made), and a warning says so.

    Returns
    -------
    int
        The thread count TVM's pool now uses in this process.
    """
    import tvm_ffi  # pylint: disable=import-outside-toplevel

    # Read with the pool size, when the pool is made: set it first.
    os.environ.setdefault(BIND_VARIABLE, "0")
    chosen = next((os.environ[v] for v in THREAD_VARIABLES if os.environ.get(v)), None)
    if chosen is not None:
        logger.debug("TVM thread count left to the environment: %s", chosen)
        return int(tvm_ffi.get_global_func("runtime.NumThreads")())
    wanted = cores or usable_cores()
    os.environ["TVM_NUM_THREADS"] = str(wanted)
    # NumThreads creates the pool if needed (reading the variable just set);
    # a pool made before this call keeps its size.
    have = int(tvm_ffi.get_global_func("runtime.NumThreads")())
    if have != wanted:
        logger.warning(
            "TVM's thread pool of this process was made with %d thread(s) before tvm_heron was "
            "imported and cannot grow to %d; set TVM_NUM_THREADS=%d before starting Python "
            "(child processes use %d)", have, wanted, wanted, wanted,
        )
    return have


__all__ = ["BIND_VARIABLE", "THREAD_VARIABLES", "usable_cores", "use_all_cores"]
