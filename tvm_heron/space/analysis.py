"""Derive the constraint model of a design space by interpreting its trace.

Heron's rules emit constraints while they transform the program. Here the
same constraints are read back from any MetaSchedule design space (a trace
of schedule instructions), so that MetaSchedule's own rules get a model too:

* every ``SamplePerfectTile`` gives one variable per factor, whose product is
  the loop's extent, the innermost bounded by ``max_innermost_factor``;
* every ``SampleCategorical`` gives an index variable;
* loop extents are tracked symbolically through ``Split`` and ``Fuse`` as
  monomials of those variables, so that target limits on the loops that the
  trace parallelises, vectorises or tensorizes become constraints:
  parallel extent, vector lanes, intrinsic shape (the wmma fragment of every
  load, multiply and store), accumulator registers; on a CUDA target also
  threads per block, shared memory per block and vector widths
  (:mod:`tvm_heron.space.gpu`).

The trace is replayed once on the workload with a decision provider, which
TVM calls before each instruction: the interpreter reads the concrete state
there (loop extents, block positions) and reads each instruction's outputs
from the new schedule's trace on the next call.

Loops that a ``compute_at`` regenerates have extents that depend on other
decisions in ways a monomial cannot always express; the analysis marks them
*dependent* and lists, in the model's notes, each limit that it therefore
leaves to the postprocessors and the builder.
"""

from __future__ import annotations

import itertools
import logging

import attrs
from tvm.ir import IRModule
from tvm.s_tir import Schedule, TensorIntrin
from tvm.s_tir.schedule import LoopRV, SBlockRV, Trace
from tvm.target import Target
from tvm.tirx import IntImm

from .. import tir_utils
from ..annotations import AUTO_TENSORIZE, COOPERATIVE_FETCH, THREAD_EXTENT_BOUNDS, WARP_EXECUTION
from ..constraints import (
    Choice,
    ConstraintModel,
    CpSatSolver,
    Divides,
    Monomial,
    ProductAtLeast,
    ProductAtMost,
    ProductEquals,
    ProductIn,
    TileFactor,
    Variable,
)
from ..errors import HeronError, InfeasibleSpaceError, UnanalyzableSpaceError
from ..target import CpuLimits, GpuLimits, cpu_limits, gpu_limits
from . import gpu

logger = logging.getLogger(__name__)

_MOVES_BLOCK = {"ComputeAt", "ReverseComputeAt"}


@attrs.frozen
class SamplingSite:
    """A sampling instruction of the trace and the variables that decide it.

    ``keys`` is empty for a decision the model keeps fixed (``decision``).
    """

    inst: int
    kind: str
    keys: tuple = ()
    decision: object = None
    candidates: tuple = ()


def _divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


def _const(value) -> Monomial:
    return Monomial(coef=int(value))


def _mul(terms) -> Monomial | None:
    coef, keys = 1, []
    for term in terms:
        if term is None:
            return None
        coef *= term.coef
        keys.extend(term.keys)
    return Monomial(coef=coef, keys=tuple(keys))


