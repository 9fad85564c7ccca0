"""Replay of a design space's trace that reads its constraint model off the instructions.

The trace is replayed once on the workload with a decision provider, which
TVM calls before each instruction: the :class:`Interpreter` reads the
concrete state there (loop extents, block positions) and each instruction's
outputs from the new schedule's trace on the next call. The instruction's
kind picks its handler in :data:`tvm_heron.space.handlers.HANDLERS` (what
each kind means to the model is there); a kind without a handler must be one
of :data:`~tvm_heron.space.handlers.PASSIVE_KINDS`, else the analysis stops
with :class:`~tvm_heron.errors.UnanalyzableSpaceError`: a new or misspelt
kind is an error, not an instruction silently ignored.

After the replay the interpreter checks each tensorized block against its
intrinsic's shape and derives the target's limits of what the handlers
recorded (register tiles, :mod:`tvm_heron.space.cpu`; threads, shared
memory and vector widths, :mod:`tvm_heron.space.gpu`).

Loops that a ``compute_at`` regenerates have extents that depend on other
decisions in ways a monomial cannot always express; the interpreter marks
them *dependent* and lists, in its notes, each limit that it therefore
leaves to the postprocessors and the builder.
"""

from __future__ import annotations

from tvm.ir import IRModule
from tvm.s_tir import Schedule, TensorIntrin
from tvm.s_tir.schedule import LoopRV, Trace
from tvm.target import Target

from .. import tir_utils
from ..constraints import Monomial, Variable
from ..errors import InfeasibleSpaceError, UnanalyzableSpaceError
from ..target import CpuLimits, GpuLimits, cpu_limits, gpu_limits
from . import cpu, gpu, handlers, kinds
from .handlers import Step
from .loops import LoopTable
from .model import SamplingSite


class Interpreter:
    """Symbolic interpretation of one trace (see the module docstring).

    Parameters
    ----------
    sch : Schedule
        A fresh schedule of the workload, which the replay transforms.
    cpu_limits_, gpu_limits_ : CpuLimits or GpuLimits, optional
        The target's limits (at most one of them); None derives only the
        structural constraints.

    Attributes
    ----------
    variables, constraints, notes : list
        The constraint model read so far, in trace order.
    lower_bounds : list of cpu.LowerBound
        Wishes settled against the whole model afterwards.
    sites : list of SamplingSite
        The sampling instructions, in trace order.
    loops : LoopTable
        The symbolic extent of every loop met.
    exprs, choice_of : dict
        The factor (a Monomial) of each ``SamplePerfectTile`` output, the
        ``(Choice, candidates)`` of each ``SampleCategorical`` output.
    split_extent : dict of int to int
        The extent each ``SamplePerfectTile`` (by index) splits.
    moved : set
        Srefs of the blocks a ``compute_at`` moved (their loops are dependent).
    tensorized : list
        ``(block sref, intrinsic name)`` of each block to tensorize.
    gpu : gpu.GpuRecord
        What the CUDA limits are derived from.
    """

    def __init__(
        self,
        sch: Schedule,
        cpu_limits_: CpuLimits | None = None,
        gpu_limits_: GpuLimits | None = None,
    ):
        self.sch = sch
        self.cpu_limits = cpu_limits_
        self.gpu_limits = gpu_limits_
        self.loops = LoopTable()
        self.gpu = gpu.GpuRecord()
        self.choice_of: dict = {}  # ExprRV of a SampleCategorical -> (Choice, candidates)
        self.exprs: dict[object, Monomial] = {}  # ExprRV of a SamplePerfectTile -> its factor
        self.moved: set = set()  # block srefs moved by compute-at
        self.variables: list[Variable] = []
        self.constraints: list = []
        self.lower_bounds: list[cpu.LowerBound] = []
        self.notes: list[str] = []
        self.sites: list[SamplingSite] = []
        self.tensorized: list = []  # (block sref, intrin name)
        self.split_extent: dict[int, int] = {}  # SamplePerfectTile inst -> extent
        self._count = 0
        self._pending: tuple[Step, object] | None = None

    # -- the decision provider ---------------------------------------------------------
    def __call__(self, inst, inputs, attrs_, decision):
        self._finish_pending()
        step = Step(self._count, inst.kind.name, list(inputs), list(attrs_), decision)
        self._count += 1
        handler = handlers.HANDLERS.get(step.kind)
        if handler is None and step.kind not in handlers.PASSIVE_KINDS:
            raise _unknown_kind(step.index, step.kind)
        state = handler.pre(self, step) if handler is not None and handler.pre else None
        if decision is not None and step.kind not in kinds.MODELLED_SAMPLES:
            self.sites.append(SamplingSite(step.index, step.kind, (), decision))
            self.notes.append(f"{step.kind} #{step.index}: decision kept fixed at {decision}")
        self._pending = (step, state)
        return decision

    def finish(self) -> None:
        """Process the last instruction (the provider is not called after it)."""
        self._finish_pending()

    def _finish_pending(self) -> None:
        if self._pending is None:
            return
        step, state = self._pending
        self._pending = None
        handler = handlers.HANDLERS.get(step.kind)
        if handler is not None and handler.post:
            handler.post(self, step, list(self.sch.trace.insts[step.index].outputs), state)

    # -- for the handlers ------------------------------------------------------------------
    def sref(self, rv):
        """The sref of a block or loop RV in the replayed schedule."""
        return self.sch.get_sref(rv)

    def loop_extent(self, loop: LoopRV) -> Monomial | None:
        """The extent of a loop (recorded as one of the workload's if the replay has not met it)."""
        return self.loops.meet(self.sref(loop)).extent

    def loop_name(self, loop: LoopRV) -> str:
        """The name of a loop's variable."""
        return str(self.sref(loop).stmt.loop_var.name)

    def upper_bound(self, term: Monomial) -> int:
        """The largest value ``term`` can take: each split's factors multiply to its extent."""
        bound = term.coef
        for inst in {key.inst for key in term.keys}:
            bound *= self.split_extent[inst]
        return bound

    # -- after the replay ----------------------------------------------------------------
    def tensorize_constraints(self) -> None:
        """Check each tensorized block's shape; on a CPU, limit its register tile."""
        for block_sref, intrin in self.tensorized:
            desc = TensorIntrin.get(intrin).desc
            want = tir_utils.inner_loop_extents(desc.body.block)
            have = tir_utils.inner_loop_extents(block_sref.stmt)
            if want != have:
                raise InfeasibleSpaceError(
                    f"block {block_sref.stmt.name_hint}: tensorized loops {have} do not match "
                    f"intrinsic {intrin} {want}"
                )
            self.notes.append(f"tensorize {intrin}: inner loops {have} match (static)")
            if self.cpu_limits is None:
                continue
            tile = cpu.register_tile(block_sref, intrin, self.loops, self.cpu_limits)
            self.constraints.extend(tile.constraints)
            if tile.note is not None:
                self.notes.append(tile.note)
            if tile.bound is not None:
                self.lower_bounds.append(tile.bound)

    def gpu_constraints(self) -> None:
        """Threads, shared memory and vector widths against a CUDA target's limits."""
        if self.gpu_limits is None:
            return
        constraints, notes = gpu.constraints(self.gpu, self.sch, self.loops, self.gpu_limits)
        self.constraints.extend(constraints)
        self.notes.extend(notes)


