"""The aarch64 intrinsics of :mod:`tvm_heron.isa.arm`: usdot (i8mm), sdot with an offset, fmla.

Build-only here (cross-compiled to assembly). Each reads a 4-lane x 4-byte
weight tile (16 contiguous bytes, a quarter of a 16-lane packed tile).

* ``usdot`` (FEAT_I8MM) multiplies u8 activations by s8 weights directly.
* Without i8mm, ``sdot`` is s8 x s8 only. With ``a' = a - 128`` (an s8, the
  activation's top bit flipped): ``sum a*b = sum a'*b + 128 * sum b``, and
  ``sum b`` is one more ``sdot`` against ones: exact for every input, two
  ``sdot`` per call.
"""

from __future__ import annotations

from tvm.script import tirx as T

from ..isa import arm
from .templates import dot_desc, fma_desc, fma_impl, llvm_call


@T.prim_func(s_tir=True)
def _usdot(
    A: T.Buffer((4,), "uint8", offset_factor=1),
    B: T.Buffer((4, 4), "int8", offset_factor=1, strides=(4, 1)),
    C: T.Buffer((4,), "int32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:4], A[0:4], B[0:4, 0:4])
        T.writes(C[0:4])
        a_i32 = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
        C[T.ramp(T.int32(0), 1, 4)] = llvm_call(
            "llvm.aarch64.neon.usdot.v4i32.v16i8", "int32x4",
            C.vload([0], dtype="int32x4"),
            T.reinterpret(T.broadcast(a_i32, 4), dtype="uint8x16"),
            B.vload([0, 0], dtype="int8x16"),
        )


@T.prim_func(s_tir=True)
def _sdot_offset(
    A: T.Buffer((4,), "uint8", offset_factor=1),
    B: T.Buffer((4, 4), "int8", offset_factor=1, strides=(4, 1)),
    C: T.Buffer((4,), "int32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:4], A[0:4], B[0:4, 0:4])
        T.writes(C[0:4])
        # Flipping each byte's top bit maps u8 a onto the s8 a - 128.
        a_i32 = T.bitwise_xor(T.reinterpret(A.vload([0], "uint8x4"), dtype="int32"),
                              T.int32(-2139062144))  # 0x80808080
        b = B.vload([0, 0], dtype="int8x16")
        shifted = llvm_call("llvm.aarch64.neon.sdot.v4i32.v16i8", "int32x4",
                            C.vload([0], dtype="int32x4"),
                            T.reinterpret(T.broadcast(a_i32, 4), dtype="int8x16"), b)
        weight_sums = llvm_call("llvm.aarch64.neon.sdot.v4i32.v16i8", "int32x4",
                                T.broadcast(T.int32(0), 4), T.broadcast(T.int8(1), 16), b)
        C[T.ramp(T.int32(0), 1, 4)] = shifted + T.shift_left(weight_sums, T.broadcast(T.int32(7), 4))


#: Registered name -> (description, implementation).
INTRINSICS = {
    arm.USDOT.name: (dot_desc(4), _usdot),
    arm.SDOT_OFFSET.name: (dot_desc(4), _sdot_offset),
    arm.FMLA.name: (fma_desc(4), fma_impl(4)),
}
