"""Transposed convolution (``t2d``, PyTorch ``conv_transpose`` semantics) as a stride-1 convolution.

With PyTorch's weight ``W[CI, CO, *K]`` a transposed convolution scatters
every input pixel: ``out[n, *(y * stride + r * dilation - pad), o] +=
A[n, *y, c] * W[c, o, *r]``, the output extent per spatial dimension being
``(S - 1) * stride - 2 * pad + dilation * (K - 1) + output_padding + 1``.

The kernel computes the same as a gather:

``zero_insert_pad``
    injective: the channel-last input with ``stride - 1`` zeros inserted
    between neighbouring pixels, padded by ``dilation * (K - 1) - pad``
    before and that plus ``output_padding`` after (channels zero-extended to
    the weight tile; channel-first input transposed);
``C``, ``crop``, epilogue
    a stride-1 convolution with ``dilation`` (:mod:`tvm_heron.ops.conv`)
    against the equivalent weight ``W'[o, *r, c] = W[c, o, *(K - 1 - r)]``,
    which :func:`~tvm_heron.ops.layout.transposed_conv_weight` computes in
    numpy (then packed like any convolution weight).

:func:`conv_transpose_reference` is a direct scatter, independent of that
equivalence.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from tvm import te, tirx

from ..errors import InvalidShapeError
from .conv import conv_operands, conv_reduce, input_stage
from .epilogue import finish


def conv_transpose_out_size(
    size: int, kernel: int, stride: int, pad: int, dilation: int, output_padding: int
) -> int:
    """Output extent of one spatial dimension of a transposed convolution."""
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1


def equivalent_padding(
    kernel: int, pad: int, dilation: int, output_padding: int
) -> tuple[int, int]:
    """(before, after) padding of the zero-inserted input for one spatial dimension.

    Raises
    ------
    InvalidShapeError
        When ``pad > dilation * (kernel - 1)``: the equivalent convolution
        would need a negative padding (a crop).
    """
    limit = dilation * (kernel - 1)
    if pad > limit:
        raise InvalidShapeError(
            f"transposed convolution: pad must be at most dilation * (K - 1) = {limit} "
            f"for kernel extent {kernel}, got pad={pad}"
        )
    return limit - pad, limit - pad + output_padding


def check_output_padding(stride: int, dilation: int, output_padding: int) -> None:
    """Raise :class:`InvalidShapeError` unless ``0 <= output_padding < max(stride, dilation)``.

    PyTorch's rule: a larger output padding would add rows no input reaches.
    """
    if not 0 <= output_padding < max(stride, dilation):
        raise InvalidShapeError(
            f"transposed convolution: output_padding must be in [0, max(stride, dilation)) = "
            f"[0, {max(stride, dilation)}), got {output_padding}"
        )


def conv_transpose_nd(
    n: int, spatial: Sequence[int], ci: int, co: int, kernel: Sequence[int], stride: int,
    pad: int, dilation: int, output_padding: int, *, dtype: str, layout: str = "packed",
    data_layout: str | None = None, epilogue: str = "none", acc_dtype: str | None = None,
) -> tirx.PrimFunc:
    """Transposed convolution as a stride-1 convolution of the zero-inserted input.

    Parameters are those of :func:`~tvm_heron.ops.conv.conv_nd` plus
    ``output_padding`` (extra output rows/columns at the end, ``< max(stride,
    dilation)``).

    Returns
    -------
    tvm.tirx.PrimFunc
        Arguments ``A`` (``[n, *spatial, ci]``, or channel-first), the
        *equivalent* convolution weight (``W_packed[CO/16, *K, CI/depth, 16,
        depth]`` or plain ``W[CO, *K, CI]``, from
        :func:`~tvm_heron.ops.layout.transposed_conv_weight`), ``bias[CO]``
        (with an epilogue), ``out[n, *out_spatial, CO]``.
    """
    a, wt, first, channels = conv_operands(n, spatial, ci, co, kernel, dtype, layout, data_layout)
    check_output_padding(stride, dilation, output_padding)
    pads = [equivalent_padding(k, pad, dilation, output_padding) for k in kernel]
    out_spatial = [
        conv_transpose_out_size(s, k, stride, pad, dilation, output_padding)
        for s, k in zip(spatial, kernel)
    ]
    if min(out_spatial) < 1:
        raise InvalidShapeError(f"transposed convolution: empty output {out_spatial}")
    x = input_stage(
        a, channels_first=first, before=[lo for lo, _ in pads], after=[hi for _, hi in pads],
        channels=channels, insert=stride, name="zero_insert_pad",
    )
    acc = conv_reduce(
        x, wt, out_spatial=out_spatial, kernel=kernel, stride=1, dilation=dilation,
        layout=layout, dtype=dtype, acc_dtype=acc_dtype,
    )
    extra, out = finish(acc, co, epilogue, dtype, reduction=ci * int(np.prod(kernel)))
    return te.create_prim_func([a, wt, *extra, out])


def conv_transpose_reference(
    a: np.ndarray, weight: np.ndarray, stride: int, pad: int, dilation: int, output_padding: int
) -> np.ndarray:
    """numpy transposed convolution by scattering: channel-last ``[N, *S, CI]`` x ``[CI, CO, *K]``.

    Every input pixel ``y`` adds ``A[n, *y, :] @ W[:, :, *r]`` at output
    position ``y * stride + r * dilation - pad``; computed in int64 / float64.
    """
    wide = np.int64 if np.issubdtype(a.dtype, np.integer) else np.float64
    spatial, kernel = a.shape[1:-1], weight.shape[2:]
    out_spatial = [
        conv_transpose_out_size(s, k, stride, pad, dilation, output_padding)
        for s, k in zip(spatial, kernel)
    ]
    # every scattered position, before dropping `pad` at the start
    full = [
        (s - 1) * stride + dilation * (k - 1) + 1 + output_padding
        for s, k in zip(spatial, kernel)
    ]
    buf = np.zeros((a.shape[0], *full, weight.shape[1]), wide)
    wide_a = a.astype(wide)
    for offsets in itertools.product(*(range(k) for k in kernel)):
        tap = weight[(slice(None), slice(None), *offsets)].astype(wide)  # [CI, CO]
        target = tuple(
            slice(r * dilation, r * dilation + (s - 1) * stride + 1, stride)
            for r, s in zip(offsets, spatial)
        )
        buf[(slice(None), *target)] += np.tensordot(wide_a, tap, axes=([-1], [0]))
    return buf[(slice(None), *(slice(pad, pad + o) for o in out_spatial))]
