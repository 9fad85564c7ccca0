"""Plan the tuning of a model's tasks: which design space and which strategy each one gets.

A model's fused kernels are not all alike. A task whose reduction maps onto
one of the DL Boost intrinsics gets Heron's space (tensorized, constrained);
any other task (a softmax, a layer norm, a convolution with 3 input channels,
a depthwise or grouped convolution, a matmul whose channels are not a
multiple of 16) falls back to
MetaSchedule's default space for the target. Heron's strategies search any
space whose trace the constraint analysis understands; a task where it does
not (or where a space cannot be generated at all) falls back to
MetaSchedule's evolutionary search. Every fallback is recorded with its
reason, so a report can say which tasks were tensorized and which were not.
"""

from __future__ import annotations

import logging

import attrs
from tvm.ir import IRModule
from tvm.ir.expr import Expr, TensorLoad
from tvm.ir.prim.expr import IntImm
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.sym.analyzer import Analyzer
from tvm.target import Target
from tvm.tirx.analysis import undefined_vars
from tvm.tirx.expr import IterVar

from ..errors import HeronError, UnsupportedTargetError
from ..rules.dlboost import DLBoostRule
from ..space import heron_space
from ..space.usable import space_problem
from ..strategies.registry import strategy_names
from ..rules._util import is_multiply_accumulate
from ..target import instruction_set, require_tensorcore

logger = logging.getLogger(__name__)

#: Space kinds of a planned task.
HERON, DEFAULT = "heron", "default"
#: What the plan names as the intrinsic of a TensorCore task (the shape is searched).
WMMA = "wmma"
#: The strategy a task falls back to when a Heron strategy cannot search its space.
FALLBACK_STRATEGY = "evolutionary"


@attrs.frozen
class TaskPlan:
    """How one extracted task is tuned.

    Attributes
    ----------
    name : str
        Task (fused PrimFunc) name.
    weight : int
        How many times the model calls it.
    mod : IRModule
        The task's PrimFunc as a module.
    space : str
        ``heron`` (tensorized Heron space) or ``default`` (MetaSchedule's).
    strategy : str
        Search strategy name.
    intrinsic : str or None
        The tensor intrinsic of the Heron space.
    fallback : str or None
        Why the task did not get what was asked for (None when it did).
    tuned : bool
        False for a task that cannot be measured (:func:`gather_reason`): it is
        left out of the tuning and built unscheduled.
    """

    name: str
    weight: int
    mod: IRModule
    space: str
    strategy: str
    intrinsic: str | None = None
    fallback: str | None = None
    tuned: bool = True

    @property
    def tensorized(self) -> bool:
        """Whether the task's space is tensorized (Heron's space)."""
        return self.space == HERON


def tensorizable(mod: IRModule, target: Target, rule: DLBoostRule | None = None) -> str | None:
    """The intrinsic that a block of ``mod`` maps onto and ``target`` supports, or None.

    On CPUs, the first intrinsic of the target's instruction set
    (:mod:`tvm_heron.isa`) that a block maps onto; on CUDA, ``wmma`` when the
    TensorCore rule applies (the fragment shape is a choice of the space).
    """
    sch = Schedule(mod)
    blocks = sch.get_child_blocks(sch.get_sblock("root"))
    if target.kind.name == "cuda":
        from ..rules.tensorcore import TensorCoreRule  # pylint: disable=import-outside-toplevel

        try:
            require_tensorcore(target)
        except UnsupportedTargetError:
            return None
        tensor_core = TensorCoreRule()
        return WMMA if any(tensor_core.is_applicable(sch, block) for block in blocks) else None
    rule = rule or DLBoostRule.for_target(target, mod)
    for block in blocks:
        intrin = rule.intrin_for(sch, block)
        if intrin is not None:
            return intrin
    return None


def untensorized_reason(mod: IRModule, target: Target) -> str:
    """Why no block of ``mod`` maps onto an intrinsic of ``target`` (for the fallback note)."""
    if target.kind.name == "cuda":
        return "no block maps onto a TensorCore (wmma) intrinsic"
    try:
        chosen = instruction_set(target)
    except UnsupportedTargetError as err:
        return str(err)
    sch = Schedule(mod)
    blocks = [sch.get(b) for b in sch.get_child_blocks(sch.get_sblock("root"))]
    products = [b for b in blocks if is_multiply_accumulate(b)]
    if not products:
        return "no multiply-accumulate block (nothing a dot-product intrinsic computes)"
    takes = {tuple(sorted(set(i.operands[:2]))): i.dtype for i in chosen.intrinsics}
    inputs = {_input_dtypes(b) for b in products}
    if not any(operands in takes for operands in inputs):
        found = ", ".join("/".join(operands) for operands in sorted(inputs))
        return (f"its products are {found}; the {chosen.title} intrinsics take "
                + ", ".join(f"{'/'.join(k)} ({v})" for k, v in takes.items()))
    if any(is_grouped(b) for b in products):
        return ("a depthwise or grouped convolution: each output channel reads only its own "
                "group's input channels, so the output channel indexes the activation too and "
                f"cannot be the lanes of the {chosen.title} intrinsics (one activation group "
                "broadcast to a vector of output channels), and its reduction is the kernel window "
                "(e.g. 3x3), not a run of input channels shared by all outputs, the only reduction "
                "Heron's DL Boost rule tensorizes")
    shapes = ", ".join(f"{i.lanes}x{i.depth} {i.dtype}" for i in chosen.intrinsics)
    return (f"its multiply-accumulate does not tile into the {chosen.title} intrinsics ({shapes}): "
            "output channels or reduction not a multiple of the tile, or a weight that is "
            "neither plain nor packed")


