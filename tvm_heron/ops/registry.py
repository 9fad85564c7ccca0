"""Operators by name: shape validation and construction of :class:`Workload` objects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InvalidShapeError, UnsupportedDtypeError, UnsupportedOperatorError
from . import conv, gemm
from .workload import Workload

#: Shape fields of each operator (same names as the paper's workload list).
FIELDS: dict[str, tuple[str, ...]] = {
    "gemm": ("M", "K", "N"),
    "bmm": ("B", "M", "K", "N"),
    "gemv": ("M", "K"),
    "scan": ("M", "N", "K"),
    "c2d": ("N", "H", "W", "CI", "CO", "KH", "KW", "stride", "pad", "dilation"),
    "dil": ("N", "H", "W", "CI", "CO", "KH", "KW", "stride", "pad", "dilation"),
}

#: Input data types each operator is defined for.
DTYPES: dict[str, tuple[str, ...]] = {op: ("int8", "float32") for op in FIELDS}


def _as_matmul(op: str, shape: tuple[int, ...]) -> tuple[int | None, int, int, int]:
    """(batch, m, k, n) of the GEMM that computes ``op`` (see workloads.json's notes)."""
    if op == "gemm":
        return (None, *shape)
    if op == "bmm":
        return shape  # type: ignore[return-value]
    if op == "gemv":  # out[1, M] = a[1, K] x W[M, K]^T
        m, k = shape
        return None, 1, k, m
    m, n, k = shape  # scan: out[M, N] = A[M, K] x T[N, K]^T, T[n, k] = (n > k)
    return None, m, k, n

#: Weight layouts: ``packed`` is VNNI's ``[N/16, K/4, 16, 4]``, ``plain`` is ``[N, K]``.
LAYOUTS = ("packed", "plain")


def _check_shape(op: str, shape: Sequence[int]) -> tuple[int, ...]:
    fields = FIELDS[op]
    if len(shape) != len(fields):
        raise InvalidShapeError(
            f"{op} takes {len(fields)} shape fields ({','.join(fields)}), got {len(shape)}: "
            f"{','.join(map(str, shape))}"
        )
    for name, value in zip(fields, shape):
        if int(value) < (0 if name == "pad" else 1):
            raise InvalidShapeError(f"{op}: {name} must be positive, got {value}")
    return tuple(int(v) for v in shape)


def make_workload(op: str, shape: Sequence[int], dtype: str, *, layout: str = "packed") -> Workload:
    """Build a :class:`Workload`.

    Parameters
    ----------
    op : str
        Operator name (see :data:`FIELDS`).
    shape : sequence of int
        Shape fields in the order of ``FIELDS[op]``.
    dtype : str
        ``"int8"`` (u8 x s8 -> s32) or ``"float32"``.
    layout : str
        Weight layout of int8 GEMM: ``"packed"`` or ``"plain"``.

    Raises
    ------
    UnsupportedOperatorError, InvalidShapeError, UnsupportedDtypeError
        With a message naming the problem.
    """
    if op not in FIELDS:
        raise UnsupportedOperatorError(
            f"unknown operator {op!r}; supported: {', '.join(sorted(FIELDS))}"
        )
    shape = _check_shape(op, shape)
    if dtype not in DTYPES[op]:
        raise UnsupportedDtypeError(
            f"{op} is defined for dtypes {', '.join(DTYPES[op])}, not {dtype!r}"
        )
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if op in ("c2d", "dil"):
        return _conv2d(op, shape, dtype=dtype)
    return _matmul(op, shape, dtype=dtype, layout=layout)


def _conv2d(op: str, shape: tuple[int, ...], *, dtype: str) -> Workload:
    n, h, w, ci, co, kh, kw, stride, pad, dilation = shape
    int8 = dtype == "int8"
    if int8 and (co % gemm.VNNI_PACK[0] or ci % gemm.VNNI_PACK[1]):
        raise InvalidShapeError(
            f"int8 {op} with the packed VNNI weight (OhwI16o4i) needs CO % 16 == 0 and "
            f"CI % 4 == 0; got CI={ci}, CO={co}"
        )
    oh = conv.conv2d_out_size(h, kh, stride, pad, dilation)
    ow = conv.conv2d_out_size(w, kw, stride, pad, dilation)
    if oh < 1 or ow < 1:
        raise InvalidShapeError(f"{op}: the kernel does not fit the padded input (output {oh}x{ow})")
    func = conv.conv2d_nhwc(n, h, w, ci, co, kh, kw, stride, pad, dilation, dtype=dtype)

    def make_inputs(rng: np.random.Generator):
        if int8:
            a = rng.integers(0, 256, size=(n, h, w, ci), dtype=np.uint8)
            wt = rng.integers(-128, 128, size=(co, kh, kw, ci), dtype=np.int8)
            out = np.zeros((n, oh, ow, co), dtype=np.int32)
            return [a, conv.pack_conv_weight(wt), out], (a, wt)
        a = rng.uniform(-1, 1, size=(n, h, w, ci)).astype(dtype)
        wt = rng.uniform(-1, 1, size=(co, kh, kw, ci)).astype(dtype)
        return [a, wt, np.zeros((n, oh, ow, co), dtype=dtype)], (a, wt)

    def reference(a, wt):
        result = conv.conv2d_reference(a, wt, stride, pad, dilation)
        return result.astype(np.int32) if int8 else result

    return Workload(
        op=op,
        shape=shape,
        dtype=dtype,
        func=func,
        flops=2 * n * oh * ow * co * ci * kh * kw,
        make_inputs=make_inputs,
        reference=reference,
        exact=int8,
    )


def _matmul(op: str, shape: tuple[int, ...], *, dtype: str, layout: str) -> Workload:
    batch, m, k, n = _as_matmul(op, shape)
    lead = () if batch is None else (batch,)
    int8 = dtype == "int8"
    packed = int8 and layout == "packed"
    if packed and (n % gemm.VNNI_PACK[0] or k % gemm.VNNI_PACK[1]):
        fields = dict(zip(FIELDS[op], shape))
        raise InvalidShapeError(
            f"int8 {op} with the packed VNNI weight needs its output columns (here {n}) to be a "
            f"multiple of 16 and its reduction (here {k}) a multiple of 4 (16 output lanes x 4 "
            f"reduction bytes); got {fields}"
        )
    if packed:
        func = gemm.gemm_int8_packed(m, k, n, batch=batch)
    else:
        func = gemm.gemm_dense(m, k, n, dtype, "int32" if int8 else dtype, batch=batch)

    def make_inputs(rng: np.random.Generator):
        if int8:
            a = rng.integers(0, 256, size=(*lead, m, k), dtype=np.uint8)
            b = rng.integers(-128, 128, size=(*lead, n, k), dtype=np.int8)
            out = np.zeros((*lead, m, n), dtype=np.int32)
        else:
            a = rng.uniform(-1, 1, size=(*lead, m, k)).astype(dtype)
            b = rng.uniform(-1, 1, size=(*lead, n, k)).astype(dtype)
            out = np.zeros((*lead, m, n), dtype=dtype)
        if op == "scan":  # the triangular 0/1 matrix of a prefix sum
            b = np.tril(np.ones((n, k)), -1).astype(b.dtype)
        weight = gemm.pack_vnni_weight(b) if packed else b
        return [a, weight, out], (a, b)

    def reference(a, b):
        wide = np.int64 if int8 else np.float64
        result = np.matmul(a.astype(wide), np.swapaxes(b.astype(wide), -1, -2))
        return result.astype(np.int32) if int8 else result

    return Workload(
        op=op,
        shape=shape,
        dtype=dtype,
        func=func,
        flops=2 * (batch or 1) * m * n * k,
        make_inputs=make_inputs,
        reference=reference,
        exact=int8,
    )
