"""Tensor intrinsics: the CPU ones of every described instruction set, and TensorCore's wmma.

:func:`register_cpu` registers every intrinsic that :mod:`tvm_heron.isa`
describes under its name (``import tvm_heron`` calls it: a database's traces
name them). Registering is safe on any machine; only building a kernel that
uses an instruction the target lacks would abort the process inside LLVM,
which the DL Boost rule prevents by offering only the target's own intrinsics.
"""

from __future__ import annotations

from tvm.s_tir import TensorIntrin

from .. import isa
from .tvm_shipped import cheap_inspect_stack

with cheap_inspect_stack():  # their TVMScript parses in a tenth of the time (see tvm_shipped)
    from . import neon, x86

#: Registered name -> (description, implementation), every CPU intrinsic.
CPU_INTRINSICS = {**x86.INTRINSICS, **neon.INTRINSICS}


def register_cpu() -> None:
    """Register every described CPU intrinsic (idempotent)."""
    missing = [i.name for i in isa.intrinsics() if i.name not in CPU_INTRINSICS]
    if missing:
        raise RuntimeError(f"described intrinsics without an implementation: {missing}")
    for name, (desc, impl) in CPU_INTRINSICS.items():
        if TensorIntrin.get(name, allow_missing=True) is None:
            TensorIntrin.register(name, desc, impl)
