"""GEMM / dense workloads: ``C[i, j] = sum_k A[i, k] * B[j, k]``.

int8 GEMM uses the operand types of AVX-512 VNNI: ``A`` is uint8, ``B`` is int8,
``C`` is int32. VNNI consumes the weight in tiles of 16 output columns by 4
reduction steps, stored contiguously; the *packed* layout
``B_packed[N // 16, K // 4, 16, 4]`` holds exactly those tiles, and
:func:`pack_vnni_weight` produces it from a plain ``B[N, K]``.
"""

from __future__ import annotations

import numpy as np
from tvm import te, tirx



#: Tile of the packed VNNI weight layout: (output lanes, reduction depth).
VNNI_PACK = (16, 4)


def pack_vnni_weight(weight: np.ndarray) -> np.ndarray:
    """Pack a ``[N, K]`` int8 weight into ``[N // 16, K // 4, 16, 4]``.

    ``packed[jo, ko, ji, ki] == weight[16 * jo + ji, 4 * ko + ki]``.
    """
    n, k = weight.shape
    lanes, depth = VNNI_PACK
    if n % lanes or k % depth:
        raise ValueError(f"weight shape {weight.shape} is not a multiple of {VNNI_PACK}")
    return np.ascontiguousarray(
        weight.reshape(n // lanes, lanes, k // depth, depth).transpose(0, 2, 1, 3)
    )


def gemm_int8_packed(m: int, k: int, n: int) -> tirx.PrimFunc:
    """int8 GEMM with the weight in the packed VNNI layout.

    Arguments: ``A[m, k]`` uint8, ``B_packed[n // 16, k // 4, 16, 4]`` int8,
    ``C[m, n]`` int32.
    """
    lanes, depth = VNNI_PACK
    a = te.placeholder((m, k), "uint8", name="A")
    b = te.placeholder((n // lanes, k // depth, lanes, depth), "int8", name="B_packed")
    r = te.reduce_axis((0, k), name="k")
    c = te.compute(
        (m, n),
        lambda i, j: te.sum(
            a[i, r].astype("int32")
            * b[j // lanes, r // depth, j % lanes, r % depth].astype("int32"),
            axis=r,
        ),
        name="C",
    )
    return te.create_prim_func([a, b, c])


def gemm_dense(m: int, k: int, n: int, in_dtype: str, out_dtype: str) -> tirx.PrimFunc:
    """Plain GEMM with an unpacked weight: ``A[m, k]``, ``B[n, k]``, ``C[m, n]``."""
    a_dtype = "uint8" if in_dtype == "int8" else in_dtype
    a = te.placeholder((m, k), a_dtype, name="A")
    b = te.placeholder((n, k), in_dtype, name="B")
    r = te.reduce_axis((0, k), name="k")
    c = te.compute(
        (m, n),
        lambda i, j: te.sum(a[i, r].astype(out_dtype) * b[j, r].astype(out_dtype), axis=r),
        name="C",
    )
    return te.create_prim_func([a, b, c])
