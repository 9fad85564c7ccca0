"""tvm_heron: Heron's constrained search spaces and search for TVM MetaSchedule.

Importing the package registers its tensor intrinsics (those of every CPU
instruction set of :mod:`tvm_heron.isa`: a database's traces name them) and the strategy names
(``strategy="heron-crand"``, ...) with MetaSchedule, and sizes TVM's CPU
thread pool to this machine's cores unless ``TVM_NUM_THREADS`` or
``OMP_NUM_THREADS`` is set (:mod:`tvm_heron.threads`: TVM's default is half
the vCPUs, one thread on a 2-vCPU machine)::

    import tvm_heron
    from tvm.s_tir import meta_schedule as ms

    ms.tune_tir(mod, target, work_dir, 64,
                space=tvm_heron.heron_space(target), strategy="heron-cga")
"""

from __future__ import annotations

from .builder import PersistentBuilder
from .database import open_database
from .intrinsics import register_cpu as _register_cpu
from .intrinsics import tvm_shipped as _tvm_shipped
from .space import SpaceModel, analyze, heron_space
from .strategies import ConstrainedGA, ConstrainedRandom, SimulatedAnnealing, UnconstrainedGA
from .strategies import registry as _registry
from .threads import use_all_cores as _use_all_cores

__version__ = "0.1.0"

# MetaSchedule imports TVM's own intrinsics at the first TuneContext; done here
# first, in 2 s instead of 13-47 s (see tvm_heron.intrinsics.tvm_shipped).
_tvm_shipped.import_shipped_intrinsics()
_register_cpu()
_registry.register_strategy("heron-cga", ConstrainedGA)
_registry.register_strategy("heron-ga", UnconstrainedGA)
_registry.register_strategy("heron-sa", SimulatedAnnealing)
_registry.register_strategy("heron-crand", ConstrainedRandom)
_registry.install()
_use_all_cores()

__all__ = [
    "ConstrainedGA",
    "ConstrainedRandom",
    "PersistentBuilder",
    "open_database",
    "SimulatedAnnealing",
    "SpaceModel",
    "UnconstrainedGA",
    "__version__",
    "analyze",
    "heron_space",
]
