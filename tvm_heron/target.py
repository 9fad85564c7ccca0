"""Targets: the host CPU, CUDA GPUs, and the limits of a target that constrain a design space."""

from __future__ import annotations

import json
import os

import attrs
from tvm.target import Target, codegen

from . import cpuinfo, isa
from .errors import UnsupportedDtypeError, UnsupportedTargetError
from .threads import usable_cores

#: LLVM features that decide whether code built for one x86 CPU runs on another.
X86_FEATURES = (
    "sse4.2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw", "avx512vl",
    "avx512dq", "avx512cd", "avx512vnni", "avx512bf16", "avx512fp16", "avxvnni", "amx-int8",
)
#: The same for aarch64.
AARCH64_FEATURES = ("neon", "dotprod", "i8mm", "fullfp16", "sve", "sve2", "bf16")


#: Environment variable naming the CPU to treat as this machine's (an LLVM CPU name
#: such as ``znver3``): tests and the quick start then behave as on that CPU. Only a
#: CPU whose instructions this machine has makes sense (a Zen 5 can run znver3 code).
HOST_CPU_VARIABLE = "TVM_HERON_HOST_CPU"


def host_cpu() -> str:
    """This machine's CPU as LLVM names it (or :data:`HOST_CPU_VARIABLE`'s value)."""
    chosen = os.environ.get(HOST_CPU_VARIABLE)
    if not chosen:
        return str(codegen.llvm_get_system_cpu())
    if not codegen.llvm_is_valid_cpu(chosen, str(codegen.llvm_get_system_triple())):
        raise UnsupportedTargetError(f"{HOST_CPU_VARIABLE}={chosen!r} is not a CPU LLVM knows")
    return chosen


def host_target(num_cores: int | None = None) -> Target:
    """The LLVM target of this machine's CPU, with ``num-cores`` set.

    The CPU is LLVM's name for it, less the features the OS says it cannot
    execute (:func:`hidden_features`, as ``mattr=-feature``).

    Parameters
    ----------
    num_cores : int, optional
        Threads to use; defaults to the CPUs available to this process
        (:func:`tvm_heron.threads.usable_cores`).
    """
    cores = num_cores or usable_cores()
    cpu = host_cpu()
    config: dict = {"kind": "llvm", "mcpu": cpu, "num-cores": cores}
    hidden = hidden_features(cpu)
    if hidden:
        config["mattr"] = [f"-{f}" for f in hidden]
    return Target(config)


def hidden_features(cpu: str) -> list[str]:
    """Features LLVM's CPU ``cpu`` has that this machine cannot execute.

    A virtual machine may mask features of the CPU model LLVM recognises (a
    Zen 4 guest without AVX-512 is still ``znver4``), and code using them
    dies with an illegal instruction. The OS's list of CPU flags decides
    (:func:`tvm_heron.cpuinfo.lacking`); :func:`host_target` turns them off.
    """
    model = Target({"kind": "llvm", "mcpu": cpu})
    names = AARCH64_FEATURES if target_arch(model) == "aarch64" else X86_FEATURES
    return cpuinfo.lacking([f for f in names if has_feature(model, f)])


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


def target_arch(target: Target) -> str:
    """``x86_64``, ``aarch64``, ... of an LLVM target (its ``mtriple``, else this machine's)."""
    triple = str(target.attrs.get("mtriple", "") or codegen.llvm_get_system_triple())
    arch = triple.split("-")[0]
    return "aarch64" if arch in ("aarch64", "arm64") else arch


def cpu_name(target: Target) -> str:
    """The target's CPU for messages: its ``mcpu``, else its triple."""
    return str(target.attrs.get("mcpu", "") or target.attrs.get("mtriple", "") or "generic")


def instruction_set(target: Target) -> isa.InstructionSet:
    """The best :mod:`tvm_heron.isa` description that an LLVM target has.

    Chosen from the target's own features (``mcpu`` / ``mattr``), never from
    the host's.

    Raises
    ------
    UnsupportedTargetError
        For a non-llvm target, or a CPU without any described set (an x86
        CPU needs at least AVX2 + FMA, an aarch64 one NEON + the dot product).
    """
    if target.kind.name != "llvm":
        raise UnsupportedTargetError(f"expected an llvm target, got {target.kind.name}")
    arch = target_arch(target)
    found = isa.select(arch, lambda feature: has_feature(target, feature))
    if found is None:
        wanted = [s for s in isa.INSTRUCTION_SETS if s.arch == arch]
        need = " or ".join(f"{s.name} ({'+'.join(s.features)})" for s in wanted) or "none for this arch"
        raise UnsupportedTargetError(
            f"CPU {cpu_name(target)} ({arch}) has none of the instruction sets Heron's CPU space "
            f"is built for: {need}. Use --space default (MetaSchedule's generic rules)."
        )
    return found


