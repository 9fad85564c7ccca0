"""2-D convolution, NHWC activations and OHWI weights (dilated convolution included).

For int8 the weight is packed as ``OhwI16o4i`` (``[CO/16, KH, KW, CI/4, 16, 4]``),
the contiguous 16 output channels x 4 input channels that one VNNI instruction
consumes, so the convolution maps directly onto the dot-product intrinsic.
"""

from __future__ import annotations

import numpy as np
from tvm import te, tirx

from .gemm import VNNI_PACK


def conv2d_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Output extent of one spatial dimension."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def pack_conv_weight(weight: np.ndarray) -> np.ndarray:
    """``[CO, KH, KW, CI]`` int8 -> ``[CO/16, KH, KW, CI/4, 16, 4]`` (OhwI16o4i)."""
    co, kh, kw, ci = weight.shape
    lanes, depth = VNNI_PACK
    if co % lanes or ci % depth:
        raise ValueError(f"weight shape {weight.shape}: CO must divide by 16 and CI by 4")
    tiles = weight.reshape(co // lanes, lanes, kh, kw, ci // depth, depth)
    return np.ascontiguousarray(tiles.transpose(0, 2, 3, 4, 1, 5))


def conv2d_nhwc(
    n: int, h: int, w: int, ci: int, co: int, kh: int, kw: int, stride: int, pad: int,
    dilation: int, *, dtype: str,
) -> tirx.PrimFunc:
    """``out[n, y, x, o] = sum A_pad[n, y*s + r*d, x*s + q*d, c] * W[o, r, q, c]``."""
    int8 = dtype == "int8"
    out_dtype = "int32" if int8 else dtype
    lanes, depth = VNNI_PACK
    a = te.placeholder((n, h, w, ci), "uint8" if int8 else dtype, name="A")
    if int8:
        wt = te.placeholder((co // lanes, kh, kw, ci // depth, lanes, depth), "int8", name="W_packed")
    else:
        wt = te.placeholder((co, kh, kw, ci), dtype, name="W")
    zero = tirx.const(0, a.dtype)
    padded = te.compute(
        (n, h + 2 * pad, w + 2 * pad, ci),
        lambda b, y, x, c: tirx.if_then_else(
            tirx.all(y >= pad, y < h + pad, x >= pad, x < w + pad), a[b, y - pad, x - pad, c], zero
        ),
        name="pad",
    )
    oh = conv2d_out_size(h, kh, stride, pad, dilation)
    ow = conv2d_out_size(w, kw, stride, pad, dilation)
    r = te.reduce_axis((0, kh), name="rh")
    q = te.reduce_axis((0, kw), name="rw")
    c = te.reduce_axis((0, ci), name="rc")

    def weight(o, rr, qq, cc):
        if int8:
            return wt[o // lanes, rr, qq, cc // depth, o % lanes, cc % depth]
        return wt[o, rr, qq, cc]

    out = te.compute(
        (n, oh, ow, co),
        lambda b, y, x, o: te.sum(
            padded[b, y * stride + r * dilation, x * stride + q * dilation, c].astype(out_dtype)
            * weight(o, r, q, c).astype(out_dtype),
            axis=[r, q, c],
        ),
        name="C",
    )
    return te.create_prim_func([a, wt, out])


def conv2d_reference(a: np.ndarray, weight: np.ndarray, stride: int, pad: int, dilation: int):
    """numpy NHWC x OHWI convolution in int64 / float64."""
    wide = np.int64 if np.issubdtype(a.dtype, np.integer) else np.float64
    n, h, w, _ = a.shape
    co, kh, kw, _ = weight.shape
    oh = conv2d_out_size(h, kh, stride, pad, dilation)
    ow = conv2d_out_size(w, kw, stride, pad, dilation)
    ap = np.pad(a.astype(wide), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros((n, oh, ow, co), wide)
    for r in range(kh):
        for q in range(kw):
            window = ap[:, r * dilation :: stride, q * dilation :: stride, :][:, :oh, :ow, :]
            out += np.einsum("nhwc,oc->nhwo", window, weight[:, r, q, :].astype(wide))
    return out
