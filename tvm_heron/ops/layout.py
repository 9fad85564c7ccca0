"""Weight layouts: the packed tiles the CPU kernels read, and numpy conversions into them.

Every operator of :mod:`tvm_heron.ops` reads its weight in tiles of
``lanes`` output channels x ``depth`` reduction steps, stored contiguously
(:data:`PACK`):

* int8 (``u8 x s8 -> s32``): 16 x 4, the operand of one AVX-512
  ``vpdpbusd`` (16 int32 lanes, each a 4-byte dot product); the 8-lane
  AVX2 / AVX-VNNI and 4-lane NEON intrinsics read a contiguous half or
  quarter of a tile;
* float32: 16 x 1, the 16 output lanes of one AVX-512 FMA (two AVX2 FMAs,
  four NEON ones); the unit depth axis is left out of the layout (the fp32
  intrinsics read 4 rows of lanes, a tile TVM matches only without a
  trailing unit axis).

One layout for every CPU (the lanes are the least common multiple of every
described intrinsic's, :func:`tvm_heron.isa.pack_tile`): a weight packed
once runs on any of them.

A GEMM weight ``B[(b,) N, K]`` packs into ``[(b,) N/16, K/4, 16, 4]`` (int8)
or ``[(b,) N/16, K, 16]`` (float32); a convolution weight ``[CO, *K, CI]``
(OHWI-style) into ``[CO/16, *K, CI/4, 16, 4]`` (``OhwI16o4i``, int8) or
``[CO/16, *K, CI, 16]`` (``OhwI16o``, float32). Extents that are not multiples of the tile are padded with zeros.
"""

from __future__ import annotations

import numpy as np

from .. import isa
from ..errors import UnsupportedDtypeError

#: Tile of the packed weight per input dtype: (output lanes, reduction depth), the
#: same on every CPU (derived from the instruction-set descriptions, :func:`tvm_heron.isa.pack_tile`).
PACK: dict[str, tuple[int, int]] = {dtype: isa.pack_tile(dtype) for dtype in isa.DTYPES}


def pack_tile(dtype: str) -> tuple[int, int]:
    """``(lanes, depth)`` of the packed weight of ``dtype`` (see :data:`PACK`).

    Raises
    ------
    UnsupportedDtypeError
        For a dtype without a packed layout.
    """
    try:
        return PACK[dtype]
    except KeyError:
        raise UnsupportedDtypeError(
            f"no packed weight layout for dtype {dtype!r}; known: {', '.join(PACK)}"
        ) from None


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-value // multiple) * multiple


def _pad_axes(weight: np.ndarray, targets: dict[int, int]) -> np.ndarray:
    """Zero-pad the axes ``targets`` (axis -> new extent) at their end."""
    widths = [(0, targets.get(axis, extent) - extent) for axis, extent in enumerate(weight.shape)]
    if not any(after for _, after in widths):
        return weight
    return np.pad(weight, widths)


