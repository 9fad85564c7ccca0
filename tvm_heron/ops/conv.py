"""N-d convolution (spatial rank 1, 2 or 3), channel-last output, OHWI-style weights.

One definition covers the paper's ``c1d`` (NLC x OwI), ``c2d`` and ``dil``
(NHWC x OHWI) and ``c3d`` (NDHWC x ODHWI)::

    out[n, *y, o] = sum_{*r, c} X[n, *(y * stride + r * dilation), c] * W[o, *r, c]

with ``X`` the input zero-padded by ``pad`` on both sides of every spatial
dimension. The stages of the kernel, in order:

``pad``
    injective: spatial zero padding, zero channels up to the weight tile's
    depth and, for channel-first activations (``data_layout="NCHW"``-style),
    the transposition to channel-last. Left out when it would copy ``A``.
``C``
    the reduction, over ``CO`` rounded up to 16 with the packed weight
    (``[CO/16, *K, CI/4, 16, 4]`` int8, ``[CO/16, *K, CI, 16]`` float32, see :mod:`tvm_heron.ops.layout`),
    over ``CO`` with the plain OHWI-style weight ``[CO, *K, CI]``.
``crop``, epilogue stages
    see :mod:`tvm_heron.ops.epilogue`.

:mod:`tvm_heron.ops.transposed` reuses the stages for transposed convolution.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from tvm import te, tirx

from .epilogue import accumulator_dtype, finish
from .layout import pack_tile, round_up

#: Spatial axis letters of each rank (activation layouts NLC, NHWC, NDHWC).
SPATIAL = {1: "L", 2: "HW", 3: "DHW"}
OUT_LOOPS = {1: ["l"], 2: ["y", "x"], 3: ["z", "y", "x"]}
_REDUCE_LOOPS = {1: ["rl"], 2: ["rh", "rw"], 3: ["rd", "rh", "rw"]}
#: Weight layouts of :func:`conv_nd`.
LAYOUTS = ("packed", "plain")


def conv_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Output extent of one spatial dimension (< 1 when the kernel does not fit)."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def data_layout_names(rank: int) -> tuple[str, str]:
    """(channel-last, channel-first) activation layout names of ``rank``, e.g. NHWC, NCHW."""
    letters = SPATIAL[rank]
    return f"N{letters}C", f"NC{letters}"


def is_channels_first(data_layout: str | None, rank: int) -> bool:
    """Whether ``data_layout`` is channel-first; ``None`` means channel-last.

    Accepts the names of the rank (``NLC``/``NCL``, ``NHWC``/``NCHW``,
    ``NDHWC``/``NCDHW``) and, for any rank, ``NHWC``/``NCHW`` as style names.

    Raises
    ------
    ValueError
        For any other name.
    """
    if data_layout is None:
        return False
    last, first = data_layout_names(rank)
    if data_layout in (last, "NHWC"):
        return False
    if data_layout in (first, "NCHW"):
        return True
    raise ValueError(
        f"data_layout of a {rank}-d convolution must be {last} or {first} "
        f"(or the style names NHWC / NCHW), got {data_layout!r}"
    )


def input_stage(
    a: te.Tensor,
    *,
    channels_first: bool,
    before: Sequence[int],
    after: Sequence[int],
    channels: int,
    insert: int = 1,
    name: str = "pad",
    always: bool = False,
) -> te.Tensor:
    """The injective stage that makes the reduction's channel-last input.

    ``X[n, *p, c] = A[n, *u / insert, c]`` where ``u = p - before`` lies in the
    input and is a multiple of ``insert``, and ``c`` is a channel of ``A``;
    zero elsewhere. So it pads each spatial dimension by ``before``/``after``,
    inserts ``insert - 1`` zeros between neighbouring pixels (transposed
    convolution), zero-extends the channels to ``channels`` and reads
    channel-first ``A`` when asked. Returns ``A`` itself when the stage would
    only copy it, unless ``always``.
    """
    rank = len(before)
    if channels_first:
        ci, *spatial = (int(x) for x in a.shape[1:])
    else:
        *spatial, ci = (int(x) for x in a.shape[1:])
    if not (always or channels_first or insert != 1 or channels != ci or any(before) or any(after)):
        return a
    shape = [int(a.shape[0])]
    shape += [(s - 1) * insert + 1 + lo + hi for s, lo, hi in zip(spatial, before, after)]
    zero = tirx.const(0, a.dtype)

    def body(b, *idx):
        *pos, c = idx
        conds, src = [], []
        for p, lo, hi, s in zip(pos, before, after, spatial):
            u = p - lo
            if lo:
                conds.append(u >= 0)
            if hi:
                conds.append(u < (s - 1) * insert + 1)
            if insert > 1:
                conds.append(u % insert == 0)
                u = u // insert
            src.append(u)
        if channels != ci:
            conds.append(c < ci)
        value = a[(b, c, *src)] if channels_first else a[(b, *src, c)]
        return tirx.if_then_else(tirx.all(*conds), value, zero) if conds else value

    names = [*OUT_LOOPS[rank], "c"]
    return te.compute((*shape, channels), body, name=name, varargs_names=names)


def weight_placeholder(co: int, kernel: Sequence[int], ci: int, dtype: str, layout: str) -> te.Tensor:
    """``W_packed[CO/16, *K, CI/4, 16, 4]`` (int8; float32 ``[CO/16, *K, CI, 16]``) or ``W[CO, *K, CI]`` (plain)."""
    if layout == "plain":
        return te.placeholder((co, *kernel, ci), dtype, name="W")
    lanes, depth = pack_tile(dtype)
    shape = (round_up(co, lanes) // lanes, *kernel, round_up(ci, depth) // depth, lanes, depth)
    return te.placeholder(shape[:-1] if depth == 1 else shape, dtype, name="W_packed")


def _weight_at(wt: te.Tensor, layout: str, dtype: str, o, r: Sequence, c):
    if layout == "plain":
        return wt[(o, *r, c)]
    lanes, depth = pack_tile(dtype)
    if depth == 1:
        return wt[(o // lanes, *r, c, o % lanes)]
    return wt[(o // lanes, *r, c // depth, o % lanes, c % depth)]


def conv_reduce(
    x: te.Tensor, wt: te.Tensor, *, out_spatial: Sequence[int], kernel: Sequence[int],
    stride: int, dilation: int | Sequence[int], layout: str, dtype: str,
    acc_dtype: str | None = None, origin: Sequence[int] | None = None,
    taps: Sequence[tuple[int, int]] | None = None, name: str = "C",
) -> te.Tensor:
    """The reduction ``C[n, *y, o]`` of a channel-last, already padded input ``x``.

    ``C[n, *y, o] = sum_{*r, c} x[n, *(origin + y * stride + r * dilation), c] *
    W[o, *(first + r * step), c]`` over ``r < kernel``: ``origin`` defaults to
    0, ``taps`` (per dimension ``(first, step)`` into the weight's kernel axes)
    to ``(0, 1)``, and ``dilation`` may differ per dimension. Reduces over
    every channel of ``x`` and produces every output channel of ``wt`` (the
    tile-padded extents for the packed layout).
    """
    rank = len(kernel)
    dilations = [dilation] * rank if isinstance(dilation, int) else list(dilation)
    origin = list(origin) if origin is not None else [0] * rank
    taps = list(taps) if taps is not None else [(0, 1)] * rank
    channels = int(x.shape[-1])
    if layout == "plain":
        co = int(wt.shape[0])
    else:
        co = int(wt.shape[0]) * pack_tile(dtype)[0]
    rs = [te.reduce_axis((0, k), name=nm) for k, nm in zip(kernel, _REDUCE_LOOPS[rank])]
    rc = te.reduce_axis((0, channels), name="rc")
    acc = accumulator_dtype(dtype, acc_dtype)

    def body(b, *idx):
        *ys, o = idx
        pos = [org + y * stride + r * d for org, y, r, d in zip(origin, ys, rs, dilations)]
        rw = [first + r * step for (first, step), r in zip(taps, rs)]
        return te.sum(
            x[(b, *pos, rc)].astype(acc) * _weight_at(wt, layout, dtype, o, rw, rc).astype(acc),
            axis=[*rs, rc],
        )

    shape = (int(x.shape[0]), *out_spatial, co)
    return te.compute(shape, body, name=name, varargs_names=[*OUT_LOOPS[rank], "o"])


def conv_operands(
    n: int, spatial: Sequence[int], ci: int, co: int, kernel: Sequence[int], dtype: str,
    layout: str, data_layout: str | None,
):
    """The activation and weight placeholders of a convolution (plain or transposed).

    Returns ``(A, W, channels_first, channels)``: ``channels`` is the input
    channel count the reduction runs over (``CI`` padded to the packed tile).
    """
    rank = len(spatial)
    if rank not in SPATIAL or len(kernel) != rank:
        raise ValueError(
            f"spatial rank must be 1, 2 or 3 for input and kernel, got {spatial} and {kernel}"
        )
    first = is_channels_first(data_layout, rank)
    in_dtype = "uint8" if dtype == "int8" else dtype
    a = te.placeholder((n, ci, *spatial) if first else (n, *spatial, ci), in_dtype, name="A")
    wt = weight_placeholder(co, kernel, ci, dtype, layout)
    channels = ci if layout == "plain" else round_up(ci, pack_tile(dtype)[1])
    return a, wt, first, channels


def conv_nd(
    n: int, spatial: Sequence[int], ci: int, co: int, kernel: Sequence[int], stride: int,
    pad: int, dilation: int, *, dtype: str, layout: str = "packed",
    data_layout: str | None = None, epilogue: str = "none", acc_dtype: str | None = None,
) -> tirx.PrimFunc:
    """N-d convolution, channel-last output.

    Parameters
    ----------
    n, ci, co : int
        Batch, input and output channels.
    spatial, kernel : sequence of int
        Input and kernel extents of the 1, 2 or 3 spatial dimensions.
    stride, pad, dilation : int
        The same for every spatial dimension; ``pad`` on both sides.
    dtype : str
        ``"int8"`` (uint8 activations, int8 weights, int32 accumulator) or ``"float32"``.
    layout : str
        ``"packed"`` (``W_packed[CO/16, *K, CI/4, 16, 4]`` (int8; float32 ``[CO/16, *K, CI, 16]``), channels
        zero-padded to the tile) or ``"plain"`` (``W[CO, *K, CI]``).
    data_layout : str, optional
        Activation layout, channel-last (default, e.g. NHWC) or channel-first
        (e.g. NCHW); see :func:`is_channels_first`.
    epilogue : str
        See :mod:`tvm_heron.ops.epilogue`.
    acc_dtype : str, optional
        Accumulator (and output) dtype instead of the default of ``dtype``
        (float16 inputs: float32, see :func:`~tvm_heron.ops.epilogue.accumulator_dtype`).

    Returns
    -------
    tvm.tirx.PrimFunc
        Arguments ``A``, the weight, ``bias[CO]`` (with an epilogue) and
        ``out[n, *out_spatial, CO]``.
    """
    a, wt, first, channels = conv_operands(n, spatial, ci, co, kernel, dtype, layout, data_layout)
    rank = len(spatial)
    x = input_stage(
        a, channels_first=first, before=[pad] * rank, after=[pad] * rank, channels=channels
    )
    out_spatial = [conv_out_size(s, k, stride, pad, dilation) for s, k in zip(spatial, kernel)]
    acc = conv_reduce(
        x, wt, out_spatial=out_spatial, kernel=kernel, stride=stride, dilation=dilation,
        layout=layout, dtype=dtype, acc_dtype=acc_dtype,
    )
    extra, out = finish(acc, co, epilogue, dtype, reduction=ci * int(np.prod(kernel)))
    return te.create_prim_func([a, wt, *extra, out])


def conv_reference(a: np.ndarray, weight: np.ndarray, stride: int, pad: int, dilation: int):
    """numpy channel-last ``[N, *S, CI]`` x ``[CO, *K, CI]`` convolution in int64 / float64."""
    wide = np.int64 if np.issubdtype(a.dtype, np.integer) else np.float64
    rank = a.ndim - 2
    kernel = weight.shape[1:-1]
    out_spatial = [
        conv_out_size(s, k, stride, pad, dilation) for s, k in zip(a.shape[1:-1], kernel)
    ]
    padded = np.pad(a.astype(wide), [(0, 0), *[(pad, pad)] * rank, (0, 0)])
    out = np.zeros((a.shape[0], *out_spatial, weight.shape[0]), wide)
    for offsets in itertools.product(*(range(k) for k in kernel)):
        window = padded[
            (slice(None),)
            + tuple(slice(r * dilation, r * dilation + (o - 1) * stride + 1, stride)
                    for r, o in zip(offsets, out_spatial))
        ]
        tap = weight[(slice(None), *offsets, slice(None))].astype(wide)  # [CO, CI]
        out += np.tensordot(window, tap, axes=([-1], [1]))
    return out
