"""What this machine (or a given CPU target) offers Heron: ``tvm-heron info``.

The detected CPU and its features, the instruction-set description the
space uses for it (:mod:`tvm_heron.isa`), the intrinsics and spaces per data
type, the other descriptions this machine can also run (build and measure
them with their example CPU as ``--target``), and the thread setting.
"""

from __future__ import annotations

import os

import attrs
from tvm.target import Target

from . import isa
from .cpuinfo import cpu_model
from .errors import UnsupportedTargetError
from .target import (
    AARCH64_FEATURES,
    X86_FEATURES,
    cpu_name,
    has_feature,
    host_cpu,
    instruction_set,
    missing_host_features,
    target_arch,
)
from .threads import THREAD_VARIABLES, usable_cores


@attrs.frozen
class IntrinsicInfo:
    """One intrinsic as ``info`` reports it."""

    name: str
    shape: str
    instruction: str
    exact_for: str
    accumulators: tuple[int, int]
    sequence: str


@attrs.frozen
class TargetInfo:
    """The report of ``tvm-heron info`` (``to_json`` for ``--json``)."""

    cpu: str
    model: str
    arch: str
    features: tuple[str, ...]
    disabled: tuple[str, ...]
    instruction_set: str | None
    title: str | None
    problem: str | None
    spaces: dict
    also_runs_here: tuple[str, ...]
    num_cores: int
    threads: dict

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return attrs.asdict(self)

    def text(self) -> str:
        """The report as lines of text."""
        lines = [
            f"CPU: {self.cpu} ({self.model}), {self.arch}, {self.num_cores} cores",
            f"features: {' '.join(self.features) or 'none of note'}",
        ]
        if self.disabled:
            lines.append(f"turned off (mattr): {' '.join(self.disabled)}")
        if self.instruction_set is None:
            lines.append(f"Heron's CPU space: unavailable: {self.problem}")
        else:
            lines.append(f"instruction set: {self.instruction_set} ({self.title})")
        for dtype, entries in self.spaces.items():
            if isinstance(entries, str):
                lines.append(f"  {dtype}: {entries}")
                continue
            for entry in entries:
                lo, hi = entry["accumulators"]
                lines.append(
                    f"  {dtype}: {entry['name']} {entry['shape']} ({entry['instruction']}), exact "
                    f"for {entry['exact_for']}, register tile {lo}-{hi} accumulators"
                )
        if self.also_runs_here:
            lines.append(f"also runs here (as --target): {', '.join(self.also_runs_here)}")
        shown = ", ".join(f"{k}={v}" for k, v in self.threads.items() if v is not None) or "unset"
        lines.append(f"threads: {shown}")
        return "\n".join(lines)


def describe(target: Target) -> TargetInfo:
    """The :class:`TargetInfo` of an llvm target (the host's by default in the CLI)."""
    if target.kind.name != "llvm":
        raise UnsupportedTargetError(f"tvm-heron info describes CPU (llvm) targets, not {target.kind.name}")
    arch = target_arch(target)
    names = AARCH64_FEATURES if arch == "aarch64" else X86_FEATURES
    features = tuple(f for f in names if has_feature(target, f))
    try:
        chosen, problem = instruction_set(target), None
    except UnsupportedTargetError as err:
        chosen, problem = None, str(err)
    spaces: dict = {}
    if chosen is not None:
        for dtype in isa.DTYPES:
            spaces[dtype] = [attrs.asdict(_intrinsic_info(chosen, i)) for i in
                             chosen.intrinsics_for(dtype, isa.InputRange.U7)]
    spaces["float16"] = "TensorCore only: a CUDA target (e.g. --target nvidia/nvidia-a100)"
    others = tuple(
        f"{d.name} ({d.example_cpu})" for d in isa.INSTRUCTION_SETS
        if d is not chosen and d.arch == arch and all(has_feature(target, f) for f in d.features)
        and not missing_host_features(target)
    )
    cpu = cpu_name(target)
    here = cpu == host_cpu()
    return TargetInfo(
        cpu=cpu,
        model=cpu_model() if here else "a target CPU, not this machine's",
        arch=arch,
        features=features,
        disabled=tuple(str(f).lstrip("-") for f in target.attrs.get("mattr", []) if str(f).startswith("-")),
        instruction_set=chosen.name if chosen else None,
        title=chosen.title if chosen else None,
        problem=problem,
        spaces=spaces,
        also_runs_here=others,
        num_cores=int(target.attrs.get("num-cores", usable_cores())),
        threads={name: os.environ.get(name) for name in (*THREAD_VARIABLES, "TVM_BIND_THREADS")},
    )


def _intrinsic_info(chosen: isa.InstructionSet, intrinsic: isa.Intrinsic) -> IntrinsicInfo:
    return IntrinsicInfo(
        name=intrinsic.name,
        shape=f"{intrinsic.lanes}x{intrinsic.depth}",
        instruction=f"{intrinsic.instruction} {intrinsic.register}",
        exact_for=("activations 0..127 (--int8-range u7)" if intrinsic.input_range == isa.InputRange.U7
                   else ("every input" if intrinsic.dtype == "int8" else "fp32 inputs (rounded)")),
        accumulators=(chosen.min_accumulators(intrinsic), chosen.max_accumulators(intrinsic)),
        sequence=intrinsic.sequence,
    )
