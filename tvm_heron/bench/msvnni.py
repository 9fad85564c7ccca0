"""Give MetaSchedule's own VNNI rule a working intrinsic.

TVM 0.27's ``dot_16x4_vnni`` fails LLVM 22's verifier, so none of the
candidates of MetaSchedule's default int8 space for a VNNI CPU builds. The
baseline of a fair comparison re-registers that name with tvm_heron's
AVX-512 VNNI intrinsic (:mod:`tvm_heron.intrinsics.x86`, the same
computation and operand layout), process-wide. Heron's space uses its own name and is not
affected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: The name MetaSchedule's VNNI schedule rule tensorizes with.
MS_VNNI_INTRIN = "dot_16x4_vnni"


def patch_metaschedule_vnni() -> str:
    """Register tvm_heron's VNNI intrinsic as ``dot_16x4_vnni`` (idempotent); returns the name."""
    # pylint: disable=import-outside-toplevel
    # TVM's own intrinsics first (every TuneContext imports them, once per process);
    # registered after ours, theirs would fail as a duplicate.
    from tvm.s_tir import TensorIntrin

    from ..intrinsics.tvm_shipped import import_shipped_intrinsics

    import_shipped_intrinsics()

    from ..intrinsics import CPU_INTRINSICS
    from ..isa.x86 import VNNI_512

    TensorIntrin.register(MS_VNNI_INTRIN, *CPU_INTRINSICS[VNNI_512.name], override=True)
    return MS_VNNI_INTRIN


def restore_metaschedule_vnni() -> None:
    """Register TVM's own ``dot_16x4_vnni`` again."""
    # pylint: disable=import-outside-toplevel
    from tvm.s_tir import TensorIntrin
    from tvm.s_tir.tensor_intrin import x86

    TensorIntrin.register(MS_VNNI_INTRIN, x86.dot_product_16x4_u8i8i32_desc,
                          x86.dot_product_16x4_u8i8i32_vnni, override=True)


@contextlib.contextmanager
def metaschedule_vnni_patched() -> Iterator[str]:
    """:func:`patch_metaschedule_vnni` for the duration of a ``with`` block."""
    name = patch_metaschedule_vnni()
    try:
        yield name
    finally:
        restore_metaschedule_vnni()
