"""Heron's generic CPU rule: what no tensor intrinsic covers still runs in parallel.

Heron's CPU spaces are built around the DL Boost rule; every other block of a
workload (a padding or layout stage, an epilogue that could not be fused, a
reduction no intrinsic matches: an fp32 convolution with 3 input channels, a
row sum) gets this rule's structure instead of staying a serial loop nest:

* an injective (spatial) block: its innermost loop is vectorised by the
  widest legal lane count that divides its extent (split off when the loop
  is longer), the loops outside are fused and parallelised; there is no free
  choice, so no decision is added to the space;
* a reduction block: multi-level tiling ``SSRSRS`` like the DL Boost rule
  (``SamplePerfectTile``), outer spatial tiles fused and parallelised, the
  innermost spatial tile vectorised; the space analysis turns the vector and
  parallel loops into constraints as for every rule.

Blocks that the DL Boost rule tensorized (the block inside a block annotated
for auto-tensorization) are left alone.
"""

from __future__ import annotations

from tvm.ir.utils import derived_object
from tvm.s_tir import Schedule
from tvm.s_tir.meta_schedule.schedule_rule import PyScheduleRule
from tvm.s_tir.schedule import SBlockRV
from tvm.tirx.stmt import For, ForKind

from ..target import cpu_limits
from ._util import is_reduction_loop, reorder_ssrsrs
from ..annotations import AUTO_TENSORIZE


@derived_object
class GenericCpuRule(PyScheduleRule):
    """Parallelise and vectorise blocks that no tensor intrinsic covers.

    Parameters
    ----------
    spatial_levels, reduction_levels : int
        Tile levels of a reduction block's spatial and reduction loops.
    max_innermost_factor : int
        ``max_innermost_factor`` of every ``SamplePerfectTile``.
    """

    def __init__(
        self, *, spatial_levels: int = 4, reduction_levels: int = 2, max_innermost_factor: int = 64
    ) -> None:
        super().__init__()
        if spatial_levels < 2 or reduction_levels < 1:
            raise ValueError(
                f"need spatial_levels >= 2 and reduction_levels >= 1, got "
                f"{spatial_levels}, {reduction_levels}"
            )
        self.spatial_levels = spatial_levels
        self.reduction_levels = reduction_levels
        self.max_innermost_factor = max_innermost_factor
        self.vector_lanes: tuple[int, ...] = (1,)

    def _initialize_with_tune_context(self, context) -> None:  # noqa: D401
        """Read the legal vector lane counts of the context's target."""
        if context.target is not None and context.target.kind.name == "llvm":
            self.vector_lanes = cpu_limits(context.target).vector_lanes

    def clone(self) -> "GenericCpuRule":
        rule = GenericCpuRule(
            spatial_levels=self.spatial_levels,
            reduction_levels=self.reduction_levels,
            max_innermost_factor=self.max_innermost_factor,
        )
        rule.vector_lanes = self.vector_lanes
        return rule

    def apply(self, sch: Schedule, block: SBlockRV) -> list[Schedule]:
        loops = sch.get_loops(block)
        if not loops or _tensorized(sch, block) or _scheduled(sch, loops):
            return [sch]
        if any(is_reduction_loop(sch, block, loop) for loop in loops):
            self._tile_reduction(sch, block, loops)
        else:
            self._spatial(sch, loops)
        return [sch]

    def _spatial(self, sch: Schedule, loops: list) -> None:
        inner = int(sch.get(loops[-1]).extent)
        lanes = max((n for n in self.vector_lanes if inner % n == 0), default=1)
        if lanes > 1:
            if lanes < inner:
                outer, vector = sch.split(loops[-1], [None, lanes])
                loops = [*loops[:-1], outer]
            else:
                vector, loops = loops[-1], loops[:-1]
            sch.vectorize(vector)
        if loops:
            sch.parallel(sch.fuse(*loops) if len(loops) > 1 else loops[0])

    def _tile_reduction(self, sch: Schedule, block: SBlockRV, loops: list) -> None:
        spatial, reduction = [], []
        for loop in loops:
            reduce = is_reduction_loop(sch, block, loop)
            levels = self.reduction_levels if reduce else self.spatial_levels
            factors = sch.sample_perfect_tile(
                loop, n=levels, max_innermost_factor=self.max_innermost_factor
            )
            (reduction if reduce else spatial).append(sch.split(loop, factors))
        if not spatial:  # a full reduction to a scalar: nothing to parallelise safely
            return
        reorder_ssrsrs(sch, spatial, reduction)
        outer = [tiles[0] for tiles in spatial]
        sch.parallel(sch.fuse(*outer) if len(outer) > 1 else outer[0])
        sch.vectorize(spatial[-1][-1])


def _tensorized(sch: Schedule, block: SBlockRV) -> bool:
    """Whether ``block`` is, or lies inside, a block marked for auto-tensorization."""
    sref = sch.get_sref(block)
    while sref is not None:
        annotations = getattr(sref.stmt, "annotations", None)
        if annotations is not None and AUTO_TENSORIZE in annotations:
            return True
        sref = sref.parent
    return False


def _scheduled(sch: Schedule, loops: list) -> bool:
    """Whether another rule already made one of the loops parallel or vectorised."""
    for loop in loops:
        stmt = sch.get(loop)
        if isinstance(stmt, For) and stmt.kind in (ForKind.PARALLEL, ForKind.VECTORIZED):
            return True
    return False
