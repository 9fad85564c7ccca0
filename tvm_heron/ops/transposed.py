"""Transposed convolution (``t2d``, PyTorch ``conv_transpose`` semantics) as stride-1 convolutions.

With PyTorch's weight ``W[CI, CO, *K]`` a transposed convolution scatters
every input pixel: ``out[n, *(y * stride + r * dilation - pad), o] +=
A[n, *y, c] * W[c, o, *r]``, the output extent per spatial dimension being
``(S - 1) * stride - 2 * pad + dilation * (K - 1) + output_padding + 1``.

It equals a stride-1 convolution (with ``dilation``) of the input with
``stride - 1`` zeros inserted between neighbouring pixels, padded by
``dilation * (K - 1) - pad`` before and that plus ``output_padding`` after,
against the equivalent weight ``W'[o, *r, c] = W[c, o, *(K - 1 - r)]``, which
:func:`~tvm_heron.ops.layout.transposed_conv_weight` computes in numpy (then
packed like any convolution weight). The kernel takes ``W'``.

Stride 1 is computed that way (stages ``zero_insert_pad``, ``C``, ``crop``).
With a larger stride most products of that gather would multiply inserted
zeros (3/4 of them for a 1x1 kernel at stride 2), so the kernel splits the
outputs by phase instead (:func:`dimension_phases`): the outputs ``y =
q * stride + phase`` meet the input only through an arithmetic progression
of taps, a stride-1 convolution of the plain input. The stages are

``pad``
    injective: the input padded so that every phase reads inside it (and
    channels zero-extended / transposed as for any convolution);
``C_<phase>_<phase>...``
    one reduction per combination of live phases (a tensorizable
    convolution, a GEMM for a 1x1 kernel); in float16 each reads its own
    ``pad_<phase>...`` and ``W_<phase>...`` (the phase's taps of the weight):
    the TensorCore rule computes a reduction's injective producers inside
    its shared-memory staging, which a producer shared by several reductions
    cannot be, and MetaSchedule's tensorize postprocessor needs the staging
    blocks, named after the buffers they read, to have distinct names;
``assemble``
    injective: the phases interleaved into the output, zero where no tap
    reaches (before the epilogue), output channels cropped to ``CO``;

then the epilogue (:mod:`tvm_heron.ops.epilogue`).

:func:`conv_transpose_reference` is a direct scatter, independent of both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tvm import te, tirx

from ..errors import InvalidShapeError
from .conv import OUT_LOOPS, conv_operands, conv_reduce, input_stage
from .epilogue import apply_epilogue, finish


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


@dataclass(frozen=True)
class Phase:
    """The outputs ``y = q * stride + phase`` of one spatial dimension and the taps that reach them.

    ``out[q * stride + phase] = sum_t A[q + offset + t * input_step] * W'[first_tap + t * tap_step]``
    for ``t < taps`` and ``q < count`` (``A`` zero outside the input), with
    ``W'`` the equivalent convolution weight. ``taps == 0``: those outputs get
    no product at all (they are zero before the epilogue).
    """

    phase: int
    count: int
    taps: int
    first_tap: int = 0
    tap_step: int = 1
    offset: int = 0
    input_step: int = 1


def dimension_phases(
    size: int, kernel: int, stride: int, pad: int, dilation: int, output_padding: int
) -> list[Phase]:
    """The :class:`Phase` of each output residue modulo ``stride`` of one spatial dimension.

    In the equivalent convolution, output ``y`` meets input pixel ``u`` through
    tap ``r`` when ``y + r * dilation - before == u * stride`` (``before`` the
    zero-insertion padding); for ``y`` of residue ``phase`` the taps that can
    satisfy it form an arithmetic progression, and ``u`` moves by
    ``tap_step * dilation / stride`` along it.
    """
    before, _ = equivalent_padding(kernel, pad, dilation, output_padding)
    out = conv_transpose_out_size(size, kernel, stride, pad, dilation, output_padding)
    phases = []
    for phase in range(min(stride, out)):
        count = len(range(phase, out, stride))
        taps = [r for r in range(kernel) if (phase + r * dilation - before) % stride == 0]
        if not taps:
            phases.append(Phase(phase, count, 0))
            continue
        step = stride // math.gcd(stride, dilation)  # the period of r * dilation modulo stride
        assert taps == list(range(taps[0], kernel, step)), taps
        phases.append(Phase(
            phase, count, len(taps), first_tap=taps[0], tap_step=step,
            offset=(phase + taps[0] * dilation - before) // stride,
            input_step=step * dilation // stride,
        ))
    return phases


def _phase_padding(size: int, phases: Sequence[Phase]) -> tuple[int, int]:
    """(before, after) input padding so that every live phase reads inside the padded input."""
    live = [p for p in phases if p.taps]
    low = min((p.offset for p in live), default=0)
    high = max((p.count - 1 + p.offset + (p.taps - 1) * p.input_step for p in live), default=0)
    return max(0, -low), max(0, high - (size - 1))


def _phase_weight(wt: te.Tensor, combo: Sequence[Phase], name: str) -> te.Tensor:
    """``W_<phase>[o, *t, c] = W[o, *(first_tap + t * tap_step), c]``: one phase's taps of a plain weight."""
    co, *_, ci = (int(x) for x in wt.shape)

    def body(*idx):
        o, *ts, c = idx
        return wt[(o, *(p.first_tap + t * p.tap_step for p, t in zip(combo, ts)), c)]

    names = ["o", *[f"t{i}" for i in range(len(combo))], "c"]
    return te.compute((co, *[p.taps for p in combo], ci), body, name=name, varargs_names=names)


