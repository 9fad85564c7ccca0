"""TensorIR descriptions shared by the CPU intrinsics, by shape.

Two computations cover every described CPU intrinsic
(:mod:`tvm_heron.isa`):

* :func:`dot_desc`: ``C[lane] += sum_k A[k] * B[lane, k]``, u8 x s8 -> s32,
  the weight tile ``B[lanes, depth]`` contiguous (strides ``(depth, 1)``) so
  that ``tensorize`` rejects a tile that is not (an unpacked ``B[N, K]``
  would otherwise compute garbage, see TVM_0_27.md);
* :func:`fma_desc`: ``C[lane] += sum_k A[k] * B[k, lane]`` in float32, each
  reduction step's lanes contiguous and the rows any distance apart (a
  symbolic row stride): an 8-lane or 4-lane multiply-add reads part of a
  16-lane packed row.
"""

from __future__ import annotations

from tvm.script import tirx as T


def dot_desc(lanes: int, depth: int = 4):
    """The u8 x s8 -> s32 dot product of ``lanes`` outputs over ``depth`` steps."""

    @T.prim_func(s_tir=True)
    def desc(
        A: T.Buffer((depth,), "uint8", offset_factor=1),
        B: T.Buffer((lanes, depth), "int8", offset_factor=1, strides=(depth, 1)),
        C: T.Buffer((lanes,), "int32", offset_factor=1),
    ) -> None:
        with T.sblock("root"):
            T.reads(C[0:lanes], A[0:depth], B[0:lanes, 0:depth])
            T.writes(C[0:lanes])
            for i in T.serial(0, lanes):
                for k in T.serial(0, depth):
                    with T.sblock("update"):
                        vi, vk = T.axis.remap("SR", [i, k])
                        C[vi] = C[vi] + T.cast(A[vk], "int32") * T.cast(B[vi, vk], "int32")

    return desc


def fma_desc(lanes: int, depth: int = 4):
    """The float32 multiply-add of ``lanes`` outputs over ``depth`` steps (rows of lanes)."""

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        row = T.int32()
        A = T.match_buffer(a, (depth,), "float32", offset_factor=1)
        B = T.match_buffer(b, (depth, lanes), "float32", offset_factor=1, strides=(row, 1))
        C = T.match_buffer(c, (lanes,), "float32", offset_factor=1)
        with T.sblock("root"):
            T.reads(C[0:lanes], A[0:depth], B[0:depth, 0:lanes])
            T.writes(C[0:lanes])
            for i in T.serial(0, lanes):
                for k in T.serial(0, depth):
                    with T.sblock("update"):
                        vi, vk = T.axis.remap("SR", [i, k])
                        C[vi] = C[vi] + A[vk] * B[vk, vi]

    return desc


def fma_impl(lanes: int, depth: int = 4):
    """``depth`` broadcast multiply-adds of ``lanes`` float32 (``T.fma``: vfmadd on x86, fmla on NEON)."""
    vec = f"float32x{lanes}"

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        row = T.int32()
        A = T.match_buffer(a, (depth,), "float32", offset_factor=1)
        B = T.match_buffer(b, (depth, lanes), "float32", offset_factor=1, strides=(row, 1))
        C = T.match_buffer(c, (lanes,), "float32", offset_factor=1)
        with T.sblock("root"):
            T.reads(C[0:lanes], A[0:depth], B[0:depth, 0:lanes])
            T.writes(C[0:lanes])
            acc = C.vload([0], dtype=vec)
            for k in T.unroll(depth):
                acc = T.fma(T.broadcast(A[k], lanes), B.vload([k, 0], dtype=vec), acc)
            C[T.ramp(T.int32(0), 1, lanes)] = acc

    return impl


def llvm_call(name: str, dtype: str, *args):
    """A pure LLVM intrinsic call (TVMScript helper)."""
    return T.call_llvm_pure_intrin(T.llvm_lookup_intrinsic_id(name), *args, dtype=dtype)
