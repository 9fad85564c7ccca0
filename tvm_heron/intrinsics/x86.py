"""The x86 intrinsics of :mod:`tvm_heron.isa.x86`: VNNI (512 and 256 bits), AVX2 int8, FMA.

* AVX-512 VNNI: TVM 0.27 ships ``dot_16x4_vnni``, but it passes ``int32x16``
  operands to ``llvm.x86.avx512.vpdpbusd.512``, whose LLVM 22 signature is
  ``(<16 x i32>, <64 x i8>, <64 x i8>)``: every candidate fails LLVM's
  verifier. These reinterpret the operands as byte vectors.
* AVX-VNNI has no LLVM names of its own: ``llvm.x86.avx512.vpdpbusd.256``
  gives the VEX ``{vex} vpdpbusd ymm`` on a CPU with AVX-VNNI and no AVX-512
  (``alderlake``), the EVEX form where AVX-512 VL is present.
* AVX2 int8, exact: each activation split as ``a = (a & 127) + 128 * (a >> 7)``;
  ``vpmaddubsw`` of either part with the weights cannot saturate (at most
  2 x 127 x 128 and 2 x 1 x 128), and two ``vpmaddwd`` widen the pair sums,
  with 1 and 128. On a 64x512x256 GEMM (Zen 4 without AVX-512, one thread)
  this ran 1.6x faster than widening both operands to 16 bits for
  ``vpmaddwd`` and reordering a ``vphaddd``.
* AVX2 int8 for 7-bit activations: ``vpmaddubsw`` multiplies u8 x s8 and adds
  pairs into 16 bits *with saturation*: with activations up to 127 every sum
  fits (2 x 127 x 128 < 2^15), above it results are wrong (a 2e4 error was
  measured). ``vpmaddwd`` with ones then widens the pairs. Used only where the
  workload declares 7-bit activations.
* FMA: one broadcast multiply-add per reduction step at 16 (zmm) or 8 (ymm) lanes.
"""

from __future__ import annotations

from tvm.script import tirx as T

from ..isa import x86
from .templates import dot_desc, fma_desc, fma_impl, llvm_call


@T.prim_func(s_tir=True)
def _vnni_512(
    A: T.Buffer((4,), "uint8", offset_factor=1),
    B: T.Buffer((16, 4), "int8", offset_factor=1, strides=(4, 1)),
    C: T.Buffer((16,), "int32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:16], A[0:4], B[0:16, 0:4])
        T.writes(C[0:16])
        # The four activation bytes are broadcast to all 16 lanes.
        a_i32 = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
        C[T.ramp(T.int32(0), 1, 16)] = llvm_call(
            "llvm.x86.avx512.vpdpbusd.512", "int32x16",
            C.vload([0], dtype="int32x16"),
            T.reinterpret(T.broadcast(a_i32, 16), dtype="uint8x64"),
            B.vload([0, 0], dtype="int8x64"),
        )


@T.prim_func(s_tir=True)
def _vnni_256(
    A: T.Buffer((4,), "uint8", offset_factor=1),
    B: T.Buffer((8, 4), "int8", offset_factor=1, strides=(4, 1)),
    C: T.Buffer((8,), "int32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:8], A[0:4], B[0:8, 0:4])
        T.writes(C[0:8])
        a_i32 = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
        C[T.ramp(T.int32(0), 1, 8)] = llvm_call(
            "llvm.x86.avx512.vpdpbusd.256", "int32x8",
            C.vload([0], dtype="int32x8"),
            T.reinterpret(T.broadcast(a_i32, 8), dtype="uint8x32"),
            B.vload([0, 0], dtype="int8x32"),
        )


@T.prim_func(s_tir=True)
def _avx2_exact(
    A: T.Buffer((4,), "uint8", offset_factor=1),
    B: T.Buffer((8, 4), "int8", offset_factor=1, strides=(4, 1)),
    C: T.Buffer((8,), "int32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:8], A[0:4], B[0:8, 0:4])
        T.writes(C[0:8])
        # a = low + 128 * high, low = a & 127, high = a >> 7 (0 or 1): each vpmaddubsw is exact.
        a_i32 = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
        low = T.bitwise_and(a_i32, T.int32(0x7F7F7F7F))
        high = T.bitwise_and(T.shift_right(a_i32, T.int32(7)), T.int32(0x01010101))
        weights = B.vload([0, 0], dtype="int8x32")
        low_pairs = llvm_call("llvm.x86.avx2.pmadd.ub.sw", "int16x16",
                              T.reinterpret(T.broadcast(low, 8), dtype="int8x32"), weights)
        high_pairs = llvm_call("llvm.x86.avx2.pmadd.ub.sw", "int16x16",
                               T.reinterpret(T.broadcast(high, 8), dtype="int8x32"), weights)
        # vpmaddwd widens the pair sums to 32 bits and applies the high half's weight, 128.
        C[T.ramp(T.int32(0), 1, 8)] = C.vload([0], dtype="int32x8") + llvm_call(
            "llvm.x86.avx2.pmadd.wd", "int32x8", low_pairs, T.broadcast(T.int16(1), 16)
        ) + llvm_call("llvm.x86.avx2.pmadd.wd", "int32x8", high_pairs, T.broadcast(T.int16(128), 16))


@T.prim_func(s_tir=True)
def _avx2_u7(
    A: T.Buffer((4,), "uint8", offset_factor=1),
    B: T.Buffer((8, 4), "int8", offset_factor=1, strides=(4, 1)),
    C: T.Buffer((8,), "int32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:8], A[0:4], B[0:8, 0:4])
        T.writes(C[0:8])
        a_i32 = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
        pairs = llvm_call(
            "llvm.x86.avx2.pmadd.ub.sw", "int16x16",
            T.reinterpret(T.broadcast(a_i32, 8), dtype="int8x32"),
            B.vload([0, 0], dtype="int8x32"),
        )
        C[T.ramp(T.int32(0), 1, 8)] = C.vload([0], dtype="int32x8") + llvm_call(
            "llvm.x86.avx2.pmadd.wd", "int32x8", pairs, T.broadcast(T.int16(1), 16)
        )


#: Registered name -> (description, implementation).
INTRINSICS = {
    x86.VNNI_512.name: (dot_desc(16), _vnni_512),
    x86.VNNI_256.name: (dot_desc(8), _vnni_256),
    x86.AVX2_EXACT.name: (dot_desc(8), _avx2_exact),
    x86.AVX2_U7.name: (dot_desc(8), _avx2_u7),
    x86.FMA_512.name: (fma_desc(16), fma_impl(16)),
    x86.FMA_256.name: (fma_desc(8), fma_impl(8)),
}
