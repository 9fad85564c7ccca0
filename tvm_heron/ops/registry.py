"""Operators by name: shape validation and construction of :class:`Workload` objects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InvalidShapeError, UnsupportedDtypeError, UnsupportedOperatorError
from . import gemm
from .workload import Workload

#: Shape fields of each operator (same names as the paper's workload list).
FIELDS: dict[str, tuple[str, ...]] = {"gemm": ("M", "K", "N")}

#: Input data types each operator is defined for.
DTYPES: dict[str, tuple[str, ...]] = {"gemm": ("int8", "float32")}

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
        if int(value) < 1:
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
    return _gemm(*shape, dtype=dtype, layout=layout)


def _gemm(m: int, k: int, n: int, *, dtype: str, layout: str) -> Workload:
    int8 = dtype == "int8"
    packed = int8 and layout == "packed"
    if packed and (n % gemm.VNNI_PACK[0] or k % gemm.VNNI_PACK[1]):
        raise InvalidShapeError(
            f"int8 gemm with the packed VNNI weight needs N % 16 == 0 and K % 4 == 0 "
            f"(16 output lanes x 4 reduction bytes); got M={m}, K={k}, N={n}"
        )
    if packed:
        func = gemm.gemm_int8_packed(m, k, n)
    else:
        func = gemm.gemm_dense(m, k, n, dtype, "int32" if int8 else dtype)

    def make_inputs(rng: np.random.Generator):
        if int8:
            a = rng.integers(0, 256, size=(m, k), dtype=np.uint8)
            b = rng.integers(-128, 128, size=(n, k), dtype=np.int8)
            out = np.zeros((m, n), dtype=np.int32)
        else:
            a = rng.uniform(-1, 1, size=(m, k)).astype(dtype)
            b = rng.uniform(-1, 1, size=(n, k)).astype(dtype)
            out = np.zeros((m, n), dtype=dtype)
        weight = gemm.pack_vnni_weight(b) if packed else b
        return [a, weight, out], (a, b)

    def reference(a, b):
        if int8:
            return a.astype(np.int32) @ b.astype(np.int32).T
        return a.astype(np.float64) @ b.astype(np.float64).T

    return Workload(
        op="gemm",
        shape=(m, k, n),
        dtype=dtype,
        func=func,
        flops=2 * m * n * k,
        make_inputs=make_inputs,
        reference=reference,
        exact=int8,
    )
