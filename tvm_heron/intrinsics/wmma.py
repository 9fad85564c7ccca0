"""NVIDIA TensorCore ``wmma`` intrinsics for the shapes Heron chooses among.

TVM 0.27 ships wmma intrinsics for the 16x16x16 shape only, and registers them
when ``tvm.s_tir.tensor_intrin`` is imported (15-50 s here). Heron's
TensorCore rule chooses among the three fp16 fragment shapes that CUDA offers,
``m x n x k`` = 16x16x16, 32x8x16 and 8x32x16, so this module generates a
complete set per shape and data-type pair, and registers it with
:meth:`TensorIntrin.register` when a CUDA design space is made (about 1 s, with
the cheap stack of :mod:`tvm_heron.intrinsics.tvm_shipped`).

One set covers the layout the rule normalises every operator to (see
:mod:`tvm_heron.rules.tensorcore`): ``A[m, k]`` row-major, ``B[n, k]``
("NT": loaded as a column-major ``k x n`` fragment), accumulator ``C[m, n]``:

* ``fill``: zero an accumulator fragment;
* ``load_a`` / ``load_b``: shared memory -> ``wmma.matrix_a`` / ``wmma.matrix_b``;
* ``sync``: ``C += A x B^T`` (a cast to the accumulator type in between);
* ``store``: accumulator -> global memory (``store_global``) or shared memory
  (``store_shared``, ``store_shared_dyn``).

The data-type pairs are (input, accumulator): fp16 -> fp16, fp16 -> fp32 and
int8 -> int32 (s8 x s8 -> s32, sm_72 and later).

Each pointer is taken with the element type of the buffer it points into.
TVM 0.27's "tvm_access_ptr element type must match" failure of fp16 -> fp32
kernels does not come from the intrinsics: ``StorageRewrite`` lets the fp32
output tile reuse the (dead) fp16 shared-memory buffer of an input, and the
store's fp32 pointer into it is then rejected. The TensorCore rule keeps an
fp32 output tile in dynamic shared memory (``shared.dyn``), which is never
merged with the static input buffers.
"""

from __future__ import annotations

import attrs
from tvm.s_tir import TensorIntrin
from tvm.script import tirx as T
from tvm.tirx import Cast, IntImm

from .tvm_shipped import cheap_inspect_stack

#: Fragment shapes ``(m, n, k)`` of the fp16 / int8 wmma instructions.
SHAPES: tuple[tuple[int, int, int], ...] = ((16, 16, 16), (32, 8, 16), (8, 32, 16))

#: (input dtype, accumulator dtype) pairs that have a wmma form.
DTYPES: tuple[tuple[str, str], ...] = (
    ("float16", "float16"),
    ("float16", "float32"),
    ("int8", "int32"),
)

_SHORT = {"float16": "f16", "float32": "f32", "int8": "s8", "int32": "s32"}


@attrs.frozen
class WmmaIntrinsics:
    """Registered names of one wmma intrinsic set (a shape and a data-type pair)."""

    shape: tuple[int, int, int]
    in_dtype: str
    acc_dtype: str
    fill: str
    load_a: str
    load_b: str
    sync: str
    store_global: str
    store_shared: str
    store_shared_dyn: str


def names(shape: tuple[int, int, int], in_dtype: str, acc_dtype: str) -> WmmaIntrinsics:
    """The names of the set for ``shape`` and ``(in_dtype, acc_dtype)`` (not registering it)."""
    if tuple(shape) not in SHAPES:
        raise ValueError(f"wmma shape must be one of {SHAPES}, got {tuple(shape)}")
    if (in_dtype, acc_dtype) not in DTYPES:
        raise ValueError(f"wmma dtypes must be one of {DTYPES}, got {(in_dtype, acc_dtype)}")
    m, n, k = shape
    tag = f"{m}x{n}x{k}"
    a, c = _SHORT[in_dtype], _SHORT[acc_dtype]
    return WmmaIntrinsics(
        shape=(m, n, k),
        in_dtype=in_dtype,
        acc_dtype=acc_dtype,
        fill=f"heron_wmma_fill_{tag}_{c}",
        load_a=f"heron_wmma_load_a_{tag}_{a}",
        load_b=f"heron_wmma_load_b_nt_{tag}_{a}",
        sync=f"heron_wmma_sync_nt_{tag}_{a}{a}{c}",
        store_global=f"heron_wmma_store_{tag}_{c}_global",
        store_shared=f"heron_wmma_store_{tag}_{c}_shared",
        store_shared_dyn=f"heron_wmma_store_{tag}_{c}_shared_dyn",
    )


