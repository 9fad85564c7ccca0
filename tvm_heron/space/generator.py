"""Heron's design-space generator for a target: its rules and the postprocessors they need.

The target's kind picks the rules: ``llvm`` gets the DL Boost rules (int8
VNNI, fp32 AVX-512) and the generic CPU rule; ``cuda`` gets the TensorCore
rule (wmma, one space per fragment shape) and MetaSchedule's CUDA rules for
the blocks it does not take, with the postprocessors of MetaSchedule's
``cuda-tensorcore`` space.
"""

from __future__ import annotations

from tvm.s_tir import meta_schedule as ms
from tvm.target import Target

from ..errors import UnsupportedTargetError
from ..rules.dlboost import DLBoostRule
from ..rules.generic import GenericCpuRule

#: Target kinds that have a Heron space.
KINDS = ("llvm", "cuda")


def _check_kind(target: Target) -> None:
    if target.kind.name not in KINDS:
        raise UnsupportedTargetError(
            f"no Heron space for target kind {target.kind.name}; supported: {', '.join(KINDS)}"
        )


def heron_postprocs(target: Target) -> list:
    """Postprocessors of Heron's spaces.

    CPU: unroll pragmas, init decomposition, tensorize. CUDA (those of
    MetaSchedule's ``cuda-tensorcore`` space): cooperative fetches bound to
    threads and vectorised, leftover blocks bound, unroll pragmas, init
    decomposition (the wmma fill), the GPU code verifier (threads, shared
    memory, vector widths against the target), tensorize.
    """
    _check_kind(target)
    if target.kind.name == "cuda":
        return [
            ms.postproc.DisallowDynamicLoop(),
            ms.postproc.RewriteCooperativeFetch(),
            ms.postproc.RewriteUnboundBlock(),
            ms.postproc.RewriteParallelVectorizeUnroll(),
            ms.postproc.RewriteReductionBlock(),
            ms.postproc.VerifyGPUCode(),
            ms.postproc.RewriteTensorize(),
        ]
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
        An llvm target (the DL Boost rules) or a cuda target (the TensorCore rule).
    rules : list of ScheduleRule, optional
        Replaces the default rule list: for llvm ``[DLBoostRule(), GenericCpuRule()]``,
        the tensorized DL Boost structure where an intrinsic matches (int8 VNNI,
        fp32 AVX-512 multiply-add), parallel and vectorised loops elsewhere; for
        cuda ``[TensorCoreRule(), GpuFallbackRule()]``.
    """
    _check_kind(target)
    if rules is None:
        rules = _default_rules(target)
    return ms.space_generator.PostOrderApply(
        sch_rules=list(rules),
        postprocs=heron_postprocs(target),
        mutator_probs=heron_mutator_probs(),
    )


def _default_rules(target: Target) -> list:
    if target.kind.name == "llvm":
        return [DLBoostRule(), GenericCpuRule()]
    # Imported here: a CPU-only session never loads the CUDA rules.
    from ..intrinsics import wmma  # pylint: disable=import-outside-toplevel
    from ..rules.gpu_fallback import GpuFallbackRule  # pylint: disable=import-outside-toplevel
    from ..rules.tensorcore import TensorCoreRule  # pylint: disable=import-outside-toplevel

    # Every wmma set, so that a database's traces (any shape) replay.
    wmma.register_all()
    return [TensorCoreRule(), GpuFallbackRule()]


def heron_mutator_probs() -> dict:
    """Mutators for MetaSchedule's evolutionary search in Heron's space.

    Heron's strategies do not use them; they let MetaSchedule's evolutionary
    search run in the same space for a like-for-like comparison. The space's
    free choices are tile sizes and the unroll depth (and, on CUDA, the
    vector widths of the cooperative fetches, which ``MutateUnroll`` leaves
    alone: it mutates unroll annotations only; the evolutionary search keeps
    the widths it sampled).
    """
    return {ms.mutator.MutateTileSize(): 0.95, ms.mutator.MutateUnroll(): 0.05}
