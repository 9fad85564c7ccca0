"""Build-only validity on a CPU this machine may lack: postprocessed, built, instruction in the asm.

For one operator and one instruction-set description (:mod:`tvm_heron.isa`),
draw points of Heron's space (the constraint model's sampler) and samples of
MetaSchedule's own default space for the same target (decisions re-sampled,
as its ``replay-trace`` strategy does), apply the postprocessors, build each
to assembly with LLVM for the description's example CPU (an aarch64 triple
is cross-compiled; nothing runs) and count the programs whose assembly
contains the description's multiply-accumulate instruction for the dtype.
"""

from __future__ import annotations

import re

import attrs
import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.target import Target

from .. import isa
from ..errors import HeronError
from ..space import analyze, heron_space, postprocess, replay
from .sampling import metaschedule_samples


@attrs.frozen
class AsmCount:
    """Counts of one (operator, description, space): drawn, postprocessed, built, with the instruction."""

    op: str
    shape: tuple[int, ...]
    dtype: str
    isa: str
    space: str
    instruction: str
    drawn: int
    postprocessed: int
    built: int
    with_instruction: int
    first_error: str | None = None

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return attrs.asdict(self)


def description_target(description: isa.InstructionSet, cores: int = 2) -> Target:
    """The llvm target of a description's example CPU (an aarch64 one as a cross triple)."""
    if description.arch == "aarch64":
        triple, mattr = description.example_cpu.split(" ")
        return Target({"kind": "llvm", "mtriple": triple, "mattr": mattr.split(","), "num-cores": cores})
    return Target({"kind": "llvm", "mcpu": description.example_cpu, "num-cores": cores})


def _heron(mod, target, n: int, seed: int):
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=heron_space(target), task_name="m")
    models = []
    for design_space in ctx.generate_design_space():
        try:
            models.append(analyze(design_space, mod, target))
        except HeronError:
            continue
    rng = np.random.default_rng(seed)
    per_space = -(-n // max(len(models), 1))
    drawn, schedules = 0, []
    for model in models:
        for point in model.solver.sample(per_space, rng=rng)[: n - drawn]:
            drawn += 1
            try:
                schedules.append(postprocess(replay(model, mod, point), ctx.space_generator.postprocs))
            except HeronError:
                continue
    return drawn, schedules


def _metaschedule(mod, target, n: int, seed: int):
    ctx = ms.TuneContext(mod=mod, target=target, space_generator="post-order-apply", task_name="m",
                         rand_state=seed)
    return n, [sch for _, sch in metaschedule_samples(ctx, mod, n, seed) if sch is not None]


SAMPLERS = {"heron": _heron, "metaschedule": _metaschedule}
#: The spaces :func:`count` draws from, Heron's first.
SPACES = tuple(SAMPLERS)


def count(workload, description: isa.InstructionSet, space: str, n: int, seed: int = 0) -> AsmCount:
    """The :class:`AsmCount` of ``n`` programs of ``space`` (``heron`` or ``metaschedule``)."""
    target = description_target(description)
    mod = tvm.IRModule({"main": workload.func})
    drawn, schedules = SAMPLERS[space](mod, target, n, seed)
    (intrinsic,) = description.intrinsics_for(workload.dtype)[:1]
    pattern = re.compile(rf"\b{intrinsic.instruction}\w*\s")
    built = found = 0
    first_error = None
    for sch in schedules:
        try:
            asm = tvm.compile(sch.mod, target).mod.inspect_source("asm")
        except Exception as err:  # pylint: disable=broad-except  # LLVM and TVM raise many kinds
            lines = str(err).strip().splitlines()
            first_error = first_error or (lines[-1][:200] if lines else type(err).__name__)
            continue
        built += 1
        found += bool(pattern.search(asm))
    return AsmCount(op=workload.op, shape=tuple(workload.shape), dtype=workload.dtype,
                    isa=description.name, space=space, instruction=intrinsic.instruction,
                    drawn=drawn, postprocessed=len(schedules), built=built, with_instruction=found,
                    first_error=first_error)


def table(rows: list[dict]) -> str:
    """A markdown table of :meth:`AsmCount.to_json` rows, Heron's and MetaSchedule's in turn."""
    lines = ["| isa | dtype | operator | Heron: postprocessed / built / with instruction | "
             "MetaSchedule: postprocessed / built / with instruction |",
             "| --- | --- | --- | --- | --- |"]
    for heron, meta in zip(rows[::2], rows[1::2]):
        lines.append(
            f"| {heron['isa']} | {heron['dtype']} | {heron['op']} {'x'.join(map(str, heron['shape']))} | "
            f"{heron['postprocessed']} / {heron['built']} / {heron['with_instruction']} of "
            f"{heron['drawn']} | {meta['postprocessed']} / {meta['built']} / "
            f"{meta['with_instruction']} of {meta['drawn']} ({heron['instruction']}) |")
    return "\n".join(lines)
