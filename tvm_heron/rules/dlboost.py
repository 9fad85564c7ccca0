"""Heron's DL Boost space-generation rule: a tensorized, multi-level tiled reduction.

For a block whose innermost computation matches one of the CPU intrinsics
of the target's instruction set (:mod:`tvm_heron.isa`: the int8 dot product
and the fp32 multiply-add of AVX-512 VNNI, AVX-VNNI, AVX2 or NEON), the rule
builds HERON.md section 1's DL Boost structure, every free choice being a
sampling instruction of the trace. Where the set offers several intrinsics
for a block (AVX2's exact int8 form and, for declared 7-bit activations, its
``vpmaddubsw`` form), each gets design spaces of its own: the choice is the
tuner's. The rule never offers an intrinsic the target lacks (building one
would abort the process inside LLVM).

1. pack the weight into the shared packed layout (16-lane tiles,
   :func:`tvm_heron.isa.pack_tile`; a narrower intrinsic reads part of a
   tile) when it is not already (a cache read with a layout transformation,
   see ``_pack_weight``);
2. tile the block so that its innermost loops match the intrinsic, and
   blockize them (the postprocessor ``RewriteTensorize`` tensorizes later);
3. cache the output in a local buffer (``cache_write``) and fuse the
   element-wise consumers (bias, requantize, ReLU, ...) into its write-back,
   so that epilogues cost no extra pass and do not touch the tensorized block;
4. multi-level tiling of the remaining loops, ``SSRSRS``: spatial loops in
   ``spatial_levels`` levels, reduction loops in ``reduction_levels`` levels
   (``SamplePerfectTile``);
5. one design space per *consumer location*: the write-back of the output
   cache is computed at the end of spatial tile level ``l`` for each ``l`` in
   ``write_back_levels`` (Heron's "choose where to compute the consumer"),
   and, when the block writes the kernel's output with no epilogue to fuse,
   one space without the cache, accumulating into the output itself
   (``direct_output``: a short reduction, a 1x1 convolution over 64
   channels, spends as much on copying a cache as on multiply-adds);
   for a small block (``serial_max_macs``) each also in a single-threaded
   variant;
6. the outermost spatial tiles are fused and parallelised, the write-back's
   innermost lanes (the intrinsic's) vectorised, and the unroll depth is a
   ``SampleCategorical`` over ``unroll_max_steps``.

Constraints are not written here: :mod:`tvm_heron.space` derives them from
the trace this rule leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tvm.ir.utils import derived_object
from tvm.s_tir import Schedule, TensorIntrin
from tvm.tirx import Var
from tvm.tirx.expr import IterVar
from tvm.s_tir.meta_schedule.schedule_rule import PyScheduleRule
from tvm.s_tir.schedule import SBlockRV, ScheduleError
from tvm.s_tir.schedule.analysis import get_tensorize_loop_mapping
from tvm.s_tir.schedule.transform import tile_with_tensor_intrin

from .. import isa, tir_utils
from ..annotations import AUTO_TENSORIZE, INT8_RANGE, LAYOUT_REWRITE_PREPROC, UNROLL_EXPLICIT
from ..errors import UnsupportedTargetError
from ..intrinsics import register_cpu
from ..target import cpu_name, instruction_set
from ._util import (
    inline_consumers,
    is_multiply_accumulate,
    is_reduction_loop,
    multiply_accumulate_blocks,
    reorder_ssrsrs,
)

logger = logging.getLogger(__name__)


def declared_range(mod) -> isa.InputRange:
    """The int8 activation range a workload declares (:data:`~tvm_heron.annotations.INT8_RANGE`)."""
    names = [gv.name_hint for gv in mod.get_global_vars()] if mod is not None else []
    attrs = mod["main"].attrs if "main" in names else None
    return isa.InputRange(str(attrs.get(INT8_RANGE, "u8")) if attrs else "u8")


def target_intrinsics(target, input_range: isa.InputRange = isa.InputRange.U8) -> tuple[str, ...]:
    """Names of the intrinsics of ``target``'s instruction set, every dtype (empty without one)."""
    if target is None or target.kind.name != "llvm":
        return ()
    try:
        chosen = instruction_set(target)
    except UnsupportedTargetError:
        return ()
    return tuple(i.name for dtype in isa.DTYPES for i in chosen.intrinsics_for(dtype, input_range))


