"""AVX-512 VNNI dot-product intrinsic (u8 x s8 -> s32, 16 lanes x 4 reduction).

TVM 0.27 ships ``dot_16x4_vnni``, but its implementation passes ``int32x16``
operands to ``llvm.x86.avx512.vpdpbusd.512``, whose LLVM 22 signature is
``(<16 x i32>, <64 x i8>, <64 x i8>)``: every candidate fails LLVM verification.
This implementation reinterprets the operands as byte vectors.

The weight operand is declared with explicit strides ``(4, 1)``: the
implementation loads 64 contiguous bytes, so ``tensorize`` must reject a
16x4 weight tile that is not contiguous (an unpacked ``B[N, K]``), instead of
silently computing garbage.
"""

from tvm.s_tir import TensorIntrin
from tvm.script import tirx as T

#: Name under which the intrinsic is registered.
VNNI_DOT_16X4_INTRIN = "heron_dot_16x4_u8s8s32_vnni"

#: Output lanes (int32) and reduction depth (bytes per lane) of one instruction.
VNNI_LANES = 16
VNNI_REDUCE = 4


@T.prim_func(s_tir=True)
def _dot_16x4_desc(
    A: T.Buffer((4,), "uint8", offset_factor=1),
    B: T.Buffer((16, 4), "int8", offset_factor=1, strides=(4, 1)),
    C: T.Buffer((16,), "int32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:16], A[0:4], B[0:16, 0:4])
        T.writes(C[0:16])
        for i in T.serial(0, 16):
            for k in T.serial(0, 4):
                with T.sblock("update"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    C[vi] = C[vi] + T.cast(A[vk], "int32") * T.cast(B[vi, vk], "int32")


@T.prim_func(s_tir=True)
def _dot_16x4_vnni_impl(
    A: T.Buffer((4,), "uint8", offset_factor=1),
    B: T.Buffer((16, 4), "int8", offset_factor=1, strides=(4, 1)),
    C: T.Buffer((16,), "int32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:16], A[0:4], B[0:16, 0:4])
        T.writes(C[0:16])
        # The four activation bytes are broadcast to all 16 lanes.
        a_i32 = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
        a_u8x64 = T.reinterpret(T.broadcast(a_i32, 16), dtype="uint8x64")
        b_i8x64 = B.vload([0, 0], dtype="int8x64")
        C[T.ramp(T.int32(0), 1, 16)] = T.call_llvm_pure_intrin(
            T.llvm_lookup_intrinsic_id("llvm.x86.avx512.vpdpbusd.512"),
            C.vload([0], dtype="int32x16"),
            a_u8x64,
            b_i8x64,
            dtype="int32x16",
        )


def register() -> None:
    """Register the intrinsic (idempotent)."""
    if TensorIntrin.get(VNNI_DOT_16X4_INTRIN, allow_missing=True) is None:
        TensorIntrin.register(VNNI_DOT_16X4_INTRIN, _dot_16x4_desc, _dot_16x4_vnni_impl)


#: The description (for loop-mapping analyses) and the implementation.
DESC = _dot_16x4_desc
IMPL = _dot_16x4_vnni_impl
