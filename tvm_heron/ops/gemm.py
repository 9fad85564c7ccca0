"""GEMM-like workloads: ``C[(b,) i, j] = sum_k A[(b,) i, k] * B[(b,) j, k]``.

GEMM, batched matmul, GEMV (a GEMM with one row) and the paper's scan (a GEMM
against a triangular 0/1 matrix) share one definition.

int8 uses the operand types of AVX-512 VNNI: ``A`` is uint8, ``B`` is int8,
``C`` is int32. VNNI consumes the weight in tiles of 16 output columns by 4
reduction steps, stored contiguously; the *packed* layout
``B_packed[(b,) N // 16, K // 4, 16, 4]`` holds exactly those tiles, and
:func:`pack_vnni_weight` produces it from a plain ``B[(b,) N, K]``.
"""

from __future__ import annotations

import numpy as np
from tvm import te, tirx

#: Tile of the packed VNNI weight layout: (output lanes, reduction depth).
VNNI_PACK = (16, 4)


def pack_vnni_weight(weight: np.ndarray) -> np.ndarray:
    """Pack a ``[..., N, K]`` int8 weight into ``[..., N // 16, K // 4, 16, 4]``.

    ``packed[..., jo, ko, ji, ki] == weight[..., 16 * jo + ji, 4 * ko + ki]``.
    """
    *batch, n, k = weight.shape
    lanes, depth = VNNI_PACK
    if n % lanes or k % depth:
        raise ValueError(f"weight shape {weight.shape} is not a multiple of {VNNI_PACK}")
    tiles = weight.reshape(*batch, n // lanes, lanes, k // depth, depth)
    nb = len(batch)
    order = (*range(nb), nb, nb + 2, nb + 1, nb + 3)
    return np.ascontiguousarray(tiles.transpose(order))


def _batch(batch: int | None) -> tuple[int, ...]:
    return () if batch is None else (batch,)


def _named(body, batched: bool):
    """``body(*idx)`` as a lambda whose argument names name the loops (b, i, j)."""
    if batched:
        return lambda b, i, j: body(b, i, j)
    return lambda i, j: body(i, j)


def gemm_int8_packed(m: int, k: int, n: int, *, batch: int | None = None) -> tirx.PrimFunc:
    """int8 (batched) GEMM with the weight in the packed VNNI layout.

    Arguments: ``A[(b,) m, k]`` uint8, ``B_packed[(b,) n // 16, k // 4, 16, 4]``
    int8, ``C[(b,) m, n]`` int32.
    """
    lanes, depth = VNNI_PACK
    lead = _batch(batch)
    a = te.placeholder((*lead, m, k), "uint8", name="A")
    b = te.placeholder((*lead, n // lanes, k // depth, lanes, depth), "int8", name="B_packed")
    r = te.reduce_axis((0, k), name="k")

    def body(*idx):
        *bi, i, j = idx
        return te.sum(
            a[(*bi, i, r)].astype("int32")
            * b[(*bi, j // lanes, r // depth, j % lanes, r % depth)].astype("int32"),
            axis=r,
        )

    c = te.compute((*lead, m, n), _named(body, batch is not None), name="C")
    return te.create_prim_func([a, b, c])


def gemm_dense(
    m: int, k: int, n: int, in_dtype: str, out_dtype: str, *, batch: int | None = None
) -> tirx.PrimFunc:
    """(Batched) GEMM with an unpacked weight: ``A[(b,) m, k]``, ``B[(b,) n, k]``, ``C[(b,) m, n]``."""
    lead = _batch(batch)
    a_dtype = "uint8" if in_dtype == "int8" else in_dtype
    a = te.placeholder((*lead, m, k), a_dtype, name="A")
    b = te.placeholder((*lead, n, k), in_dtype, name="B")
    r = te.reduce_axis((0, k), name="k")

    def body(*idx):
        *bi, i, j = idx
        return te.sum(a[(*bi, i, r)].astype(out_dtype) * b[(*bi, j, r)].astype(out_dtype), axis=r)

    c = te.compute((*lead, m, n), _named(body, batch is not None), name="C")
    return te.create_prim_func([a, b, c])