@derived_object
class DLBoostRule(PyScheduleRule):
    """Tensorize a VNNI-compatible reduction block with Heron's DL Boost structure.

    Parameters
    ----------
    intrins : sequence of str, optional
        Registered names of the candidate intrinsics; every one whose data
        types and loop structure match a block gets design spaces. By default
        those of the tuning context's target (:func:`target_intrinsics`: the
        7-bit int8 forms only where the workload declares 7-bit activations).
        A described intrinsic the target lacks is refused.
    spatial_levels : int
        Tile levels of each spatial loop (>= 2: the outermost is parallel, the
        innermost is the register tile).
    reduction_levels : int
        Tile levels of each reduction loop (>= 1).
    write_back_levels : sequence of int
        Spatial tile levels (1-based, < spatial_levels) after which the output
        cache is written back; one design space each.
    unroll_max_steps : sequence of int
        Candidates of ``pragma_auto_unroll_max_step`` (0 disables unrolling).
    max_innermost_factor : int
        ``max_innermost_factor`` of every ``SamplePerfectTile``.
    serial_max_macs : int
        A block of at most this many multiply-accumulates also gets design
        spaces whose outer loop runs on one thread: a kernel of a few
        microseconds (a GEMV) loses more to waking the thread pool than
        parallelism gains.
    direct_output : bool
        Also offer the space without an output cache where the block writes
        the kernel's output and has no consumer.
    """

    def __init__(
        self,
        *,
        intrins: Sequence[str] | None = None,
        spatial_levels: int = 4,
        reduction_levels: int = 2,
        write_back_levels: Sequence[int] = (1, 2),
        unroll_max_steps: Sequence[int] = (0, 16, 64, 512),
        max_innermost_factor: int = 64,
        serial_max_macs: int = 1 << 21,
        direct_output: bool = True,
    ) -> None:
        super().__init__()
        if spatial_levels < 2:
            raise ValueError(f"spatial_levels must be >= 2, got {spatial_levels}")
        if reduction_levels < 1:
            raise ValueError(f"reduction_levels must be >= 1, got {reduction_levels}")
        bad = [lv for lv in write_back_levels if not 1 <= lv < spatial_levels]
        if not write_back_levels or bad:
            raise ValueError(
                f"write_back_levels must be non-empty, each in [1, {spatial_levels - 1}]: "
                f"got {tuple(write_back_levels)}"
            )
        if not unroll_max_steps or min(unroll_max_steps) < 0:
            raise ValueError(f"unroll_max_steps must be non-negative: {tuple(unroll_max_steps)}")
        if max_innermost_factor < 1:
            raise ValueError(f"max_innermost_factor must be >= 1, got {max_innermost_factor}")
        if intrins is not None and not intrins:
            raise ValueError("intrins must name at least one intrinsic (or be None: the target's)")
        self.intrins = None if intrins is None else tuple(intrins)
        self.candidates: tuple[str, ...] = self.intrins or ()  # resolved for the tuning context
        self.spatial_levels = spatial_levels
        self.reduction_levels = reduction_levels
        self.write_back_levels = tuple(write_back_levels)
        self.unroll_max_steps = tuple(unroll_max_steps)
        self.max_innermost_factor = max_innermost_factor
        self.serial_max_macs = serial_max_macs
        self.direct_output = direct_output
        self.single_space = False  # set from the tune context's workload
        register_cpu()

    @classmethod
    def for_target(cls, target, mod=None, **kwargs) -> "DLBoostRule":
        """A rule with the intrinsics of ``target`` (for use outside a tuning context)."""
        rule = cls(**kwargs)
        rule.candidates = rule._resolve(target, mod)
        return rule

    def _resolve(self, target, mod) -> tuple[str, ...]:
        """The candidate intrinsics for ``target``: the given ones (checked) or the target's."""
        offered = target_intrinsics(target, declared_range(mod))
        if self.intrins is None:
            return offered
        lacking = [n for n in self.intrins if isa.intrinsic(n) is not None and n not in offered]
        if lacking and target is not None and target.kind.name == "llvm":
            raise UnsupportedTargetError(
                f"CPU {cpu_name(target)} lacks the instructions of {', '.join(lacking)}; "
                f"its intrinsics: {', '.join(offered) or 'none'}"
            )
        return self.intrins

    def _initialize_with_tune_context(self, context) -> None:  # noqa: D401
        """Resolve the target's intrinsics; count the workload's multiply-accumulate blocks.

        MetaSchedule's design spaces are the product of every block's
        alternatives: with ``n`` such blocks (the output phases of a strided
        transposed convolution) the consumer locations and threading variants
        would make ``4 ** n`` spaces. With more than one, each block gets a
        single space: write-back at the first level in ``write_back_levels``,
        parallel.
        """
        self.single_space = multiply_accumulate_blocks(context.mod) > 1
        self.candidates = self._resolve(context.target, context.mod)

    def clone(self) -> "DLBoostRule":
        rule = DLBoostRule(
            intrins=self.intrins,
            spatial_levels=self.spatial_levels,
            reduction_levels=self.reduction_levels,
            write_back_levels=self.write_back_levels,
            unroll_max_steps=self.unroll_max_steps,
            max_innermost_factor=self.max_innermost_factor,
            serial_max_macs=self.serial_max_macs,
            direct_output=self.direct_output,
        )
        rule.single_space = self.single_space
        rule.candidates = self.candidates
        return rule

    def is_applicable(self, sch: Schedule, block: SBlockRV) -> bool:
        """Whether ``block`` maps onto one of the rule's intrinsics."""
        return self.intrin_for(sch, block) is not None

    def intrin_for(self, sch: Schedule, block: SBlockRV) -> str | None:
        """The first of the rule's intrinsics that ``block`` maps onto, or None."""
        return next(iter(self.intrins_for(sch, block)), None)

    def intrins_for(self, sch: Schedule, block: SBlockRV) -> list[str]:
        """Every one of the rule's intrinsics that ``block`` maps onto, in order."""
        if not sch.get_loops(block) or not is_multiply_accumulate(sch.get(block)):
            return []
        return [intrin for intrin in self.candidates if _maps_onto(sch, block, intrin)]

    def apply(self, sch: Schedule, block: SBlockRV) -> list[Schedule]:
        intrins = self.intrins_for(sch, block)
        if not intrins:
            return [sch]
        spaces = []
        for intrin in intrins:
            spaces.extend(self._spaces(sch.copy() if len(intrins) > 1 else sch, block, intrin))
        return spaces or [sch]

    def _spaces(self, sch: Schedule, block: SBlockRV, intrin: str) -> list[Schedule]:
        """The design spaces of ``block`` tensorized with ``intrin``."""
        lanes, _ = intrinsic_tile(intrin)
        macs = 1
        for loop in sch.get_loops(block):
            macs *= int(sch.get(loop).extent)
        threading = (True, False) if macs <= self.serial_max_macs else (True,)
        levels = self.write_back_levels
        if self.single_space:
            threading, levels = (True,), levels[:1]
        _pack_weight(sch, block, *_weight_tile(intrin))
        inner = tile_with_tensor_intrin(sch, block, intrin)
        if inner is None:
            return []
        tensor_block = sch.blockize(inner)
        sch.annotate(tensor_block, AUTO_TENSORIZE, intrin)
        direct = None
        if self.direct_output and not self.single_space and not sch.get_consumers(tensor_block):
            direct = sch.copy()
        write_back = sch.cache_write(tensor_block, 0, "global")
        _inline_epilogue(sch, write_back)
        tiles = self._tile(sch, tensor_block)
        spaces = []
        for level in levels:
            for parallel in threading:
                branch = sch.copy()
                self._finish(branch, tiles, write_back, level, lanes, parallel)
                spaces.append(branch)
        if direct is not None:
            tiles = self._tile(direct, tensor_block)
            for parallel in threading:
                branch = direct.copy()
                self._finish(branch, tiles, None, 0, lanes, parallel)
                spaces.append(branch)
        return spaces

    def _tile(self, sch: Schedule, block: SBlockRV) -> list[list]:
        """Split every loop of ``block`` into its tile levels; reorder SSRSRS."""
        spatial, reduction = [], []
        for loop in sch.get_loops(block):
            reduce = is_reduction_loop(sch, block, loop)
            levels = self.reduction_levels if reduce else self.spatial_levels
            factors = sch.sample_perfect_tile(
                loop, n=levels, max_innermost_factor=self.max_innermost_factor
            )
            (reduction if reduce else spatial).append(sch.split(loop, factors))
        reorder_ssrsrs(sch, spatial, reduction)
        return spatial

    def _finish(
        self,
        sch: Schedule,
        spatial: list[list],
        write_back: SBlockRV | None,
        level: int,
        lanes: int,
        parallel: bool,
    ):
        """Place the write-back (if any), parallelise (or not), vectorise and unroll."""
        if write_back is not None:
            sch.reverse_compute_at(write_back, spatial[-1][level - 1], preserve_unit_loops=True)
        outer = [tiles[0] for tiles in spatial]
        fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
        if parallel:
            sch.parallel(fused)
        if write_back is not None:
            _, vec = sch.split(sch.get_loops(write_back)[-1], [None, lanes])
            sch.vectorize(vec)
        root = sch.get_sblock("root")
        if UNROLL_EXPLICIT in sch.get(root).annotations:
            return  # the unroll depth is the kernel's: one decision, sampled by the first block
        step = sch.sample_categorical(
            candidates=list(self.unroll_max_steps),
            probs=[1.0 / len(self.unroll_max_steps)] * len(self.unroll_max_steps),
        )
        sch.annotate(root, UNROLL_EXPLICIT, step)


