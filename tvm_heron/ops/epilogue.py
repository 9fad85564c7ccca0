"""Fused epilogues: element-wise stages after an operator's reduction, and their numpy reference.

An epilogue reads the accumulator ``C[..., o]`` (int32 for int8 inputs, float32
for float32; ``o`` is the output channel, the last axis) and a per-channel
bias ``bias[o]`` of the accumulator's dtype, which the kernel takes as an
argument just before its output (``[A, W, bias, out]``). Each step is its own
injective stage:

``"none"``
    no stage, no bias: the output is the accumulator.
``"bias_relu"`` (int8 and float32)
    ``bias_add = C + bias[o]``, then ``relu = max(bias_add, 0)``; the output
    has the accumulator's dtype.
``"requant"`` (int8 only)
    ``bias_add = int64(C) + bias[o]``, then
    ``requantize = uint8(clip((bias_add * mult + (1 << (shift - 1))) >> shift, 0, 255))``:
    a fixed-point rescale to uint8 with round-half-up, the ``mult`` and
    ``shift`` of :func:`requant_params`.
"""

from __future__ import annotations

import math

import numpy as np
from tvm import te, tirx

from ..errors import UnsupportedDtypeError

#: The epilogues every operator accepts (``"requant"``: int8 only).
EPILOGUES = ("none", "bias_relu", "requant")

#: Fixed right shift of the requantization (the multiplier is a Q.24 fixed-point number).
REQUANT_SHIFT = 24


#: Accumulator dtypes an input dtype may ask for instead of its default (wmma: fp16 -> fp32).
WIDER_ACCUMULATORS: dict[str, tuple[str, ...]] = {"float16": ("float32",)}


def accumulator_dtype(dtype: str, acc_dtype: str | None = None) -> str:
    """The reduction's dtype: int32 for int8 inputs (VNNI), the input dtype otherwise.

    ``acc_dtype`` overrides it where :data:`WIDER_ACCUMULATORS` allows
    (float16 inputs accumulated, and output, in float32).

    Raises
    ------
    UnsupportedDtypeError
        For an override that ``dtype`` has no form for.
    """
    default = "int32" if dtype == "int8" else dtype
    if acc_dtype is None or acc_dtype == default:
        return default
    if acc_dtype not in WIDER_ACCUMULATORS.get(dtype, ()):
        raise UnsupportedDtypeError(
            f"{dtype} inputs accumulate in {default}"
            + "".join(f" or {d}" for d in WIDER_ACCUMULATORS.get(dtype, ()))
            + f", not {acc_dtype}"
        )
    return acc_dtype


def output_dtype(dtype: str, epilogue: str, acc_dtype: str | None = None) -> str:
    """The kernel output's dtype for input ``dtype`` and ``epilogue``."""
    return "uint8" if epilogue == "requant" else accumulator_dtype(dtype, acc_dtype)


def check_epilogue(epilogue: str, dtype: str) -> None:
    """Validate ``epilogue`` for ``dtype``.

    Raises
    ------
    ValueError
        For an unknown epilogue.
    UnsupportedDtypeError
        For ``"requant"`` of a float dtype.
    """
    if epilogue not in EPILOGUES:
        raise ValueError(f"epilogue must be one of {EPILOGUES}, got {epilogue!r}")
    if epilogue == "requant" and dtype != "int8":
        raise UnsupportedDtypeError(
            f"the requant epilogue rescales int32 accumulators to uint8: int8 only, not {dtype!r}"
        )


def requant_params(reduction: int) -> tuple[int, int]:
    """``(mult, shift)`` of the requant epilogue for a reduction of length ``reduction``.

    For uniform random u8 activations and s8 weights, an accumulator over
    ``K = reduction`` products has a standard deviation of about
    ``1.1e4 * sqrt(K)``. The rescale divides by ``128 * sqrt(K)``, i.e.
    ``mult = round(2**17 / sqrt(K))`` with ``shift = 24``, so one standard
    deviation maps to about 85 and random outputs spread over ``[0, 255]``
    (negative values clip to 0, a few large ones to 255).
    """
    if reduction < 1:
        raise ValueError(f"the reduction length must be positive, got {reduction}")
    mult = max(1, round((1 << (REQUANT_SHIFT - 7)) / math.sqrt(reduction)))
    return mult, REQUANT_SHIFT


