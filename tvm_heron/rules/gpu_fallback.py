"""MetaSchedule's CUDA rules for the blocks that Heron's TensorCore rule does not take.

HERON.md's "everything else" fallback on the GPU: a reduction that has no
wmma form (a row sum, an fp32 product in an fp16 kernel) is scheduled by
MetaSchedule's own CUDA rules (multi-level tiling with thread binding,
cross-thread reduction, auto-inline, auto-bind). The rules are wrapped so that
they leave alone:

* blocks already scheduled: inside a thread-bound loop or a tensorized block
  (the TensorCore rule's stages);
* in a function that has a wmma-able (or tensorized) block, every injective
  block, the root included: such
  blocks are the GEMM's producers and consumers, which the TensorCore rule
  inlines into its shared-memory stages. (``AutoInline`` visiting the
  padding before the GEMM would fold it into the GEMM's body and hide its
  wmma form.) Any of them left over is bound by the ``RewriteUnboundBlock``
  postprocessor.
"""

from __future__ import annotations

from tvm.ir.utils import derived_object
from tvm.s_tir import Schedule
from tvm.s_tir.meta_schedule.schedule_rule import PyScheduleRule, ScheduleRule
from tvm.s_tir.schedule import SBlockRV
from tvm.tirx.expr import IterVar
from tvm.tirx.stmt import For, ForKind

from . import gemm_form
from .tensorcore import AUTO_TENSORIZE, SCHEDULED


@derived_object
class GpuFallbackRule(PyScheduleRule):
    """Apply MetaSchedule's CUDA rules to blocks the TensorCore rule does not schedule.

    Parameters
    ----------
    rules : list of ScheduleRule, optional
        The wrapped rules; MetaSchedule's ``ScheduleRule.create("cuda")`` by default.
    """

    def __init__(self, *, rules: list | None = None) -> None:
        super().__init__()
        self.rules = list(rules) if rules is not None else list(ScheduleRule.create("cuda"))

    def _initialize_with_tune_context(self, context) -> None:  # noqa: D401
        """Initialise the wrapped rules (they read the target's thread limits)."""
        for rule in self.rules:
            rule._initialize_with_tune_context(context)  # pylint: disable=protected-access

    def clone(self) -> "GpuFallbackRule":
        return GpuFallbackRule(rules=[rule.clone() for rule in self.rules])

    def apply(self, sch: Schedule, block: SBlockRV) -> list[Schedule]:
        if _scheduled(sch, block) or (_has_gemm(sch) and not _is_reduction(sch, block)):
            return [sch]
        spaces = [sch]
        for rule in self.rules:
            name = sch.get(block).name_hint
            spaces = [
                out
                for space in spaces
                for out in rule.apply(space, space.get_sblock(name))
                if _has_block(out, name)
            ] or spaces
        return spaces


def _has_block(sch: Schedule, name: str) -> bool:
    try:
        sch.get_sblock(name)
    except Exception:  # pylint: disable=broad-except  # inlined away
        return False
    return True


def _scheduled(sch: Schedule, block: SBlockRV) -> bool:
    """Whether ``block`` lies under a thread-bound loop or inside a tensorized block."""
    sref = sch.get_sref(block)
    while sref is not None:
        stmt = sref.stmt
        if isinstance(stmt, For) and stmt.kind == ForKind.THREAD_BINDING:
            return True
        annotations = getattr(stmt, "annotations", None)
        if annotations is not None and AUTO_TENSORIZE in annotations:
            return True
        sref = sref.parent
    return False


def _is_reduction(sch: Schedule, block: SBlockRV) -> bool:
    return any(iv.iter_type == IterVar.CommReduce for iv in sch.get(block).iter_vars)


def _has_gemm(sch: Schedule) -> bool:
    """Whether a block of the function has a wmma form (see :mod:`gemm_form`) or was tensorized.

    The root block counts as injective here: MetaSchedule's unroll rule would
    annotate it a second time, overriding the TensorCore rule's own unroll choice.
    """
    root = sch.get_sblock("root")
    stack = list(sch.get_child_blocks(root))
    while stack:
        block = stack.pop()
        if SCHEDULED in sch.get(block).annotations or gemm_form.analyze(sch, block) is not None:
            return True
        stack.extend(sch.get_child_blocks(block))
    return False