def _operands_match(sblock, desc) -> bool:
    """Whether the block's operands have the intrinsic's number and data types.

    The loop mapping analysis compares loop structure only: a float32 GEMM
    would map onto the int8 dot product, and a row sum (one operand) onto
    the fp32 multiply-add (two), without this check.
    """

    def operands(block):
        written = {w.source.name for w in block.writes}
        # One dtype per distinct buffer: a sum of squares (layer norm's
        # variance) reads one buffer twice and is no product of two operands.
        sources = {r.source.name: str(r.source.dtype) for r in block.reads}
        inputs = sorted(dtype for name, dtype in sources.items() if name not in written)
        return inputs, sorted(str(w.source.dtype) for w in block.writes)

    return operands(sblock) == operands(desc.body.block)


def _maps_onto(sch: Schedule, block: SBlockRV, intrin: str) -> bool:
    """Whether ``block``'s operands, loops and extents fit ``intrin``."""
    desc = TensorIntrin.get(intrin).desc
    if not _operands_match(sch.get(block), desc):
        return False
    try:
        if get_tensorize_loop_mapping(sch, block, desc) is None:
            return False
    except ScheduleError:  # e.g. a block that is not a reduction
        return False
    # The mapping ignores extents: a reduction of 30 maps onto 4 steps but cannot be
    # tiled by them. Probe the tiling on a copy.
    return tile_with_tensor_intrin(sch.copy(), block, intrin) is not None


