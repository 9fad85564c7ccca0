"""Targets: the host CPU, CUDA GPUs, and the limits of a target that constrain a design space."""

from __future__ import annotations

import json

import attrs
from tvm.target import Target, codegen

from .errors import UnsupportedTargetError
from .threads import usable_cores

#: The CPU feature that the VNNI dot product needs.
VNNI_FEATURE = "avx512vnni"


def host_target(num_cores: int | None = None) -> Target:
    """The LLVM target of this machine's CPU, with ``num-cores`` set.

    Parameters
    ----------
    num_cores : int, optional
        Threads to use; defaults to the CPUs available to this process
        (:func:`tvm_heron.threads.usable_cores`).
    """
    cores = num_cores or usable_cores()
    return Target({"kind": "llvm", "mcpu": codegen.llvm_get_system_cpu(), "num-cores": cores})


def parse_target(text: str | None) -> Target:
    """Parse a target given on the command line.

    ``None`` or ``"host"`` is this CPU; a string starting with ``{`` is the
    JSON dict form; anything else is passed to :class:`tvm.target.Target`
    (a tag such as ``nvidia/nvidia-a100``). An ``llvm`` target without
    ``num-cores`` gets this machine's count, which MetaSchedule requires; a
    ``cuda`` target gets the limits it lacks (:func:`complete_cuda_target`).
    """
    if text is None or text == "host":
        return host_target()
    try:
        spec = json.loads(text) if text.lstrip().startswith("{") else text
        target = Target(spec)
    except Exception as err:  # TVM raises several types for a bad target
        raise UnsupportedTargetError(f"cannot parse target {text!r}: {err}") from err
    if target.kind.name == "cuda":
        return complete_cuda_target(target)
    if target.kind.name == "llvm" and "num-cores" not in target.attrs:
        config = dict(target.export())
        config["num-cores"] = usable_cores()
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
    min_accumulators : int
        Independent accumulators a register tile needs so that its
        multiply-accumulates do not wait on each other's results: at least
        their latency in cycles (4-5 for ``vpdpbusd`` / ``vfmadd``) times one
        issue port. A tile that cannot reach it must take the most it can.
        (Measured in BERT's fp32 matmul tasks here: tiles of 1-3 accumulators
        were 1.13-1.75x slower than the best kernel at their fastest; tiles of
        4-7 were sometimes the best.)
    vector_lanes : tuple of int
        Legal extents of a vectorised loop.
    """

    num_cores: int
    min_parallel_extent: int
    vector_registers: int
    accumulator_registers: int
    vector_lanes: tuple[int, ...]
    min_accumulators: int = 4


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


#: Limits a CUDA target may leave out; MetaSchedule's GPU verifier needs them.
#: 48 KiB is the static shared memory every architecture since sm_30 grants a block.
CUDA_DEFAULTS = {"max_shared_memory_per_block": 49152, "max_threads_per_block": 1024,
                 "thread_warp_size": 32}

#: The first architecture with TensorCore (wmma fp16), and with int8 wmma.
TENSORCORE_MIN_SM = 70
TENSORCORE_INT8_MIN_SM = 72


def complete_cuda_target(target: Target) -> Target:
    """``target`` with :data:`CUDA_DEFAULTS` filled in where it has no value.

    A tag (``nvidia/nvidia-a100``) has them all; a bare ``{"kind": "cuda",
    "arch": "sm_90"}`` has none, and MetaSchedule's ``VerifyGPUCode`` would
    abort on it. ``max_threads_per_block`` defaults to ``max_num_threads``.
    """
    if target.kind.name != "cuda":
        return target
    attrs_ = dict(target.attrs)
    missing = {k: v for k, v in CUDA_DEFAULTS.items() if k not in attrs_}
    if "max_threads_per_block" in missing and "max_num_threads" in attrs_:
        missing["max_threads_per_block"] = int(attrs_["max_num_threads"])
    if not missing:
        return target
    config = dict(target.export())
    config.update(missing)
    return Target(config)


def sm_version(target: Target) -> int | None:
    """The compute capability of a CUDA target as an integer (``sm_80`` -> 80), or None."""
    arch = str(target.attrs.get("arch", "")) if target.kind.name == "cuda" else ""
    digits = "".join(ch for ch in arch.removeprefix("sm_") if ch.isdigit())
    return int(digits) if arch.startswith("sm_") and digits else None


@attrs.frozen
class GpuLimits:
    """What a CUDA target allows one thread block to use.

    Attributes
    ----------
    max_threads_per_block : int
        Threads of a block (the product of the ``threadIdx`` extents).
    max_thread_extent : tuple of int
        Per-dimension limit of ``threadIdx.x``, ``.y``, ``.z`` (1024, 1024, 64).
    max_shared_memory_per_block : int
        Bytes of shared memory (static and dynamic together) of a block.
    warp_size : int
        Threads of a warp (``threadIdx.x`` of a TensorCore kernel).
    max_vector_bytes : int
        Bytes of one vectorised memory access (16: ``uint4``).
    max_vthread : int
        Virtual threads of a block (MetaSchedule's GPU verifier allows 8).
    sm : int or None
        Compute capability, e.g. 80 for ``sm_80``.
    """

    max_threads_per_block: int
    max_thread_extent: tuple[int, int, int]
    max_shared_memory_per_block: int
    warp_size: int
    max_vector_bytes: int
    max_vthread: int
    sm: int | None

    @property
    def max_warps_per_block(self) -> int:
        """Warps of a block at most."""
        return self.max_threads_per_block // self.warp_size


def gpu_limits(target: Target) -> GpuLimits:
    """The :class:`GpuLimits` of a CUDA target (missing attributes: :data:`CUDA_DEFAULTS`)."""
    if target.kind.name != "cuda":
        raise UnsupportedTargetError(f"expected a cuda target, got {target.kind.name}")
    attrs_ = complete_cuda_target(target).attrs
    threads = int(attrs_["max_threads_per_block"])
    return GpuLimits(
        max_threads_per_block=threads,
        max_thread_extent=(min(threads, 1024), min(threads, 1024), min(threads, 64)),
        max_shared_memory_per_block=int(attrs_["max_shared_memory_per_block"]),
        warp_size=int(attrs_["thread_warp_size"]),
        max_vector_bytes=16,
        max_vthread=8,
        sm=sm_version(target),
    )


def require_tensorcore(target: Target, dtype: str = "float16") -> None:
    """Raise :class:`UnsupportedTargetError` unless ``target`` has wmma for ``dtype``.

    TensorCore (fp16 wmma) needs a CUDA target of ``sm_70`` or later, int8
    wmma ``sm_72``.
    """
    if target.kind.name != "cuda":
        raise UnsupportedTargetError(
            f"{dtype} operators are tuned for NVIDIA TensorCore only; target {target.kind.name} "
            "is not cuda. Use a CUDA target, e.g. --target nvidia/nvidia-a100 (or "
            "'{\"kind\": \"cuda\", \"arch\": \"sm_80\"}')."
        )
    sm = sm_version(target)
    need = TENSORCORE_INT8_MIN_SM if dtype == "int8" else TENSORCORE_MIN_SM
    if sm is None or sm < need:
        raise UnsupportedTargetError(
            f"target arch {target.attrs.get('arch', '?')} has no TensorCore wmma for {dtype}: "
            f"it needs sm_{need} or later (V100 sm_70, T4 sm_75, A100 sm_80, H100 sm_90)"
        )