def is_grouped(block) -> bool:
    """Whether a product block is a depthwise / grouped convolution (or any such product).

    The dot-product intrinsics compute ``C[i] += A[k] * B[i, k]``: the lane axis
    ``i`` indexes the output and the weight but not the activation. In a
    depthwise or grouped convolution the output channel also indexes the
    activation (``data[n, y + ry, x + rx, f + rc]``), so every output axis that
    indexes one operand indexes the other too, and none can be the lanes.
    """
    spatial = [iv.var for iv in block.iter_vars if iv.iter_type == IterVar.DataPar]
    written = {w.source.name for w in block.writes}
    operands = [r for r in block.reads if r.source.name not in written]
    if len(operands) != 2:
        return False
    used = []
    for region in operands:
        free = [v for axis in region.region for v in undefined_vars(axis.min, [])]
        used.append({id(v) for v in spatial if any(v.same_as(f) for f in free)})
    return bool(used[0] and used[1]) and (used[0] <= used[1] or used[1] <= used[0])


def gather_reason(mod: IRModule) -> str | None:
    """Why a task cannot be measured, when a block reads at an index it loads from a buffer (a
    gather: an embedding's ``take``) that may fall outside what it reads, else None.

    MetaSchedule's runners fill every input with random values: random indices fall outside the
    table and the measurement crashes its worker ("Subprocess terminated"). An index bounded by
    its type within the table (a 256-entry table read at an 8-bit value,
    :mod:`tvm_heron.relax.lookup`) is safe whatever the values.
    """
    sch = Schedule(mod)
    analyzer = Analyzer()
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        for region in sch.get(block).reads:
            for axis, extent in zip(region.region, region.source.shape):
                if _loads(axis.min) and not _within(analyzer, axis.min, extent):
                    return ("reads at indices it loads from an input (a gather): MetaSchedule's runner "
                            "fills inputs at random, out of its bounds, so it is not tuned")
    return None


def _within(analyzer, index, extent) -> bool:
    bound = analyzer.const_int_bound(index)
    return isinstance(extent, IntImm) and 0 <= bound.min_value and bound.max_value < int(extent)


def _loads(expr) -> bool:
    """Whether a TIR expression reads a buffer anywhere in it."""
    if isinstance(expr, TensorLoad):
        return True
    children = [getattr(expr, name, None) for name in ("a", "b", "value", "condition", "true_value", "false_value")]
    children += list(getattr(expr, "args", None) or ())
    return any(isinstance(c, Expr) and _loads(c) for c in children)


def _input_dtypes(block) -> tuple[str, ...]:
    written = {w.source.name for w in block.writes}
    return tuple(sorted({str(r.source.dtype) for r in block.reads if r.source.name not in written}))


def plan_tasks(
    extracted, target: Target, *, space: str = HERON, strategy: str = "heron-cga"
) -> list[TaskPlan]:
    """A :class:`TaskPlan` for each of MetaSchedule's extracted tasks.

    Parameters
    ----------
    extracted : list of ExtractedTask
        From ``ms.relax_integration.extract_tasks``.
    space : str
        ``heron``: Heron's space where a task tensorizes, MetaSchedule's default
        elsewhere; ``default``: MetaSchedule's default space for every task.
    strategy : str
        A Heron strategy (``heron-cga``...) or MetaSchedule's (``evolutionary``).
    """
    if space not in (HERON, DEFAULT):
        raise HeronError(f"space must be {HERON!r} or {DEFAULT!r}, got {space!r}")
    plans = []
    for task in extracted:
        mod = task.dispatched[0]
        gather = gather_reason(mod)
        if gather is not None:
            plans.append(TaskPlan(task.task_name, int(task.weight), mod, DEFAULT, strategy, None, gather, tuned=False))
            logger.info("task %s: not tuned (%s)", task.task_name, gather)
            continue
        intrin = tensorizable(mod, target) if space == HERON else None
        kind, fallback = (HERON, None) if intrin else (DEFAULT, None)
        if space == HERON and not intrin:
            fallback = f"{untensorized_reason(mod, target)}: MetaSchedule's default space"
        chosen = strategy
        if strategy in strategy_names():
            problem = _heron_strategy_problem(mod, target, kind)
            if problem and kind == HERON:
                # The Heron space itself failed: use MetaSchedule's, as for the rest.
                fallback = f"Heron space unusable ({problem}): MetaSchedule's default space"
                kind, intrin = DEFAULT, None
                problem = _heron_strategy_problem(mod, target, kind)
            if problem:
                chosen = FALLBACK_STRATEGY
                fallback = f"{fallback + '; ' if fallback else ''}{strategy} cannot search it ({problem}): {chosen}"
        plans.append(TaskPlan(task.task_name, int(task.weight), mod, kind, chosen, intrin, fallback))
        logger.info("task %s: %s space, %s%s", task.task_name, kind, chosen, f" ({fallback})" if fallback else "")
    return plans


def space_generator(kind: str, target: Target):
    """The space generator of a space kind (a fresh object).

    MetaSchedule's default space on CUDA is its ``cuda-tensorcore`` one (its
    TensorCore rules first, its generic CUDA rules for the rest).
    """
    if kind == HERON:
        return heron_space(target)
    if target.kind.name == "cuda":
        return ms.space_generator.PostOrderApply(
            sch_rules="cuda-tensorcore", postprocs="cuda-tensorcore", mutator_probs="cuda-tensorcore"
        )
    return ms.space_generator.PostOrderApply()


def _heron_strategy_problem(mod: IRModule, target: Target, kind: str) -> str | None:
    """Why a Heron strategy cannot search the task's ``kind`` space (None when it can)."""
    try:
        return space_problem(mod, target, space_generator(kind, target))
    except HeronError as err:
        return str(err)[:200]