def cpu_intrinsics(
    target: Target, dtype: str, input_range: isa.InputRange = isa.InputRange.U8
) -> tuple[isa.Intrinsic, ...]:
    """The intrinsics of the target's instruction set for ``dtype`` (and declared activation range).

    Raises
    ------
    UnsupportedTargetError
        When the target has no described instruction set.
    UnsupportedDtypeError
        When it has no intrinsic for ``dtype``, or a 7-bit activation range
        is declared where it means nothing (not int8, or an instruction set
        whose int8 intrinsic is exact for every u8 input).
    """
    chosen = instruction_set(target)
    if input_range == isa.InputRange.U7:
        if dtype != "int8":
            raise UnsupportedDtypeError(
                f"--int8-range u7 declares 7-bit int8 activations; it means nothing for {dtype}"
            )
        if not any(i.input_range == isa.InputRange.U7 for i in chosen.intrinsics_for(dtype, input_range)):
            raise UnsupportedDtypeError(
                f"--int8-range u7 means nothing on {cpu_name(target)}: its {chosen.title} int8 "
                f"intrinsic ({chosen.intrinsics_for(dtype)[0].instruction}) is exact and fastest for "
                "every u8 input; the 7-bit form exists for AVX2 without VNNI (vpmaddubsw)"
            )
    found = chosen.intrinsics_for(dtype, input_range)
    if not found:
        offered = sorted({i.dtype for i in chosen.intrinsics})
        raise UnsupportedDtypeError(
            f"{chosen.title} on {cpu_name(target)} has no {dtype} intrinsic in Heron's CPU space "
            f"(it has: {', '.join(offered)}); use --space default"
        )
    return found


def missing_host_features(target: Target) -> list[str]:
    """Features of an LLVM target that this machine's CPU lacks (code using them cannot run here)."""
    host = host_target(1)
    if target_arch(target) != target_arch(host):
        return [f"arch {target_arch(target)} (this machine is {target_arch(host)})"]
    names = AARCH64_FEATURES if target_arch(target) == "aarch64" else X86_FEATURES
    return [f for f in names if has_feature(target, f) and not has_feature(host, f)]


def require_runs_here(target: Target, runner=None) -> None:
    """Raise :class:`UnsupportedTargetError` when a local runner cannot execute ``target``'s code.

    A CPU target other than this machine's can be built (``tvm-heron space``,
    build-only checks) but its kernels use instructions this CPU may lack
    (running them would crash); measuring needs an RPC runner on a machine
    that has them. ``runner`` given (RPC): not checked.
    """
    if runner is not None or target.kind.name != "llvm":
        return
    missing = missing_host_features(target)
    if missing:
        raise UnsupportedTargetError(
            f"target CPU {cpu_name(target)} needs {', '.join(missing)}, which this machine's CPU "
            f"({host_cpu()}) lacks: its kernels can be built here but not run. "
            "Measure on such a machine through an RPC runner, or use --target host."
        )


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
        Architectural SIMD registers of the target's instruction set.
    vector_lanes : tuple of int
        Legal extents of a vectorised loop.
    instruction_set : InstructionSet or None
        The target's description (None for a CPU without one: MetaSchedule's
        own spaces are still analysed).
    """

    num_cores: int
    min_parallel_extent: int
    vector_registers: int
    vector_lanes: tuple[int, ...]
    instruction_set: isa.InstructionSet | None = None

    def accumulators(self, intrin: str) -> tuple[int, int]:
        """``(most, least)`` independent accumulators of a register tile of ``intrin``.

        From the instruction set's description for its own intrinsics: the
        registers left by the operands, per accumulator register count; and
        the multiply-accumulate's latency x ports. For any other intrinsic
        (MetaSchedule's own): three quarters of the registers, and 4 (the
        latency of ``vpdpbusd`` / ``vfmadd``). (Measured in BERT's fp32
        matmul tasks on AVX-512: tiles of 1-3 accumulators were 1.13-1.75x
        slower than the best kernel at their fastest; tiles of 4-7 were
        sometimes the best.)
        """
        described = isa.intrinsic(intrin)
        if self.instruction_set is not None and described is not None:
            chosen = self.instruction_set
            return chosen.max_accumulators(described), chosen.min_accumulators(described)
        return self.vector_registers * 3 // 4, 4


def cpu_limits(target: Target, *, max_vector_lanes: int = 64) -> CpuLimits:
    """The :class:`CpuLimits` of an LLVM target."""
    if target.kind.name != "llvm":
        raise UnsupportedTargetError(f"expected an llvm target, got {target.kind.name}")
    cores = int(target.attrs.get("num-cores", 1))
    try:
        chosen = instruction_set(target)
    except UnsupportedTargetError:
        chosen = None
    registers = chosen.vector_registers if chosen else (32 if has_feature(target, "avx512f") else 16)
    lanes = tuple(2**p for p in range(max_vector_lanes.bit_length()) if 2**p <= max_vector_lanes)
    return CpuLimits(
        num_cores=cores,
        min_parallel_extent=cores,
        vector_registers=registers,
        vector_lanes=lanes,
        instruction_set=chosen,
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
