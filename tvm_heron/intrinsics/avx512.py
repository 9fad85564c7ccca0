"""AVX-512 fp32 multiply-add intrinsic (16 output lanes x 4 reduction steps).

The fp32 counterpart of the VNNI dot product. For each of 4 reduction steps,
one activation value is broadcast to 16 lanes and multiplied-accumulated (one
``vfmadd``) with the 16 contiguous weights of that step's output channels.
The weight tile is ``B[4, 16]`` (reduction-major: the packed fp32 weight
``[N / 16, K, 16]``), so the same DL Boost rule builds the same
register-tiled structure for fp32 as for int8. Four steps per intrinsic
(rather than one) keep a reduction loop in the intrinsic: TVM drops a
reduction iterator of extent 1, and tensorize would then not match.

The weight operand is declared with explicit strides ``(16, 1)`` for the
same reason as in :mod:`.vnni`: a tile that is not contiguous in memory (an
unpacked ``B[N, K]``) must fail the build, not compute garbage.
"""

from tvm.s_tir import TensorIntrin
from tvm.script import tirx as T

#: Name under which the intrinsic is registered.
FMA_16X4_INTRIN = "heron_fma_16x4_f32_avx512"

#: Output lanes and reduction steps of one intrinsic call (4 ``vfmadd``).
FMA_LANES = 16
FMA_REDUCE = 4


@T.prim_func(s_tir=True)
def _fma_16x4_desc(
    A: T.Buffer((4,), "float32", offset_factor=1),
    B: T.Buffer((4, 16), "float32", offset_factor=1, strides=(16, 1)),
    C: T.Buffer((16,), "float32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:16], A[0:4], B[0:4, 0:16])
        T.writes(C[0:16])
        for i in T.serial(0, 16):
            for k in T.serial(0, 4):
                with T.sblock("update"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    C[vi] = C[vi] + A[vk] * B[vk, vi]


@T.prim_func(s_tir=True)
def _fma_16x4_impl(
    A: T.Buffer((4,), "float32", offset_factor=1),
    B: T.Buffer((4, 16), "float32", offset_factor=1, strides=(16, 1)),
    C: T.Buffer((16,), "float32", offset_factor=1),
) -> None:
    with T.sblock("root"):
        T.reads(C[0:16], A[0:4], B[0:4, 0:16])
        T.writes(C[0:16])
        acc = T.fma(
            T.broadcast(A[0], 16), B.vload([0, 0], dtype="float32x16"), C.vload([0], dtype="float32x16")
        )
        acc = T.fma(T.broadcast(A[1], 16), B.vload([1, 0], dtype="float32x16"), acc)
        acc = T.fma(T.broadcast(A[2], 16), B.vload([2, 0], dtype="float32x16"), acc)
        C[T.ramp(T.int32(0), 1, 16)] = T.fma(
            T.broadcast(A[3], 16), B.vload([3, 0], dtype="float32x16"), acc
        )


def register() -> None:
    """Register the intrinsic (idempotent)."""
    if TensorIntrin.get(FMA_16X4_INTRIN, allow_missing=True) is None:
        TensorIntrin.register(FMA_16X4_INTRIN, _fma_16x4_desc, _fma_16x4_impl)


#: The description (for loop-mapping analyses) and the implementation.
DESC = _fma_16x4_desc
IMPL = _fma_16x4_impl