def _fragment(buffer, stride, rows: int, cols: int):
    """Index of the ``rows x cols`` fragment that ``buffer`` (a tile of a fragment array) is.

    A wmma fragment array is allocated as one buffer whose tiles are the
    fragments, row-major; codegen addresses fragment ``i`` of it.
    """
    return buffer.elem_offset // stride // rows * (stride // cols) + buffer.elem_offset % stride // cols


def _load(rows: int, cols: int, dtype: str, scope: str, layout: str, shape):
    """shared ``[rows, cols]`` -> fragment ``scope``; ``layout`` as wmma reads the tile."""
    m, n, k = shape

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (rows, cols), dtype, align=64, offset_factor=cols, scope="shared")
        C = T.match_buffer(c, (rows, cols), dtype, align=64, offset_factor=cols, scope=scope)
        with T.sblock("root"):
            T.reads(A[0:rows, 0:cols])
            T.writes(C[0:rows, 0:cols])
            for i, j in T.grid(rows, cols):
                with T.sblock("load"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    C[vi, vj] = A[vi, vj]

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, c: T.handle) -> None:
        s1 = T.int32()
        s0 = T.int32()
        d1 = T.int32()
        d0 = T.int32()
        A = T.match_buffer(
            a, (rows, cols), dtype, align=64, offset_factor=cols, scope="shared", strides=[s1, s0]
        )
        C = T.match_buffer(
            c, (rows, cols), dtype, align=64, offset_factor=cols, scope=scope, strides=[d1, d0]
        )
        with T.sblock("root"):
            T.reads(A[0:rows, 0:cols])
            T.writes(C[0:rows, 0:cols])
            T.evaluate(
                T.tvm_load_matrix_sync(
                    C.data, m, n, k, _fragment(C, d1, rows, cols),
                    A.access_ptr("r", ptr_type=dtype), s1, layout, dtype="void",
                )
            )

    return desc, impl


def _fill(shape, dtype: str):
    m, n, k = shape
    zero = IntImm("int32", 0).astype(dtype)

    @T.prim_func(s_tir=True)
    def desc(c: T.handle) -> None:
        C = T.match_buffer(c, (m, n), dtype, align=64, offset_factor=n, scope="wmma.accumulator")
        with T.sblock("root"):
            T.reads()
            T.writes(C[0:m, 0:n])
            for i, j in T.grid(m, n):
                with T.sblock("init"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    C[vi, vj] = zero

    @T.prim_func(s_tir=True)
    def impl(c: T.handle) -> None:
        d1 = T.int32()
        d0 = T.int32()
        C = T.match_buffer(
            c, (m, n), dtype, align=64, offset_factor=n, scope="wmma.accumulator", strides=[d1, d0]
        )
        with T.sblock("root"):
            T.reads()
            T.writes(C[0:m, 0:n])
            T.evaluate(
                T.tvm_fill_fragment(C.data, m, n, k, _fragment(C, d1, m, n), T.float32(0),
                                    dtype="void")
            )

    return desc, impl


def _store(shape, dtype: str, scope: str):
    m, n, k = shape

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (m, n), dtype, align=64, offset_factor=n, scope="wmma.accumulator")
        C = T.match_buffer(c, (m, n), dtype, align=64, offset_factor=n, scope=scope)
        with T.sblock("root"):
            T.reads(A[0:m, 0:n])
            T.writes(C[0:m, 0:n])
            for i, j in T.grid(m, n):
                with T.sblock("store"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    C[vi, vj] = A[vi, vj]

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, c: T.handle) -> None:
        s1 = T.int32()
        s0 = T.int32()
        d1 = T.int32()
        d0 = T.int32()
        A = T.match_buffer(
            a, (m, n), dtype, align=64, offset_factor=n, scope="wmma.accumulator", strides=[d1, d0]
        )
        C = T.match_buffer(
            c, (m, n), dtype, align=64, offset_factor=n, scope=scope, strides=[s1, s0]
        )
        with T.sblock("root"):
            T.reads(A[0:m, 0:n])
            T.writes(C[0:m, 0:n])
            T.evaluate(
                T.tvm_store_matrix_sync(
                    A.data, m, n, k, _fragment(A, d1, m, n),
                    C.access_ptr("w", ptr_type=dtype), s1, "row_major", dtype="void",
                )
            )

    return desc, impl