def _weight_tile(intrin: str) -> tuple[int, int]:
    """The packed weight tile ``(lanes, depth)`` a block tensorized with ``intrin`` reads.

    The shared layout of the intrinsic's dtype (:func:`tvm_heron.isa.pack_tile`,
    16 lanes), of which a narrower intrinsic reads a contiguous part; for an
    intrinsic the descriptions do not know (one of TVM's), its own tile.
    """
    described = isa.intrinsic(intrin)
    if described is not None:
        return isa.pack_tile(described.dtype)
    return intrinsic_tile(intrin)


def intrinsic_tile(intrin: str) -> tuple[int, int]:
    """(output lanes, reduction depth) of a CPU intrinsic, read from its description."""
    extents = tir_utils.inner_loop_extents(TensorIntrin.get(intrin).desc.body.block)
    if len(extents) != 2:
        raise ValueError(f"intrinsic {intrin}: expected 2 loops (lanes, depth), got {extents}")
    return extents[0], extents[1]


def _inline_epilogue(sch: Schedule, write_back: SBlockRV) -> None:
    """Fuse the element-wise consumers of the output into its write-back block.

    Each consumer (bias add, requantization, ReLU, a cast...) is inlined in
    turn, so the write-back computes the whole epilogue from the accumulator
    cache. A consumer that cannot be inlined (e.g. a crop that reads a part
    of the output only) stays a separate stage.
    """
    # TVM inlines a consumer over a smaller domain (a crop of padded channels)
    # and then writes out of bounds: only same-shape consumers.
    inline_consumers(
        sch, write_back,
        accept=lambda consumer: _written_shape(sch, consumer) == _written_shape(sch, write_back),
    )


