"""tvm_heron: Heron's constrained search spaces and search for TVM MetaSchedule.

Importing the package registers the VNNI intrinsic and the strategy names
(``strategy="heron-crand"``, ...) with MetaSchedule::

    import tvm_heron
    from tvm.s_tir import meta_schedule as ms

    ms.tune_tir(mod, target, work_dir, 64,
                space=tvm_heron.heron_space(target), strategy="heron-crand")
"""

from __future__ import annotations

from .intrinsics import vnni as _vnni
from .space import SpaceModel, analyze, heron_space
from .strategies import ConstrainedRandom
from .strategies import registry as _registry

__version__ = "0.1.0"

_vnni.register()
_registry.register_strategy("heron-crand", ConstrainedRandom)
_registry.install()

__all__ = ["ConstrainedRandom", "SpaceModel", "analyze", "heron_space", "__version__"]
