"""Heron's TensorCore space-generation rule: wmma fragments, shared-memory staging, GPU tiling.

For a reduction block whose two inputs and output have a wmma form (fp16 x
fp16 -> fp16 or fp32, int8 x int8 -> int32), the rule builds HERON.md
section 1's TensorCore structure, every free choice a sampling instruction:

1. inline the injective producers of the inputs (padding, zero insertion of a
   transposed convolution, a layout change) so that they run while the
   inputs are staged into shared memory;
2. normalise the block into a GEMM ``C[(b,) m, n] += A[(b,) m, k] * B[(b,) n, k]``
   (:mod:`tvm_heron.rules.gemm_form`): every operator (batched matmul,
   GEMV, scan, 1-3 d, dilated and transposed convolution) becomes one;
   extents are zero-padded to the fragment shape (``pad_einsum``);
3. tile ``m, n, k`` by the wmma fragment ``(wm, wn, wk)`` and blockize the
   fragment (the postprocessor ``RewriteTensorize`` turns it into
   ``wmma::mma_sync``); the fragment shape is fixed per design space, one
   space per shape of ``shapes`` (16x16x16, 32x8x16, 8x32x16): the shape
   decides the loop structure, which a decision of one trace cannot change
   (a workload with several reductions: the first shape only, see
   ``_initialize_with_tune_context``);
4. multi-level tiling ``S S R R S R S``: the fragment-tiled spatial loops in 4
   levels (thread block, warp, two fragment levels), the reduction in 3
   (``SamplePerfectTile``); block tiles are bound to ``blockIdx.x``, warp tiles
   to ``threadIdx.y`` (the 32 lanes of a warp are ``threadIdx.x``, bound by
   the cooperative fetches);
5. accumulators in ``wmma.accumulator`` fragments (filled with zero, stored
   per warp into a shared tile and copied out cooperatively, the output
   reshaping, cropping and epilogue fused into that copy; with several
   reductions they stay stages of their own, bound by ``RewriteUnboundBlock``);
6. each input staged global -> shared (at the outer reduction level, rows
   padded by ``storage_align`` against bank conflicts, a cooperative fetch
   whose vector width is a ``SampleCategorical``) -> wmma fragments (at the
   middle reduction level);
7. the unroll depth is a ``SampleCategorical`` over ``unroll_max_steps``.

Constraints are not written here: :mod:`tvm_heron.space` derives them from
the trace this rule leaves (thread counts, shared memory, vector widths).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tvm.ir.utils import derived_object
from tvm.s_tir import Schedule
from tvm.s_tir.meta_schedule.schedule_rule import PyScheduleRule
from tvm.s_tir.schedule import SBlockRV

from ..annotations import (  # noqa: F401  (re-exported for the TensorCore modules)
    AUTO_TENSORIZE,
    AUTO_TENSORIZE_INIT,
    COOPERATIVE_FETCH,
    TENSORCORE_SCHEDULED,
    UNROLL_EXPLICIT,
    WARP_EXECUTION,
)
from ..intrinsics import wmma
from . import gemm_form
from ._util import inline_consumers, multiply_accumulate_blocks

logger = logging.getLogger(__name__)

SCHEDULED = TENSORCORE_SCHEDULED

#: Bytes of one vectorised shared-memory access at most (``uint4``, 16 bytes).
MAX_VECTOR_BYTES = 16


@derived_object
class TensorCoreRule(PyScheduleRule):
    """Tensorize a GEMM-like reduction with wmma, in Heron's TensorCore structure.

    Parameters
    ----------
    shapes : sequence of (int, int, int)
        wmma fragment shapes ``(m, n, k)``; one design space each.
    spatial_levels : int
        Tile levels of the fragment-tiled ``m`` and ``n`` loops (>= 3: thread
        block, warp, then fragment levels).
    reduction_levels : int
        Tile levels of the fragment-tiled ``k`` loop (3: shared-memory stage,
        fragment stage, innermost).
    vector_widths : sequence of int
        Candidates of the cooperative fetches' vector width (elements).
    unroll_max_steps : sequence of int
        Candidates of ``pragma_auto_unroll_max_step``.
    max_innermost_factor : int
        ``max_innermost_factor`` of every ``SamplePerfectTile`` (in fragments).
    allow_padding : bool
        Zero-pad extents that are not multiples of the fragment; without it,
        such a block is left to the other rules.
    """

    def __init__(
        self,
        *,
        shapes: Sequence[tuple[int, int, int]] = wmma.SHAPES,
        spatial_levels: int = 4,
        reduction_levels: int = 3,
        vector_widths: Sequence[int] = (1, 2, 4, 8),
        unroll_max_steps: Sequence[int] = (0, 16, 64, 512, 1024),
        max_innermost_factor: int = 4,
        allow_padding: bool = True,
    ) -> None:
        super().__init__()
        for shape in shapes:
            wmma.names(tuple(shape), "float16", "float16")  # validates the shape
        if not shapes:
            raise ValueError("shapes must name at least one wmma shape")
        if spatial_levels < 3:
            raise ValueError(f"spatial_levels must be >= 3, got {spatial_levels}")
        if reduction_levels != 3:
            raise ValueError(f"reduction_levels must be 3, got {reduction_levels}")
        if not vector_widths or min(vector_widths) < 1:
            raise ValueError(f"vector_widths must be positive: {tuple(vector_widths)}")
        if not unroll_max_steps or min(unroll_max_steps) < 0:
            raise ValueError(f"unroll_max_steps must be non-negative: {tuple(unroll_max_steps)}")
        if max_innermost_factor < 1:
            raise ValueError(f"max_innermost_factor must be >= 1, got {max_innermost_factor}")
        self.shapes = tuple(tuple(s) for s in shapes)
        self.spatial_levels = spatial_levels
        self.reduction_levels = reduction_levels
        self.vector_widths = tuple(vector_widths)
        self.unroll_max_steps = tuple(unroll_max_steps)
        self.max_innermost_factor = max_innermost_factor
        self.allow_padding = allow_padding
        self.several_reductions = False

    def _initialize_with_tune_context(self, context) -> None:  # noqa: D401
        """Count the workload's multiply-accumulate blocks.

        The target's limits become constraints of the space. With several
        such blocks (the output phases of a strided transposed convolution):

        * MetaSchedule's design spaces are the product of every block's
          alternatives, and one space per fragment shape would make ``3 ** n``
          spaces: each block gets the first shape only;
        * a block's output feeds a stage that reads the others too, so its
          copy out of shared memory stays a copy of the padded GEMM tile: the
          crop inlined into it would be predicated, and the scope would lose
          the region cover that the next block's ``reindex`` needs.
        """
        self.several_reductions = multiply_accumulate_blocks(context.mod) > 1

    def clone(self) -> "TensorCoreRule":
        rule = TensorCoreRule(
            shapes=self.shapes,
            spatial_levels=self.spatial_levels,
            reduction_levels=self.reduction_levels,
            vector_widths=self.vector_widths,
            unroll_max_steps=self.unroll_max_steps,
            max_innermost_factor=self.max_innermost_factor,
            allow_padding=self.allow_padding,
        )
        rule.several_reductions = self.several_reductions
        return rule

    def is_applicable(self, sch: Schedule, block: SBlockRV) -> bool:
        """Whether ``block`` is a GEMM-like reduction with a wmma data-type pair."""
        form = gemm_form.analyze(sch, block)
        if form is None:
            return False
        return self.allow_padding or all(
            gemm_form.fits(form, shape) for shape in self.shapes
        )

    def apply(self, sch: Schedule, block: SBlockRV) -> list[Schedule]:
        form = gemm_form.analyze(sch, block)
        if form is None:
            return [sch]
        spaces = []
        for shape in self.shapes:
            if not self.allow_padding and not gemm_form.fits(form, shape):
                continue
            branch = sch.copy()
            branch_block = branch.get_sblock(sch.get(block).name_hint)
            self._schedule(branch, branch_block, form, shape)
            spaces.append(branch)
            if self.several_reductions:
                break
        return spaces or [sch]

    # -- the structure -------------------------------------------------------------------
    def _schedule(self, sch: Schedule, block: SBlockRV, form, shape) -> None:
        intrins = wmma.register(shape, form.in_dtype, form.acc_dtype)
        norm = gemm_form.normalize(sch, block, form, shape, pad=self.allow_padding)
        wm, wn, wk = shape
        *batch, m, n, k = sch.get_loops(norm.block)
        m_o, m_i = sch.split(m, [None, wm])
        n_o, n_i = sch.split(n, [None, wn])
        k_o, k_i = sch.split(k, [None, wk])
        sch.reorder(m_o, n_o, k_o, m_i, n_i, k_i)
        tensor = sch.blockize(m_i)
        sch.annotate(tensor, AUTO_TENSORIZE, intrins.sync)
        sch.annotate(tensor, AUTO_TENSORIZE_INIT, intrins.fill)
        sch.annotate(tensor, SCHEDULED, 1)
        # Tells RewriteCooperativeFetch that a warp's 32 lanes are threadIdx.x.
        sch.annotate(tensor, WARP_EXECUTION, 1)

        ms_ = self._tile(sch, m_o)
        ns_ = self._tile(sch, n_o)
        ks = sch.split(
            k_o,
            sch.sample_perfect_tile(k_o, n=self.reduction_levels,
                                    max_innermost_factor=self.max_innermost_factor),
        )
        # S S R R S R S, the first two spatial levels bound, the rest serial.
        order = [*batch, ms_[0], ns_[0], ms_[1], ns_[1], ks[0], ks[1]]
        for level in range(2, self.spatial_levels - 1):
            order += [ms_[level], ns_[level]]
        order += [ks[2], ms_[-1], ns_[-1]]
        sch.reorder(*order)
        block_loop = sch.fuse(*batch, ms_[0], ns_[0])
        sch.bind(block_loop, "blockIdx.x")
        warp_loop = sch.fuse(ms_[1], ns_[1])
        sch.bind(warp_loop, "threadIdx.y")

        # Inputs first: once the output's crop is inlined, its copy carries a
        # predicate, and compute-at refuses a scope whose regions it cannot cover.
        for operand, (scope, load) in enumerate(
            (("wmma.matrix_a", intrins.load_a), ("wmma.matrix_b", intrins.load_b))
        ):
            self._stage_input(sch, tensor, norm, operand, scope, load, ks)
        self._stage_output(sch, tensor, norm, intrins, block_loop, warp_loop)
        step = sch.sample_categorical(
            candidates=list(self.unroll_max_steps),
            probs=[1.0 / len(self.unroll_max_steps)] * len(self.unroll_max_steps),
        )
        sch.annotate(sch.get_sblock("root"), UNROLL_EXPLICIT, step)

    def _tile(self, sch: Schedule, loop) -> list:
        factors = sch.sample_perfect_tile(
            loop, n=self.spatial_levels, max_innermost_factor=self.max_innermost_factor
        )
        return sch.split(loop, factors)

    def _stage_output(self, sch, tensor, norm, intrins, block_loop, warp_loop) -> None:
        """Accumulator fragments -> (per warp, wmma store) shared tile -> (cooperative) output."""
        wm, wn, _ = intrins.shape
        acc_store = sch.cache_write(tensor, 0, "wmma.accumulator")
        copy_out = sch.cache_write(acc_store, 0, norm.output_scope)
        sch.reverse_compute_at(acc_store, warp_loop, preserve_unit_loops=True)
        sch.reverse_compute_at(copy_out, block_loop, preserve_unit_loops=True)
        # The copy out of shared memory writes the operator's output directly:
        # the reshape back from the GEMM form, the crop of the padding and the
        # element-wise epilogue all happen in it (one reduction only, see
        # _initialize_with_tune_context).
        if not self.several_reductions:
            inline_consumers(sch, copy_out)
        inner = sch.get_loops(copy_out)[1:]
        if len(inner) > 1:
            sch.fuse(*inner)
        self._cooperative(sch, copy_out, norm.acc_bytes)
        loops = sch.get_loops(acc_store)
        *_, rows, cols = loops
        r_o, r_i = sch.split(rows, [None, wm])
        c_o, c_i = sch.split(cols, [None, wn])
        sch.reorder(r_o, c_o, r_i, c_i)
        store = sch.blockize(r_i)
        sch.annotate(
            store,
            AUTO_TENSORIZE,
            intrins.store_shared if norm.output_scope == "shared" else intrins.store_shared_dyn,
        )
        sch.storage_align(acc_store, 0, axis=-2, factor=32,
                          offset=MAX_VECTOR_BYTES // norm.acc_bytes)

    def _stage_input(self, sch, tensor, norm, operand, scope, load, ks) -> None:
        """Input ``operand`` (0: A, 1: B): global -> shared (at ``ks[0]``) -> fragments (at ``ks[1]``)."""
        name = norm.inputs[operand]
        shared = sch.cache_read(tensor, gemm_form.read_index(sch, tensor, name), "shared")
        sch.compute_at(shared, ks[0], preserve_unit_loops=True)
        frag = sch.cache_read(tensor, gemm_form.read_index(sch, tensor, name + "_shared"), scope)
        sch.compute_at(frag, ks[1], preserve_unit_loops=True)
        # The reindex (im2col) view, the zero padding and the operator's own
        # injective stages are computed while staging, never stored.
        gemm_form.inline_producers(sch, shared)
        rows, cols = sch.get_loops(shared)[-2:]
        sch.fuse(rows, cols)
        self._cooperative(sch, shared, norm.in_bytes)
        sch.storage_align(shared, 0, axis=-2, factor=32, offset=MAX_VECTOR_BYTES // norm.in_bytes)
        wm, wn, wk = norm.shape
        frag_rows = wm if operand == 0 else wn
        rows, cols = sch.get_loops(frag)[-2:]
        r_o, r_i = sch.split(rows, [None, frag_rows])
        c_o, c_i = sch.split(cols, [None, wk])
        sch.reorder(r_o, c_o, r_i, c_i)
        sch.annotate(sch.blockize(r_i), AUTO_TENSORIZE, load)

    def _cooperative(self, sch, block, element_bytes: int) -> None:
        """Mark ``block`` (its fused copy loop last) for a cooperative, vectorised copy."""
        widths = [w for w in self.vector_widths if w * element_bytes <= MAX_VECTOR_BYTES]
        width = sch.sample_categorical(candidates=widths, probs=[1.0 / len(widths)] * len(widths))
        sch.annotate(block, COOPERATIVE_FETCH, width)


def check_tensorizable(func, *, shapes=wmma.SHAPES, allow_padding: bool = True) -> None:
    """Raise a :mod:`tvm_heron.errors` error naming why ``func`` has no wmma form.

    Passes when a block of ``func`` is a GEMM-like reduction whose data types
    have a wmma form and whose ``m, n, k`` are multiples of one of
    ``shapes`` (or may be padded to one).

    Raises
    ------
    UnsupportedDtypeError
        A reduction has a data-type pair without a wmma form (e.g. float64).
    InvalidShapeError
        Padding is disabled and no fragment shape divides the GEMM's extents.
    UnsupportedOperatorError
        No block is a GEMM-like reduction.
    """
    from ..errors import (  # pylint: disable=import-outside-toplevel
        InvalidShapeError,
        UnsupportedDtypeError,
        UnsupportedOperatorError,
    )

    sch = Schedule(func)
    forms, pairs = [], []
    for block in _all_blocks(sch):
        sblock = sch.get(block)
        if sblock.init is None:
            continue
        pairs.append(
            (sblock.name_hint, sorted({str(r.source.dtype) for r in sblock.reads}),
             str(sblock.writes[0].source.dtype))
        )
        form = gemm_form.analyze(sch, block)
        if form is not None:
            forms.append((sblock.name_hint, form))
    if not forms:
        if pairs:
            name, ins, out = pairs[0]
            raise UnsupportedDtypeError(
                f"block {name} ({' x '.join(ins)} -> {out}) has no wmma form; TensorCore "
                f"takes {', '.join(f'{a} -> {c}' for a, c in wmma.DTYPES)}"
            )
        raise UnsupportedOperatorError("no GEMM-like reduction to tensorize with wmma")
    if allow_padding:
        return
    for name, form in forms:
        if any(gemm_form.fits(form, shape) for shape in shapes):
            return
    name, form = forms[0]
    extents = ", ".join(f"{c.upper()}={form.extent(c)}" for c in ("m", "n", "k"))
    raise InvalidShapeError(
        f"block {name}: GEMM extents {extents} are not multiples of any wmma fragment "
        f"({', '.join('x'.join(map(str, s)) for s in shapes)}) and padding is disabled"
    )


def _all_blocks(sch: Schedule) -> list:
    out, stack = [], list(sch.get_child_blocks(sch.get_sblock("root")))
    while stack:
        block = stack.pop()
        out.append(block)
        stack.extend(sch.get_child_blocks(block))
    return out
