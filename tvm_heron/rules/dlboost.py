"""Heron's DL Boost space-generation rule: a VNNI-tensorized, multi-level tiled GEMM.

For a block whose innermost computation matches the 16 (output lanes) x 4
(reduction) VNNI dot product, the rule builds HERON.md section 1's DL Boost
structure, every free choice being a sampling instruction of the trace:

1. pack the weight into contiguous 16x4 tiles when it is not already
   (a cache read with a layout transformation, see ``_pack_weight``);
2. tile the block so that its innermost 16x4 loops match the intrinsic, and
   blockize them (the postprocessor ``RewriteTensorize`` tensorizes later);
3. cache the output in a local buffer (``cache_write``);
4. multi-level tiling of the remaining loops, ``SSRSRS``: spatial loops in
   ``spatial_levels`` levels, reduction loops in ``reduction_levels`` levels
   (``SamplePerfectTile``);
5. one design space per *consumer location*: the write-back of the output
   cache is computed at the end of spatial tile level ``l`` for each ``l`` in
   ``write_back_levels`` (Heron's "choose where to compute the consumer");
6. the outermost spatial tiles are fused and parallelised, the write-back's
   16 innermost int32 lanes vectorised, and the unroll depth is a
   ``SampleCategorical`` over ``unroll_max_steps``.

Constraints are not written here: :mod:`tvm_heron.space` derives them from
the trace this rule leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tvm.ir.utils import derived_object
from tvm.s_tir import Schedule
from tvm.s_tir.meta_schedule.schedule_rule import PyScheduleRule
from tvm.s_tir.schedule import SBlockRV, ScheduleError
from tvm.s_tir.schedule.analysis import get_tensorize_loop_mapping
from tvm.s_tir.schedule.transform import tile_with_tensor_intrin

from ..intrinsics import vnni
from ._util import is_reduction_loop, reorder_ssrsrs

logger = logging.getLogger(__name__)

#: Block annotation read by MetaSchedule's ``RewriteTensorize`` postprocessor.
AUTO_TENSORIZE = "meta_schedule.auto_tensorize"
#: Root-block annotation read by ``RewriteParallelVectorizeUnroll``.
UNROLL_EXPLICIT = "meta_schedule.unroll_explicit"


@derived_object
class DLBoostRule(PyScheduleRule):
    """Tensorize a VNNI-compatible reduction block with Heron's DL Boost structure.

    Parameters
    ----------
    intrin : str
        Registered name of the 16x4 dot-product intrinsic.
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
    """

    def __init__(
        self,
        *,
        intrin: str = vnni.VNNI_DOT_16X4_INTRIN,
        spatial_levels: int = 4,
        reduction_levels: int = 2,
        write_back_levels: Sequence[int] = (1, 2),
        unroll_max_steps: Sequence[int] = (0, 16, 64, 512),
        max_innermost_factor: int = 64,
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
        self.intrin = intrin
        self.spatial_levels = spatial_levels
        self.reduction_levels = reduction_levels
        self.write_back_levels = tuple(write_back_levels)
        self.unroll_max_steps = tuple(unroll_max_steps)
        self.max_innermost_factor = max_innermost_factor
        vnni.register()

    def _initialize_with_tune_context(self, context) -> None:  # noqa: D401
        """Nothing to read from the context: the rule is target-independent."""

    def clone(self) -> "DLBoostRule":
        return DLBoostRule(
            intrin=self.intrin,
            spatial_levels=self.spatial_levels,
            reduction_levels=self.reduction_levels,
            write_back_levels=self.write_back_levels,
            unroll_max_steps=self.unroll_max_steps,
            max_innermost_factor=self.max_innermost_factor,
        )

    def is_applicable(self, sch: Schedule, block: SBlockRV) -> bool:
        """Whether ``block`` maps onto the intrinsic's 16x4 dot product."""
        desc = vnni.DESC if self.intrin == vnni.VNNI_DOT_16X4_INTRIN else None
        if desc is None:
            from tvm.s_tir import TensorIntrin  # pylint: disable=import-outside-toplevel

            desc = TensorIntrin.get(self.intrin).desc
        if not sch.get_loops(block) or not _dtypes_match(sch.get(block), desc):
            return False
        try:
            return get_tensorize_loop_mapping(sch, block, desc) is not None
        except ScheduleError:  # e.g. a block that is not a reduction
            return False

    def apply(self, sch: Schedule, block: SBlockRV) -> list[Schedule]:
        if not self.is_applicable(sch, block):
            return [sch]
        _pack_weight(sch, block)
        inner = tile_with_tensor_intrin(sch, block, self.intrin)
        if inner is None:
            return [sch]
        tensor_block = sch.blockize(inner)
        sch.annotate(tensor_block, AUTO_TENSORIZE, self.intrin)
        write_back = sch.cache_write(tensor_block, 0, "global")
        tiles = self._tile(sch, tensor_block)
        spaces = []
        for level in self.write_back_levels:
            branch = sch.copy()
            self._finish(branch, tiles, write_back, level)
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

    def _finish(self, sch: Schedule, spatial: list[list], write_back: SBlockRV, level: int):
        """Place the write-back, parallelise, vectorise and unroll."""
        sch.reverse_compute_at(write_back, spatial[-1][level - 1], preserve_unit_loops=True)
        outer = [tiles[0] for tiles in spatial]
        fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
        sch.parallel(fused)
        lanes = sch.get_loops(write_back)[-1]
        _, vec = sch.split(lanes, [None, vnni.VNNI_LANES])
        sch.vectorize(vec)
        step = sch.sample_categorical(
            candidates=list(self.unroll_max_steps),
            probs=[1.0 / len(self.unroll_max_steps)] * len(self.unroll_max_steps),
        )
        sch.annotate(sch.get_sblock("root"), UNROLL_EXPLICIT, step)


def _dtypes_match(sblock, desc) -> bool:
    """Whether the block's buffers have the intrinsic's data types.

    The loop mapping analysis compares loop structure only; a float32 GEMM
    would map onto the int8 dot product without this check.
    """
    ours = {str(r.source.dtype) for r in list(sblock.reads) + list(sblock.writes)}
    root = desc.body.block
    theirs = {str(r.source.dtype) for r in list(root.reads) + list(root.writes)}
    return ours == theirs


def _pack_weight(sch: Schedule, block: SBlockRV) -> None:
    """Make the 16x4 weight tiles contiguous, packing the weight if needed.

    The intrinsic declares its weight operand with strides (4, 1); a plain
    ``B[N, K]`` operand has a 16x4 tile with row stride K, which the build
    would reject. Such an operand is copied into a ``[N/16, K/4, 16, 4]``
    buffer by a separate, parallel packing stage inside the kernel.
    """
    # Implemented for the plain 2-D int8 weight of GEMM; packed weights pass.
    sblock = sch.get(block)
    for index, region in enumerate(sblock.reads):
        buf = region.source
        if buf.dtype != "int8" or len(buf.shape) != 2:
            continue
        n, k = (int(x) for x in buf.shape)
        if n % vnni.VNNI_LANES or k % vnni.VNNI_REDUCE:
            continue
        packed = sch.cache_read(block, index, "global")
        lanes, depth = vnni.VNNI_LANES, vnni.VNNI_REDUCE
        sch.transform_layout(
            block,
            ("read", index),
            lambda j, r: (j // lanes, r // depth, j % lanes, r % depth),
        )
        loops = sch.get_loops(packed)
        sch.parallel(loops[0])
        return
