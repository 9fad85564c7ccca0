"""Heron's design-space generator for a target: its rules and the postprocessors they need."""

from __future__ import annotations

from tvm.s_tir import meta_schedule as ms
from tvm.target import Target

from ..errors import UnsupportedTargetError
from ..rules.dlboost import DLBoostRule
from ..rules.generic import GenericCpuRule


def heron_postprocs(target: Target) -> list:
    """Postprocessors of Heron's CPU spaces: unroll pragmas, init decomposition, tensorize."""
    if target.kind.name != "llvm":
        raise UnsupportedTargetError(f"no Heron space for target kind {target.kind.name} yet")
    return [
        ms.postproc.DisallowDynamicLoop(),
        ms.postproc.RewriteParallelVectorizeUnroll(),
        ms.postproc.RewriteReductionBlock(),
        ms.postproc.RewriteTensorize(vectorize_init_loop=True),
    ]


def heron_space(target: Target, *, rules: list | None = None) -> ms.space_generator.PostOrderApply:
    """The space generator for ``tune_tir(..., space=heron_space(target))``.

    Parameters
    ----------
    target : Target
        An llvm target (the DL Boost rules; other targets come later).
    rules : list of ScheduleRule, optional
        Replaces the default rule list ``[DLBoostRule(), GenericCpuRule()]``: the
        tensorized DL Boost structure where an intrinsic matches (int8 VNNI,
        fp32 AVX-512 multiply-add), parallel and vectorised loops elsewhere.
    """
    return ms.space_generator.PostOrderApply(
        sch_rules=list(rules) if rules is not None else [DLBoostRule(), GenericCpuRule()],
        postprocs=heron_postprocs(target),
        mutator_probs=heron_mutator_probs(),
    )


def heron_mutator_probs() -> dict:
    """Mutators for MetaSchedule's evolutionary search in Heron's space.

    Heron's strategies do not use them; they let MetaSchedule's evolutionary
    search run in the same space for a like-for-like comparison. The space's
    free choices are tile sizes and the unroll depth.
    """
    return {ms.mutator.MutateTileSize(): 0.95, ms.mutator.MutateUnroll(): 0.05}