def _unknown_kind(index: int, kind: str) -> UnanalyzableSpaceError:
    return UnanalyzableSpaceError(
        f"instruction #{index} {kind}: the analysis has no handler for this instruction kind "
        "(add one to handlers.HANDLERS, or to handlers.PASSIVE_KINDS if it changes no loop "
        "extent that the model tracks)"
    )


def check_kinds(trace: Trace) -> None:
    """Raise :class:`~tvm_heron.errors.UnanalyzableSpaceError` at a kind without a handler.

    Only the design-space instructions count: the replay drops those from
    ``EnterPostproc`` on.
    """
    for index, inst in enumerate(trace.insts):
        kind = inst.kind.name
        if kind == kinds.ENTER_POSTPROC:
            return
        if kind not in handlers.HANDLERS and kind not in handlers.PASSIVE_KINDS:
            raise _unknown_kind(index, kind)


def interpret(trace: Trace, mod: IRModule, target: Target | None) -> Interpreter:
    """Replay ``trace`` on ``mod`` with an :class:`Interpreter`; returns it, finished.

    Raises
    ------
    UnanalyzableSpaceError
        When the trace holds an instruction kind the interpreter does not know.
    InfeasibleSpaceError
        When a tensorized block does not match its intrinsic's shape.
    """
    check_kinds(trace)
    kind = target.kind.name if target is not None else None
    cpu_ = cpu_limits(target) if kind == "llvm" else None
    gpu_ = gpu_limits(target) if kind == "cuda" else None
    sch = Schedule(mod, debug_mask=0)
    interp = Interpreter(sch, cpu_, gpu_)
    trace.apply_to_schedule(sch, remove_postproc=True, decision_provider=interp)
    interp.finish()
    interp.tensorize_constraints()
    interp.gpu_constraints()
    return interp