def _written_shape(sch: Schedule, block: SBlockRV) -> list[int]:
    return [int(x) for x in sch.get(block).writes[0].source.shape]


def _pack_weight(sch: Schedule, block: SBlockRV, lanes: int, depth: int) -> None:
    """Make the weight's ``lanes x depth`` tiles contiguous, packing the weight if needed.

    The intrinsics declare their weight operand with fixed strides; a plain
    weight (``B[N, K]``, a conv's ``W[CO, KH, KW, CI]``) has tiles whose
    lanes are a whole row apart, which the build would reject. Such a weight
    is copied, inside the kernel, by a separate parallel packing stage into
    the intrinsic's layout. For a model's constant weight (a parameter listed
    in the function's ``layout_free_buffers``) the stage is marked as a
    layout-rewrite preprocess: Relax then runs it once at build time and the
    builder leaves it out of the measured kernel. The output-channel axis ``o`` becomes
    ``(o // lanes, ..., c // depth, o % lanes, c % depth)`` (depth 4, VNNI)
    or ``(o // lanes, ..., c, o % lanes)`` (depth 1 lanes-contiguous, fp32).

    The weight is the operand with one axis ``o`` indexed by the output's
    innermost iterator as a bare variable (the output channel) and another
    axis ``c`` by a reduction iterator (the innermost such axis: ``K`` of a
    ``[K, N]`` or ``[N, K]`` matrix, ``CI`` of an OHWI kernel). A weight
    already packed is indexed by ``o // 16`` and ``o % 16`` instead, and is
    left alone.
    """
    sblock = sch.get(block)
    reduce_vars = [iv.var for iv in sblock.iter_vars if iv.iter_type == IterVar.CommReduce]
    out_index = sblock.writes[0].region[-1].min
    for index, region in enumerate(sblock.reads):
        mins = [r.min for r in region.region]
        if len(mins) < 2:
            continue
        o_axes = [i for i, m in enumerate(mins) if _is_var(m, out_index)]
        c_axes = [i for i, m in enumerate(mins) if any(_is_var(m, v) for v in reduce_vars)]
        if not o_axes or not c_axes:
            continue
        shape = [int(x) for x in region.source.shape]
        axis, depth_axis = o_axes[0], c_axes[-1]
        if shape[axis] % lanes or shape[depth_axis] % depth:
            return
        packed = sch.cache_read(block, index, "global")
        sch.transform_layout(
            block, ("read", index), _packing_map(axis, depth_axis, lanes, depth), pad_value=None
        )
        sch.parallel(sch.get_loops(packed)[0])
        if _is_layout_free(sch, region.source):
            # A model weight: Relax moves this block out of the kernel and folds it
            # into the constant (SplitLayoutRewritePreproc); the builder leaves it
            # out of the measured kernel.
            sch.annotate(packed, LAYOUT_REWRITE_PREPROC, True)
        return


def _is_layout_free(sch: Schedule, buffer) -> bool:
    """Whether ``buffer`` is a parameter listed in the function's ``layout_free_buffers``."""
    func = sch.mod["main"]
    free = func.attrs.get("layout_free_buffers", []) if func.attrs else []
    return any(func.params[int(i)].same_as(buffer) for i in free)


def _packing_map(axis: int, depth_axis: int, lanes: int, depth: int):
    """Index map of the packing: output-channel ``axis`` split into lane tiles.

    ``o`` becomes ``o // lanes`` in place and ``o % lanes`` innermost; the
    reduction axis ``c`` moves just outside the lanes (``c // 4`` there and
    ``c % 4`` innermost with a depth of 4), so consecutive reduction steps of
    a lane tile are adjacent: ``[K, N]`` and ``[N, K]`` both pack to
    ``[N/16, K/4, 16, 4]`` (VNNI) or ``[N/16, K, 16]`` (fp32).
    """

    def index_map(*idx):
        o, c = idx[axis], idx[depth_axis]
        outer = [o // lanes if i == axis else x for i, x in enumerate(idx) if i != depth_axis]
        if depth == 1:
            return (*outer, c, o % lanes)
        return (*outer, c // depth, o % lanes, c % depth)

    return index_map


def _is_var(expr, var) -> bool:
    return isinstance(expr, Var) and expr.same_as(var)