def _sync(shape, in_dtype: str, acc_dtype: str):
    """``C[m, n] += A[m, k] * B[n, k]`` on fragments (B is the "NT" operand)."""
    m, n, k = shape

    def widen(value):
        return value if in_dtype == acc_dtype else Cast(acc_dtype, value)

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (m, k), in_dtype, align=64, offset_factor=k, scope="wmma.matrix_a")
        B = T.match_buffer(b, (n, k), in_dtype, align=64, offset_factor=k, scope="wmma.matrix_b")
        C = T.match_buffer(c, (m, n), acc_dtype, align=64, offset_factor=n,
                           scope="wmma.accumulator")
        with T.sblock("root"):
            T.reads(C[0:m, 0:n], A[0:m, 0:k], B[0:n, 0:k])
            T.writes(C[0:m, 0:n])
            for i, j, r in T.grid(m, n, k):
                with T.sblock("update"):
                    vi, vj, vr = T.axis.remap("SSR", [i, j, r])
                    C[vi, vj] = C[vi, vj] + widen(A[vi, vr]) * widen(B[vj, vr])

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        a1 = T.int32()
        a0 = T.int32()
        b1 = T.int32()
        b0 = T.int32()
        c1 = T.int32()
        c0 = T.int32()
        A = T.match_buffer(a, (m, k), in_dtype, align=64, offset_factor=k,
                           scope="wmma.matrix_a", strides=[a1, a0])
        B = T.match_buffer(b, (n, k), in_dtype, align=64, offset_factor=k,
                           scope="wmma.matrix_b", strides=[b1, b0])
        C = T.match_buffer(c, (m, n), acc_dtype, align=64, offset_factor=n,
                           scope="wmma.accumulator", strides=[c1, c0])
        with T.sblock("root"):
            T.reads(C[0:m, 0:n], A[0:m, 0:k], B[0:n, 0:k])
            T.writes(C[0:m, 0:n])
            T.evaluate(
                T.tvm_mma_sync(
                    C.data, _fragment(C, c1, m, n),
                    A.data, _fragment(A, a1, m, k),
                    B.data, _fragment(B, b1, n, k),
                    C.data, _fragment(C, c1, m, n),
                    dtype="void",
                )
            )

    return desc, impl


def _generators(shape, in_dtype: str, acc_dtype: str) -> dict:
    m, n, k = shape
    return {
        "fill": lambda: _fill(shape, acc_dtype),
        "load_a": lambda: _load(m, k, in_dtype, "wmma.matrix_a", "row_major", shape),
        "load_b": lambda: _load(n, k, in_dtype, "wmma.matrix_b", "col_major", shape),
        "sync": lambda: _sync(shape, in_dtype, acc_dtype),
        "store_global": lambda: _store(shape, acc_dtype, "global"),
        "store_shared": lambda: _store(shape, acc_dtype, "shared"),
        "store_shared_dyn": lambda: _store(shape, acc_dtype, "shared.dyn"),
    }


def register(shape: tuple[int, int, int], in_dtype: str, acc_dtype: str) -> WmmaIntrinsics:
    """Register the set for ``shape`` and the data-type pair (idempotent); returns its names."""
    intrins = names(shape, in_dtype, acc_dtype)
    missing = {field: make for field, make in _generators(intrins.shape, in_dtype, acc_dtype).items()
               if TensorIntrin.get(getattr(intrins, field), allow_missing=True) is None}
    if missing:
        # TVMScript's inspect.stack() per function is most of the parse (8 s for the whole set,
        # 40 s inside pytest); the cheap stack gives the parser all it reads (see tvm_shipped).
        with cheap_inspect_stack():
            for field, make in missing.items():
                TensorIntrin.register(getattr(intrins, field), *make())
    return intrins


def register_all() -> None:
    """Register every shape and data-type pair (what a database of wmma traces may name)."""
    for shape in SHAPES:
        for in_dtype, acc_dtype in DTYPES:
            register(shape, in_dtype, acc_dtype)
