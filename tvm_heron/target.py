"""Targets: the host CPU, and the limits of a target that constrain a design space."""

from __future__ import annotations

import json
import os

import attrs
from tvm.target import Target, codegen

from .errors import UnsupportedTargetError

#: The CPU feature that the VNNI dot product needs.
VNNI_FEATURE = "avx512vnni"


def host_target(num_cores: int | None = None) -> Target:
    """The LLVM target of this machine's CPU, with ``num-cores`` set.

    Parameters
    ----------
    num_cores : int, optional
        Threads to use; defaults to the CPUs available to this process.
    """
    cores = num_cores or len(os.sched_getaffinity(0))
    return Target({"kind": "llvm", "mcpu": codegen.llvm_get_system_cpu(), "num-cores": cores})


def parse_target(text: str | None) -> Target:
    """Parse a target given on the command line.

    ``None`` or ``"host"`` is this CPU; a string starting with ``{`` is the
    JSON dict form; anything else is passed to :class:`tvm.target.Target`
    (a tag such as ``nvidia/nvidia-a100``). An ``llvm`` target without
    ``num-cores`` gets this machine's count, which MetaSchedule requires.
    """
    if text is None or text == "host":
        return host_target()
    try:
        spec = json.loads(text) if text.lstrip().startswith("{") else text
        target = Target(spec)
    except Exception as err:  # TVM raises several types for a bad target
        raise UnsupportedTargetError(f"cannot parse target {text!r}: {err}") from err
    if target.kind.name == "llvm" and "num-cores" not in target.attrs:
        config = dict(target.export())
        config["num-cores"] = len(os.sched_getaffinity(0))
        target = Target(config)
    return target


def has_feature(target: Target, feature: str) -> bool:
    """Whether an LLVM target's CPU has ``feature`` (e.g. ``avx512vnni``)."""
    if target.kind.name != "llvm":
        return False
    return bool(codegen.target_has_features(feature, target))


@attrs.frozen
class CpuLimits:
    """What a CPU target allows a schedule to use.

    Attributes
    ----------
    num_cores : int
        Threads of the target (``num-cores``).
    min_parallel_extent : int
        Iterations a parallel loop needs so that every core gets work
        (``num_cores``); a loop that cannot reach it must take its maximum.
    vector_registers : int
        Architectural SIMD registers (32 with AVX-512).
    accumulator_registers : int
        Registers a register tile may hold as accumulators; the rest keep
        operands (a heuristic budget: three quarters of the registers).
    vector_lanes : tuple of int
        Legal extents of a vectorised loop.
    """

    num_cores: int
    min_parallel_extent: int
    vector_registers: int
    accumulator_registers: int
    vector_lanes: tuple[int, ...]


def cpu_limits(target: Target, *, max_vector_lanes: int = 64):
    """The :class:`CpuLimits` of an LLVM target."""
    if target.kind.name != "llvm":
        raise UnsupportedTargetError(f"expected an llvm target, got {target.kind.name}")
    cores = int(target.attrs.get("num-cores", 1))
    registers = 32 if has_feature(target, "avx512f") else 16
    lanes = tuple(2**p for p in range(max_vector_lanes.bit_length()) if 2**p <= max_vector_lanes)
    return CpuLimits(
        num_cores=cores,
        min_parallel_extent=cores,
        vector_registers=registers,
        accumulator_registers=registers * 3 // 4,
        vector_lanes=lanes,
    )


def require_vnni(target: Target) -> None:
    """Raise :class:`UnsupportedTargetError` unless the target has AVX-512 VNNI."""
    if target.kind.name != "llvm" or not has_feature(target, VNNI_FEATURE):
        raise UnsupportedTargetError(
            f"target {target} has no AVX-512 VNNI ({VNNI_FEATURE}): the DL Boost rule cannot "
            "tensorize int8 here. Fall back to MetaSchedule's generic CPU space "
            "(--space default), or pick a VNNI CPU (e.g. mcpu cascadelake, icelake-server, znver4)."
        )


def require_avx512(target: Target) -> None:
    """Raise :class:`UnsupportedTargetError` unless the target has AVX-512 (``avx512f``)."""
    if target.kind.name != "llvm" or not has_feature(target, "avx512f"):
        raise UnsupportedTargetError(
            f"target {target} has no AVX-512 (avx512f): Heron's fp32 CPU space uses 16-lane "
            "AVX-512 multiply-adds. Fall back to MetaSchedule's generic CPU space (--space default)."
        )