def _loop_names(tensor: te.Tensor) -> list[str]:
    return [iv.var.name for iv in tensor.op.axis]


def _elementwise(tensor: te.Tensor, body, name: str) -> te.Tensor:
    """An injective stage over ``tensor``'s shape that keeps its loop names."""
    return te.compute(tensor.shape, body, name=name, varargs_names=_loop_names(tensor))


def apply_epilogue(
    acc: te.Tensor, epilogue: str, dtype: str, *, reduction: int
) -> tuple[list[te.Tensor], te.Tensor]:
    """The stages of ``epilogue`` after the accumulator ``acc`` (channel last).

    Parameters
    ----------
    acc : te.Tensor
        The (cropped) accumulator ``[..., CO]``.
    epilogue : str
        One of :data:`EPILOGUES`.
    dtype : str
        The operator's input dtype (``"int8"`` or ``"float32"``).
    reduction : int
        Products per output of the logical operator (for :func:`requant_params`).

    Returns
    -------
    (list of te.Tensor, te.Tensor)
        The extra kernel arguments (``[bias]`` or ``[]``) and the output.
    """
    check_epilogue(epilogue, dtype)
    if epilogue == "none":
        return [], acc
    channels = acc.shape[-1]
    bias = te.placeholder((channels,), accumulator_dtype(dtype), name="bias")
    if epilogue == "bias_relu":
        added = _elementwise(acc, lambda *i: acc(*i) + bias[i[-1]], "bias_add")
        zero = tirx.const(0, added.dtype)
        return [bias], _elementwise(added, lambda *i: tirx.max(added(*i), zero), "relu")
    mult, shift = requant_params(reduction)
    added = _elementwise(
        acc, lambda *i: acc(*i).astype("int64") + bias[i[-1]].astype("int64"), "bias_add"
    )

    def rescale(*i):
        rounding = tirx.const(1 << (shift - 1), "int64")
        scaled = (added(*i) * tirx.const(mult, "int64") + rounding) >> shift
        clipped = tirx.max(tirx.min(scaled, tirx.const(255, "int64")), tirx.const(0, "int64"))
        return clipped.astype("uint8")

    return [bias], _elementwise(added, rescale, "requantize")


def crop_channels(acc: te.Tensor, channels: int) -> te.Tensor:
    """``crop[..., o] = acc[..., o]`` for ``o < channels``: drop the channels added to fill a tile.

    Returns ``acc`` itself when it has exactly ``channels`` channels.
    """
    if int(acc.shape[-1]) == channels:
        return acc
    shape = (*acc.shape[:-1], channels)
    return te.compute(shape, lambda *i: acc(*i), name="crop", varargs_names=_loop_names(acc))


def finish(
    acc: te.Tensor, channels: int, epilogue: str, dtype: str, *, reduction: int
) -> tuple[list[te.Tensor], te.Tensor]:
    """:func:`crop_channels` to ``channels``, then :func:`apply_epilogue`."""
    return apply_epilogue(crop_channels(acc, channels), epilogue, dtype, reduction=reduction)


def make_bias(rng: np.random.Generator, dtype: str, channels: int) -> np.ndarray:
    """A random bias of ``channels`` values in the accumulator dtype of ``dtype``."""
    if dtype == "int8":
        return rng.integers(-(1 << 16), 1 << 16, size=channels, dtype=np.int32)
    return rng.uniform(-1, 1, size=channels).astype(dtype)


def epilogue_reference(
    acc: np.ndarray, bias: np.ndarray | None, epilogue: str, dtype: str, *, reduction: int
) -> np.ndarray:
    """numpy ``epilogue`` on an exact accumulator ``acc`` (int64 or float64, channel last).

    Returns int32 / uint8 arrays for int8 inputs (compared exactly) and float64
    for float32 inputs (compared to a tolerance).
    """
    check_epilogue(epilogue, dtype)
    int8 = dtype == "int8"
    if epilogue == "none":
        return acc.astype(np.int32) if int8 else acc
    wide = acc + bias.astype(acc.dtype)
    if epilogue == "bias_relu":
        out = np.maximum(wide, 0)
        return out.astype(np.int32) if int8 else out
    mult, shift = requant_params(reduction)
    scaled = (wide.astype(np.int64) * mult + (1 << (shift - 1))) >> shift
    return np.clip(scaled, 0, 255).astype(np.uint8)
