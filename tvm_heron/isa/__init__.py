"""Heron's CPU instruction sets, one description each (see :mod:`.model`).

Everything CPU-specific reads these descriptions: the DL Boost rule (which
intrinsics to tensorize with), the constraint analysis (registers, latency),
the weight packing (:func:`pack_tile`), the command line (``tvm-heron info``)
and the benchmarks. Adding an instruction set means adding one description
here and its intrinsics' TensorIR in :mod:`tvm_heron.intrinsics`. Nothing
here imports TVM: :func:`tvm_heron.target.instruction_set` picks the
description of a TVM target.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .arm import AARCH64
from .model import DTYPES, InputRange, InstructionSet, Intrinsic, MacUnit, WeightOrder
from .x86 import X86

#: Every description, best first within an architecture.
INSTRUCTION_SETS: tuple[InstructionSet, ...] = X86 + AARCH64


def by_name(name: str) -> InstructionSet:
    """The description called ``name`` (``KeyError`` naming the known ones otherwise)."""
    for isa in INSTRUCTION_SETS:
        if isa.name == name:
            return isa
    raise KeyError(f"no instruction set {name!r}; known: {', '.join(i.name for i in INSTRUCTION_SETS)}")


def intrinsics() -> tuple[Intrinsic, ...]:
    """Every described intrinsic once, in description order."""
    seen: dict[str, Intrinsic] = {}
    for isa in INSTRUCTION_SETS:
        for intrinsic in isa.intrinsics:
            seen.setdefault(intrinsic.name, intrinsic)
    return tuple(seen.values())


def intrinsic(name: str) -> Intrinsic | None:
    """The described intrinsic registered as ``name`` (None for TVM's own and unknown names)."""
    return next((i for i in intrinsics() if i.name == name), None)


def select(arch: str, has_feature: Callable[[str], bool]) -> InstructionSet | None:
    """The best description of ``arch`` whose features all pass ``has_feature``."""
    for isa in INSTRUCTION_SETS:
        if isa.arch == arch and all(has_feature(f) for f in isa.features):
            return isa
    return None


def pack_tile(dtype: str) -> tuple[int, int]:
    """``(lanes, depth)`` of the packed weight layout of ``dtype``, shared by every CPU.

    The lanes are the least common multiple of every described intrinsic's
    lanes (16), so one packed weight serves every CPU: a narrower intrinsic
    (8 lanes on AVX2, 4 on NEON) reads a contiguous part of a tile. The
    depth is the intrinsics' reduction depth when the tile is lanes-major
    (int8: 4 bytes per lane), 1 when each reduction step is a row of lanes
    (float32).
    """
    chosen = [i for i in intrinsics() if i.dtype == dtype]
    if not chosen:
        raise KeyError(f"no intrinsic computes {dtype!r}; known dtypes: {', '.join(DTYPES)}")
    lanes = math.lcm(*(i.lanes for i in chosen))
    major = [i.depth for i in chosen if i.weight_order == WeightOrder.LANES_MAJOR]
    return lanes, math.lcm(*major) if major else 1


__all__ = [
    "DTYPES",
    "INSTRUCTION_SETS",
    "InputRange",
    "InstructionSet",
    "Intrinsic",
    "MacUnit",
    "WeightOrder",
    "by_name",
    "intrinsic",
    "intrinsics",
    "pack_tile",
    "select",
]
