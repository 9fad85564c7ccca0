"""GEMM-like workloads: ``C[(b,) i, j] = sum_k A[(b,) i, k] * B[(b,) j, k]``.

GEMM, batched matmul, GEMV (a GEMM with one row) and the paper's scan (a GEMM
against a triangular 0/1 matrix) share one definition.

int8 uses the operand types of AVX-512 VNNI: ``A`` is uint8, ``B`` is int8,
the accumulator int32; float32 is float32 throughout. The *packed* weight
layout ``B_packed[(b,) N/16, K/4, 16, 4]`` for int8 (``[(b,) N/16, K, 16]`` for
float32, see :mod:`tvm_heron.ops.layout`) holds the tiles one VNNI
instruction (or one 16-lane FMA) consumes, stored contiguously;
:func:`~tvm_heron.ops.layout.pack_weight` produces it from a plain
``B[(b,) N, K]``.

When ``K`` is not a multiple of the tile depth, an injective stage ``pad``
zero-extends ``A`` along ``K`` (the packed weight is zero-padded too); when
``N`` is not a multiple of 16, the reduction ``C`` computes ``N`` rounded up
to 16 columns and a stage ``crop`` keeps the first ``N``. An epilogue
(:mod:`tvm_heron.ops.epilogue`) follows.
"""

from __future__ import annotations

from tvm import te, tirx

from .epilogue import accumulator_dtype, finish
from .layout import pack_tile, packed_shape, round_up



def _batch(batch: int | None) -> tuple[int, ...]:
    return () if batch is None else (batch,)


def _loop_names(batch: int | None) -> list[str]:
    return ["i", "j"] if batch is None else ["b", "i", "j"]


def _activation(m: int, k: int, dtype: str, batch: int | None) -> te.Tensor:
    return te.placeholder((*_batch(batch), m, k), "uint8" if dtype == "int8" else dtype, name="A")


def _pad_reduction(a: te.Tensor, k_padded: int) -> te.Tensor:
    """``pad[..., i, k] = A[..., i, k]`` for ``k < K``, 0 up to ``k_padded``."""
    k = int(a.shape[-1])
    if k_padded == k:
        return a
    zero = tirx.const(0, a.dtype)
    return te.compute(
        (*a.shape[:-1], k_padded),
        lambda *i: tirx.if_then_else(i[-1] < k, a(*i), zero),
        name="pad",
        varargs_names=["b", "i", "k"][-len(a.shape) :],
    )


def _reduce(a: te.Tensor, weight, k: int, n: int, acc: str, batch: int | None) -> te.Tensor:
    """``C[(b,) i, j] = sum_r A[(b,) i, r] * weight((b,), j, r)`` over ``r < k``."""
    r = te.reduce_axis((0, k), name="k")
    m = a.shape[-2]

    def body(*idx):
        *bi, i, j = idx
        return te.sum(a[(*bi, i, r)].astype(acc) * weight(bi, j, r).astype(acc), axis=r)

    return te.compute((*_batch(batch), m, n), body, name="C", varargs_names=_loop_names(batch))


def gemm_packed(
    m: int, k: int, n: int, dtype: str, *, batch: int | None = None, epilogue: str = "none"
) -> tirx.PrimFunc:
    """(Batched) GEMM with the weight in the packed layout of ``dtype``.

    Parameters
    ----------
    m, k, n : int
        ``C[m, n] = A[m, k] x B[n, k]^T``.
    dtype : str
        ``"int8"`` (A uint8, B int8, accumulator int32) or ``"float32"``.
    batch : int, optional
        Leading batch extent of every operand.
    epilogue : str
        See :mod:`tvm_heron.ops.epilogue`.

    Returns
    -------
    tvm.tirx.PrimFunc
        Arguments ``A[(b,) m, k]``,
        ``B_packed[(b,) ceil(n/16), ceil(k/4), 16, 4]`` (float32: ``[(b,) ceil(n/16), k, 16]``), ``bias[n]``
        (with an epilogue) and the output ``[(b,) m, n]``.
    """
    lanes, depth = pack_tile(dtype)
    n_padded, k_padded = round_up(n, lanes), round_up(k, depth)
    lead = _batch(batch)
    a = _activation(m, k, dtype, batch)
    b = te.placeholder(packed_shape((*lead, n_padded, k_padded), dtype), dtype, name="B_packed")

    def weight(bi, j, r):
        if depth == 1:
            return b[(*bi, j // lanes, r, j % lanes)]
        return b[(*bi, j // lanes, r // depth, j % lanes, r % depth)]

    padded = _pad_reduction(a, k_padded)
    acc = _reduce(padded, weight, k_padded, n_padded, accumulator_dtype(dtype), batch)
    extra, out = finish(acc, n, epilogue, dtype, reduction=k)
    return te.create_prim_func([a, b, *extra, out])


def gemm_plain(
    m: int, k: int, n: int, dtype: str, *, batch: int | None = None, epilogue: str = "none",
    acc_dtype: str | None = None,
) -> tirx.PrimFunc:
    """(Batched) GEMM with the weight as given (not packed).

    Arguments ``A[(b,) m, k]``, ``B[(b,) n, k]``, ``bias[n]`` (with an
    epilogue) and the output ``[(b,) m, n]``. No padding: any ``k`` and ``n``.
    ``dtype`` and ``epilogue`` as in :func:`gemm_packed`; ``dtype`` may also be
    ``"float16"`` (the TensorCore operators), accumulated in ``acc_dtype``
    (float16 by default, or float32; the output has the accumulator's type).
    """
    if dtype != "float16":
        pack_tile(dtype)  # validates the dtype
    a = _activation(m, k, dtype, batch)
    b = te.placeholder((*_batch(batch), n, k), dtype, name="B")
    acc_type = accumulator_dtype(dtype, acc_dtype)
    acc = _reduce(a, lambda bi, j, r: b[(*bi, j, r)], k, n, acc_type, batch)
    extra, out = finish(acc, n, epilogue, dtype, reduction=k)
    return te.create_prim_func([a, b, *extra, out])