class _Interpreter:
    """Symbolic interpretation of one trace; see the module docstring."""

    def __init__(self, sch: Schedule, limits: CpuLimits | None, gpu_limits_: GpuLimits | None = None):
        self.sch = sch
        self.limits = limits
        self.gpu_limits = gpu_limits_
        self.gpu = gpu.GpuRecord()
        self.pieces: dict = {}  # loop sref -> ((origin, Monomial), ...) or None; see gpu.py
        self._origins = itertools.count()
        self.choice_of: dict = {}  # ExprRV of a SampleCategorical -> (Choice, candidates)
        self.extent: dict = {}  # loop sref -> Monomial, or None when dependent
        self.exprs: dict = {}  # ExprRV -> Monomial (tile factors)
        self.moved: set = set()  # block srefs moved by compute-at
        self.variables: list[Variable] = []
        self.constraints: list = []
        self.lower_bounds: list[_LowerBound] = []  # settled against the whole model
        self.notes: list[str] = []
        self.sites: list[SamplingSite] = []
        self.tensorized: list = []  # (block sref, intrin name)
        self.split_extent: dict[int, int] = {}  # SamplePerfectTile inst -> extent
        self._count = 0
        self._pending = None

    # -- the decision provider ---------------------------------------------------------
    def __call__(self, inst, inputs, attrs_, decision):
        self._finish_pending()
        index, kind = self._count, inst.kind.name
        self._count += 1
        handler = getattr(self, f"_pre_{kind}", None)
        state = handler(index, inputs, attrs_, decision) if handler else None
        if decision is not None and kind not in ("SamplePerfectTile", "SampleCategorical"):
            self.sites.append(SamplingSite(index, kind, (), decision))
            self.notes.append(f"{kind} #{index}: decision kept fixed at {decision}")
        self._pending = (index, kind, inputs, state)
        return decision

    def finish(self) -> None:
        """Process the last instruction (the provider is not called after it)."""
        self._finish_pending()

    def _finish_pending(self) -> None:
        if self._pending is None:
            return
        index, kind, inputs, state = self._pending
        self._pending = None
        outputs = list(self.sch.trace.insts[index].outputs)
        handler = getattr(self, f"_post_{kind}", None)
        if handler:
            handler(index, inputs, outputs, state)

    # -- helpers -----------------------------------------------------------------------
    def _sref(self, rv):
        return self.sch.get_sref(rv)

    def _loop_extent(self, loop: LoopRV) -> Monomial | None:
        sref = self._sref(loop)
        if sref not in self.extent:
            self.extent[sref] = _const(sref.stmt.extent)  # an original (constant) loop
            self.pieces[sref] = ((next(self._origins), self.extent[sref]),)
        return self.extent[sref]

    def _loop_name(self, loop: LoopRV) -> str:
        return str(self._sref(loop).stmt.loop_var.name)

    # -- sampling ----------------------------------------------------------------------
    def _pre_SamplePerfectTile(self, index, inputs, attrs_, decision):  # noqa: N802
        loop = inputs[0]
        extent, name = self._loop_extent(loop), self._loop_name(loop)
        n, max_innermost = int(attrs_[0]), int(attrs_[1])
        if extent is None or not extent.is_constant:
            self.sites.append(SamplingSite(index, "SamplePerfectTile", (), decision))
            self.notes.append(
                f"tile #{index} of loop {name}: extent depends on other decisions; "
                f"kept fixed at {list(decision)}"
            )
            return None
        keys = tuple(TileFactor(index, level, loop=name) for level in range(n))
        self.split_extent[index] = extent.coef
        for key in keys:
            self.variables.append(Variable(key=key, domain=_divisors(extent.coef)))
        self.constraints.append(
            ProductEquals(
                term=Monomial(keys=keys),
                value=extent.coef,
                reason=f"split of loop {name}: the factors multiply to its extent {extent.coef}",
            )
        )
        if max_innermost > 0:
            self.constraints.append(
                ProductAtMost(
                    term=Monomial(keys=keys[-1:]),
                    limit=max_innermost,
                    reason=f"tile of loop {name}: max_innermost_factor {max_innermost}",
                )
            )
        self.sites.append(SamplingSite(index, "SamplePerfectTile", keys, decision))
        return keys

    def _post_SamplePerfectTile(self, index, inputs, outputs, keys):  # noqa: N802
        if keys is not None:
            for out, key in zip(outputs, keys):
                self.exprs[out] = Monomial(keys=(key,))

    def _pre_SampleCategorical(self, index, inputs, attrs_, decision):  # noqa: N802
        candidates = tuple(int(c) if isinstance(c, IntImm) else c for c in attrs_[0])
        probs = [float(p) for p in attrs_[1]]
        domain = tuple(i for i, p in enumerate(probs) if p > 0) or (int(decision),)
        key = Choice(index, name=f"categorical {list(candidates)}")
        self.variables.append(Variable(key=key, domain=domain, candidates=candidates))
        self.sites.append(SamplingSite(index, "SampleCategorical", (key,), decision, candidates))
        return key, candidates

    def _post_SampleCategorical(self, index, inputs, outputs, state):  # noqa: N802
        self.choice_of[outputs[0]] = state

    # -- loop transformations ----------------------------------------------------------
    def _pre_Split(self, index, inputs, attrs_, decision):  # noqa: N802
        loop, factors = inputs[0], inputs[1:]
        extent, name = self._loop_extent(loop), self._loop_name(loop)
        terms = []
        for factor in factors:
            if factor is None:
                terms.append(None)
            elif isinstance(factor, IntImm):
                terms.append(_const(factor.value))
            else:
                terms.append(self.exprs.get(factor))
        known = [t for t in terms if t is not None]
        if terms.count(None) == 1 and all(t.is_constant for t in known) and extent is not None:
            divisor = _mul(known).coef
            if extent.coef % divisor == 0:
                terms[terms.index(None)] = Monomial(coef=extent.coef // divisor, keys=extent.keys)
            if not extent.is_constant:
                self.constraints.append(
                    Divides(
                        divisor=_const(divisor),
                        dividend=extent,
                        reason=f"split of loop {name} by {divisor}: it must divide the extent",
                    )
                )
        elif extent is None and any(t is not None and not t.is_constant for t in terms):
            self.notes.append(f"split #{index} of loop {name}: extent depends on other decisions")
        return terms, self.pieces.get(self._sref(loop))

    def _post_Split(self, index, inputs, outputs, state):  # noqa: N802
        terms, source = state
        single = source is not None and len(source) == 1
        for out, term in zip(outputs, terms):
            self.extent[self._sref(out)] = term
            self.pieces[self._sref(out)] = (
                ((source[0][0], term),) if single and term is not None else None
            )

    def _pre_Fuse(self, index, inputs, attrs_, decision):  # noqa: N802
        term = _mul(self._loop_extent(loop) for loop in inputs)
        parts = [self.pieces.get(self._sref(loop)) for loop in inputs]
        return term, None if any(p is None for p in parts) else tuple(itertools.chain(*parts))

    def _post_Fuse(self, index, inputs, outputs, state):  # noqa: N802
        term, parts = state
        self.extent[self._sref(outputs[0])] = term
        self.pieces[self._sref(outputs[0])] = parts if term is not None else None

    def _pre_GetLoops(self, index, inputs, attrs_, decision):  # noqa: N802
        return self._sref(inputs[0]) in self.moved

    def _post_GetLoops(self, index, inputs, outputs, moved):  # noqa: N802
        for loop in outputs:
            sref = self._sref(loop)
            if sref not in self.extent:
                self.extent[sref] = None if moved else _const(sref.stmt.extent)
                self.pieces[sref] = (
                    None if moved else ((next(self._origins), self.extent[sref]),)
                )

    def _post_ComputeAt(self, index, inputs, outputs, state):  # noqa: N802
        self.moved.add(self._sref(inputs[0]))

    _post_ReverseComputeAt = _post_ComputeAt

    # -- target limits -----------------------------------------------------------------
    def _limited_loop(self, loop: LoopRV, what: str):
        """(extent, name) of a loop a target limit applies to; None when it cannot be modelled."""
        extent, name = self._loop_extent(loop), self._loop_name(loop)
        if self.limits is None:
            return None
        if extent is None:
            self.notes.append(f"{what} loop {name}: extent depends on other decisions")
            return None
        return extent, name

    def _pre_Parallel(self, index, inputs, attrs_, decision):  # noqa: N802
        limited = self._limited_loop(inputs[0], "parallel")
        if limited is None:
            return
        extent, name = limited
        # Every core should get work; a loop that cannot reach num_cores
        # iterations must take the most it can.
        need = min(self.limits.min_parallel_extent, self._upper_bound(extent))
        self.constraints.append(
            ProductAtLeast(
                term=extent,
                limit=need,
                reason=f"target: parallel loop {name} has at least {need} iterations "
                f"(num-cores {self.limits.num_cores}, or all it can have)",
            )
        )

    def _upper_bound(self, term: Monomial) -> int:
        """The largest value ``term`` can take: each split's factors multiply to its extent."""
        bound = term.coef
        for inst in {key.inst for key in term.keys}:
            bound *= self.split_extent[inst]
        return bound

    def _pre_Vectorize(self, index, inputs, attrs_, decision):  # noqa: N802
        limited = self._limited_loop(inputs[0], "vectorized")
        if limited is None:
            return
        extent, name = limited
        self.constraints.append(
            ProductIn(
                term=extent,
                allowed=self.limits.vector_lanes,
                reason=f"target: vectorized loop {name} has a legal lane count",
            )
        )

    def _pre_Annotate(self, index, inputs, attrs_, decision):  # noqa: N802
        key = str(attrs_[0])
        if key == AUTO_TENSORIZE and isinstance(inputs[0], SBlockRV):
            self.tensorized.append((self._sref(inputs[0]), str(inputs[1])))
        elif key == WARP_EXECUTION:
            self.gpu.warp_execution = True
        elif key in THREAD_EXTENT_BOUNDS and isinstance(inputs[1], IntImm):
            self.gpu.thread_bounds[key] = int(inputs[1])
        elif key == COOPERATIVE_FETCH and inputs[1] in self.choice_of:
            choice, candidates = self.choice_of[inputs[1]]
            self.gpu.fetches.append((inputs[0], choice, candidates))

    # -- GPU records (turned into constraints by gpu.constraints) ------------------------
    def _pre_Bind(self, index, inputs, attrs_, decision):  # noqa: N802
        self.gpu.binds.append((str(attrs_[0]), self._loop_extent(inputs[0])))

    def _pre_CacheRead(self, index, inputs, attrs_, decision):  # noqa: N802
        return str(attrs_[-1])

    def _post_CacheRead(self, index, inputs, outputs, scope):  # noqa: N802
        self.gpu.caches.append((outputs[0], scope))

    _pre_CacheWrite = _pre_CacheRead
    _post_CacheWrite = _post_CacheRead

    def _pre_StorageAlign(self, index, inputs, attrs_, decision):  # noqa: N802
        self.gpu.aligns.append((inputs[0], int(attrs_[0]), int(attrs_[2]), int(attrs_[3])))

    def gpu_constraints(self) -> None:
        """Threads, shared memory and vector widths against a CUDA target's limits."""
        if self.gpu_limits is None:
            return
        constraints, notes = gpu.constraints(self.gpu, self.sch, self.pieces, self.gpu_limits)
        self.constraints.extend(constraints)
        self.notes.extend(notes)

    # -- after the replay ----------------------------------------------------------------
    def tensorize_constraints(self) -> None:
        """Intrinsic shape and accumulator registers of every tensorized block."""
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
            if self.limits is not None:
                self._accumulators(block_sref, intrin)

    def _accumulators(self, block_sref, intrin: str) -> None:
        loops = tir_utils.enclosing_loops(block_sref)
        reduce = [i for i, s in enumerate(loops) if tir_utils.is_reduction_loop(block_sref, s.stmt)]
        if not reduce:
            return
        inner = [self.extent.get(s, _const(s.stmt.extent)) for s in loops[reduce[-1] + 1 :]]
        tile = _mul(inner)
        name = block_sref.stmt.name_hint
        if tile is None:
            self.notes.append(f"register tile of {name}: extent depends on other decisions")
            return
        most, need = self.limits.accumulators(intrin)
        self.constraints.append(
            ProductAtMost(
                term=tile,
                limit=most,
                reason=f"target: the register tile of {name} (spatial loops inside its innermost "
                f"reduction loop) holds at most {most} {intrin} accumulators",
            )
        )
        # Fewer independent accumulators than the multiply-accumulate's latency
        # x issue ports leave its unit waiting; a tile that cannot have that many
        # takes the most it can: the bound is settled against the whole model
        # (see _settle_lower_bounds), as other limits (a parallel loop over the
        # same extent) may leave less.
        if need > 1:
            self.lower_bounds.append(
                _LowerBound(
                    term=tile, limit=need,
                    reason=f"target: the register tile of {name} keeps at least {{limit}} "
                    f"independent {intrin} accumulators (latency hiding: {need}, or the most "
                    "that fits)",
                )
            )


@attrs.frozen
class _LowerBound:
    """A wish ``term >= limit``, lowered until the model stays feasible.

    ``reason`` is a format string with a ``{limit}`` field.
    """

    term: Monomial
    limit: int
    reason: str


def _settle_lower_bounds(
    model: ConstraintModel, bounds: list[_LowerBound]
) -> tuple[ConstraintModel, CpSatSolver | None]:
    """``model`` plus each bound at the largest limit (<= its own, > 1) that keeps a solution.

    A bound that no limit above 1 satisfies, or a model without a solution,
    adds nothing. Returns the model and the solver of its last feasibility
    check (None when no bound was added), to be reused.
    """
    solver = None
    for bound in bounds:
        for limit in range(bound.limit, 1, -1):
            candidate = ConstraintModel(
                variables=model.variables,
                constraints=[*model.constraints, ProductAtLeast(
                    term=bound.term, limit=limit, reason=bound.reason.format(limit=limit)
                )],
                notes=model.notes,
            )
            candidate_solver = CpSatSolver(candidate)
            if candidate_solver.solve(seed=1) is not None:
                model, solver = candidate, candidate_solver
                break
    return model, solver


def interpret(trace: Trace, mod: IRModule, target: Target | None):
    """Interpret ``trace`` on ``mod``; returns the finished interpreter."""
    kind = target.kind.name if target is not None else None
    limits = cpu_limits(target) if kind == "llvm" else None
    gpu_ = gpu_limits(target) if kind == "cuda" else None
    sch = Schedule(mod, debug_mask=0)
    interp = _Interpreter(sch, limits, gpu_)
    trace.apply_to_schedule(sch, remove_postproc=True, decision_provider=interp)
    interp.finish()
    interp.tensorize_constraints()
    interp.gpu_constraints()
    return interp


@attrs.define
class SpaceModel:
    """A design space and its constraint model.

    Attributes
    ----------
    trace : Trace
        The design space's trace (with its own decisions).
    model : ConstraintModel
        Variables and constraints derived from the trace.
    sites : tuple of SamplingSite
        Sampling instructions, in trace order.
    solver : CpSatSolver
        The solver of ``model``.
    """

    trace: Trace
    model: ConstraintModel
    sites: tuple
    solver: CpSatSolver

    def decisions(self, point) -> dict[int, object]:
        """Map a point to the decision of every sampling instruction (by index)."""
        out = {}
        for site in self.sites:
            if not site.keys:
                out[site.inst] = site.decision
            elif site.kind == "SamplePerfectTile":
                out[site.inst] = [int(point[k]) for k in site.keys]
            else:
                out[site.inst] = int(point[site.keys[0]])
        return out

    def point_of(self, trace: Trace):
        """Read a point back from a trace of this space (None if it does not fit)."""
        insts = list(trace.insts)
        point = {}
        for site in self.sites:
            if not site.keys:
                continue
            if site.inst >= len(insts) or insts[site.inst].kind.name != site.kind:
                return None
            decision = trace.get_decision(insts[site.inst])
            if site.kind == "SamplePerfectTile":
                point.update({k: int(v) for k, v in zip(site.keys, decision)})
            else:
                point[site.keys[0]] = int(decision)
        return point

    def point_of_json(self, trace_json) -> dict | None:
        """:meth:`point_of` for a trace as JSON (``[instructions, [[index, decision], ...]]``).

        A stored record's decisions are read without replaying its trace.
        """
        try:
            insts, decisions = trace_json
            decided = {int(index): decision for index, decision in decisions}
        except (TypeError, ValueError):
            return None
        point = {}
        for site in self.sites:
            if not site.keys:
                continue
            if site.inst >= len(insts) or insts[site.inst][0] != site.kind or site.inst not in decided:
                return None
            decision = decided[site.inst]
            if site.kind == "SamplePerfectTile":
                point.update({k: int(v) for k, v in zip(site.keys, decision)})
            else:
                point[site.keys[0]] = int(decision)
        return point


def analyze(design_space: Schedule | Trace, mod: IRModule, target: Target | None) -> SpaceModel:
    """Build the :class:`SpaceModel` of a design space.

    Parameters
    ----------
    design_space : Schedule or Trace
        A design space, e.g. one of ``PostOrderApply.generate_design_space``.
    mod : IRModule
        The workload the trace applies to.
    target : Target, optional
        Its limits (llvm: parallel extent, vector lanes, registers; cuda:
        threads per block and per dimension, shared memory per block, vector
        widths of cooperative fetches, see :mod:`tvm_heron.space.gpu`) become
        constraints; None derives only the structural constraints.

    Raises
    ------
    InfeasibleSpaceError
        When a static check fails or the model has no solution.
    UnanalyzableSpaceError
        When replaying the trace fails in TVM (the space is not one the
        interpreter can follow).
    """
    trace = design_space.trace if isinstance(design_space, Schedule) else design_space
    try:
        interp = interpret(trace, mod, target)
    except HeronError:
        raise
    except Exception as err:  # pylint: disable=broad-except  # TVM raises many kinds
        # e.g. an instruction on a block that an earlier one inlined (MetaSchedule's
        # random compute locations): this trace is not one the interpreter follows.
        lines = str(err).strip().splitlines()
        raise UnanalyzableSpaceError(
            f"cannot interpret the trace: {type(err).__name__}: {lines[-1] if lines else ''}"
        ) from err
    model, solver = _settle_lower_bounds(
        ConstraintModel(variables=interp.variables, constraints=interp.constraints, notes=interp.notes),
        interp.lower_bounds,
    )
    space = SpaceModel(trace=trace, model=model, sites=tuple(interp.sites),
                       solver=solver or CpSatSolver(model))
    own = space.point_of(trace)
    if own is not None and not model.is_feasible(own):
        logger.debug("design space's own decisions violate:\n%s", model.explain(own))
    return space