def pack_weight(weight: np.ndarray, dtype: str, *, pad: bool = True) -> np.ndarray:
    """Pack a GEMM weight ``[..., N, K]`` into ``[..., N/16, K/4, 16, 4]`` (int8) or ``[..., N/16, K, 16]`` (float32).

    ``packed[..., jo, ko, ji, ki] == weight[..., 16 * jo + ji, depth * ko + ki]``,
    with ``depth`` from :data:`PACK` (4 for int8, 1 for float32); positions
    beyond ``N`` or ``K`` hold zeros. The array keeps its own dtype: ``dtype``
    only selects the tile.

    Parameters
    ----------
    weight : numpy.ndarray
        ``[..., N, K]``, leading axes (a batch) are kept.
    dtype : str
        ``"int8"`` or ``"float32"``.
    pad : bool
        Zero-pad ``N`` to a multiple of 16 and ``K`` to a multiple of ``depth``;
        with ``False`` a non-multiple raises ``ValueError``.
    """
    lanes, depth = pack_tile(dtype)
    *batch, n, k = weight.shape
    if not pad and (n % lanes or k % depth):
        raise ValueError(
            f"weight shape {weight.shape} is not a multiple of the ({lanes}, {depth}) tile"
        )
    nb = len(batch)
    weight = _pad_axes(weight, {nb: round_up(n, lanes), nb + 1: round_up(k, depth)})
    n, k = weight.shape[nb:]
    tiles = weight.reshape(*batch, n // lanes, lanes, k // depth, depth)
    order = (*range(nb), nb, nb + 2, nb + 1, nb + 3)
    return _drop_unit_depth(np.ascontiguousarray(tiles.transpose(order)), depth)


def pack_vnni_weight(weight: np.ndarray) -> np.ndarray:
    """Pack a ``[..., N, K]`` int8 weight into ``[..., N // 16, K // 4, 16, 4]``.

    ``packed[..., jo, ko, ji, ki] == weight[..., 16 * jo + ji, 4 * ko + ki]``;
    ``N`` must be a multiple of 16 and ``K`` of 4 (``ValueError`` otherwise).
    """
    return pack_weight(weight, "int8", pad=False)


def pack_conv_weight(weight: np.ndarray, dtype: str) -> np.ndarray:
    """Pack an OHWI-style ``[CO, *K, CI]`` weight into ``[CO/16, *K, CI/4, 16, 4]`` or ``[CO/16, *K, CI, 16]``.

    ``packed[oo, *k, co, oi, ci] == weight[16 * oo + oi, *k, depth * co + ci]``
    for any number of kernel dimensions (OwI16o4i, OhwI16o4i, OdhwI16o4i for
    int8; ``OhwI16o`` for float32); ``CO`` and ``CI`` are zero-padded to the tile.
    """
    lanes, depth = pack_tile(dtype)
    if weight.ndim < 3:
        raise ValueError(f"a convolution weight is [CO, *K, CI], got shape {weight.shape}")
    last = weight.ndim - 1
    co, ci = weight.shape[0], weight.shape[last]
    weight = _pad_axes(weight, {0: round_up(co, lanes), last: round_up(ci, depth)})
    co, *kernel, ci = weight.shape
    tiles = weight.reshape(co // lanes, lanes, *kernel, ci // depth, depth)
    rank = len(kernel)
    # (oo, oi, k..., co, ci) -> (oo, k..., co, oi, ci)
    order = (0, *range(2, 2 + rank), 2 + rank, 1, 3 + rank)
    return _drop_unit_depth(np.ascontiguousarray(tiles.transpose(order)), depth)


def _drop_unit_depth(packed: np.ndarray, depth: int) -> np.ndarray:
    """Leave out the trailing depth axis of a depth-1 (float32) tile."""
    return packed[..., 0] if depth == 1 else packed


def packed_shape(shape: tuple[int, ...], dtype: str) -> tuple[int, ...]:
    """Shape of the packed GEMM weight of a ``[..., N, K]`` weight (extents multiples of the tile)."""
    lanes, depth = pack_tile(dtype)
    *lead, n, k = shape
    tiled = (*lead, n // lanes, k // depth, lanes, depth)
    return tiled[:-1] if depth == 1 else tiled


def oihw_to_ohwi(weight: np.ndarray) -> np.ndarray:
    """A channel-first weight ``[CO, CI, *K]`` (OIHW-style) as ``[CO, *K, CI]`` (OHWI-style)."""
    if weight.ndim < 3:
        raise ValueError(f"an OIHW-style weight is [CO, CI, *K], got shape {weight.shape}")
    return np.ascontiguousarray(np.moveaxis(weight, 1, -1))


def transposed_conv_weight(weight: np.ndarray) -> np.ndarray:
    """The convolution weight that computes a transposed convolution.

    A transposed convolution with PyTorch's weight ``W[CI, CO, *K]`` equals a
    stride-1 convolution of the zero-inserted, padded input with
    ``W'[o, *r, c] = W[c, o, *(K - 1 - r)]``: input and output channels
    swapped, every kernel dimension flipped. Returns ``W'`` as OHWI-style
    ``[CO, *K, CI]``, ready for :func:`pack_conv_weight`.
    """
    if weight.ndim < 3:
        raise ValueError(f"a transposed-conv weight is [CI, CO, *K], got shape {weight.shape}")
    spatial = tuple(range(2, weight.ndim))
    flipped = np.flip(weight, axis=spatial)
    return np.ascontiguousarray(np.moveaxis(flipped, 0, -1))
