"""Operators by name: shape validation and construction of :class:`Workload` objects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..annotations import INT8_RANGE as INT8_RANGE_ATTR
from ..checks import buffers_fit
from ..errors import BadInputError, InvalidShapeError, UnsupportedDtypeError, UnsupportedOperatorError
from . import conv, gemm, transposed
from .epilogue import (
    accumulator_dtype,
    check_epilogue,
    epilogue_reference,
    make_bias,
    output_dtype,
)
from .layout import pack_conv_weight, pack_weight, transposed_conv_weight
from .workload import Workload

#: Shape fields of each operator (same names as the paper's workload list).
FIELDS: dict[str, tuple[str, ...]] = {
    "gemm": ("M", "K", "N"),
    "bmm": ("B", "M", "K", "N"),
    "gemv": ("M", "K"),
    "scan": ("M", "N", "K"),
    "c1d": ("N", "L", "CI", "CO", "K", "stride", "pad", "dilation"),
    "c2d": ("N", "H", "W", "CI", "CO", "KH", "KW", "stride", "pad", "dilation"),
    "dil": ("N", "H", "W", "CI", "CO", "KH", "KW", "stride", "pad", "dilation"),
    "c3d": ("N", "D", "H", "W", "CI", "CO", "KD", "KH", "KW", "stride", "pad", "dilation"),
    "t2d": ("N", "H", "W", "CI", "CO", "KH", "KW", "stride", "pad", "dilation", "output_padding"),
}

#: Input data types each operator is defined for (float16: the TensorCore operators,
#: plain weight layout, accumulated in float16 or, with ``acc_dtype``, float32).
DTYPES: dict[str, tuple[str, ...]] = {op: ("int8", "float32", "float16") for op in FIELDS}

#: Weight layout of each dtype when none is asked for: the CPU kernels take the
#: packed 16-lane tiles; the TensorCore kernels stage plain tiles through shared memory.
DEFAULT_LAYOUT = {"int8": "packed", "float32": "packed", "float16": "plain"}

#: Weight layouts: ``packed`` tiles of 16 output lanes x 4 (int8) or 1 (float32)
#: reduction steps (:mod:`tvm_heron.ops.layout`); ``plain`` is ``B[N, K]`` / OHWI.
LAYOUTS = conv.LAYOUTS

#: Declared ranges of int8 activations and the exclusive upper bound of their values.
ACTIVATION_HIGH = {"u8": 256, "u7": 128}
INT8_RANGES = tuple(ACTIVATION_HIGH)

#: Spatial rank of each convolution operator (``t2d`` is transposed).
CONV_RANK = {"c1d": 1, "c2d": 2, "dil": 2, "c3d": 3, "t2d": 2}

#: Largest shape field (TVM's loop extents are 32-bit here).
MAX_EXTENT = 2**31 - 1

#: Fields that may be zero.
_NON_NEGATIVE = ("pad", "output_padding")


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


def _check_shape(op: str, shape: Sequence[int]) -> tuple[int, ...]:
    fields = FIELDS[op]
    if len(shape) != len(fields):
        raise InvalidShapeError(
            f"{op} takes {len(fields)} shape fields ({','.join(fields)}), got {len(shape)}: "
            f"{','.join(map(str, shape))}"
        )
    for name, value in zip(fields, shape):
        if name in _NON_NEGATIVE and int(value) < 0:
            raise InvalidShapeError(f"{op}: {name} must be non-negative, got {value}")
        if name not in _NON_NEGATIVE and int(value) < 1:
            raise InvalidShapeError(f"{op}: {name} must be positive, got {value}")
        if int(value) > MAX_EXTENT:
            raise InvalidShapeError(f"{op}: {name} = {value} is larger than {MAX_EXTENT}")
    return tuple(int(v) for v in shape)


def make_workload(
    op: str,
    shape: Sequence[int],
    dtype: str,
    *,
    layout: str | None = None,
    data_layout: str | None = None,
    epilogue: str = "none",
    acc_dtype: str | None = None,
    int8_range: str = "u8",
) -> Workload:
    """Build a :class:`Workload`.

    Parameters
    ----------
    op : str
        Operator name (see :data:`FIELDS`).
    shape : sequence of int
        Shape fields in the order of ``FIELDS[op]``.
    dtype : str
        ``"int8"`` (u8 x s8 -> s32), ``"float32"`` or ``"float16"`` (TensorCore:
        fp16 inputs, fp16 accumulator and output unless ``acc_dtype``).
    layout : str, optional
        Weight layout inside the kernel: ``"packed"`` (16-lane tiles, extents
        zero-padded to the tile; see :mod:`tvm_heron.ops.layout`) or
        ``"plain"`` (GEMM ``B[N, K]``, convolution ``[CO, *K, CI]``); by
        default :data:`DEFAULT_LAYOUT` of ``dtype`` (float16 has only plain).
    data_layout : str, optional
        Convolutions only: activation layout, channel-last (default: NLC,
        NHWC, NDHWC) or channel-first (NCL, NCHW, NCDHW). The output is
        channel-last either way.
    epilogue : str
        ``"none"``, ``"bias_relu"`` or ``"requant"`` (int8); see
        :mod:`tvm_heron.ops.epilogue`.
    acc_dtype : str, optional
        ``"float32"`` for float16 inputs: accumulate and output in float32
        (no epilogue then). Tolerances: float16 outputs are compared with
        ``rtol=1e-2, atol=1e-2 * sqrt(reduction)`` (fp16 accumulation rounds
        at every step), float32 accumulation with ``1e-3`` and
        ``1e-3 * sqrt(reduction)``.
    int8_range : str
        int8 only: ``"u8"`` (default, activations 0..255) or ``"u7"``: the
        user declares 7-bit activations (0..127, PyTorch's ``reduce_range``),
        which lets the space use AVX2's faster ``vpmaddubsw`` form
        (:mod:`tvm_heron.isa.x86`). The function then carries the attribute
        :data:`INT8_RANGE_ATTR` (a u7 kernel is a different workload: it is
        wrong for u8 data) and the test inputs are 7-bit.

    Raises
    ------
    UnsupportedOperatorError, InvalidShapeError, UnsupportedDtypeError, ValueError
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
    layout = DEFAULT_LAYOUT[dtype] if layout is None else layout
    if layout not in LAYOUTS:
        raise BadInputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if dtype == "float16" and layout != "plain":
        raise UnsupportedDtypeError(
            "float16 operators take the plain weight layout only (the TensorCore rule stages "
            "tiles through shared memory itself); pass layout='plain' or leave it out"
        )
    check_epilogue(epilogue, dtype)
    acc_dtype = _check_acc_dtype(dtype, acc_dtype, epilogue)
    if int8_range not in INT8_RANGES:
        raise BadInputError(f"int8_range must be one of {INT8_RANGES}, got {int8_range!r}")
    if int8_range != "u8" and dtype != "int8":
        raise UnsupportedDtypeError(
            f"int8_range={int8_range!r} declares the range of int8 activations; "
            f"it means nothing for {dtype}"
        )
    options = dict(dtype=dtype, layout=layout, epilogue=epilogue, acc_dtype=acc_dtype,
                   int8_range=int8_range)
    if op in CONV_RANK:
        last, first = conv.data_layout_names(CONV_RANK[op])
        data_layout = first if conv.is_channels_first(data_layout, CONV_RANK[op]) else last
        return _checked(_conv(op, shape, data_layout=data_layout, **options))
    if data_layout is not None:
        raise BadInputError(f"--data-layout applies to convolutions only, not to {op}")
    return _checked(_matmul(op, shape, **options))


def _checked(workload: Workload) -> Workload:
    """``workload`` if its buffers fit in this machine's memory (:func:`tvm_heron.checks.buffers_fit`)."""
    buffers_fit(workload.func, workload.name)
    return workload


def _check_acc_dtype(dtype: str, acc_dtype: str | None, epilogue: str) -> str | None:
    """The accumulator override (None for the default), validated."""
    if acc_dtype is None or acc_dtype == accumulator_dtype(dtype):
        return None
    accumulator_dtype(dtype, acc_dtype)  # raises for a pair without a form
    if epilogue != "none":
        raise UnsupportedDtypeError(
            f"acc_dtype={acc_dtype} takes no epilogue (the output is the accumulator), "
            f"got epilogue={epilogue!r}"
        )
    return acc_dtype


def _tolerance(dtype: str, acc_dtype: str | None, reduction: int) -> dict:
    """``rtol``/``atol`` of a float workload's check (see :func:`make_workload`)."""
    if dtype != "float16":
        return {}
    scale = 1e-2 if acc_dtype is None else 1e-3
    return {"rtol": scale, "atol": scale * max(1.0, float(np.sqrt(reduction)))}


def _declared_range(func, int8_range: str):
    """``func`` with the activation range attribute where one is declared (u8 stays unmarked)."""
    return func if int8_range == "u8" else func.with_attr(INT8_RANGE_ATTR, int8_range)


def _matmul(
    op: str, shape: tuple[int, ...], *, dtype: str, layout: str, epilogue: str,
    acc_dtype: str | None = None, int8_range: str = "u8",
) -> Workload:
    batch, m, k, n = _as_matmul(op, shape)
    lead = () if batch is None else (batch,)
    int8 = dtype == "int8"
    if layout == "packed":
        func = gemm.gemm_packed(m, k, n, dtype, batch=batch, epilogue=epilogue)
    else:
        func = gemm.gemm_plain(m, k, n, dtype, batch=batch, epilogue=epilogue, acc_dtype=acc_dtype)
    func = _declared_range(func, int8_range)
    high = ACTIVATION_HIGH[int8_range]

    def make_inputs(rng: np.random.Generator):
        if int8:
            a = rng.integers(0, high, size=(*lead, m, k), dtype=np.uint8)
            b = rng.integers(-128, 128, size=(*lead, n, k), dtype=np.int8)
        else:
            a = rng.uniform(-1, 1, size=(*lead, m, k)).astype(dtype)
            b = rng.uniform(-1, 1, size=(*lead, n, k)).astype(dtype)
        if op == "scan":  # the triangular 0/1 matrix of a prefix sum
            b = np.tril(np.ones((n, k)), -1).astype(b.dtype)
        weight = pack_weight(b, dtype) if layout == "packed" else b
        bias = [] if epilogue == "none" else [make_bias(rng, dtype, n)]
        out = np.zeros((*lead, m, n), dtype=output_dtype(dtype, epilogue, acc_dtype))
        return [a, weight, *bias, out], (a, b, *bias)

    def reference(a, b, bias=None):
        wide = np.int64 if int8 else np.float64
        acc = np.matmul(a.astype(wide), np.swapaxes(b.astype(wide), -1, -2))
        return epilogue_reference(acc, bias, epilogue, dtype, reduction=k)

    return Workload(
        op=op, shape=shape, dtype=dtype, func=func, flops=2 * (batch or 1) * m * n * k,
        make_inputs=make_inputs, reference=reference, exact=int8,
        layout=layout, epilogue=epilogue, acc_dtype=acc_dtype, int8_range=int8_range,
        **_tolerance(dtype, acc_dtype, k),
    )


def _conv_fields(op: str, shape: tuple[int, ...]):
    """(n, spatial, ci, co, kernel, stride, pad, dilation, extra) of a convolution's fields."""
    rank = CONV_RANK[op]
    n, spatial = shape[0], shape[1 : 1 + rank]
    ci, co = shape[1 + rank : 3 + rank]
    kernel = shape[3 + rank : 3 + 2 * rank]
    stride, pad, dilation, *extra = shape[3 + 2 * rank :]
    return n, spatial, ci, co, kernel, stride, pad, dilation, extra


def _conv_out_spatial(op: str, shape: tuple[int, ...]) -> list[int]:
    """Output extents, or :class:`InvalidShapeError` naming the fields that do not fit."""
    fields = FIELDS[op]
    n, spatial, ci, co, kernel, stride, pad, dilation, extra = _conv_fields(op, shape)
    rank = len(spatial)
    names = zip(fields[1 : 1 + rank], fields[3 + rank : 3 + 2 * rank], spatial, kernel)
    if op != "t2d":
        out = []
        for s_name, k_name, s, k in names:
            out.append(conv.conv_out_size(s, k, stride, pad, dilation))
            if out[-1] < 1:
                raise InvalidShapeError(
                    f"{op}: the kernel does not fit the padded input: {k_name}={k} with dilation "
                    f"{dilation} spans {dilation * (k - 1) + 1} > {s_name} + 2*pad = {s + 2 * pad}"
                )
        return out
    (output_padding,) = extra
    if output_padding >= max(stride, dilation):
        raise InvalidShapeError(
            f"t2d: output_padding must be smaller than max(stride, dilation) = "
            f"{max(stride, dilation)}, got {output_padding}"
        )
    out = []
    for s_name, k_name, s, k in names:
        if pad > dilation * (k - 1):
            raise InvalidShapeError(
                f"t2d: pad must be at most dilation*({k_name}-1) = {dilation * (k - 1)} "
                f"(the equivalent convolution's padding would be negative), got pad={pad}"
            )
        out.append(transposed.conv_transpose_out_size(s, k, stride, pad, dilation, output_padding))
        if out[-1] < 1:
            raise InvalidShapeError(f"t2d: empty output along {s_name} ({out[-1]})")
    return out


def _conv(
    op: str, shape: tuple[int, ...], *, dtype: str, layout: str, data_layout: str, epilogue: str,
    acc_dtype: str | None = None, int8_range: str = "u8",
) -> Workload:
    n, spatial, ci, co, kernel, stride, pad, dilation, extra = _conv_fields(op, shape)
    out_spatial = _conv_out_spatial(op, shape)
    first = conv.is_channels_first(data_layout, len(spatial))
    options = dict(
        dtype=dtype, layout=layout, data_layout=data_layout, epilogue=epilogue, acc_dtype=acc_dtype
    )
    macs_per_pixel = ci * co * int(np.prod(kernel))
    if op == "t2d":
        func = transposed.conv_transpose_nd(
            n, spatial, ci, co, kernel, stride, pad, dilation, *extra, **options
        )
        flops = 2 * n * int(np.prod(spatial)) * macs_per_pixel  # the scatter's MACs
        weight_shape = (ci, co, *kernel)  # PyTorch's conv_transpose weight
    else:
        func = conv.conv_nd(n, spatial, ci, co, kernel, stride, pad, dilation, **options)
        flops = 2 * n * int(np.prod(out_spatial)) * macs_per_pixel
        weight_shape = (co, *kernel, ci)
    func = _declared_range(func, int8_range)
    high = ACTIVATION_HIGH[int8_range]
    int8 = dtype == "int8"
    a_shape = (n, ci, *spatial) if first else (n, *spatial, ci)

    def make_inputs(rng: np.random.Generator):
        if int8:
            a = rng.integers(0, high, size=a_shape, dtype=np.uint8)
            wt = rng.integers(-128, 128, size=weight_shape, dtype=np.int8)
        else:
            a = rng.uniform(-1, 1, size=a_shape).astype(dtype)
            wt = rng.uniform(-1, 1, size=weight_shape).astype(dtype)
        weight = transposed_conv_weight(wt) if op == "t2d" else wt
        if layout == "packed":
            weight = pack_conv_weight(weight, dtype)
        bias = [] if epilogue == "none" else [make_bias(rng, dtype, co)]
        out = np.zeros((n, *out_spatial, co), dtype=output_dtype(dtype, epilogue, acc_dtype))
        return [a, weight, *bias, out], (a, wt, *bias)

    def reference(a, wt, bias=None):
        if first:
            a = np.moveaxis(a, 1, -1)
        if op == "t2d":
            acc = transposed.conv_transpose_reference(a, wt, stride, pad, dilation, *extra)
        else:
            acc = conv.conv_reference(a, wt, stride, pad, dilation)
        return epilogue_reference(acc, bias, epilogue, dtype, reduction=ci * int(np.prod(kernel)))

    return Workload(
        op=op, shape=shape, dtype=dtype, func=func, flops=flops, make_inputs=make_inputs,
        reference=reference, exact=int8, layout=layout, data_layout=data_layout,
        epilogue=epilogue, acc_dtype=acc_dtype, int8_range=int8_range,
        **_tolerance(dtype, acc_dtype, ci * int(np.prod(kernel))),
    )