def _assemble(
    parts: dict[tuple[int, ...], te.Tensor], out_spatial: Sequence[int], stride: int, co: int
) -> te.Tensor:
    """``assemble[n, *y, o]``: the phase outputs interleaved, zero where no tap reaches ``y``.

    Also drops the output channels added to fill the weight tile. Indices into
    each part are clamped to its extent so that the read regions stay in
    bounds where the phase condition is false.
    """
    first = next(iter(parts.values()))
    rank = len(out_spatial)
    zero = tirx.const(0, first.dtype)

    def body(b, *idx):
        *ys, o = idx
        value = zero
        for phases, part in parts.items():
            conds = [y % stride == p for y, p in zip(ys, phases)]
            src = [tirx.min(y // stride, int(part.shape[1 + i]) - 1) for i, y in enumerate(ys)]
            value = tirx.if_then_else(tirx.all(*conds), part[(b, *src, o)], value)
        return value

    shape = (int(first.shape[0]), *out_spatial, co)
    return te.compute(shape, body, name="assemble", varargs_names=[*OUT_LOOPS[rank], "o"])


def conv_transpose_nd(
    n: int, spatial: Sequence[int], ci: int, co: int, kernel: Sequence[int], stride: int,
    pad: int, dilation: int, output_padding: int, *, dtype: str, layout: str = "packed",
    data_layout: str | None = None, epilogue: str = "none", acc_dtype: str | None = None,
) -> tirx.PrimFunc:
    """Transposed convolution: one stride-1 convolution per output phase (stride 1: one gather).

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
    reduction = ci * int(np.prod(kernel))
    if stride == 1:
        x = input_stage(
            a, channels_first=first, before=[lo for lo, _ in pads],
            after=[hi for _, hi in pads], channels=channels, name="zero_insert_pad",
        )
        acc = conv_reduce(
            x, wt, out_spatial=out_spatial, kernel=kernel, stride=1, dilation=dilation,
            layout=layout, dtype=dtype, acc_dtype=acc_dtype,
        )
        extra, out = finish(acc, co, epilogue, dtype, reduction=reduction)
        return te.create_prim_func([a, wt, *extra, out])
    per_dim = [
        dimension_phases(s, k, stride, pad, dilation, output_padding)
        for s, k in zip(spatial, kernel)
    ]
    margins = [_phase_padding(s, phases) for s, phases in zip(spatial, per_dim)]

    def padded(name: str, always: bool = False) -> te.Tensor:
        return input_stage(
            a, channels_first=first, before=[lo for lo, _ in margins],
            after=[hi for _, hi in margins], channels=channels, name=name, always=always,
        )

    private = dtype == "float16"  # per-reduction operands, see the module docstring
    shared = None if private else padded("pad")
    parts = {}
    for combo in itertools.product(*([p for p in phases if p.taps] for phases in per_dim)):
        suffix = "_".join(str(p.phase) for p in combo)
        if private:  # the phase's taps are gathered into its own weight
            x, w = padded("pad_" + suffix, always=True), _phase_weight(wt, combo, "W_" + suffix)
            taps = None
        else:
            x, w, taps = shared, wt, [(p.first_tap, p.tap_step) for p in combo]
        parts[tuple(p.phase for p in combo)] = conv_reduce(
            x, w, out_spatial=[p.count for p in combo], kernel=[p.taps for p in combo],
            stride=1, dilation=[p.input_step for p in combo], layout=layout, dtype=dtype,
            acc_dtype=acc_dtype, origin=[p.offset + lo for p, (lo, _) in zip(combo, margins)],
            taps=taps, name="C_" + suffix,
        )
    if not parts:
        raise InvalidShapeError(
            f"transposed convolution: no kernel tap reaches any output (stride {stride}, "
            f"dilation {dilation}, kernel {list(kernel)})"
        )
    assembled = _assemble(parts, out_spatial, stride, co)
    extra, out = apply_epilogue(assembled, epilogue, dtype, reduction=reduction)
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
